"""Shared fixtures: repository paths and a small generated dataset."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the venv's bin: brainencode and snakemake live here
SHARED = REPO.parent / "shared" / "data"


def shared(name: str) -> Path:
    """A folder of ../shared/data (real data for tests), or skip the test when it is absent."""
    path = SHARED / name
    if not path.is_dir():
        pytest.skip(f"{path} is not here (real data from ../shared/data)")
    return path


@pytest.fixture(scope="session")
def env() -> dict:
    """Environment for subprocesses: the venv first on PATH, no network for Hugging Face."""
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def snakemake(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["snakemake", "--cores", "2", *args], cwd=REPO, env=env,
                          capture_output=True, text=True)


@pytest.fixture(scope="session")
def demo(tmp_path_factory, env):
    """Run the newcomer's `make demo` on the demo config, into a temporary results folder.

    The venv is deliberately not on PATH: the Makefile must put it there itself.
    """
    root = tmp_path_factory.mktemp("pipeline")
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["results"] = str(root / "results")
    config_path = root / "config.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    bare = {**env, "PATH": os.pathsep.join(p for p in env["PATH"].split(os.pathsep)
                                            if Path(p).resolve() != BIN.resolve())}
    result = subprocess.run(["make", "demo", f"CONFIG={config_path}"], cwd=REPO, env=bare,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return config_path, config, root / "results"


def all_subjects(config: dict) -> list[str]:
    """The demo's subjects: volume fMRI, surface fMRI (fsaverage5) and sEEG."""
    demo = config["demo"]
    return (config["dataset"]["subjects"] + demo.get("surface", {}).get("subjects", [])
            + demo["seeg"]["subjects"])
