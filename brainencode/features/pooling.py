"""Pool a layer's activations to one vector per stimulus."""

from __future__ import annotations

import torch

POOLINGS = ("mean", "first", "last", "spatial")


def pool_tokens(hidden: torch.Tensor, mask: torch.Tensor | None, how: str,
                prefix: int = 0) -> torch.Tensor:
    """Pool [batch, tokens, dim] to [batch, dim].

    mean (or spatial): average over real tokens, leaving out ``prefix`` special tokens (CLS,
    DeiT's distillation token) and padding (``mask``). first: the first token (CLS).
    last: the last real token (GPT-style models, CLIP's end-of-text token).
    """
    if how == "first":
        return hidden[:, 0]
    if mask is None:
        mask = torch.ones(hidden.shape[:2], device=hidden.device)
    mask = mask.to(hidden.dtype)
    if how == "last":
        last = mask.sum(1).long() - 1
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]
    mask = mask.clone()
    mask[:, :prefix] = 0
    return (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)


def pool_map(feature_map: torch.Tensor) -> torch.Tensor:
    """Pool a convolutional map [batch, channels, height, width] to [batch, channels] by its
    spatial average (the only pooling that applies to a grid without tokens)."""
    return feature_map.mean((2, 3))
