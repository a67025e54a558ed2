"""Captions for model units (after MILAN, Hernandez et al. 2022, ICLR).

MILAN describes a network's units in words from the images that activate them most. Here a
zoo model's layer is a caption target like a subject: its units' activations to the dataset's
stimuli (the extracted features, one column per unit: a channel's spatial mean for a
convolutional map, a hidden dimension's token mean for a transformer) are written as a
responses file, and the same steps as for voxels follow (select -> caption -> describe ->
evaluate): each unit's encoder on the captioning model's image embeddings ranks the bank, and
its caption is scored on held-out stimuli against its measured activations.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from brainencode.datasets.responses import Responses, write_responses
from brainencode.errors import BrainencodeError
from brainencode.features.store import load_features

UNITS_PREFIX = "units-"  # captioning target names of model units: units-<model>-<layer>


def unit_target_name(model: str, layer: str) -> str:
    return f"{UNITS_PREFIX}{model}-{layer}"


def write_unit_responses(*, features: Path, model: str, layer: str, out: Path) -> Path:
    """The units of one layer as a responses file: [stimuli, units], ROI = the layer."""
    meta, layers = load_features(features)
    if layer not in layers:
        raise BrainencodeError(f"captioning.units: {model}: layer: expected one of "
                               f"{meta['layers']} ({features}), got {layer!r}")
    data = np.asarray(layers[layer], dtype=np.float32)
    write_responses(out, Responses(
        data=data, stimulus_ids=list(meta["stimulus_ids"]),
        roi=np.array([layer] * data.shape[1]), subject=unit_target_name(model, layer),
        attrs={"modality": "units", "model": model, "layer": layer,
               "model_id": meta.get("model_id", "")}))
    return Path(out)
