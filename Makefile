# Two commands for a new user: `make demo` and `make test`. Both create .venv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
EXAMPLE ?= examples/digits_fa.yaml
PROFILE ?= loihi2

.PHONY: venv demo test bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --only-binary=:all: --ignore-requires-python -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/neurodeploy check $(EXAMPLE)
	$(BIN)/neurodeploy compile $(EXAMPLE) --profile $(PROFILE) -o build/demo --force
	cat build/demo/report.txt

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_compile.py

clean:
	rm -rf $(VENV) build dist *.egg-info
