"""The HTML report of the demo run, read the way users read it: in a real (headless) browser,
and Snakemake's own --report with a caption and a category for every figure."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess

import pytest
from PIL import Image

from brainencode.config import validate_config
from brainencode.reports.captions import SUBJECT_FIGURES
from brainencode.reports.figures import read_omitted
from tests.browser import chromium_or_skip, render
from tests.conftest import all_subjects, snakemake

pytestmark = pytest.mark.slow

SECTIONS = {"summary", "scores", "captions", "alignment", "decoding"}


def test_report_page_in_headless_chromium(demo, tmp_path):
    """Mailed as one file (copied alone into an empty folder), the page loads with no failed
    request and no console message, asks for nothing but itself and inlined data, shows every
    figure at a real size, and has the key sections; stages that did not run say why."""
    chromium_or_skip()
    _, config, results = demo
    page = tmp_path / "mailed" / "index.html"
    page.parent.mkdir()
    shutil.copy(results / "report" / "index.html", page)

    shown = render(page, tmp_path / "report.png")

    assert shown.failed == [] and shown.console == []
    assert shown.requests[0] == page.as_uri()
    assert all(url.startswith("data:image/") for url in shown.requests[1:])
    subjects = all_subjects(config)
    assert SECTIONS | set(subjects) <= set(shown.section_ids)
    assert {"Run summary", "Voxel captions", "Trained versus untrained networks",
            "Decoding and shared space"} <= set(shown.headings)
    assert shown.images and all(i["complete"] and i["naturalWidth"] > 100
                                and i["naturalHeight"] > 100 for i in shown.images)
    for subject in subjects:  # every figure the subject's folder holds is on the page
        pngs = {p.stem for p in (results / "figures" / subject).glob("*.png")}
        on_page = {i["alt"].split(": ", 1)[1].replace(" ", "_") for i in shown.images
                   if i["alt"].startswith(f"{subject}: ")}
        assert on_page == pngs, subject
    screenshot = Image.open(tmp_path / "report.png")
    assert screenshot.size[1] > 5000 and len(screenshot.convert("RGB").getcolors(2**24)) > 1000

    decoding = {p.stem for p in (results / "decoding" / "figures").glob("*.png")}
    assert decoding == {"decoding_scores", "seeg_classification", "transfer_curves"}
    assert decoding <= {i["alt"].replace(" ", "_") for i in shown.images}
    html = page.read_text()
    assert "The trained-versus-untrained comparison did not run" in html
    assert "layer curves normalized: no noise ceiling" in html  # sEEG: no repeats
    for model in config["models"]:
        assert model in html


def test_figures_fit_the_data(demo):
    """fMRI in MNI space: volume, fsaverage5 surface and noise-ceiling views; fMRI on
    fsaverage5: maps on its own mesh, the volume views left out with the reason; sEEG (no
    repeats): electrodes, no normalized views, and the reason written down."""
    _, config, results = demo
    on_mesh = {"mesh_map", "mesh_map_normalized"}
    fmri = {p.stem for p in (results / "figures" / "sub-01").glob("*.png")}
    assert fmri == set(SUBJECT_FIGURES) - {"electrodes", "target_bars"} - on_mesh
    surface = {p.stem for p in (results / "figures" / "sub-02").glob("*.png")}
    assert surface == {"layer_curves", "layer_curves_normalized", "layer_roi_heatmap",
                       "model_roi_heatmap"} | on_mesh
    omitted = read_omitted(results / "figures" / "sub-02").set_index("figure")["reason"]
    assert "surface data on fsaverage5: drawn on their own mesh" in omitted["brain_volume"]
    seeg = {p.stem for p in (results / "figures" / "sub-03").glob("*.png")}
    assert seeg == {"layer_curves", "layer_roi_heatmap", "model_roi_heatmap", "electrodes"}
    assert "no repeated presentations" in (results / "figures" / "sub-03" /
                                           "omitted.tsv").read_text()
    for png in (results / "figures" / "sub-01").glob("*.png"):
        assert min(Image.open(png).size) > 300, png


def test_report_without_an_optional_stage_says_why(demo, env, tmp_path):
    """The report verb on the demo's results without the captioning stage: that section is
    one line, and no image of the page is broken."""
    chromium_or_skip()
    config_path, config, results = demo
    config = copy.deepcopy(config)
    subjects = all_subjects(config)
    out = tmp_path / "index.html"
    validate_config(config, str(config_path))  # as the workflow passes it
    result = subprocess.run(
        ["brainencode", "report", "--config", json.dumps(config),
         "--scores", *[str(results / "encoding" / s / "scores.tsv") for s in subjects],
         "--figures", *[str(results / "figures" / s) for s in subjects],
         "--responses", *[str(results / "responses" / "main" / f"{s}.h5") for s in subjects],
         "--benchmarks", str(results / "benchmarks"), "--out", str(out)],
        env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    html = out.read_text()
    assert "Voxel captioning did not run" in html and 'class="gallery"' not in html
    assert "Decoding did not run" in html
    shown = render(out, tmp_path / "shot.png")
    assert shown.failed == [] and shown.console == []
    assert all(i["complete"] and i["naturalWidth"] > 0 for i in shown.images)


def test_a_value_left_out_shows_its_reason(demo, env, tmp_path):
    """A 2V2 left out (as for a one-target ROI) is a dash in the scores table and one line with
    its reason, not a number."""
    from brainencode.analyses.scores import read_scores, write_scores

    config_path, config, results = demo
    scores = read_scores(results / "encoding" / "sub-01" / "scores.tsv")
    left_out = (scores["roi"] == "LANG") & (scores["metric"] == "2v2")
    scores.loc[left_out, "value"] = float("nan")
    scores.loc[left_out, "note"] = "2V2 left out: planted for this test"
    write_scores(scores, tmp_path / "scores.tsv")
    assert read_scores(tmp_path / "scores.tsv")["note"].eq(scores["note"]).all()
    out = tmp_path / "index.html"
    validate_config(config, str(config_path))
    result = subprocess.run(
        ["brainencode", "report", "--config", json.dumps(config),
         "--scores", str(tmp_path / "scores.tsv"), "--figures", str(results / "figures" / "sub-01"),
         "--responses", str(results / "responses" / "main" / "sub-01.h5"),
         "--benchmarks", str(results / "benchmarks"), "--out", str(out)],
        env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    html = out.read_text()
    assert "2v2 (sub-01; LANG): 2V2 left out: planted for this test." in html
    rows = re.findall(r"<tr><td>sub-01</td><td>(\w+)</td>(.*?)</tr>", html, flags=re.S)
    dashes = {roi: '<td class="num">—</td>' in row for roi, row in rows}
    assert dashes["LANG"] and not dashes["EVC"]


def _report_data(html: str, name: str) -> dict:
    """A JSON object Snakemake's report page declares as `var <name> = {...}`."""
    decoder = json.JSONDecoder()
    for start in (i for i in range(len(html)) if html.startswith(f"var {name} = {{", i)):
        return decoder.raw_decode(html, start + len(f"var {name} = "))[0]
    raise AssertionError(f"no `var {name}` in the Snakemake report")


