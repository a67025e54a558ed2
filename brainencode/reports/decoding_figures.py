"""Figures of the decoding and shared-space stages: identification and retrieval bars per ROI,
transfer learning curves, sEEG classification against chance."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from brainencode.analyses.decoding_files import (  # noqa: E402
    read_classification,
    read_decoding,
    read_shared_space,
)

BAR_SCORES = {"identification": "identification", "top1": "top-1", "top5": "top-5",
              "2v2": "2V2"}
METHOD_STYLE = {"transfer": ("#1f77b4", "transfer: new adapter onto the others' shared space"),
                "own": ("#ff7f0e", "own encoder, same stimuli")}


def _stars(p: float) -> str:
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def decoding_bars(table: pd.DataFrame, path: Path) -> Path:
    """Per subject, each decoded target's scores as bars, chance as a tick across each bar,
    permutation significance as stars."""
    subjects = list(dict.fromkeys(table["subject"]))
    fig, axes = plt.subplots(1, len(subjects), figsize=(4.5 * len(subjects), 3.6),
                             squeeze=False, sharey=True)
    for ax, subject in zip(axes[0], subjects, strict=True):
        part = table[table["subject"] == subject]
        targets = list(dict.fromkeys(zip(part["roi"], part["model"], part["layer"],
                                         strict=True)))
        width = 0.8 / len(BAR_SCORES)
        for k, (metric, label) in enumerate(BAR_SCORES.items()):
            rows = part[part["metric"] == metric].set_index(["roi", "model", "layer"])
            x = np.arange(len(targets)) + (k - (len(BAR_SCORES) - 1) / 2) * width
            values = [rows.loc[t, "value"] for t in targets]
            ax.bar(x, values, width, label=label, color=f"C{k}")
            for xi, t in zip(x, targets, strict=True):
                ax.hlines(rows.loc[t, "chance"], xi - width / 2, xi + width / 2, color="k",
                          lw=1.5)
                ax.text(xi, rows.loc[t, "value"] + 0.01, _stars(rows.loc[t, "p"]),
                        ha="center", fontsize=7)
        ax.set_xticks(range(len(targets)), [f"{r}\n{m}\n{lay}" for r, m, lay in targets],
                      fontsize=7)
        ax.set_ylim(0, 1.25)
        ax.set_title(subject)
    axes[0][0].set_ylabel("accuracy (black: chance)")
    axes[0][0].legend(fontsize=7, loc="upper left", ncol=len(BAR_SCORES))
    return _save(fig, path)


def transfer_curves(shared: pd.DataFrame, transfer: pd.DataFrame, path: Path) -> Path:
    """Per ROI target (rows) and held-out subject (columns): r against the stimuli its
    adapter or its own encoder saw, with 95% bootstrap CIs; the within-subject and
    shared-space scores of all its training stimuli as dashed lines."""
    targets = list(dict.fromkeys(zip(transfer["roi"], transfer["model"], transfer["layer"],
                                     strict=True)))
    subjects = list(dict.fromkeys(transfer["subject"]))
    fig, axes = plt.subplots(len(targets), len(subjects), squeeze=False, sharey=True,
                             figsize=(3.8 * len(subjects), 3.0 * len(targets)))
    for i, target in enumerate(targets):
        for j, subject in enumerate(subjects):
            ax = axes[i][j]
            key = (transfer["roi"] == target[0]) & (transfer["model"] == target[1]) & (
                transfer["layer"] == target[2]) & (transfer["subject"] == subject)
            for method, (colour, label) in METHOD_STYLE.items():
                part = transfer[key & (transfer["method"] == method)].sort_values("n_train")
                ax.plot(part["n_train"], part["r"], "o-", color=colour, label=label)
                ax.fill_between(part["n_train"], part["ci_low"], part["ci_high"],
                                color=colour, alpha=0.2)
            scores = shared[(shared["subject"] == subject) & (shared["roi"] == target[0])
                            & (shared["model"] == target[1]) & (shared["layer"] == target[2])]
            for row in scores.itertuples():
                ax.axhline(row.r, ls="--", lw=1, color="grey" if row.method == "within"
                           else "#2ca02c", label=f"{row.method}, all stimuli")
            ax.set_title(f"{target[0]} ({target[1]} {target[2]}), held out {subject}",
                         fontsize=8)
            ax.set_xlabel("training stimuli of the held-out subject")
    for ax in axes[:, 0]:
        ax.set_ylabel("mean voxel r (held-out stimuli)")
    axes[0][-1].legend(fontsize=6, loc="lower right")
    return _save(fig, path)


def classification_bars(table: pd.DataFrame, path: Path) -> Path:
    """Per sEEG/ECoG subject: each region's contacts together, all contacts, and the best
    single contact, against chance."""
    subjects = list(dict.fromkeys(table["subject"]))
    fig, axes = plt.subplots(1, len(subjects), figsize=(5 * len(subjects), 3.4), squeeze=False)
    for ax, subject in zip(axes[0], subjects, strict=True):
        part = table[table["subject"] == subject]
        regions = part[part["scope"] == "region"]
        contacts = part[part["scope"] == "contact"]
        best = contacts.loc[contacts["balanced_accuracy"].idxmax()]
        shown = pd.concat([regions, part[part["scope"] == "all"], best.to_frame().T])
        labels = [*regions["name"], "all contacts", f"best contact\n({best['name']})"]
        colours = ["#1f77b4"] * len(regions) + ["#2ca02c", "#ff7f0e"]
        values = shown["balanced_accuracy"].astype(float).to_numpy()
        ax.bar(range(len(shown)), values, color=colours)
        for x, (value, p) in enumerate(zip(values, shown["p"].astype(float), strict=True)):
            ax.text(x, value + 0.01, _stars(p), ha="center", fontsize=8)
        ax.axhline(float(part["chance"].iloc[0]), color="k", ls="--", lw=1, label="chance")
        ax.set_xticks(range(len(shown)), labels, fontsize=7)
        ax.set_ylabel(f"balanced accuracy ({part['label'].iloc[0]})")
        ax.set_title(subject)
        ax.legend(fontsize=7)
    return _save(fig, path)


def decoding_figures(*, out_dir: Path, decoding: list[Path] = (),
                     shared_space: Path | None = None) -> None:
    """Draw the decoding bars, the sEEG classification bars and the transfer curves of the
    stages that ran (``decoding``: per-subject folders; ``shared_space``: its folder)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    folders = [Path(d) for d in decoding]
    decoded = [read_decoding(d) for d in folders if (d / "decoding.tsv").exists()]
    classified = [read_classification(d) for d in folders
                  if (d / "classification.tsv").exists()]
    if decoded:
        decoding_bars(pd.concat(decoded, ignore_index=True), out_dir / "decoding_scores.png")
    if classified:
        classification_bars(pd.concat(classified, ignore_index=True),
                            out_dir / "seeg_classification.png")
    if shared_space is not None:
        transfer_curves(*read_shared_space(shared_space), out_dir / "transfer_curves.png")
