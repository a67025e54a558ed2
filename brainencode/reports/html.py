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

from brainencode.analyses.alignment.summary import (
    read_brain_score_summary,
    read_landmarks,
    read_summary,
)
from brainencode.analyses.captioning.files import read_naming
from brainencode.analyses.captioning.files import read_summary as read_captioning_summary
from brainencode.analyses.captioning.units import UNITS_PREFIX
from brainencode.analyses.decoding_files import (
    CLASSIFICATION,
    DECODING,
    read_classification,
    read_decoding,
    read_shared_space,
)
from brainencode.analyses.scores import Metric, read_scores
from brainencode.datasets.images import image_data_url
from brainencode.datasets.responses import describe_responses
from brainencode.datasets.stimuli import image_paths, read_stimuli
from brainencode.reports.caption_gallery import gallery_voxels, score_line
from brainencode.reports.captions import ALIGNMENT_FIGURES, DECODING_FIGURES, SUBJECT_FIGURES
from brainencode.reports.figures import read_omitted

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


def _figures(paths: list[Path], captions: dict[str, str]) -> list[dict]:
    """The PNGs among paths, in the order of captions, inlined with their caption."""
    by_name = {p.stem: p for p in paths if p.suffix == ".png"}
    return [{"name": name, "title": name.replace("_", " "), "caption": caption,
             "src": _inline(by_name[name])}
            for name, caption in captions.items() if name in by_name]


def _subject(folder: Path) -> dict:
    """One subject's figures and the one-line reasons for those its data do not allow."""
    omitted = read_omitted(folder)
    return {"name": folder.name,
            "figures": _figures(sorted(folder.glob("*.png")), SUBJECT_FIGURES),
            "omitted": omitted.to_dict("records")}


def _data(responses_paths: list[Path]) -> list[dict]:
    """Per subject: modality, space, stimuli x targets, ROIs and repeats (read from the
    responses files' metadata, without loading the data)."""
    return [describe_responses(path) for path in responses_paths]


def _best_layers(scores: pd.DataFrame) -> pd.DataFrame:
    """Per subject, ROI and model: the layer with the highest mean r, with its r and ceiling."""
    r = scores[scores["metric"] == Metric.R]
    best = r.loc[r.groupby(["subject", "roi", "model"], sort=False)["value"].idxmax()]
    wide = scores.pivot_table(index=["subject", "roi", "model", "layer"], columns="metric",
                              values="value").reset_index()
    table = best[["subject", "roi", "model", "layer"]].merge(wide, how="left")
    columns = ["subject", "roi", "model", "layer", Metric.R, Metric.R_NORMALIZED,
               Metric.CEILING, Metric.TWO_VS_TWO, Metric.FRACTION_SIGNIFICANT, Metric.N_TARGETS]
    # reindex: a metric that is NaN everywhere (no repeats, no ceiling) is still a column
    return table.reindex(columns=columns).sort_values(["subject", "roi", Metric.R],
                                                      ascending=[True, True, False])


def _notes(scores: pd.DataFrame) -> list[dict]:
    """Each distinct reason a value was left out, with the subjects, ROIs and metric."""
    noted = scores[scores["note"] != ""]
    groups = noted.groupby(["metric", "note"], sort=False)
    return [{"metric": metric, "note": note, "subjects": ", ".join(part["subject"].unique()),
             "rois": ", ".join(part["roi"].unique())} for (metric, note), part in groups]


def _timings(benchmark_dir: Path) -> pd.DataFrame:
    """Wall time and peak memory of every benchmarked job (Snakemake benchmark files)."""
    rows = []
    for path in sorted(benchmark_dir.glob("**/*.tsv")):
        first = pd.read_csv(path, sep="\t").iloc[0]
        job = path.relative_to(benchmark_dir).with_suffix("")
        rows.append({"step": job.parts[0], "job": str(job), "seconds": first["s"],
                     "max_rss_mb": first["max_rss"]})
    return pd.DataFrame(rows, columns=["step", "job", "seconds", "max_rss_mb"])


