"""Used from outside the checkout: the workflow as a Snakemake module in a user's own folder,
and brainencode installed (not editable) into a fresh virtual environment."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pandas as pd
import pytest
import yaml

from brainencode.cli import VERBS
from tests.conftest import REPO

pytestmark = pytest.mark.slow


def small_demo(results: Path) -> dict:
    """The demo config at a tenth of its size, without captioning."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config.pop("captioning")
    config["results"] = str(results)
    config["dataset"]["subjects"] = ["sub-01"]
    config["demo"] |= {"n_stimuli": 40, "image_size": 64, "seeg": {"subjects": []},
                       "surface": {"subjects": []}}
    config["models"].pop("effnet")
    config["models"]["vit-tiny-untrained"]["config"]["num_hidden_layers"] = 4
    config["demo"]["rois"][0]["driver"]["layer"] = "layer02"
    config["encoding"] |= {"outer_folds": 3, "inner_folds": 3}
    return config


def test_the_workflow_as_a_snakemake_module_in_a_users_folder(env, tmp_path):
    """The layout snakedeploy writes: the user's Snakefile imports every rule of
    workflow/Snakefile with the user's config; the run starts and ends in the user's folder."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump(small_demo(Path("out"))))
    (tmp_path / "Snakefile").write_text(
        'configfile: "config/config.yaml"\n\n\n'
        "module brainencode:\n"
        f'    snakefile: "{REPO / "workflow" / "Snakefile"}"\n'
        "    config: config\n\n\n"
        "use rule * from brainencode\n")
    target = "out/encoding/sub-01/scores.tsv"
    result = subprocess.run(["snakemake", "--cores", "2", target], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    scores = pd.read_csv(tmp_path / target, sep="\t")
    r = scores[scores["metric"] == "r"].groupby(["roi", "model"])["value"].max()
    assert r["LANG", "minilm"] > r["LANG", "vit-tiny-untrained"]  # the planted driver wins
    assert not (REPO / "out").exists()


def test_a_non_editable_install_validates_configs_and_runs_every_verb(env, tmp_path):
    """`pip install .` (a wheel, not the checkout) into a fresh venv whose other packages come
    from this one: the schema, templates and prompts travel with the package."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(subprocess.run([venv / "bin" / "python", "-c",
                                "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # torch and the rest come from this venv (listed after the fresh venv's own packages);
    # pip and setuptools too, so that the wheel is built without the network
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    source = shutil.copytree(REPO, tmp_path / "source", ignore=shutil.ignore_patterns(
        ".git", ".venv", "results*", ".snakemake", "build", "*.egg-info", "__pycache__"))
    install = subprocess.run([venv / "bin" / "python", "-m", "pip", "install", "--quiet",
                              "--no-deps", "--no-build-isolation", str(source)],
                             capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-3000:]
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    bare = {**env, "PATH": f"{venv / 'bin'}:/usr/bin:/bin"}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([venv / "bin" / "brainencode", *args], cwd=outside, env=bare,
                              capture_output=True, text=True)

    where = subprocess.run([venv / "bin" / "python", "-c",
                            "import brainencode; print(brainencode.__file__)"],
                           cwd=outside, capture_output=True, text=True)
    assert where.stdout.startswith(str(site)), where  # the installed copy, not the checkout
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(small_demo(outside / "results")))
    checked = run("validate", str(config))
    assert checked.returncode == 0 and checked.stdout.strip().endswith(": ok"), checked
    for verb in VERBS:
        shown = run(*verb.split(), "--help")
        assert shown.returncode == 0 and "usage: brainencode" in shown.stdout, (verb, shown)
    drawn = run("demo-stimuli", "--out-dir", "stimuli", "--n-stimuli", "20",
                "--image-size", "32", "--seed", "0")
    assert drawn.returncode == 0, drawn.stderr
    assert len(pd.read_csv(outside / "stimuli" / "stimuli.tsv", sep="\t")) == 20
    zoo = run("features", "list")
    assert zoo.returncode == 0 and "efficientnet-lite0" in zoo.stdout
