# Two commands on a fresh clone: `make run` and `make test`. Everything else is set up on demand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PULSE_DATA_DIR ?= $(abspath ../shared/data)

.PHONY: run test test-fast setup clean bench server

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	$(BIN)/python -m tasks.ingest.docs_assets install
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/pulse run

test: $(STAMP)
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/trends.py
	$(BIN)/python bench/geocode_accuracy.py
	$(BIN)/python bench/scale.py --sizes 1,3

server: $(STAMP)
	$(BIN)/prefect server start --host 127.0.0.1 --port 4200

clean:
	rm -rf data/staging data/validation data/reports
