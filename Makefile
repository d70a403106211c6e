# Two commands do everything: `make sweep` and `make test`. Both create .venv if needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: setup test sweep demo clean

SPEC ?= default

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall whenever the project's dependencies change.
$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

setup: $(INSTALLED)

test: setup
	$(BIN)/python -m pytest

# Runs only what results/<name>/ lacks; `make sweep SPEC=outage` for another shipped spec or a path.
sweep: setup
	$(BIN)/python -m sweeps run $(SPEC)

demo: setup
	$(BIN)/python -m pubsub.demo

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
