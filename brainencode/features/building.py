"""What a model family is and what it builds: the Family record and the Extractor it returns.

A family's ``build(spec)`` returns an Extractor: the model, its layer names, where its weights
came from, and a call that maps one batch of stimuli to one pooled [batch, dim] tensor per
layer, all from a single forward pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch


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
    # how an untrained model's weights were drawn (meta.json "initialisation")
    initialisation: str | None = None


# Hugging Face models built from a config run the architecture's own _init_weights (post_init),
# as from_config does: e.g. BERT and ViT draw N(0, initializer_range), not torch's defaults
HF_INITIALISATION = "the architecture's own: Hugging Face _init_weights, as from_config"


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


def seeded(build: Callable[[], torch.nn.Module], seed: int) -> torch.nn.Module:
    """Build an untrained model with a fixed seed: the same seed gives the same weights."""
    torch.manual_seed(seed)
    return build().eval()
