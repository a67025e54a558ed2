"""Where trained weights come from: a local folder or the Hugging Face cache, never the network.

No torch here: the captioning client and the zoo's families share these helpers.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from brainencode.errors import BrainencodeError


def offline() -> None:
    """Make sure nothing is fetched from the Hugging Face Hub at run time."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def load_pretrained(loader: Callable, spec: dict, family: str, default_source: str,
                    **kwargs) -> Any:
    """Load from a local folder or the HF cache only (never download); the revision, if set,
    selects a snapshot of the cache."""
    source = spec.get("path") or default_source
    revision = spec.get("revision")
    try:
        return loader(source, local_files_only=True,
                      **({"revision": revision} if revision else {}), **kwargs)
    except (OSError, ValueError) as exc:
        raise BrainencodeError(
            f"models: {family} weights not found at {source!r}: put a saved Hugging Face model "
            f"folder there (or download {default_source!r} into the HF cache, "
            f"{os.environ.get('HF_HOME', '~/.cache/huggingface')}), or set 'path' in the "
            f"model's config ({str(exc).splitlines()[0]})") from None


def weights_revision(spec: dict, source: str) -> str:
    """Which weights were loaded: a hash of the weight files of a local folder, or the commit
    of the Hugging Face cache snapshot that the id (and revision, if set) resolved to."""
    folder = Path(source)
    if folder.is_dir():
        return file_digest(sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin")))
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(source, "config.json", revision=spec.get("revision"))
    return Path(cached).parent.name if isinstance(cached, str) else "unknown"


def sha256_hex(paths: list[Path]) -> str:
    """The SHA-256 (hex) of the files' bytes, one after the other, read in 16 MiB blocks."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 24), b""):
                digest.update(block)
    return digest.hexdigest()


def file_digest(paths: list[Path]) -> str:
    return "sha256:" + sha256_hex(paths)[:16]
