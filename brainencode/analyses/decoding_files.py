"""The decoding and shared-space contract: the one module that writes and reads their tables.

Under ``results/decoding/<subject>/``:

- ``decoding.tsv``: per ROI, model and layer decoded, each score (encoders/identification.py:
  ``SCORES``) with its chance level and permutation p, and the number of targets read and
  feature dimensions.
- ``dimensions.tsv``: per ROI, model, layer and feature dimension, its decoded Pearson r
  (fold-averaged) with permutation p and BH-FDR q.
- ``classification.tsv`` (sEEG/ECoG): per scope (``region``: the contacts of one region
  together; ``contact``: one contact's windows; ``all``: every contact) its balanced accuracy,
  chance and permutation p.

Under ``results/shared_space/``:

- ``scores.tsv``: per subject and ROI, the within-subject encoder's and the shared-space
  encoder's mean r with 95% bootstrap CIs.
- ``transfer.tsv``: per held-out subject, ROI, fraction of its training stimuli and method
  (``transfer``: a new adapter onto the others' shared space; ``own``: the subject's own
  encoder) the mean r with its 95% bootstrap CI; transfer rows also have ``gain``, their r
  minus the own encoder's on the same stimuli, with its paired 95% bootstrap CI.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from brainencode.datasets.tables import write_tsv

DECODING = "decoding.tsv"
DIMENSIONS = "dimensions.tsv"
CLASSIFICATION = "classification.tsv"
SHARED_SCORES = "scores.tsv"
TRANSFER = "transfer.tsv"

DECODING_COLUMNS = ["subject", "roi", "model", "layer", "metric", "value", "chance", "p",
                    "n_targets", "n_dimensions"]
DIMENSION_COLUMNS = ["subject", "roi", "model", "layer", "dimension", "r", "p", "q"]
CLASSIFICATION_COLUMNS = ["subject", "label", "scope", "name", "n_features",
                          "balanced_accuracy", "chance", "p"]
SHARED_COLUMNS = ["subject", "roi", "model", "layer", "method", "r", "ci_low", "ci_high"]
TRANSFER_COLUMNS = ["subject", "roi", "model", "layer", "fraction", "n_train", "method", "r",
                    "ci_low", "ci_high", "gain", "gain_ci_low", "gain_ci_high"]


def _write(rows: list[dict] | pd.DataFrame, columns: list[str], path: Path) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=columns)
    write_tsv(table[columns], path)
    return table


def _read(path: Path, columns: list[str]) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", keep_default_na=False,
                       na_values=["", "NaN", "nan"])[columns]


def write_decoding(rows: list[dict], dimensions: pd.DataFrame, out_dir: Path) -> None:
    """decoding.tsv and dimensions.tsv; dimensions.tsv first, so a folder with decoding.tsv
    is complete."""
    _write(dimensions, DIMENSION_COLUMNS, out_dir / DIMENSIONS)
    _write(rows, DECODING_COLUMNS, out_dir / DECODING)


def read_decoding(folder: Path) -> pd.DataFrame:
    return _read(Path(folder) / DECODING, DECODING_COLUMNS)


def write_classification(rows: list[dict], out_dir: Path) -> pd.DataFrame:
    return _write(rows, CLASSIFICATION_COLUMNS, out_dir / CLASSIFICATION)


def read_classification(folder: Path) -> pd.DataFrame:
    return _read(Path(folder) / CLASSIFICATION, CLASSIFICATION_COLUMNS)


def write_shared_space(scores: list[dict], transfer: list[dict], out_dir: Path) -> None:
    """transfer.tsv, then scores.tsv (the rule's output: written last)."""
    _write(transfer, TRANSFER_COLUMNS, out_dir / TRANSFER)
    _write(scores, SHARED_COLUMNS, out_dir / SHARED_SCORES)


def read_shared_space(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    folder = Path(folder)
    return (_read(folder / SHARED_SCORES, SHARED_COLUMNS),
            _read(folder / TRANSFER, TRANSFER_COLUMNS))
