"""Voxel-wise encoding models: ridge and banded ridge, cross-validation, metrics."""

from brainencode.encoders.banded_ridge import BandedRidgeCV, variance_partitioning
from brainencode.encoders.ridge import RidgeCV

__all__ = ["BandedRidgeCV", "RidgeCV", "variance_partitioning"]
