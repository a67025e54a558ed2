"""Run a model once per batch, pool every layer, write a float32 .npy per layer, cached."""

from __future__ import annotations

import contextlib
import hashlib
import json
import platform
import sys
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from brainencode.datasets.images import read_image
from brainencode.datasets.stimuli import read_stimuli, stimuli_hash
from brainencode.errors import BrainencodeError
from brainencode.features.hub import offline
from brainencode.features.registry import get_family
from brainencode.features.store import META, StaleCacheEntry, protect, publish, write_features

# bump when a change to extraction changes the numbers, so cached features are recomputed
EXTRACTION_VERSION = 3


def _inputs(table: pd.DataFrame, field: str, reads: str, table_path: Path
            ) -> tuple[list | None, list[str] | None]:
    """Image paths and/or texts for every stimulus, in table order; a ``text`` is read after
    its ``context`` when the table has one (the model's last token is then the text's)."""
    images = texts = None
    if "image" in reads:
        if not (table["modality"] == "image").all():
            raise BrainencodeError(f"{table_path}: modality: a model reading images needs image "
                                   "stimuli")
        images = list(table["path"])
    if "text" in reads:
        column = {"caption": "caption", "text": "text"}.get(field)
        if column is None or column not in table.columns:
            raise BrainencodeError(f"{table_path}: a model reading text from '{field}' needs a "
                                   f"'{column or field}' column")
        empty = table.loc[table[column] == "", "stimulus_id"]
        if len(empty):
            raise BrainencodeError(f"{table_path}: {column}: empty for stimulus "
                                   f"{empty.iloc[0]!r}")
        texts = list(table[column])
        if column == "text" and "context" in table.columns:
            texts = [f"{context} {text}" if context else text
                     for context, text in zip(table["context"], texts, strict=True)]
    return images, texts


def resolve_spec(spec: dict, table: pd.DataFrame) -> tuple[dict, str]:
    """Fill the family defaults ('auto' pooling and input); returns the spec and input field.

    'auto' input is the family's default (images, or image captions for text models), except
    that text models read the ``text`` column when every stimulus is text (sentences, words).
    """
    family = get_family(spec["family"])
    spec = {"config": {}, "seed": 0, "trained": True, **spec}
    if spec.get("pooling", "auto") == "auto":
        spec["pooling"] = family.default_pooling
    field = spec.get("input", "auto")
    if field == "auto":
        field = family.default_input
        if field == "caption" and table["modality"].isin(["text", "word"]).all():
            field = "text"
    elif family.reads == "image" and field != "image":
        raise BrainencodeError(f"models: input: {family.name} reads images, got {field!r}")
    elif family.reads != "image" and field == "image":
        raise BrainencodeError(f"models: input: {family.name} reads text (caption or text)")
    return spec, field


def precision_context(precision: str, device: torch.device):
    """Autocast to bf16/fp16 on CUDA ('auto': bf16 where supported); float32 on the CPU unless
    bfloat16 is asked for. Features are always written as float32."""
    if precision == "auto":
        precision = ("bfloat16" if device.type == "cuda" and torch.cuda.is_bf16_supported()
                     else "float32")
    if precision == "float32":
        return contextlib.nullcontext(), precision
    return torch.autocast(device.type, dtype=getattr(torch, precision)), precision


def cache_key(meta: dict) -> str:
    """What determines the numbers: model, weights or seed, stimuli, preprocessing, pooling."""
    keys = ("family", "model_id", "revision", "trained", "seed", "initialisation", "config",
            "input", "pooling", "max_tokens", "precision", "provenance", "stimuli_sha256",
            "extraction_version")
    text = json.dumps({k: meta[k] for k in keys}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def extract_features(*, stimuli: Path, spec: dict, out_dir: Path, name: str = "model",
                     cache_dir: Path | None = None,
                     device: Literal["auto", "cpu", "cuda"] = "auto") -> dict:
    """Extract every layer of the model described by ``spec`` for every stimulus.

    All layers come from one forward pass per batch, under ``torch.inference_mode``. Writes
    ``<layer>.npy`` ([n_stimuli, n_features], float32, rows in table order) and ``meta.json``
    (written last, so a folder with meta.json is complete). With ``cache_dir``, results are
    kept under their cache key and reused when the same model, weights, stimuli and
    preprocessing come again.
    """
    offline()
    stimuli, out_dir = Path(stimuli), Path(out_dir)
    table = read_stimuli(stimuli)
    spec, field = resolve_spec(spec, table)
    family = get_family(spec["family"])
    images, texts = _inputs(table, field, family.reads, stimuli)
    torch_device = torch.device(("cuda" if torch.cuda.is_available() else "cpu")
                                if device == "auto" else device)
    autocast, precision = precision_context(spec.get("precision", "auto"), torch_device)

    extractor = family.build(spec)
    meta = {
        "name": name, "family": family.name, "model_id": extractor.model_id,
        "revision": extractor.revision, "trained": spec["trained"],
        "seed": None if spec["trained"] else spec["seed"],
        "initialisation": ("trained weights" if spec["trained"] else extractor.initialisation),
        "config": spec["config"],
        "input": field, "pooling": spec["pooling"], "max_tokens": spec.get("max_tokens"),
        "precision": precision,
        "provenance": extractor.provenance, "layers": extractor.layers,
        "stimulus_ids": list(table["stimulus_id"]), "stimuli_sha256": stimuli_hash(table),
        "extraction_version": EXTRACTION_VERSION,
    }
    meta["cache_key"] = cache_key(meta)
    entry = Path(cache_dir) / meta["cache_key"] if cache_dir else None
    if entry is not None and (entry / META).is_file():
        try:
            return publish(entry, out_dir)
        except StaleCacheEntry as exc:
            print(f"features {name}: cache entry changed since it was written, extracting "
                  f"again ({exc})", file=sys.stderr)

    extractor.model.to(torch_device).eval()
    n = len(table)
    batch_size = spec.get("batch_size", 32)
    pooled: list[list[np.ndarray]] = []
    with torch.inference_mode(), autocast:
        for start in tqdm(range(0, n, batch_size), desc=f"features {name}", unit="batch",
                          mininterval=5):
            batch = slice(start, start + batch_size)
            batch_images = ([read_image(p, stimuli) for p in images[batch]]
                            if images is not None else None)
            outputs = extractor.run(batch_images, texts[batch] if texts is not None else None)
            if len(outputs) != len(extractor.layers):
                raise BrainencodeError(f"models: {name}: expected {len(extractor.layers)} "
                                       f"layers, the model gave {len(outputs)}")
            pooled.append([o.float().cpu().numpy() for o in outputs])

    meta |= {"device": str(torch_device), "torch": torch.__version__,
             "python": platform.python_version()}
    layers = {layer: np.concatenate([b[i] for b in pooled])
              for i, layer in enumerate(extractor.layers)}
    meta = write_features(entry or out_dir, layers, meta)
    if entry is not None:
        protect(entry)
        publish(entry, out_dir)
    return meta
