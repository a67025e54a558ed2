"""Figures of one subject's score table: layer curves, model x layer x ROI heatmaps."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from brainencode.analyses.scores import Metric  # noqa: E402

DPI = 110
R_LABEL = "mean Pearson r (out-of-fold)"
LABELS = {Metric.R: R_LABEL, Metric.R_NORMALIZED: "mean r / noise ceiling"}
MAX_ROIS = 12  # an atlas of hundreds of areas (Glasser's 360): its best-predicted ones are drawn


def shown_rois(scores: pd.DataFrame) -> tuple[list[str], str]:
    """The ROIs the figures draw, in table order: all of them, or, past MAX_ROIS, the
    MAX_ROIS with the highest best-layer mean r; and a note saying which when some are left
    out (every ROI stays in scores.tsv and the report's tables)."""
    table = scores[scores["metric"] == Metric.R]
    rois = list(dict.fromkeys(table["roi"]))
    if len(rois) <= MAX_ROIS:
        return rois, ""
    best = table.groupby("roi")["value"].max().nlargest(MAX_ROIS)
    return ([roi for roi in rois if roi in best.index],
            f"the {MAX_ROIS} of {len(rois)} ROIs with the highest best-layer r")


def _note(fig: plt.Figure, note: str) -> None:
    if note:
        fig.suptitle(note, fontsize=10)


def has_ceiling(scores: pd.DataFrame) -> bool:
    """Whether any ROI has a finite noise ceiling (the responses had repeats)."""
    return bool(np.isfinite(scores.loc[scores["metric"] == Metric.CEILING, "value"]).any())


def _with_depth(scores: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Rows of one metric with each layer's relative depth within its model (0 to 1)."""
    table = scores[scores["metric"] == metric].copy()
    order = {}
    for model, group in table.groupby("model", sort=False):
        layers = list(dict.fromkeys(group["layer"]))
        order.update({(model, layer): i / max(len(layers) - 1, 1)
                      for i, layer in enumerate(layers)})
    table["depth"] = [order[(m, la)] for m, la in zip(table["model"], table["layer"], strict=True)]
    return table


def _save(fig: plt.Figure, path: Path) -> None:
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def _label_cells(ax: plt.Axes, values: np.ndarray, texts, limit: float, fontsize: int) -> None:
    """Write each cell's text over a heatmap on the symmetric scale [-limit, limit], in white
    on the darkest cells."""
    for (i, j), value in np.ndenumerate(values):
        ax.text(j, i, texts[i][j], ha="center", va="center", fontsize=fontsize,
                color="white" if abs(value) > 0.6 * limit else "black")


def layer_curves(scores: pd.DataFrame, path: Path, metric: str = Metric.R) -> None:
    """Per ROI, the metric against relative layer depth, one line per model, the best layer
    starred; for r, the ROI's mean noise ceiling as a dashed line when there is one."""
    table = _with_depth(scores, metric)
    ceiling = scores[scores["metric"] == Metric.CEILING].groupby("roi")["value"].mean()
    rois, note = shown_rois(scores)
    n_cols = min(len(rois), 3)
    n_rows = -(-len(rois) // n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(4.0 * n_cols, 3.2 * n_rows), sharey=True,
                             squeeze=False)
    for ax, roi in zip(axes.flat, rois, strict=False):
        for model, group in table[table["roi"] == roi].groupby("model", sort=False):
            line, = ax.plot(group["depth"], group["value"], marker="o", ms=3, label=model)
            best = group.loc[group["value"].idxmax()]
            ax.plot(best["depth"], best["value"], marker="*", ms=12, color=line.get_color())
        if metric == Metric.R and np.isfinite(ceiling.get(roi, np.nan)):
            ax.axhline(ceiling[roi], color="0.4", ls="--", lw=1, label="noise ceiling")
        if metric == Metric.R_NORMALIZED:
            ax.axhline(1, color="0.4", ls="--", lw=1, label="ceiling (= 1)")
        ax.axhline(0, color="0.7", lw=0.8)
        ax.set_title(roi, fontsize=11)
        ax.set_xlabel("relative layer depth (0 = embeddings)", fontsize=9)
        ax.tick_params(labelsize=9)
    for ax in axes[:, 0]:
        ax.set_ylabel(LABELS[metric], fontsize=10)
    for ax in axes.flat[len(rois):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=9, frameon=False)
    _note(fig, note)
    fig.tight_layout(rect=(0, 0.06 / n_rows, 1, 1))
    _save(fig, path)


def layer_roi_heatmap(scores: pd.DataFrame, path: Path) -> None:
    """Model x layer x ROI: one panel per model, ROIs by layers, colour = mean r on one
    symmetric scale, each ROI's best layer outlined."""
    rois, note = shown_rois(scores)
    table = scores[(scores["metric"] == Metric.R) & scores["roi"].isin(rois)]
    models = list(dict.fromkeys(table["model"]))
    limit = max(float(np.nanmax(np.abs(table["value"]))), 0.05)
    n_layers = max(table.groupby("model")["layer"].nunique())
    fig, axes = plt.subplots(len(models), 1, squeeze=False,
                             figsize=(max(6.0, 0.62 * n_layers + 3), 0.42 * len(rois) * len(models)
                                      + 1.3 * len(models)))
    for ax, model in zip(axes[:, 0], models, strict=True):
        part = table[table["model"] == model]
        layers = list(dict.fromkeys(part["layer"]))
        grid = part.pivot(index="roi", columns="layer", values="value").loc[rois, layers]
        image = ax.imshow(grid.values, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
        for i, best in enumerate(np.nanargmax(np.nan_to_num(grid.values, nan=-np.inf), axis=1)):
            ax.add_patch(plt.Rectangle((best - 0.5, i - 0.5), 1, 1, fill=False, lw=2,
                                       edgecolor="black"))
        if grid.size <= 300:
            _label_cells(ax, grid.values, np.vectorize("{:.2f}".format)(grid.values), limit, 7)
        ax.set_xticks(range(len(layers)), layers, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(rois)), rois, fontsize=9)
        ax.set_title(model, fontsize=10)
        fig.colorbar(image, ax=ax, label=R_LABEL, fraction=0.04)
    _note(fig, note)
    fig.tight_layout()
    _save(fig, path)


def model_roi_heatmap(scores: pd.DataFrame, path: Path) -> None:
    """Best-layer mean r per model and ROI, annotated with the best layer."""
    rois, note = shown_rois(scores)
    table = scores[(scores["metric"] == Metric.R) & scores["roi"].isin(rois)]
    best = table.loc[table.groupby(["model", "roi"], sort=False)["value"].idxmax()]
    models = list(dict.fromkeys(table["model"]))
    grid = best.pivot(index="model", columns="roi", values="value").loc[models, rois]
    layer = best.pivot(index="model", columns="roi", values="layer").loc[models, rois]
    fig, ax = plt.subplots(figsize=(1.4 * len(rois) + 2.5, 0.7 * len(models) + 1.5))
    limit = max(float(np.nanmax(np.abs(grid.values))), 0.05)
    image = ax.imshow(grid.values, cmap="RdBu_r", vmin=-limit, vmax=limit, aspect="auto")
    texts = [[f"{v:.2f}\n{la}" for v, la in zip(*row, strict=True)]
             for row in zip(grid.values, layer.values, strict=True)]
    _label_cells(ax, grid.values, texts, limit, 8)
    ax.set_xticks(range(len(rois)), rois, fontsize=9)
    ax.set_yticks(range(len(models)), models, fontsize=9)
    fig.colorbar(image, ax=ax, label=f"best-layer {R_LABEL}")
    _note(fig, note)
    fig.tight_layout()
    _save(fig, path)
