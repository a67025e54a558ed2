# Two entry points for newcomers: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch is pinned: 2.13.0 is the CPU build available offline; any other version pulls CUDA wheels.
TORCH_PIN := torch==2.13.0
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: demo test lint clean

$(BIN)/brainencode: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH_PIN) -e '.[dev]'
	touch $@

demo: $(BIN)/brainencode
	$(BIN)/snakemake --cores 2 --configfile config/config.yaml

test: $(BIN)/brainencode
	PATH=$(abspath $(BIN)):$$PATH $(BIN)/pytest -q

lint: $(BIN)/brainencode
	$(BIN)/ruff check .
	$(BIN)/snakemake --lint

clean:
	rm -rf results .snakemake
