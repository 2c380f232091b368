# The README's two commands: `make demo` and `make test`. Both install first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-tensorflow test-jax test-cluster notebooks lint format clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e ".[dev]"
	touch $(STAMP)

demo: install
	$(BIN)/microexp demo --out runs/demo

# ruff, then two passes side by side (make -O keeps each pass's output together): the whole
# suite on TensorFlow, and the backend-neutral tests (marker jax) again on JAX with TensorFlow
# hidden (tests/blockers), as on the GPU machine. Each pass uses two xdist workers, its tests
# grouped per module and every test of the session's shared tiny run on one worker
# (tests/conftest.py); the two passes fill each other's idle time on a 2-core machine.
test: install
	$(BIN)/python -m ruff check .
	$(MAKE) --no-print-directory -O -j2 test-tensorflow test-jax

test-tensorflow: install
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

test-jax: install
	KERAS_BACKEND=jax PYTHONPATH=tests/blockers MICROEXP_TEST_BLOCK=tensorflow \
	  $(BIN)/python -m pytest -q -n 2 --dist loadgroup -m "jax and not slow and not realdata"

# microexp submit on a real Slurm: a single-node cluster on this machine (installed from
# Debian when missing: needs root), then tests/test_slurm.py (~5 min on 2 cores)
test-cluster: install
	bash tools/slurm_localhost.sh
	$(BIN)/python -m pytest -q -s -p no:xdist -m slurm tests/test_slurm.py

# re-run every notebook on the demo preset and save it with its outputs (~1 hour on 2 cores)
notebooks: install
	$(BIN)/python notebooks/make_notebooks.py --execute

lint: install
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .

format: install
	$(BIN)/python -m ruff format .
	$(BIN)/python -m ruff check --fix .

clean:
	rm -rf $(VENV) build *.egg-info runs .pytest_cache
