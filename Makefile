# zelo: `make train` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
TORCH  ?= torch==2.13.0
PYTEST_ARGS ?= -m "not slow and not gpu"

.PHONY: setup demo train sweep test test-all lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

# the quick start: a small Laffer sweep (12 jobs, about 3 minutes on a quiet 2-core CPU)
demo: setup
	$(VENV)/bin/zelo-train -m experiment=demo
	@echo "results: outputs/demo/synthetic_small/ (laffer.png, laffer.json, results.csv)"

# the main job: the Laffer-curve sweep on the embedded synthetic collection (static student)
TRAIN_ARGS ?= -m experiment=laffer

train: setup
	$(VENV)/bin/zelo-train $(TRAIN_ARGS)
	@echo "results: outputs/laffer/synthetic/ (results.csv, laffer.png, laffer.json; one folder per job)"

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

test-all: setup
	$(PY) -m pytest -m "not gpu"

lint: setup
	$(PY) -m ruff check zelo tests bench train.py

clean:
	rm -rf outputs/* .pytest_cache .ruff_cache
