# Two commands do everything: `make sweep` and `make test`. Both create .venv if needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: setup check test sweep report bench bench-compare mutation demo clean

SPEC ?= default
SLO_P99 ?=

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall whenever the project's dependencies change.
$(INSTALLED): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

setup: $(INSTALLED)

# Lint, format and types: configured in pyproject.toml; `make test` runs it first.
CHECKED := pubsub sweeps analysis live tests benchmarks

check: setup
	$(BIN)/ruff check $(CHECKED)
	$(BIN)/ruff format --check $(CHECKED)
	$(BIN)/mypy

# The whole suite under branch coverage, printed at the end, failing below pyproject.toml's floor. slipcover
# instruments bytecode and drops the instrumentation once it has run, so it costs little, where coverage.py's
# tracer makes the simulations about three times slower on Python 3.11 (docs/testing.md). The -W hides its
# warning that it cannot follow branches in the test files, which are not measured.
COVERED := pubsub,sweeps,analysis,live
# The compiled engine's kernel is compiled by numba from its bytecode, which instrumenting would break; the
# differential test holds it line for line to the asimpy model instead.
UNCOVERED := */pubsub/kernel.py
COVERAGE := .coverage.json

test: check
	$(BIN)/python -W "ignore:Unable to activate pytest branch coverage" -m slipcover --branch --json \
		--out $(COVERAGE) --source $(COVERED) --omit '$(UNCOVERED)' -m pytest; tests=$$?; \
	$(BIN)/python -m tests.coverage_floor $(COVERAGE); floor=$$?; \
	if [ $$tests -ne 0 ]; then exit $$tests; fi; exit $$floor

# Runs only what results/<name>/ lacks, then reports (also when some runs failed);
# `make sweep SPEC=outage` for another shipped spec, or SPEC=path/to/spec.toml.
sweep: setup
	$(BIN)/python -m sweeps run $(SPEC) $(if $(SLO_P99),--slo-p99 $(SLO_P99))

# Regenerates summary tables, figures and report.html from stored results, simulating nothing.
report: setup
	$(BIN)/python -m analysis report "$$($(BIN)/python -m sweeps where $(SPEC))" $(if $(SLO_P99),--slo-p99 $(SLO_P99))

BENCHED := $(VENV)/.benched

$(BENCHED): pyproject.toml $(INSTALLED)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	touch $@

# Speed: pytest-benchmark suite (saved under .benchmarks/), then the interleaved
# cost-per-delivery comparison and the scale check. Never part of `make test`.
bench: $(BENCHED)
	$(BIN)/python -m pytest benchmarks -p no:cacheprovider --benchmark-only --benchmark-autosave \
		--benchmark-timer=time.process_time --benchmark-columns=min,median,max,rounds
	$(BIN)/python -m benchmarks.interleaved
	$(BIN)/python -m benchmarks.scale
	$(BIN)/python -m benchmarks.compile

MUTATING := $(VENV)/.mutating

$(MUTATING): pyproject.toml $(INSTALLED)
	$(BIN)/python -m pip install --quiet -e '.[test,mutation]'
	touch $@

# Mutation testing (pyproject.toml's [tool.mutmut]): mutants of pubsub/ and analysis/stats.py against the fast
# tests, two at a time; resumes where it stopped. Writes mutants/summary.txt: the score and every survivor.
# Never part of `make test`; docs/testing.md records the score and explains the survivors.
# MUTANTS narrows it to some mutants by name: `make mutation MUTANTS='pubsub.acks.*'`.
mutation: $(MUTATING)
	$(BIN)/mutmut run --max-children 2 $(MUTANTS)
	$(BIN)/python -m tests.mutation_summary > mutants/summary.txt; status=$$?; cat mutants/summary.txt; exit $$status

# The newest saved run against the one before, as ratios to the in-run baselines.
bench-compare: $(BENCHED)
	$(BIN)/python -m benchmarks.compare

demo: setup
	$(BIN)/python -m pubsub.demo

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
