"""Shared fixtures: repository paths and a small generated dataset."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

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
