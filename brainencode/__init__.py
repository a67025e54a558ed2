"""brainencode: deep-network features -> voxel-wise encoding models -> figures and reports."""

__version__ = "0.1.0"
