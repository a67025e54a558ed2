"""Sentence embeddings of captions and keywords with a text model of the zoo."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from brainencode.errors import BrainencodeError
from brainencode.features.extract import resolve_spec
from brainencode.features.hub import offline
from brainencode.features.registry import get_family


class SentenceEmbedder:
    """Unit-norm embeddings from the last layer of a text model (pooled as its config says;
    mean over tokens for sentence encoders such as MiniLM), cached per text."""

    def __init__(self, spec: dict, name: str = "embedder", batch_size: int = 64):
        offline()
        family = get_family(spec["family"])
        if family.reads != "text":
            raise BrainencodeError(f"captioning.embedder: {name} ({family.name}) reads "
                                   f"{family.reads}; expected a text model")
        spec, _ = resolve_spec(spec, pd.DataFrame({"modality": ["text"]}))
        self.extractor = family.build(spec)
        self.extractor.model.eval()
        self.batch_size = batch_size
        self._cache: dict[str, np.ndarray] = {}

    def __call__(self, texts: list[str]) -> np.ndarray:
        """[len(texts), dim] float64, each row of unit length."""
        missing = sorted({t for t in texts if t not in self._cache})
        with torch.inference_mode():
            for start in range(0, len(missing), self.batch_size):
                batch = missing[start:start + self.batch_size]
                last = self.extractor.run(None, batch)[-1].float().cpu().numpy()
                last /= np.maximum(np.linalg.norm(last, axis=1, keepdims=True), 1e-12)
                self._cache.update(zip(batch, last.astype(np.float64), strict=True))
        if not texts:
            return np.zeros((0, 0))
        return np.stack([self._cache[t] for t in texts])
