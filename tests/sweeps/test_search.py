"""Search specs: the same answer as a grid over every value, from fewer runs, stored and resumable like a grid."""

import math

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analysis.stats import capacity, summarize
from sweeps.__main__ import main
from sweeps.driver import run_sweep
from sweeps.search import IntegerSearch, RateSearch
from sweeps.spec import load
from tests.sweeps.failing import crash_one_cell_kind


def settle(search, meets):
    """Run a search against a predicate; the values it judged, in order."""
    probes = list(search.first())
    asked = []
    while probes:
        for value in probes:
            asked.append(value)
            search.judged[value] = meets(value)
        probes = search.next()
    return asked


@given(low=st.integers(1, 5), span=st.integers(1, 40), threshold=st.integers(0, 50), guess=st.integers(-5, 60))
def test_an_integer_search_finds_the_smallest_value_that_meets_whatever_its_guess(low, span, threshold, guess):
    high = low + span
    search = IntegerSearch(low, high, guess)
    asked = settle(search, lambda v: v >= threshold)
    expected = max(low, threshold) if threshold <= high else None
    assert search.answer() == expected and search.contradictions() is None
    assert len(asked) == len(set(asked)) and all(low <= v <= high for v in asked)
    assert len(asked) <= 2 + 2 * math.ceil(math.log2(span + 1))
    if expected is not None and expected > low:
        assert expected - 1 in asked  # the value below the answer was shown to miss, not assumed to


def test_a_good_guess_settles_in_two_probes():
    search = IntegerSearch(1, 16, 5)
    assert settle(search, lambda v: v >= 5) == [4, 5] and search.answer() == 5


@given(low=st.floats(0.1, 5.0), width=st.floats(0.5, 20.0), at=st.floats(0.0, 1.2), tolerance=st.floats(0.01, 0.5))
def test_a_rate_search_finds_the_largest_rate_that_meets_to_its_tolerance(low, width, at, tolerance):
    high, threshold = low + width, low + at * width
    search = RateSearch(low, high, tolerance)
    settle(search, lambda v: v <= threshold)
    answer = search.answer()
    if threshold < low:
        assert answer is None
    elif threshold >= high:
        assert answer == high
    else:
        assert answer is not None and answer <= threshold < answer + tolerance + 1e-9


def test_noise_that_makes_a_larger_size_miss_is_reported_and_the_answer_is_the_grids():
    search = IntegerSearch(1, 8, 6)
    settle(search, lambda v: v in (5, 7, 8))  # 5 meets, 6 does not: a grid scanned upwards answers 5
    assert search.answer() == 5 and search.contradictions() == "6 did not meet the target although 5 did"


SEARCHED = """
name = "{name}"
replications = 3
seed = 11

[scenario]
service_time = 1.0
duration = 800.0
warmup = 80.0
ack = true
ack_timeout = 30.0

[grid]
publish_rate = [0.6, 1.8, 3.3]
dispatch = ["round-robin", "shared"]
{tail}
"""
SEARCH = '[search]\nfield = "group_size"\nlow = 1\nhigh = 8\nbelow = 8.0\n'
GRID = "group_size = [1, 2, 3, 4, 5, 6, 7, 8]\n"


def test_a_search_gives_a_grid_over_every_size_its_answers_with_fewer_runs(write_spec, results):
    searched = run_sweep(load(write_spec(SEARCHED.format(name="s", tail=SEARCH), "s.toml")), write_spec(), results)
    grid_spec = load(write_spec(SEARCHED.format(name="g", tail="").replace("[grid]\n", "[grid]\n" + GRID), "g.toml"))
    grid = run_sweep(grid_spec, write_spec(), results)
    expected = capacity(summarize(grid.runs, grid_spec.varied), grid_spec.varied, slo_p99=8.0)
    answers = searched.answers
    assert answers is not None
    merged = answers.merge(expected, on=["publish_rate", "dispatch"], suffixes=("", "_grid"))
    assert len(merged) == 6 and list(merged["answer"]) == list(merged["answer_grid"])
    assert merged["answer"].str.isdigit().all()
    assert len(searched.runs) <= 0.4 * len(grid.runs)
    # Each searched cell is the grid's cell: the same scenario and seeds, the same numbers.
    columns = ["publish_rate", "dispatch", "group_size", "replication", "latency_p99"]
    shared = searched.runs[columns].merge(grid.runs[columns], on=columns[:-1], suffixes=("", "_grid"))
    assert len(shared) == len(searched.runs) and (shared["latency_p99"] == shared["latency_p99_grid"]).all()
    # The interval at the answer is below the target, the one beside it is not.
    assert (answers["at_ci_high"] < 8.0).all()
    beside = answers.dropna(subset=["beside_value"])
    assert (
        len(beside)
        and (beside["beside_ci_high"] >= 8.0).all()
        and (beside["beside_value"] == beside["value"] - 1).all()
    )
    assert answers["runs"].sum() == len(searched.runs)


