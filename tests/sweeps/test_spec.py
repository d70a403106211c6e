"""Bad specs fail before anything runs: one clear message, exit code 2, nothing written."""

import pytest

from sweeps.__main__ import main
from sweeps.spec import SHIPPED, SpecError, load

GOOD = SHIPPED / "default.toml"

CASES = {
    "syntax": ('name = "x"\nreplications = 2\n[grid]\ngroup_size = [1, 2\npublish_rate = 1\n', ["TOML syntax", "line"]),
    "unknown top-level key": ('name = "x"\nreplications = 2\nreplicates = 3\n', ["replicates"]),
    "unknown scenario field": ('name = "x"\nreplications = 2\n[scenario]\ngroup_sise = 2\n', ["group_sise"]),
    "unknown grid field": ('name = "x"\nreplications = 2\n[grid]\npublish_rates = [1.0]\n', ["publish_rates"]),
    "value a cell rejects": (
        'name = "x"\nreplications = 2\n[grid]\ngroup_size = [1, 0]\n',
        ["group_size=0", "greater than or equal to 1"],
    ),
    "cross-field rejection": (
        'name = "x"\nreplications = 2\n[scenario]\nduration = 100.0\n[grid]\nwarmup = [10.0, 200.0]\n',
        ["warmup=200.0", "less than duration"],
    ),
    "wrong type": ('name = "x"\nreplications = 2\n[grid]\ndispatch = ["shared", 3]\n', ["dispatch"]),
    "zero replications": ('name = "x"\nreplications = 0\n', ["replications", "greater than or equal to 1"]),
    "missing replications": ('name = "x"\n', ["replications", "Field required"]),
    "seed varied": ('name = "x"\nreplications = 2\n[grid]\nseed = [1, 2]\n', ["seed"]),
    "empty list": ('name = "x"\nreplications = 2\n[grid]\ngroup_size = []\n', ["group_size has no values"]),
    "unequal together": (
        'name = "x"\nreplications = 2\n[together]\ngroup_size = [1, 2]\npublish_rate = [0.5]\n',
        ["equal lengths"],
    ),
    "bad name": ('name = "../up"\nreplications = 2\n', ["name"]),
    "unknown precision metric": (
        'name = "x"\nreplications = 2\n[precision]\nmetric = "latency"\nrelative_half_width = 0.05\n'
        "max_replications = 9\n",
        ["precision.metric", "latency"],
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_bad_spec_fails_cleanly(case, write_spec, results, capsys):
    text, culprits = CASES[case]
    code = main(["run", str(write_spec(text)), "--results", str(results)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    for culprit in culprits:
        assert culprit in err
    assert not results.exists()


def test_missing_file(results, capsys):
    assert main(["run", "no/such/spec.toml", "--results", str(results)]) == 2
    assert "no/such/spec.toml" in capsys.readouterr().err
    assert not results.exists()


def test_shipped_specs_are_valid():
    names = sorted(p.stem for p in SHIPPED.glob("*.toml"))
    assert {"default", "ack-timeouts", "backpressure", "outage", "hot-keys", "closed-forms"} <= set(names)
    for name in names:
        assert load(name).cells()


def test_grid_crosses_and_together_zips(write_spec):
    sweep = load(
        write_spec(
            'name = "x"\nreplications = 1\n[grid]\ngroup_size = [1, 2, 3]\n'
            "[together]\npublish_rate = [0.5, 1.0]\nduration = [300.0, 400.0]\n"
        )
    )
    cells = sweep.cells()
    assert len(cells) == 6
    assert {(c.scenario.publish_rate, c.scenario.duration) for c in cells} == {(0.5, 300.0), (1.0, 400.0)}


def test_replication_seeds_are_shared_by_all_cells_and_differ_between_replications(write_spec):
    sweep = load(write_spec())
    seeds = {r: {cell.run(r, sweep.seed_for(r)).scenario.seed for cell in sweep.cells()} for r in range(3)}
    assert all(len(s) == 1 for s in seeds.values())
    assert len({s.pop() for s in seeds.values()}) == 3


MORE = {
    "long name": (f'name = "{"x" * 300}"\nreplications = 2\n', ["name", "100"]),
    "repeated grid value": ('name = "x"\nreplications = 2\n[grid]\ngroup_size = [1, 2, 1]\n', ["group_size repeats 1"]),
    "wall-clock precision": (
        'name = "x"\nreplications = 2\n[precision]\nmetric = "wall_seconds"\nrelative_half_width = 0.05\n'
        "max_replications = 9\n",
        ["wall_seconds", "wall-clock"],
    ),
    "too many replications": ('name = "x"\nreplications = 100000000\n', ["replications", "10000"]),
    "too many cells": (
        f'name = "x"\nreplications = 1\n[grid]\nkeys = {list(range(1, 401))}\npublishers = {list(range(1, 401))}\n',
        ["160,000 cells"],
    ),
}


@pytest.mark.parametrize("case", MORE)
def test_more_bad_specs(case, write_spec, results, capsys):
    text, culprits = MORE[case]
    assert main(["run", str(write_spec(text)), "--results", str(results)]) == 2
    err = capsys.readouterr().err
    for culprit in culprits:
        assert culprit in err
    assert not results.exists()


def test_none_means_no_limit_for_fields_that_may_be_none(write_spec):
    sweep = load(
        write_spec('name = "x"\nreplications = 1\n[scenario]\nack = true\n[grid]\nmax_deliveries = [3, "none"]\n')
    )
    assert [c.scenario.max_deliveries for c in sweep.cells()] == [3, None]


def test_none_for_a_field_that_cannot_be_none_names_it(write_spec):
    with pytest.raises(SpecError, match="group_size"):
        load(write_spec('name = "x"\nreplications = 1\n[grid]\ngroup_size = [2, "none"]\n'))


def test_misspelt_keys_metrics_and_spec_names_get_the_closest_name(tmp_path):
    spec = tmp_path / "typo.toml"
    spec.write_text('name = "typo"\nreplicatons = 2\n[scenario]\nservce_time = 1.0\n')
    with pytest.raises(SpecError) as refused:
        load(spec)
    assert "'servce_time' (did you mean 'service_time'?)" in str(refused.value)
    assert "replicatons: Extra inputs are not permitted (did you mean 'replications'?)" in str(refused.value)
    spec.write_text('name = "typo"\nreplications = 2\n[precision]\nmetric = "latency_p90"\n'
                    'relative_half_width = 0.1\nmax_replications = 4\n')  # fmt: skip
    with pytest.raises(SpecError, match=r"unknown metric 'latency_p90' \(did you mean 'latency_p99'\?\)"):
        load(spec)
    with pytest.raises(SpecError, match=r"did you mean 'default'\?"):
        load("defualt")


ANSWERED = 'name = "t"\nreplications = 2\n[grid]\npublish_rate = [0.5]\n'
SEARCHED = '[search]\nfield = "group_size"\nlow = 1\nhigh = 4\n'


@pytest.mark.parametrize(
    ("table", "refusal"),
    [
        ("[answer]\nbelow = 0.0\n", r"answer\.below: Input should be greater than 0"),
        ("[answer]\nbelow = -1.0\n", r"answer\.below"),
        ('[answer]\nmetric = "latency_p90"\nbelow = 5.0\n', r"did you mean 'latency_p99'"),
        ('[answer]\nmetric = "throughput"\nbelow = 5.0\n', r"only latency_p99 targets"),
        ("[answer]\nbelow = 5.0\nabove = 1.0\n", r"answer\.above: Extra inputs"),
        (SEARCHED, r"search\.below: a search needs a target"),
        (
            SEARCHED + "below = 4.0\n[answer]\nbelow = 5.0\n",
            r"search\.below \(4\.0\) and answer\.below \(5\.0\) differ",
        ),
    ],
)
def test_a_bad_target_is_refused_naming_it(tmp_path, table, refusal):
    spec = tmp_path / "t.toml"
    spec.write_text(ANSWERED + table)
    with pytest.raises(SpecError, match=refusal):
        load(spec)


def test_a_search_takes_the_answer_tables_target(tmp_path):
    spec = tmp_path / "t.toml"
    spec.write_text(ANSWERED + SEARCHED + "[answer]\nbelow = 6.5\n")
    sweep = load(spec)
    assert sweep.search is not None and sweep.search.target == 6.5 and sweep.answer.below == 6.5
    assert load("capacity").search.target == 10.0  # the shipped search states its target in [answer]
