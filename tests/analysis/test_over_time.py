"""A load that varies over the run: windows are stored, drawn, and the capacity answer judges the worst one."""

import pandas as pd
import pytest

from analysis import reporting
from analysis.results import load as load_results
from pubsub.windows import WINDOWS
from sweeps import load, run_sweep

# One sine period over the measured run: at 3 consumers ρ peaks at 0.96, at 4 at 0.72, at 6 at 0.48.
DAY = """
name = "day"
replications = 3
seed = 4
[scenario]
duration = 12100.0
warmup = 100.0
dispatch = "shared"
publish_rate = 1.6
rate_profile = "sine"
rate_amplitude = 0.8
rate_period = 12000.0
[grid]
group_size = [3, 4, 6]
[answer]
metric = "latency_p99"
below = 8.0
"""


@pytest.fixture(scope="module")
def day(tmp_path_factory):
    folder = tmp_path_factory.mktemp("day")
    spec = folder / "spec.toml"
    spec.write_text(DAY)
    sweep = load(spec)
    run_sweep(sweep, spec, folder / "results", workers=1, progress=False)
    results = load_results(folder / "results" / sweep.name)
    return results, reporting.build(results).read_text()


def test_every_run_keeps_its_windows(day):
    results, _ = day
    windows = results.windows()
    assert len(windows) == len(results.runs) * WINDOWS
    assert set(windows["group_size"]) == {3, 4, 6} and windows["latency_p99"].notna().all()
    peaks = windows.groupby(["cell", "replication"])["latency_p99"].max()
    runs = results.runs.set_index(["cell", "replication"])["latency_p99_peak"]
    assert peaks.sort_index().to_numpy() == pytest.approx(runs.sort_index().to_numpy())


def test_the_answer_is_judged_at_the_worst_window_and_says_so(day):
    results, page = day
    capacity = pd.read_csv(results.folder / "capacity.csv")
    assert capacity["metric"].tolist() == ["latency_p99_peak"]
    summary = pd.read_csv(results.folder / "summary.csv").set_index("group_size")
    answer = int(capacity["answer"].iloc[0])
    # The whole run's p99 would have passed 4 consumers, whose peak hours are slower (ρ 0.72 at the peak)
    assert summary.loc[4, "latency_p99_ci_high"] < 8.0 < summary.loc[4, "latency_p99_peak_ci_high"]
    assert answer == 6
    assert "judged by its worst window" in page and "the worst window&#x27;s p99 wholly below 8 s" in page
    assert (results.folder / "figures" / "over_time.png").stat().st_size > 20_000


def test_a_crowded_sweep_draws_each_answer_and_the_size_below_it():
    rows = [(rate, size) for rate in (1.0, 2.0) for size in (1, 2, 3, 4, 5, 6)]
    summary = pd.DataFrame(
        {"cell": range(len(rows)), "publish_rate": [r for r, _ in rows], "group_size": [s for _, s in rows]}
    )
    answer = pd.DataFrame({"publish_rate": [1.0, 2.0], "answer": ["2", "5"]})
    labels = reporting._over_time_cells(summary, ["publish_rate", "group_size"], answer, None, "latency_p99")
    assert labels == {
        0: "publish_rate 1, group_size 1",
        1: "publish_rate 1, group_size 2",
        9: "publish_rate 2, group_size 4",
        10: "publish_rate 2, group_size 5",
    }
