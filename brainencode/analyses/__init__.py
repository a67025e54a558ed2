"""Computations on fitted encoders: model x layer x ROI comparison (and later captioning,
alignment)."""
