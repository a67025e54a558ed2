"""The model zoo: per family, what it reads, how it is built trained or untrained, its pooling.

A family's ``build(spec)`` returns an Extractor: the model, its layer names, where its weights
came from, and a call that maps one batch of stimuli to one pooled [batch, dim] tensor per
layer, all from a single forward pass.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from brainencode.errors import BrainencodeError


@dataclass
class Extractor:
    """A built model, ready to run: ``run(images, texts)`` gives one pooled tensor per layer."""

    model: torch.nn.Module
    layers: list[str]
    run: Callable[[list | None, list[str] | None], list[torch.Tensor]]
    model_id: str
    revision: str
    provenance: dict[str, Any] = field(default_factory=dict)  # tokenizer fallback, backbone...
    # vision families: images -> last layer's patch/grid tokens [B, N, D] and their boxes
    # [B, N, 4] (x1, y1, x2, y2 as fractions of the image), the visual input of VisualBERT/LXMERT
    visual_tokens: Callable[[list], tuple[torch.Tensor, torch.Tensor]] | None = None


@dataclass(frozen=True)
class Family:
    """What the registry knows about one model family."""

    name: str
    reads: str  # "image", "text" or "image+text"
    default_input: str  # stimulus field read by default: "image", "caption" or "text"
    default_pooling: str
    trained_source: str  # Hugging Face id (or package) of the default trained weights
    description: str
    build: Callable[[dict], Extractor]
    layers: str = "embeddings, layer01..layerNN (one per block)"


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


def file_digest(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 24), b""):
                digest.update(block)
    return "sha256:" + digest.hexdigest()[:16]


def seeded(build: Callable[[], torch.nn.Module], seed: int) -> torch.nn.Module:
    """Build an untrained model with a fixed seed: the same seed gives the same weights."""
    torch.manual_seed(seed)
    return build().eval()


def _families() -> dict[str, Family]:
    from brainencode.features import (
        families_multimodal,
        families_suma,
        families_text,
        families_vision,
    )

    return {f.name: f for module in (families_vision, families_text, families_multimodal,
                                     families_suma) for f in module.FAMILIES}


def get_family(name: str) -> Family:
    """Look up a family by name, with the list of known ones in the error."""
    families = _families()
    if name not in families:
        raise BrainencodeError(f"models: family: expected one of {sorted(families)}, "
                               f"got {name!r}")
    return families[name]


def zoo_table() -> str:
    """The zoo as a text table, for `brainencode features list`."""
    rows = [("family", "reads", "pooling", "trained weights from", "layers")]
    rows += [(f.name, f.reads, f.default_pooling, f.trained_source, f.layers)
             for f in _families().values()]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r[:4], widths, strict=True)) + "  " + r[4]
             for r in rows]
    lines += ["", *(f"{f.name}: {f.description}" for f in _families().values())]
    return "\n".join(lines)
