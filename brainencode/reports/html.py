"""The self-contained HTML report: figures inlined as base64, no external assets."""

from __future__ import annotations

import base64
import datetime as dt
import platform
from importlib import metadata
from pathlib import Path

import pandas as pd
import yaml
from jinja2 import Environment, PackageLoader, select_autoescape

PACKAGES = ("brainencode", "torch", "transformers", "snakemake", "numpy", "scikit-learn",
            "nilearn", "nibabel", "h5py")


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _inline(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def _best_layers(scores: pd.DataFrame) -> pd.DataFrame:
    """Per subject, ROI and model: the layer with the highest mean r, with its r and ceiling."""
    r = scores[scores["metric"] == "r"]
    best = r.loc[r.groupby(["subject", "roi", "model"], sort=False)["value"].idxmax()]
    wide = scores.pivot_table(index=["subject", "roi", "model", "layer"], columns="metric",
                              values="value").reset_index()
    table = best[["subject", "roi", "model", "layer"]].merge(wide, how="left")
    columns = ["subject", "roi", "model", "layer", "r", "r_normalized", "ceiling",
               "fraction_significant", "n_targets"]
    # reindex: a metric that is NaN everywhere (no repeats, no ceiling) is still a column
    return table.reindex(columns=columns).sort_values(["subject", "roi", "r"],
                                                      ascending=[True, True, False])


def _timings(benchmark_dir: Path) -> list[dict]:
    rows = []
    for path in sorted(benchmark_dir.glob("**/*.tsv")):
        seconds = pd.read_csv(path, sep="\t")["s"].iloc[0]
        rows.append({"job": str(path.relative_to(benchmark_dir).with_suffix("")),
                     "seconds": f"{seconds:.1f}"})
    return rows


def _captioning(captioning_dirs: list[Path], stimuli: Path | None, bank: Path | None
                ) -> list[dict]:
    """Per captioned subject: the evaluation summary and, per ROI, its best-captioned voxels
    with their top images inlined as small JPEGs."""
    from brainencode.analyses.captioning.captioners import image_data_url
    from brainencode.datasets.stimuli import image_paths, read_stimuli
    from brainencode.reports.caption_gallery import gallery_voxels, score_line

    if not captioning_dirs:
        return []
    paths = image_paths(read_stimuli(stimuli), read_stimuli(bank))
    subjects = []
    for folder in captioning_dirs:
        voxels = gallery_voxels(folder / "selection", folder / "image_captions.tsv",
                                folder / "voxel_captions.tsv", folder / "evaluation.tsv",
                                paths, per_roi=2)
        summary = pd.read_csv(folder / "summary.tsv", sep="\t")
        subjects.append({
            "name": folder.name,
            "summary": summary.to_dict("records"),
            "describer": voxels[0].describer if voxels else "",
            "voxels": [{"roi": v.roi, "target": v.target, "caption": v.caption,
                        "keywords": v.keywords, "llm": v.llm, "scores": score_line(v.scores),
                        "images": [{"id": sid, "src": image_data_url(path, 160),
                                    "caption": caption} for sid, path, caption in v.images]}
                       for v in voxels]})
    return subjects


def write_report(config: dict, score_paths: list[Path], figure_dirs: list[Path],
                 benchmark_dir: Path, out_path: Path, captioning_dirs: list[Path] = (),
                 captioning_stimuli: Path | None = None, captioning_bank: Path | None = None
                 ) -> None:
    """Render index.html from the gathered scores, the per-subject figures, job timings and
    the caption galleries (when the captioning stage ran)."""
    scores = pd.concat([pd.read_csv(p, sep="\t") for p in score_paths], ignore_index=True)
    best = _best_layers(scores)
    subjects = []
    for folder in figure_dirs:
        figures = [{"name": p.stem.replace("_", " "), "src": _inline(p)}
                   for p in sorted(Path(folder).glob("*.png"))]
        subjects.append({"name": Path(folder).name, "figures": figures})
    env = Environment(loader=PackageLoader("brainencode.reports"),
                      autoescape=select_autoescape(["html", "j2"]))
    html = env.get_template("report.html.j2").render(
        title=config["report"]["title"],
        generated=dt.datetime.now().isoformat(timespec="seconds"),
        config_yaml=yaml.safe_dump(config, sort_keys=False),
        models=config["models"],
        subjects=subjects,
        best=best.to_dict("records"),
        versions=_versions(),
        timings=_timings(benchmark_dir),
        captioning=_captioning([Path(d) for d in captioning_dirs], captioning_stimuli,
                               captioning_bank),
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(html)
