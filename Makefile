# The two commands of the README:
#   make demo   run the pipeline on corpora_sample (installs on first use)
#   make test   run the test suite (installs on first use)
# Others: make test-fast (skips slow tests), make lint (ruff), make install, make clean.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.voli-installed

.PHONY: demo test test-parallel test-fast lint install system-deps clean

demo: install
	$(BIN)/voli run corpora_sample --workdir exp/sample

# one process: two pytest-xdist workers (make test-parallel) took 20.6 min against it on 2 cores (torch's and
# CTranslate2's threads in both workers and their voli subprocesses spin against each other: 38 min of CPU)
test: install lint
	$(BIN)/pytest -q

test-parallel: install lint
	$(BIN)/pytest -q -n 2 --dist loadgroup

test-fast: install lint
	$(BIN)/pytest -q -m "not slow"

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
