"""The files of one alignment variant (trained, or untrained with one seed): the one module
that writes and reads them.

``<results>/alignment/<side>/variants/<variant>/`` holds ``variant.json`` (variant, model,
family, trained, seed; language also the tokenizer and the localized units; written last),
``scores.tsv`` (language: condition, layer, n_units, r, r_normalized; vision: layer, metric,
value), and the arrays the summary bootstraps: ``predictions.npz`` (language: y, ceiling, one
out-of-fold prediction per condition, and the landmark_condition, landmark_item and
landmark_response of the localized units) or ``model_rdms.npz`` (vision: layers,
stimulus_ids, one RDM per layer). With the Brain-Score protocol, language variants also hold
``brainscore.tsv`` (experiment, condition, layer, split, score; analyses.alignment.brain_score).
The localizer's own ``localizer.npz`` is written by analyses.alignment.localizer.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from brainencode.errors import BrainencodeError

INFO = "variant.json"
BRAIN_SCORE = "brainscore.tsv"


def variant_info(model: str, spec: dict, name: str, **described: str) -> dict:
    """What the summary needs to pair variants: the model, trained or not, the seed; and what
    the report shows about the variant (``described``: tokenizer, localized units)."""
    return {"variant": name, "model": model, "family": spec["family"],
            "trained": spec["trained"], "seed": None if spec["trained"] else spec["seed"],
            **described}


def write_variant(folder: Path, info: dict, scores: pd.DataFrame, arrays_name: str,
                  arrays: dict[str, np.ndarray], brain_score: pd.DataFrame | None = None
                  ) -> None:
    """scores.tsv, the arrays (predictions or model_rdms), brainscore.tsv (when scored so),
    then variant.json."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / f"{arrays_name}.npz", **arrays)
    scores.to_csv(folder / "scores.tsv", sep="\t", index=False)
    if brain_score is not None:
        brain_score.to_csv(folder / BRAIN_SCORE, sep="\t", index=False)
    (folder / INFO).write_text(json.dumps(info, indent=1))


def read_variants(folders: list[str | Path]) -> pd.DataFrame:
    """One row per variant folder: its variant.json and the folder (``dir``)."""
    rows = []
    for folder in map(Path, folders):
        if not (folder / INFO).is_file():
            raise BrainencodeError(f"{folder}: {INFO} missing: expected a complete variant "
                                   "written by `brainencode alignment language|vision`")
        rows.append(json.loads((folder / INFO).read_text()) | {"dir": str(folder)})
    return pd.DataFrame(rows)


def read_variant_scores(folder: str | Path) -> pd.DataFrame:
    return pd.read_csv(Path(folder) / "scores.tsv", sep="\t", keep_default_na=False,
                       na_values=[""])


def read_arrays(folder: str | Path, arrays_name: str) -> dict[str, np.ndarray]:
    with np.load(Path(folder) / f"{arrays_name}.npz") as arrays:
        return {key: arrays[key] for key in arrays.files}


def read_brain_score(folder: str | Path) -> pd.DataFrame | None:
    """brainscore.tsv of a variant (None when it was not scored by the Brain-Score protocol)."""
    path = Path(folder) / BRAIN_SCORE
    return pd.read_csv(path, sep="\t", keep_default_na=False,
                       dtype={"experiment": str, "condition": str, "layer": str}) \
        if path.is_file() else None
