"""Voxel-wise encoding models: ridge with per-target alpha, cross-validation, metrics."""

from brainencode.encoders.ridge import RidgeCV

__all__ = ["RidgeCV"]
