"""Run a model once per batch, pool every layer's hidden states, write a float32 .npy per layer."""

from __future__ import annotations

import json
import platform
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from tqdm import tqdm

from brainencode.datasets.stimuli import read_stimuli, stimuli_hash
from brainencode.errors import BrainencodeError
from brainencode.features.registry import get_family, offline


def layer_names(n_hidden_states: int) -> list[str]:
    """'embeddings' for the input of the first block, then 'layer01', 'layer02', ..."""
    return ["embeddings"] + [f"layer{i:02d}" for i in range(1, n_hidden_states)]


def pool(hidden: torch.Tensor, mask: torch.Tensor | None, how: str, has_cls: bool) -> torch.Tensor:
    """Pool [batch, tokens, dim] to [batch, dim].

    mean: average over real tokens (text: attention mask; vision: patch tokens, CLS excluded).
    first: the first token (CLS). last: the last real token.
    """
    if how == "first":
        return hidden[:, 0]
    if mask is None:
        mask = torch.ones(hidden.shape[:2], dtype=hidden.dtype, device=hidden.device)
        if has_cls and how == "mean":
            mask[:, 0] = 0
    mask = mask.to(hidden.dtype)
    if how == "last":
        last = mask.sum(1).long() - 1
        return hidden[torch.arange(hidden.shape[0]), last]
    return (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)


def _inputs(table: pd.DataFrame, field: str, reads: str, table_path: Path) -> list:
    if reads == "image":
        if field != "image" or not (table["modality"] == "image").all():
            raise BrainencodeError(f"{table_path}: modality: an image model needs image stimuli")
        return list(table["path"])
    column = {"caption": "caption", "text": "text"}.get(field)
    if column is None or column not in table.columns:
        raise BrainencodeError(f"{table_path}: a text model reading '{field}' needs a "
                               f"'{column or field}' column")
    empty = table.loc[table[column] == "", "stimulus_id"]
    if len(empty):
        raise BrainencodeError(f"{table_path}: {column}: empty for stimulus {empty.iloc[0]!r}")
    return list(table[column])


def extract_features(stimuli_path: str | Path, spec: dict, out_dir: str | Path,
                     name: str = "model") -> dict:
    """Extract every layer of the model described by ``spec`` for every stimulus.

    Writes ``<layer>.npy`` ([n_stimuli, n_features], float32, rows in table order) and
    ``meta.json`` (written last, so a folder with meta.json is complete) into ``out_dir``.
    """
    offline()
    stimuli_path = Path(stimuli_path)
    table = read_stimuli(stimuli_path)
    family = get_family(spec["family"])
    field = family.default_input if spec.get("input", "auto") == "auto" else spec["input"]
    items = _inputs(table, field, family.reads, stimuli_path)

    model, preprocessor, model_id = family.build(spec)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = model.to(device).eval()

    batch_size = spec.get("batch_size", 32)
    pooled: list[list[np.ndarray]] = []
    with torch.inference_mode():
        for start in tqdm(range(0, len(items), batch_size), desc=f"features {name}",
                          unit="batch", mininterval=5):
            batch = items[start:start + batch_size]
            if family.reads == "image":
                images = [Image.open(p).convert("RGB") for p in batch]
                inputs = preprocessor(images=images, return_tensors="pt")
                mask = None
            else:
                inputs = preprocessor(batch, padding=True, truncation=True, return_tensors="pt")
                mask = inputs["attention_mask"]
            inputs = {k: v.to(device) for k, v in inputs.items()}
            hidden_states = model(**inputs, output_hidden_states=True).hidden_states
            per_layer = [pool(h, None if mask is None else mask.to(device), spec["pooling"],
                              has_cls=family.reads == "image").float().cpu().numpy()
                         for h in hidden_states]
            pooled.append(per_layer)

    names = layer_names(len(pooled[0]))
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    for i, layer in enumerate(names):
        np.save(out_dir / f"{layer}.npy",
                np.concatenate([batch[i] for batch in pooled]).astype(np.float32))
    meta = {
        "name": name,
        "model_id": model_id,
        "family": spec["family"],
        "trained": spec["trained"],
        "seed": None if spec["trained"] else spec["seed"],
        "config": spec.get("config", {}),
        "input": field,
        "pooling": spec["pooling"],
        "layers": names,
        "n_features": {layer: int(np.load(out_dir / f"{layer}.npy", mmap_mode="r").shape[1])
                       for layer in names},
        "stimulus_ids": list(table["stimulus_id"]),
        "stimuli_sha256": stimuli_hash(table),
        "device": str(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    (out_dir / "meta.json").write_text(json.dumps(meta, indent=1))
    return meta


def load_features(feature_dir: str | Path) -> tuple[dict, dict[str, np.ndarray]]:
    """Read meta.json and every layer array of a features folder."""
    feature_dir = Path(feature_dir)
    meta_path = feature_dir / "meta.json"
    if not meta_path.is_file():
        raise BrainencodeError(f"{feature_dir}: meta.json missing: expected a complete features "
                               "folder written by `brainencode features`")
    meta = json.loads(meta_path.read_text())
    return meta, {layer: np.load(feature_dir / f"{layer}.npy") for layer in meta["layers"]}
