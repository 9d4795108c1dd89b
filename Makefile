# darkstack: `make demo` runs the whole job on simulated traffic, `make test` runs the test suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.darkstack-installed

.PHONY: demo test bench clean

demo: $(STAMP)
	$(VENV)/bin/darkstack demo

# Two test workers on two cores, one math thread each (no oversubscription).
test: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -n 2

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

# torch==2.13.0 first (CPU wheel), so no dependency can pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) darkstack-demo
