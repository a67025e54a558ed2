"""One subject's figures: the set depends on the data (voxels in MNI or native space, sEEG
contacts, table targets; with or without repeats for a noise ceiling). What is left out is
written, with its reason, to omitted.tsv so the report can say why."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from brainencode.analyses.scores import Metric, read_scores
from brainencode.datasets.responses import Responses, read_responses
from brainencode.errors import BrainencodeError
from brainencode.reports import brain_figures, score_figures

OMITTED = "omitted.tsv"
R_BEST = "best Pearson r (out-of-fold)"
R_NORMALIZED = "r / noise ceiling"


def template_space(space: str) -> bool:
    """Whether voxels in this BIDS space can be drawn on nilearn's MNI152 template and sampled
    onto fsaverage: only MNI template spaces; native (T1w, func) data never are."""
    return space.upper().startswith("MNI")


def subject_figures(*, scores: Path, encoding: list[Path], responses: Path, out_dir: Path,
                    fdr_q: float) -> list[Path]:
    """Write every figure that applies to this subject's data into out_dir (PNG)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    scores = read_scores(scores)
    subject = scores["subject"].iloc[0]
    written, omitted = [], {}

    def path(name: str) -> Path:
        written.append(out_dir / f"{name}.png")
        return written[-1]

    ceiling = score_figures.has_ceiling(scores)
    no_ceiling = "no noise ceiling: the responses have no repeated presentations"
    score_figures.layer_curves(scores, path("layer_curves"))
    if ceiling:
        score_figures.layer_curves(scores, path("layer_curves_normalized"), Metric.R_NORMALIZED)
    else:
        omitted["layer_curves_normalized"] = no_ceiling
    score_figures.layer_roi_heatmap(scores, path("layer_roi_heatmap"))
    score_figures.model_roi_heatmap(scores, path("model_roi_heatmap"))

    responses = read_responses(responses, data=False)  # where the targets are, not data
    best, normalized = brain_figures.best_significant(encoding, responses.n_targets, fdr_q)
    space = str(responses.attrs.get("space", ""))
    if responses.vertex is not None:
        _mesh_figures(best, normalized, responses, ceiling, subject, path, omitted)
    elif responses.channel is not None:
        brain_figures.electrode_map(best, responses, f"{subject}: best r per contact",
                                    R_BEST, path("electrodes"))
    elif responses.ijk is None:
        brain_figures.target_bars(best, responses, f"{subject}: best r per target", R_BEST,
                                  path("target_bars"))
    else:
        on_mni = template_space(space)
        best_volume = brain_figures.volume(best, responses)
        brain_figures.volume_map(best_volume, on_mni,
                                 f"{subject}: best r per voxel", R_BEST, path("brain_volume"))
        if ceiling:
            brain_figures.volume_map(brain_figures.volume(normalized, responses), on_mni,
                                     f"{subject}: r / noise ceiling per voxel", R_NORMALIZED,
                                     path("brain_volume_normalized"), vmax=1.0)
        else:
            omitted["brain_volume_normalized"] = no_ceiling
        if on_mni:
            brain_figures.surface_map(best_volume, f"{subject}: best r per voxel on fsaverage5",
                                      R_BEST, path("brain_surface"))
        else:
            omitted["brain_surface"] = (f"no fsaverage5 surface map: the voxels are in space "
                                        f"'{space}', not MNI")
    pd.DataFrame({"figure": list(omitted), "reason": list(omitted.values())}).to_csv(
        out_dir / OMITTED, sep="\t", index=False)
    return written


def _mesh_figures(best: np.ndarray, normalized: np.ndarray, responses: Responses,
                  ceiling: bool, subject: str, path: Callable[[str], Path], omitted: dict
                  ) -> None:
    """Surface data: maps on their own mesh; the volume figures do not apply."""
    from brainencode.reports import mesh_figures

    mesh = responses.attrs["mesh"]
    for name in ("brain_volume", "brain_volume_normalized", "brain_surface"):
        omitted[name] = f"surface data on {mesh}: drawn on their own mesh instead (mesh_map)"
    try:
        drawing = mesh_figures.drawing_files(mesh_figures.mesh_named(str(mesh)))
    except BrainencodeError as exc:
        omitted["mesh_map"] = omitted["mesh_map_normalized"] = str(exc)
        return
    mesh_figures.mesh_map(best, responses, drawing, f"{subject}: best r per vertex", R_BEST,
                          path("mesh_map"))
    if ceiling:
        mesh_figures.mesh_map(normalized, responses, drawing,
                              f"{subject}: r / noise ceiling per vertex", R_NORMALIZED,
                              path("mesh_map_normalized"), vmax=1.0)
    else:
        omitted["mesh_map_normalized"] = ("no noise ceiling: the responses have no repeated "
                                          "presentations")


def read_omitted(folder: Path) -> pd.DataFrame:
    """The figures a subject's folder leaves out (figure, reason), from omitted.tsv."""
    return pd.read_csv(Path(folder) / OMITTED, sep="\t")
