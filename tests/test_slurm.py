"""The demo DAG as SLURM batch jobs, on a real one-node SLURM (slurmctld + slurmd + munge,
started by ../shared/tools/start_slurm.sh), through profiles/slurm and Snakemake's official
executor plugin: every job goes through sbatch, and the results equal the local run's.

The SLURM run asks for the volume subject's part of the demo (its data, every model's
features, encoding chunks, gathering, scores and figures, and its voxel captions): every kind
of batch job and both groups, in 286 s instead of the whole demo's 599 s (2026-12-03; the
suite's time budget)."""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess

import pandas as pd
import pytest
import yaml

from tests.conftest import REPO

pytestmark = pytest.mark.slow

TOOLS = REPO.parent / "shared" / "tools"
ENCODED = ("minilm", "vit-tiny-untrained")  # the demo's encoded models
GROUPS = {"subject_summary": ("encode", "gather_scores", "figures"),
          "captioning": ("captioning_select", "captioning_caption_images",
                         "captioning_describe", "captioning_evaluate", "captioning_gallery")}


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A running one-node cluster (2 CPUs, 2000 MB, one fake GPU); stopped afterwards."""
    if not (TOOLS / "start_slurm.sh").is_file():
        pytest.skip(f"{TOOLS}/start_slurm.sh is not here (../shared/tools)")
    if os.geteuid() != 0:
        pytest.skip("starting slurmctld, slurmd and munged needs root")
    if not (shutil.which("slurmctld") or shutil.which("apt-get")):
        pytest.skip("SLURM is not installed and there is no apt-get to install it")
    base = tmp_path_factory.mktemp("slurm")
    started = subprocess.run(["bash", str(TOOLS / "start_slurm.sh"), str(base)],
                             capture_output=True, text=True, timeout=900)
    assert started.returncode == 0, started.stdout[-2000:] + started.stderr[-2000:]
    try:
        yield base
    finally:
        subprocess.run(["bash", str(TOOLS / "stop_slurm.sh"), str(base)], capture_output=True)


def test_demo_on_slurm_goes_through_sbatch_and_matches_the_local_run(demo, slurm, env,
                                                                     tmp_path):
    _, config, local = demo
    config = copy.deepcopy(config)
    config["results"] = str(tmp_path / "results")
    config_path = tmp_path / "config.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    # SmolLM2's answers come from the local run's answer cache (each keyed by its request), as
    # in a user's rerun: the jobs still load the model, the captions match the local run's
    # exactly, and the test spends its minutes on the scheduler, not on decoding
    shutil.copytree(local / "cache" / "llm", tmp_path / "results" / "cache" / "llm")
    results = tmp_path / "results"
    subject = config["dataset"]["subjects"][0]
    targets = [results / "encoding" / subject / "scores.tsv", results / "figures" / subject,
               results / "captioning" / subject / "gallery.png"]
    run = subprocess.run(
        ["snakemake", "--profile", "profiles/slurm", "--configfile", str(config_path),
         "--slurm-logdir", str(tmp_path / "slurm_logs"), "--verbose",
         "--slurm-init-seconds-before-status-checks", "1", "--", *map(str, targets)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=3000)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-4000:]

    # Every job with a command went through sbatch, alone or in its group's job (the profile's
    # group-components: one per subject summary and per captioning target); slurmctld ran each
    # to exit status 0.
    submitted = re.findall(
        r"has been submitted with SLURM jobid (\d+) \(log: \S*/(rule|group)_(\w+)/", log)
    alone = pd.Series([name for _, kind, name in submitted if kind == "rule"]).value_counts()
    groups = pd.Series([next(g for g in GROUPS if name.startswith(f"{g}_"))  # group_<g>_<rules>
                        for _, kind, name in submitted if kind == "group"]).value_counts()
    finished = pd.Series(re.findall(r"Finished jobid: \d+ \(Rule: (\w+)\)", log)).value_counts()
    grouped = [rule for rules in GROUPS.values() for rule in rules]
    assert alone.to_dict() == finished.drop(grouped, errors="ignore").to_dict()
    assert groups.to_dict() == {"subject_summary": 1, "captioning": 1}
    assert finished["figures"] == 1 and finished["captioning_describe"] == 1
    assert alone["encode_chunk"] == 2 * len(ENCODED)  # 29398 voxels in 2 chunks a model
    controller = (slurm / "log" / "slurmctld.log").read_text()
    for job_id, _, _ in submitted:
        assert f"_job_complete: JobId={job_id} WEXITSTATUS 0" in controller, job_id
    # Feature extraction asked SLURM for a GPU, nothing else did.
    calls = re.findall(r"sbatch call: (.*)", log)
    assert calls and all(("gpu" in call) == bool(re.search(r"rule_features/", call))
                         for call in calls)

    # The same numbers as the local run of the same config.
    pd.testing.assert_frame_equal(
        pd.read_csv(results / "encoding" / subject / "scores.tsv", sep="\t"),
        pd.read_csv(local / "encoding" / subject / "scores.tsv", sep="\t"),
        rtol=1e-5, atol=1e-6)
    assert sorted(p.name for p in (results / "figures" / subject).iterdir()) == sorted(
        p.name for p in (local / "figures" / subject).iterdir())
    pd.testing.assert_frame_equal(
        pd.read_csv(results / "captioning" / subject / "summary.tsv", sep="\t"),
        pd.read_csv(local / "captioning" / subject / "summary.tsv", sep="\t"),
        rtol=1e-5, atol=1e-6)
