"""Stimulus images: read for a model (one line for a file that is not an image), and as data
URLs, what a vision endpoint is sent and what the report inlines."""

from __future__ import annotations

import base64
import io
from pathlib import Path

from PIL import Image

from brainencode.errors import BrainencodeError


def read_image(path: str, table: str | Path) -> Image.Image:
    """One stimulus image as RGB; one line naming it (and its table) when it is not one."""
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise BrainencodeError(f"{path}: cannot read as an image ({exc}; listed in "
                               f"{table})") from None


def image_data_url(path: str, max_side: int = 512) -> str:
    """The image as a base64 JPEG data URL, downscaled to ``max_side`` pixels."""
    image = Image.open(path).convert("RGB")
    image.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()
