# darkstack: `make demo` runs the whole job on simulated traffic, `make test` runs the test suite.
PYTHON ?= python3
VENV ?= .venv
# Extras to install: `make test EXTRAS=dev,spark` adds the Spark snapshot engine (CI does; about 0.5 GB).
EXTRAS ?= dev
# Where torch comes from: empty = the default index; on a machine without a GPU,
# TORCH_INDEX=https://download.pytorch.org/whl/cpu gets the CPU-only wheel (no CUDA libraries).
TORCH_INDEX ?=
PY := $(VENV)/bin/python
comma := ,
STAMP := $(VENV)/.darkstack-installed-$(subst $(comma),-,$(EXTRAS))

.PHONY: demo test bench clean

demo: $(STAMP)
	$(VENV)/bin/darkstack demo

# Two test workers on two cores, one math thread each (no oversubscription).
test: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -n 2

# The benchmarks that finish in minutes; benchmarks/run_all.py --help lists the long ones.
bench: $(STAMP)
	$(PY) benchmarks/run_all.py

# torch==2.13.0 first, so no dependency can pull another torch build in.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(PY) -m pip install -q -e '.[$(EXTRAS)]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) darkstack-demo
