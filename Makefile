# Two entry points for a new user (see README):
#   make demo   create .venv, install mocap3d with what the demo needs, run the demo
#   make test   create/update .venv with the dev extras, run lint, type checks and all tests
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin

# Offline-safe defaults: anything that tries to download model weights fails fast.
export HF_HUB_OFFLINE = 1
export MPLBACKEND = Agg
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: demo test lint typecheck pytest install install-dev bench clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.stamp-demo: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dlc]"
	touch $@

$(VENV)/.stamp-dev: pyproject.toml $(VENV)/.stamp-demo
	$(BIN)/python -m pip install --quiet -e ".[dlc,dev]"
	# aniposelib is the reference in tests and benchmarks; it asks for the GUI OpenCV build,
	# so it is installed without dependencies (the dev extra lists what it needs).
	$(BIN)/python -m pip install --quiet --no-deps aniposelib==0.8.0
	touch $@

install: $(VENV)/.stamp-demo
install-dev: $(VENV)/.stamp-dev

demo: install
	$(BIN)/mocap3d demo

lint: install-dev
	$(BIN)/ruff check mocap3d tests tools
	$(BIN)/ruff format --check mocap3d tests tools

typecheck: install-dev
	$(BIN)/mypy

# The HTML report tests load pages in headless Chromium (Debian's package).
chromium:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y --no-install-recommends chromium)

pytest: install-dev chromium
	$(BIN)/pytest

test: lint typecheck pytest

bench: install-dev
	for b in tools/bench/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache demo-output
