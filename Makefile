# Two entry points for newcomers: `make demo` and `make test`.
# Resolved before PATH is changed below, so the venv is never rebuilt from itself.
SYSTEM_PYTHON := $(shell command -v python3)
PYTHON ?= $(SYSTEM_PYTHON)
VENV := .venv
BIN := $(VENV)/bin
# torch is pinned: 2.13.0 is the CPU build available offline; any other version pulls CUDA wheels.
TORCH_PIN := torch==2.13.0
# Rules call `brainencode`: the venv's bin must come first on PATH for Snakemake's shell jobs.
export PATH := $(abspath $(BIN)):$(PATH)
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

CONFIG ?= config/config.yaml

.PHONY: demo test lint clean

$(BIN)/brainencode: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH_PIN) -e '.[dev]'
	touch $@

demo: $(BIN)/brainencode
	$(BIN)/snakemake --cores 2 --configfile $(CONFIG)

test: $(BIN)/brainencode
	$(BIN)/pytest -q

lint: $(BIN)/brainencode
	$(BIN)/ruff check .
	$(BIN)/snakemake --lint

clean:
	rm -rf results .snakemake
