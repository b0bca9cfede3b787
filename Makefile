# The two commands of the README:
#   make demo   run the pipeline on corpora_sample (installs on first use)
#   make test   run the test suite (installs on first use)
# Others: make test-fast (skips slow tests), make test-serial (one process), make lint (ruff), make install,
# make clean.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.voli-installed

.PHONY: demo test test-serial test-fast lint install system-deps clean

demo: install
	$(BIN)/voli run corpora_sample --workdir exp/sample

# The suite on every CPU (pytest-xdist), one thread per worker: with torch's, CTranslate2's and BLAS's
# threads left to their defaults the workers' threads spun against each other (2 workers on 2 cores: 20.6 min,
# 38 min of CPU); with one each, 7.0 min against 14.8 min for one process of two threads (2-core Xeon).
# --dist loadgroup: the tests on the sample's fixture chain run on one worker (tests/conftest.py), which
# builds the chain once.
ONE_THREAD := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 VOLI_TEST_THREADS=1

test: install lint
	$(ONE_THREAD) $(BIN)/pytest -q -n logical --dist loadgroup

test-serial: install lint
	$(BIN)/pytest -q

test-fast: install lint
	$(ONE_THREAD) $(BIN)/pytest -q -n logical --dist loadgroup -m "not slow"

lint: install
	$(BIN)/ruff check voli tests bench

install: system-deps $(STAMP)

system-deps:
	@bash scripts/system-deps.sh

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/pip install -q --no-deps -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

clean:
	rm -rf exp .pytest_cache
