# Two commands for a new user: `make demo` and `make test`. Both create .venv themselves.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PROFILE ?= loihi2
WARM   := $(VENV)/warmup

.PHONY: venv demo test bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --only-binary=:all: --ignore-requires-python -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@echo "compiling the cpu backend's numba kernels once (cached on disk; benchmarks/README.md)"
	rm -rf $(WARM) && mkdir -p $(WARM)
	$(BIN)/python examples/make_digits_input.py $(WARM)/input.npz --images 1 > /dev/null
	$(BIN)/neurodeploy compile examples/feedforward.yaml --profile loihi2 -o $(WARM)/fixed -q > /dev/null
	$(BIN)/neurodeploy compile examples/feedforward.yaml --profile cpu -o $(WARM)/float -q > /dev/null
	$(BIN)/neurodeploy simulate $(WARM)/fixed --input $(WARM)/input.npz --steps 50 -o $(WARM)/fixed.npz > /dev/null
	$(BIN)/neurodeploy simulate $(WARM)/float --input $(WARM)/input.npz --steps 50 -o $(WARM)/float.npz > /dev/null
	$(BIN)/python -c "import numpy as np; from neurodeploy.compilers import get_backend, load_plan, make_inputs; \
	  given = dict(np.load('$(WARM)/input.npz')); \
	  [get_backend('cpu').run_batch(p, make_inputs(p, 50, given), 50, 4) for p in map(load_plan, ('$(WARM)/fixed', '$(WARM)/float'))]"
	rm -rf $(WARM)
	touch $(STAMP)

demo: $(STAMP)
	@echo "== 1. compile: quantize and map a network to $(PROFILE)"
	$(BIN)/neurodeploy check examples/digits_fa.yaml
	$(BIN)/neurodeploy compile examples/digits_snn.yaml --profile $(PROFILE) -o build/digits-snn --force
	@echo "== 2. train on chip: feedback alignment on digits, learning in $(PROFILE)'s own numbers (cpu backend, bit-exact with Lava)"
	$(BIN)/neurodeploy train examples/digits_fa.yaml --profile $(PROFILE) --backend cpu --epochs 20 \
		-o build/digits_fa --force
	@echo "== 3. evaluate the deployed build on Lava"
	$(BIN)/neurodeploy evaluate build/digits_fa --backend lava
	@echo "== 4. validate 100 mismatched chips (weight CV 0.1) against accuracy >= 0.9"
	$(BIN)/neurodeploy validate build/digits_fa --chips 100 --spec "accuracy>=0.9" --yield 0.9 \
		--set variability.weights.cv=0.1 -o build/digits_fa-validation --force
	@echo "== 5. chip-in-the-loop: 20 $(PROFILE) chips with per-neuron gain CV 0.3 fine-tune with their own FA rule, in fixed point"
	$(BIN)/neurodeploy validate build/digits_fa --chips 20 --finetune --finetune-epochs 3 \
		--set variability.gain.cv=0.3 -o build/digits_fa-finetune --force
	@echo "== 6. SAL: the feedback learns W's transpose from spike timing alone (alignment phases)"
	$(BIN)/neurodeploy train examples/digits_sal.yaml --profile $(PROFILE) --learn-in float --backend cpu \
		--epochs 8 -o build/digits_sal --force
	@echo "== 7. simulate before deploy: cpu, Lava and Brian2 agree"
	$(BIN)/python examples/make_digits_input.py build/digits_input.npz
	$(BIN)/neurodeploy compile examples/feedforward.yaml --profile $(PROFILE) -o build/feedforward --force -q
	$(BIN)/neurodeploy simulate build/feedforward --backend cpu --input build/digits_input.npz \
		-o build/feedforward-cpu.npz --plot build/feedforward-raster.png
	$(BIN)/neurodeploy compare build/feedforward --backends cpu,lava --input build/digits_input.npz
	$(BIN)/neurodeploy compile examples/feedforward.yaml --profile cpu -o build/feedforward-float --force -q
	$(BIN)/neurodeploy compare build/feedforward-float --backends cpu,lava,brian2 --input build/digits_input.npz

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	@uptime
	@status=0; for b in bench_compile bench_csr bench_batch bench_backends; do \
	  $(BIN)/python benchmarks/$$b.py || { echo "MISSED: a target of benchmarks/$$b.py"; status=1; }; \
	done; exit $$status

clean:
	rm -rf $(VENV) build dist *.egg-info
