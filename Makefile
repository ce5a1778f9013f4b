# biaslab: `make train ARGS="model=vit"` and `make test` create .venv when it is missing.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
LOCK   := requirements.lock
ARGS   ?=
# TORCH_INDEX=https://download.pytorch.org/whl/cpu: a CPU-only torch (no CUDA libraries), same versions
TORCH_INDEX ?=

.PHONY: venv lock train eval test test-slow lint format bench clean

# the locked versions (requirements.lock), then biaslab itself, editable, without re-resolving
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@if [ -n "$(TORCH_INDEX)" ] && ! $(BIN)/python -c "import sys, urllib.request as u; \
	  u.urlopen(sys.argv[1].rstrip('/') + '/torch/', timeout=20)" "$(TORCH_INDEX)" 2>/dev/null; then \
	  echo "Error: TORCH_INDEX=$(TORCH_INDEX) cannot be reached, and PyTorch's CPU-only wheels are only there (not on PyPI); connect to it, or run make venv without TORCH_INDEX (the CUDA build from PyPI)." >&2; exit 2; fi
	$(if $(TORCH_INDEX),$(BIN)/python -m pip install -qq --index-url $(TORCH_INDEX) $$(grep -E '^torch(vision)?==' $(LOCK)))
	$(BIN)/python -m pip install -qq -r $(LOCK)
	$(BIN)/python -m pip install -qq --no-deps -e .
	touch $(STAMP)

# refresh requirements.lock: the newest versions pyproject.toml allows, resolved in a fresh venv
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install -qq '.[dev]'
	{ sed -n '1,3p' $(LOCK); .lock-venv/bin/python -m pip freeze --exclude-editable \
	  | grep -v -E '^(biaslab|nvidia-|triton|cuda-)'; } > $(LOCK).new
	mv $(LOCK).new $(LOCK) && rm -rf .lock-venv

venv: $(STAMP)

train: $(STAMP)
	$(BIN)/python src/train.py $(ARGS)

eval: $(STAMP)
	$(BIN)/python src/eval.py $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(ARGS)

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts

format: $(STAMP)
	$(BIN)/ruff format src tests scripts
	$(BIN)/ruff check --fix src tests scripts

bench: $(STAMP)
	for s in scripts/bench/*.py; do $(BIN)/python $$s || exit 1; done

clean:
	rm -rf logs .pytest_cache .ruff_cache
