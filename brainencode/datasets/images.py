"""Stimulus images as data URLs: what a vision endpoint is sent and what the report inlines."""

from __future__ import annotations

import base64
import io

from PIL import Image


def image_data_url(path: str, max_side: int = 512) -> str:
    """The image as a base64 JPEG data URL, downscaled to ``max_side`` pixels."""
    image = Image.open(path).convert("RGB")
    image.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()