def test_snakemake_report_and_lint(demo, env):
    """`snakemake --report`: every figure of every stage that ran is in a category and carries
    its own caption."""
    config_path, config, results = demo
    report = results / "report_snakemake.html"
    result = snakemake(env, "--configfile", str(config_path), "--report", str(report))
    assert result.returncode == 0, result.stderr[-2000:]
    html = report.read_text()
    categories = _report_data(html, "categories")
    entries = _report_data(html, "results")
    pngs = sorted(str(p) for p in results.glob("figures/*/*.png"))
    pngs += sorted(str(p) for p in results.glob("captioning/*/gallery.png"))
    pngs += sorted(str(p) for p in results.glob("decoding/figures/*.png"))
    in_categories = {p for subcategories in categories.values()
                     for files in subcategories.values() for p in files}
    for png in pngs:  # the demo's results folder is absolute, so are the report's paths
        assert png in in_categories and len(entries[png]["caption"]) > 100, png
    assert {"Figures", "Scores", "Captioning", "Decoding"} <= set(categories)
    for subject in all_subjects(config):
        assert subject in categories["Figures"]
    lint = snakemake(env, "--lint", "--configfile", str(config_path))
    assert lint.returncode == 0 and "good condition" in lint.stdout + lint.stderr


def test_native_space_voxels_are_never_drawn_on_a_template(demo, tmp_path, monkeypatch):
    """The demo's voxels relabelled as native space (what the bids-glm example resolves to, see
    tests/test_config.py): the volume map has no MNI background and the fsaverage map is left
    out, with the reason."""
    from dataclasses import replace

    from brainencode.datasets.responses import read_responses, write_responses
    from brainencode.reports import brain_figures
    from brainencode.reports.figures import read_omitted, subject_figures

    _, config, results = demo
    responses = read_responses(results / "responses" / "main" / "sub-01.h5")
    native = tmp_path / "sub-01.h5"
    write_responses(native, replace(responses, attrs=responses.attrs | {"space": "native"}))
    backgrounds = []
    drawn = brain_figures.volume_map
    monkeypatch.setattr(brain_figures, "volume_map", lambda image, on_template, *args, **kw:
                        backgrounds.append(on_template) or drawn(image, on_template, *args, **kw))
    models = [m for m, spec in config["models"].items() if spec.get("encode", True)]
    written = subject_figures(scores=results / "encoding" / "sub-01" / "scores.tsv",
                              encoding=[results / "encoding" / "sub-01" / m for m in models],
                              responses=native, out_dir=tmp_path / "figures",
                              fdr_q=0.05)
    names = {p.stem for p in written}
    assert "brain_volume" in names and "brain_surface" not in names
    assert backgrounds and not any(backgrounds)
    omitted = read_omitted(tmp_path / "figures").set_index("figure")["reason"]
    assert "space 'native', not MNI" in omitted["brain_surface"]