def test_a_search_resumes_without_rerunning_and_writes_its_answers(write_spec, results):
    path = write_spec(SEARCHED.format(name="s", tail=SEARCH).replace("[0.6, 1.8, 3.3]", "[1.8]"))
    first = run_sweep(load(path), path, results)
    again = run_sweep(load(path), path, results)
    assert first.computed == len(first.runs) > 0 and again.computed == 0
    stored = pd.read_csv(results / "s" / "search.csv")
    assert list(stored["answer"].astype(str)) == list(first.answers["answer"])


def test_straddling_intervals_get_more_replications_up_to_the_limit(write_spec, results):
    tail = SEARCH.replace("below = 8.0", "below = 8.0\nmax_replications = 9")
    spec = SEARCHED.format(name="s", tail=tail).replace("[0.6, 1.8, 3.3]", "[1.8, 3.3]")
    outcome = run_sweep(load(write_spec(spec)), write_spec(), results)
    cells = pd.read_csv(results / "s" / "cells.csv")
    assert set(cells["replications"]) <= {3, 6, 9} and (cells["replications"] > 3).any()
    assert outcome.answers["runs"].sum() == cells["replications"].sum() == len(outcome.runs)


def test_a_failing_probe_leaves_its_search_undecided_and_the_others_answered(write_spec, results):
    spec = SEARCHED.format(name="s", tail=SEARCH).replace("[0.6, 1.8, 3.3]", "[1.8]")
    outcome = run_sweep(load(write_spec(spec)), write_spec(), results, task=crash_one_cell_kind, workers=1)
    answers = outcome.answers.set_index("dispatch")["answer"]
    assert answers["shared"].startswith("undecided: group_size = 2: some runs failed")
    assert answers["round-robin"].isdigit()


BAD = {
    "unknown field": ('field = "group_sizes"', ["search", "group_sizes"]),
    "field not searchable": ('field = "service_time"', ["search", "service_time", "cannot be searched"]),
    "low not below high": ('field = "group_size"\nlow = 4\nhigh = 4', ["low (4) must be less than high (4)"]),
    "non-numeric target": ('field = "group_size"\nbelow = "fast"', ["below", "fast"]),
    "unknown metric": ('field = "group_size"\nmetric = "p99"', ["metric", "p99"]),
    "searched field in the grid": ('field = "publish_rate"\ntolerance = 0.1', ["publish_rate", "grid"]),
    "rate without tolerance": ('field = "publish_rate"', ["tolerance"]),
    "integer bounds": ('field = "group_size"\nlow = 1.5', ["low", "integer"]),
    "invalid at an end": ('field = "partitions"', ["partitions=1", "partitioned"]),
}


@pytest.mark.parametrize("case", BAD)
def test_a_bad_search_exits_2_with_one_line_naming_it_before_anything_runs(case, write_spec, results, capsys):
    table, culprits = BAD[case]
    defaults = {"low": "1", "high": "8", "below": "8.0"}
    lines = table.split("\n")
    for key, value in defaults.items():
        if not any(line.startswith(f"{key} ") for line in lines):
            lines.append(f"{key} = {value}")
    text = SEARCHED.format(name="bad", tail="[search]\n" + "\n".join(lines) + "\n")
    code = main(["run", str(write_spec(text)), "--results", str(results)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    for culprit in culprits:
        assert culprit in err
    assert not results.exists()


def test_the_shipped_capacity_spec_is_a_search_of_the_default_question():
    capacity_spec, default = load("capacity"), load("default")
    assert capacity_spec.search is not None and capacity_spec.search.field == "group_size"
    assert capacity_spec.scenario == default.scenario and capacity_spec.seed == default.seed
    assert capacity_spec.grid == {k: v for k, v in default.grid.items() if k != "group_size"}
