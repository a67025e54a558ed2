"""Deep-network feature extraction: every layer in one forward pass, pooled, one .npy per layer."""
