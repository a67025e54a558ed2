"""Voxel-wise encoding models: ridge and banded ridge, cross-validation, metrics.

The estimators are imported on first use (PEP 562), so that a verb reading only the numpy
modules here (metrics, noise_ceiling, significance) does not import torch.
"""

from __future__ import annotations

import importlib

_ESTIMATORS = {"BandedRidgeCV": "banded_ridge", "variance_partitioning": "banded_ridge",
               "RidgeCV": "ridge"}

__all__ = ["BandedRidgeCV", "RidgeCV", "variance_partitioning"]


def __getattr__(name: str):
    if name not in _ESTIMATORS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_ESTIMATORS[name]}"), name)
