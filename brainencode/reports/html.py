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


def write_report(config: dict, score_paths: list[Path], figure_dirs: list[Path],
                 benchmark_dir: Path, out_path: Path) -> None:
    """Render index.html from the gathered scores, the per-subject figures and job timings."""
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
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(html)
