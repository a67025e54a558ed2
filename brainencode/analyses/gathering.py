"""Join one subject's encoding chunks into per-layer files and per-ROI score tables.

Kept apart from layer_scores (which fits): the gathering verbs read and write tables only, so
they start without torch and the estimators.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from brainencode.analyses.scores import (
    PRODUCTS,
    Metric,
    read_chunk_layers,
    read_chunk_metas,
    read_scores,
    score_table,
    write_layer,
    write_scores,
)
from brainencode.encoders import metrics, significance


def finite_mean(values: np.ndarray) -> float:
    """Mean over the finite entries; NaN (without a warning) when there are none."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else np.nan


def gather_encoding(*, chunks: list[Path], out_dir: Path, fdr_q: float) -> pd.DataFrame:
    """Join the chunks of one subject and model (in order) into ``<layer>.h5`` per layer, with
    BH-FDR q-values over all targets, and ``scores.tsv``: per ROI the means of the per-target
    scores, the 2V2 accuracy averaged over test folds (left out, with a note, for ROIs with
    fewer than metrics.MIN_2V2_TARGETS scored targets), the fraction of targets with q below
    ``fdr_q`` and the number of targets; long format (subject, roi, model, layer, metric,
    value). One chunk or many give the same files."""
    paths = [Path(p) for p in chunks]
    first = read_chunk_metas(paths)[0]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for layer in first["layers"]:
        per_target, roi, products = read_chunk_layers(paths, layer)
        per_target["q"] = significance.fdr_bh(per_target["p"])
        write_layer(out_dir, layer, per_target,
                    {"subject": first["subject"], "model": first["model"]})
        for name in np.unique(roi):
            inside = roi == name
            summary = {metric: finite_mean(per_target[metric][inside])
                       for metric in (Metric.R, Metric.R2, Metric.R_NORMALIZED, Metric.CEILING,
                                      Metric.EXPLAINABLE_VARIANCE)}
            n_scored = int(np.isfinite(per_target["r"][inside]).sum())
            two_vs_two, note = np.nan, metrics.two_vs_two_omitted(n_scored)
            if not note:
                two_vs_two = np.mean([metrics.two_vs_two_from_products(
                    *(products[(name, f"{p}{k}")] for p in PRODUCTS))
                    for k in range(first["n_folds"])])
            summary |= {
                Metric.TWO_VS_TWO: two_vs_two,
                Metric.FRACTION_SIGNIFICANT: np.mean(per_target["q"][inside] < fdr_q),
                Metric.N_TARGETS: int(inside.sum()),
            }
            rows += [(first["subject"], name, first["model"], layer, k, float(v),
                      note if k == Metric.TWO_VS_TWO else "") for k, v in summary.items()]
    table = score_table(rows)
    write_scores(table, out_dir / "scores.tsv")
    return table


def gather_scores(*, scores: list[Path], out: Path) -> pd.DataFrame:
    """Concatenate per-model score tables into one long table."""
    table = read_scores(scores)
    write_scores(table, out)
    return table
