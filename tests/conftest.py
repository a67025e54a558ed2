"""Shared fixtures: repository paths and a small generated dataset."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the venv's bin: brainencode and snakemake live here


@pytest.fixture(scope="session")
def env() -> dict:
    """Environment for subprocesses: the venv first on PATH, no network for Hugging Face."""
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