def _timing_steps(timings: pd.DataFrame) -> list[dict]:
    """Per step: number of jobs, summed and longest wall time, largest peak memory."""
    steps = timings.groupby("step", sort=False).agg(
        jobs=("job", "size"), total=("seconds", "sum"), longest=("seconds", "max"),
        max_rss_mb=("max_rss_mb", "max"))
    return steps.reset_index().to_dict("records")


def _alignment(alignment_dir: Path | None) -> dict | None:
    """The alignment summary table and figures, when that stage ran."""
    if alignment_dir is None:
        return None
    summary, _ = read_summary(alignment_dir)
    if "minus_untrained" not in summary:  # no side had both a trained and untrained variant
        summary["minus_untrained"] = None
    described = [c for c in ("tokenizer", "localized") if c in summary]
    language = (summary[(summary["side"] == "language") & (summary["condition"] != "baseline")]
                .drop_duplicates(["model", "trained"])[["model", "trained", *described]])
    return {"summary": _records(summary), "language": _records(language),
            "landmarks": _landmarks(read_landmarks(alignment_dir)),
            "brain_score": _records(read_brain_score_summary(alignment_dir)),
            "figures": _figures(sorted(alignment_dir.glob("*.png")), ALIGNMENT_FIGURES)}


def _decoding(folders: list[Path], shared_space: Path | None, figures: Path | None
              ) -> dict | None:
    """The decoding scores (one row per subject and target, a column per score), the sEEG
    classification (regions, all contacts, best contact), the shared-space and transfer
    tables and the figures, of the stages that ran."""
    if not folders and shared_space is None:
        return None
    decoded = [read_decoding(d) for d in folders if (d / DECODING).exists()]
    rows = []
    for table in decoded:
        for key, part in table.groupby(["subject", "roi", "model", "layer"], sort=False):
            rows.append(dict(zip(("subject", "roi", "model", "layer"), key, strict=True))
                        | {"n_targets": int(part["n_targets"].iloc[0]),
                           "scores": {r.metric: (r.value, r.chance, r.p)
                                      for r in part.itertuples()}})
    classified = []
    for folder in folders:
        if (folder / CLASSIFICATION).exists():
            table = read_classification(folder)
            contacts = table[table["scope"] == "contact"]
            best = contacts.loc[[contacts["balanced_accuracy"].idxmax()]].assign(
                scope="best contact")
            classified += _records(pd.concat([table[table["scope"] != "contact"], best]))
    shared, transfer = read_shared_space(shared_space) if shared_space else (None, None)
    metrics = list(dict.fromkeys(m for table in decoded for m in table["metric"]))
    return {"decoded": rows, "metrics": metrics, "classified": classified,
            "shared": [] if shared is None else _records(shared),
            "transfer": [] if transfer is None else _records(transfer),
            "figures": _figures(sorted(figures.glob("*.png")), DECODING_FIGURES)
            if figures else []}


def _records(table: pd.DataFrame) -> list[dict]:
    """Rows as dicts, NaN as None (the template shows a dash)."""
    return table.astype(object).where(table.notna(), None).to_dict("records")


def _landmarks(landmarks: pd.DataFrame) -> list[dict]:
    """Per language model variant: each condition's and contrast's value with its CI, and
    whether the human ordering holds."""
    if landmarks.empty:  # no language side, or variants written before the landmarks
        return []
    rows = []
    for (model, trained), part in landmarks.groupby(["model", "trained"], sort=False):
        measures = {r.measure: (r.value, r.ci_low, r.ci_high) for r in part.itertuples()}
        rows.append({"model": model, "trained": bool(trained), "measures": measures,
                     "human_ordering": part["human_ordering"].iloc[0]})
    return rows


