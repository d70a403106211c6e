# Two commands do everything: `make sweep` and `make test`. Both create .venv if needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: setup test demo clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall whenever the project's dependencies change.
$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

setup: $(INSTALLED)

test: setup
	$(BIN)/python -m pytest

demo: setup
	$(BIN)/python -m pubsub.demo

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
