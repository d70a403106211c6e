"""Where no group size meets the target, the report says why: the retry trap, and a saturated group."""

import re

from analysis import reporting
from analysis.results import load as load_results
from sweeps import load, run_sweep

# The new user: attempts that sometimes fail, retried after the default 30 s visibility timeout.
RETRY_TRAP = """
name = "retry-trap"
replications = 3
seed = 5
[scenario]
duration = 3000.0
warmup = 300.0
dispatch = "shared"
publish_rate = 0.5
ack = true
failure_prob = 0.05
[grid]
group_size = [1, 2, 4]
"""

SATURATED = """
name = "saturated"
replications = 3
seed = 5
[scenario]
duration = 1000.0
warmup = 100.0
dispatch = "shared"
publish_rate = 6.0
[grid]
group_size = [1, 2, 4]
"""


def _floors(tmp_path, text: str) -> str:
    """The report's list of floors, after running the spec `text`."""
    spec = tmp_path / "spec.toml"
    spec.write_text(text)
    sweep = load(spec)
    run_sweep(sweep, spec, tmp_path / "results", workers=1, progress=False)
    page = reporting.build(load_results(tmp_path / "results" / sweep.name)).read_text()
    assert "none in the sweep" in page
    floors = re.search(r'<ul class="floors">(.*?)</ul>', page, re.S)
    assert floors, "no explanation of why no group size meets the target"
    return floors.group(1)


def test_the_retry_trap_is_explained_by_the_timeout_that_sets_the_floor(tmp_path, without_figures):
    floors = _floors(tmp_path, RETRY_TRAP)
    assert "of copies were redelivered" in floors and "<code>ack_timeout = 30 s</code>" in floors
    # p99 apart: the copies served at once are fast; the redelivered ones waited out the 30 s timeout
    first, again = re.search(r"first delivery: ([\d.]+) s; of the redelivered ones: ([\d.]+) s", floors).groups()
    assert float(first) < 5 < 30 < float(again)
    assert "nack = true with a short retry_delay" in floors


def test_a_saturated_group_is_named_as_the_floor(tmp_path, without_figures):
    floors = _floors(tmp_path, SATURATED)
    assert "the group is saturated" in floors and "<code>the group size</code>" in floors


def test_the_report_states_its_target_and_where_it_came_from(tmp_path, without_figures, capsys):
    from analysis.__main__ import main

    spec = tmp_path / "spec.toml"
    spec.write_text(SATURATED.replace("[grid]", "[answer]\nbelow = 7.5\n[grid]"))
    sweep = load(spec)
    run_sweep(sweep, spec, tmp_path / "results", workers=1, progress=False)
    folder = tmp_path / "results" / sweep.name
    page = reporting.build(load_results(folder)).read_text()
    assert "7.5 s, from the spec's [answer] table" in page
    assert main(["report", str(folder), "--slo-p99", "4"]) == 0
    assert "4 s, asked for with --slo-p99" in (folder / "report.html").read_text()
    for bad in ("-1", "0", "inf", "soon"):
        try:
            main(["report", str(folder), "--slo-p99", bad])
        except SystemExit as exit:
            assert exit.code == 2
        else:
            raise AssertionError(f"--slo-p99 {bad} was accepted")
    assert "--slo-p99" in capsys.readouterr().err


def test_a_searchs_target_cannot_be_asked_away():
    import pandas as pd
    import pytest

    from analysis.results import Results

    searched = Results(None, pd.DataFrame(), {"search": {"below": 10.0}}, {}, [])
    assert reporting.answer_target(searched) == (10.0, "the search's own")
    with pytest.raises(ValueError, match=r"--slo-p99 \(5\) cannot change a search's answer"):
        reporting.answer_target(searched, 5.0)
    answered = Results(None, pd.DataFrame(), {"answer": {"below": 7.5}}, {}, [])
    assert reporting.answer_target(answered) == (7.5, "from the spec's [answer] table")
    assert reporting.answer_target(answered, 3.0) == (3.0, "asked for with --slo-p99")