def _captioning(captioning_dirs: list[Path], stimuli: Path | None, bank: Path | None
                ) -> list[dict]:
    """Per captioned subject: the evaluation summary, how often the captions name a planted
    concept, and, per ROI, its best-captioned voxels with their top images inlined as small
    JPEGs."""
    if not captioning_dirs:
        return []
    paths = image_paths(read_stimuli(stimuli), read_stimuli(bank))
    subjects = []
    for folder in captioning_dirs:
        voxels = gallery_voxels(folder / "selection", folder / "image_captions.tsv",
                                folder / "voxel_captions.tsv", folder / "evaluation.tsv",
                                paths, per_roi=2)
        summary = read_captioning_summary(folder)
        subjects.append({
            "name": folder.name, "units": folder.name.startswith(UNITS_PREFIX),
            "summary": summary.to_dict("records"),
            "naming": read_naming(folder).to_dict("records"),
            "describer": voxels[0].describer if voxels else "",
            "voxels": [{"roi": v.roi, "target": v.target, "caption": v.caption,
                        "keywords": v.keywords, "llm": v.llm, "scores": score_line(v.scores),
                        "images": [{"id": sid, "src": image_data_url(path, 160),
                                    "caption": caption} for sid, path, caption in v.images]}
                       for v in voxels]})
    return subjects


def _rdm_data(rdm_paths: list[Path], scores: pd.DataFrame) -> list[dict]:
    """Per subject of an RDM dataset: its stimuli and RDMs."""
    from brainencode.datasets.rdms import read_rdms

    rois = dict(zip(scores["subject"], scores["roi"], strict=False))
    rows = []
    for path in rdm_paths:
        rdms = read_rdms(path)
        rows.append({"subject": rdms.subject, "modality": "RDMs", "space": "",
                     "rows": len(rdms.stimulus_ids), "targets": f"{len(rdms.rdms)} RDMs",
                     "rois": rois.get(rdms.subject, ""), "repeats": "none"})
    return rows


def _rsa_best(scores: pd.DataFrame) -> list[dict]:
    """Per subject, ROI and model of an RSA run: the layer with the highest Spearman rho."""
    wide = scores.pivot_table(index=["subject", "roi", "model", "layer"], columns="metric",
                              values="value", sort=False).reset_index()
    best = wide.loc[wide.groupby(["subject", "roi", "model"], sort=False)[Metric.RSA_SPEARMAN]
                    .idxmax()]
    return best.to_dict("records")


def write_report(*, config: dict, scores: list[Path], benchmarks: Path, out: Path,
                 figures: list[Path] = (), responses: list[Path] = (), rdms: list[Path] = (),
                 captioning: list[Path] = (), stimuli: Path | None = None,
                 bank: Path | None = None, alignment: Path | None = None,
                 decoding: list[Path] = (), shared_space: Path | None = None,
                 decoding_figures: Path | None = None) -> None:
    """Render index.html from the gathered scores, the per-subject figures, the responses'
    metadata, job timings, and the caption galleries and alignment summary of the stages that
    ran; for an RDM dataset, its RSA scores. Written under a temporary name first, so a failed
    render leaves no page behind."""
    scores = read_scores(scores)
    rsa = bool(rdms)
    timings = _timings(benchmarks)
    env = Environment(loader=PackageLoader("brainencode.reports"),
                      autoescape=select_autoescape(["html", "j2"]))
    html = env.get_template("report.html.j2").render(
        title=config["report"]["title"],
        generated=dt.datetime.now().isoformat(timespec="seconds"),
        config_yaml=yaml.safe_dump(config, sort_keys=False),
        dataset=config["dataset"],
        data=_rdm_data(rdms, scores) if rsa else _data(responses),
        models=config["models"],
        subjects=[_subject(Path(folder)) for folder in figures],
        best=[] if rsa else _best_layers(scores).to_dict("records"),
        notes=_notes(scores),
        rsa=_rsa_best(scores) if rsa else [],
        versions=_versions(),
        steps=_timing_steps(timings),
        timings=timings.to_dict("records"),
        total_seconds=timings["seconds"].sum(),
        captioning=_captioning([Path(d) for d in captioning], stimuli, bank),
        alignment=_alignment(alignment),
        decoding=_decoding([Path(d) for d in decoding], shared_space, decoding_figures),
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html)
