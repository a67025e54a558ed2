"""Figures of the trained-versus-untrained alignment stage: bars with CIs, layer-wise curves."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from brainencode.analyses.alignment.localizer_stimuli import LANDMARKS  # noqa: E402
from brainencode.analyses.alignment.summary import read_landmarks, read_summary  # noqa: E402
from brainencode.analyses.scores import Metric  # noqa: E402

COLOURS = {True: "#1f77b4", False: "#ff7f0e"}
LABELS = {True: "trained", False: "untrained (mean over seeds)"}
YLABELS = {Metric.R: "Pearson r (out-of-fold, mean over targets)",
           Metric.R_NORMALIZED: "r / noise ceiling (mean over targets)",
           Metric.RSA_SPEARMAN: "Spearman rho, model RDM vs subject RDMs"}


def _bars(ax, table: pd.DataFrame, groups: list[tuple[str, str]]) -> None:
    """Trained and untrained side by side for each (model, condition), 95% bootstrap CIs."""
    width = 0.38
    for offset, trained in ((-width / 2, True), (width / 2, False)):
        part = table[table["trained"] == trained].set_index(["model", "condition"])
        x, values, errors = [], [], []
        for i, key in enumerate(groups):
            if key in part.index:
                row = part.loc[key]
                x.append(i + offset)
                values.append(row["value"])
                errors.append([row["value"] - row["ci_low"], row["ci_high"] - row["value"]])
        if x:
            ax.bar(x, values, width, color=COLOURS[trained], label=LABELS[trained],
                   yerr=np.array(errors).T, capsize=3)
    ax.set_xticks(range(len(groups)), [f"{m}\n{c}" for m, c in groups], fontsize=8)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.legend(fontsize=8)


def alignment_figures(summary_dir: Path, out_dir: Path) -> list[Path]:
    """alignment_language.png, alignment_vision.png (when that side ran), alignment_layers.png,
    from the summary tables of analyses.alignment.summary."""
    summary, layers = read_summary(summary_dir)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for side, title in (("language", "Language data: localized vs all vs random units"),
                        ("vision", "Human IT RDMs: representational similarity")):
        table = summary[summary["side"] == side]
        if table.empty:
            continue
        groups = list(dict.fromkeys(zip(table["model"], table["condition"], strict=True)))
        fig, ax = plt.subplots(figsize=(max(5.0, 1.3 * len(groups) + 2), 4.2))
        _bars(ax, table, groups)
        if side == "vision":
            low, high = table["ceiling_lower"].iloc[0], table["ceiling_upper"].iloc[0]
            ax.axhspan(low, high, color="0.85", zorder=0, label="noise ceiling")
            ax.legend(fontsize=8)
        ax.set_ylabel(YLABELS[table["metric"].iloc[0]], fontsize=9)
        ax.set_title(f"{title} (95% bootstrap CI over stimuli and seeds)", fontsize=10)
        fig.tight_layout()
        paths.append(out_dir / f"alignment_{side}.png")
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)

    sides = list(dict.fromkeys(layers["side"]))
    fig, axes = plt.subplots(1, len(sides), figsize=(6 * len(sides), 4.2), squeeze=False)
    for ax, side in zip(axes[0], sides, strict=True):
        part = layers[layers["side"] == side]
        for (model, trained), curve in part.groupby(["model", "trained"], sort=False):
            by_layer = curve.groupby("layer", sort=False)["value"]
            mean, low, high = by_layer.mean(), by_layer.min(), by_layer.max()
            x = np.linspace(0, 1, len(mean))  # models of different depths on one axis
            line, = ax.plot(x, mean.to_numpy(), marker="o",
                            linestyle="-" if trained else "--",
                            label=f"{model}, {LABELS[bool(trained)]} ({len(mean)} layers)")
            if not trained:
                ax.fill_between(x, low.to_numpy(), high.to_numpy(), alpha=0.2,
                                color=line.get_color())
        ax.set_xlabel("relative depth (0: first layer extracted, 1: last)")
        ax.set_ylabel("Pearson r, all units of the layer" if side == "language"
                      else YLABELS[Metric.RSA_SPEARMAN], fontsize=9)
        ax.set_title(f"{side}: layer-wise (untrained: seed range shaded)", fontsize=10)
        ax.legend(fontsize=7)
    fig.tight_layout()
    paths.append(out_dir / "alignment_layers.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    landmarks = read_landmarks(summary_dir)
    if not landmarks.empty:
        paths.append(landmark_figure(landmarks, out_dir / "alignment_landmarks.png"))
    return paths


def landmark_figure(landmarks: pd.DataFrame, path: Path) -> Path:
    """Bars of S, W, J, N per model variant (trained, untrained), 95% CIs."""
    responses = landmarks[landmarks["kind"] == "response"]
    groups = list(dict.fromkeys(zip(responses["model"], responses["trained"], strict=True)))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.8 * len(groups) + 2), 4.2))
    width = 0.8 / len(LANDMARKS)
    for c, (key, name) in enumerate(LANDMARKS.items()):
        part = responses[responses["measure"] == key].set_index(["model", "trained"])
        rows = part.loc[groups]
        ax.bar(np.arange(len(groups)) + (c - 1.5) * width, rows["value"], width,
               yerr=np.array([rows["value"] - rows["ci_low"], rows["ci_high"] - rows["value"]]),
               capsize=2, label=f"{key}: {name}")
    ax.set_xticks(range(len(groups)),
                  [f"{m}\n{LABELS[bool(t)]}" for m, t in groups], fontsize=8)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel("localized units' response (z, mean over units)", fontsize=9)
    ax.set_title("Landmark conditions of Fedorenko et al. 2010 (95% CI over items and seeds)",
                 fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
