"""Metrics over time: each window's numbers from its own copies, queues and groups; the peak p99."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pubsub import Scenario, simulate
from pubsub.windows import PEAK_COPIES, WINDOWS, edges, peak_p99, width, window_metrics

times = st.lists(st.floats(0.0, 100.0), min_size=1, max_size=60)


def _depth_integral(entered, left, a, b, steps=20_000) -> float:
    """Brute force: the number waiting at many points of [a, b), times the width."""
    grid = a + (b - a) * (np.arange(steps) + 0.5) / steps
    waiting = [np.sum((entered <= t) & ~(left <= t)) for t in grid]  # left: +inf while still waiting
    return float(np.mean(waiting)) * (b - a)


@settings(deadline=None, max_examples=60)
@given(times, st.lists(st.floats(0.0, 30.0), min_size=60, max_size=60), st.floats(5.0, 60.0), st.floats(0.0, 40.0))
def test_each_window_reports_its_own_copies_queue_and_group(published, waits, window, warmup):
    published = np.array(published)
    waits = np.array(waits[: len(published)])
    finished = published + waits + 1.0
    entered, left = np.sort(published), np.sort(published + waits)
    left = left[left < 100.0]  # some copies still wait when the run ends
    sizes = [[(0.0, 2), (30.0, 5), (70.0, 3)]]
    frame = window_metrics(published, finished, entered, left, sizes, warmup, 100.0, window)
    assert frame["start"].iloc[0] == warmup and frame["end"].iloc[-1] == 100.0
    assert np.all(np.diff(frame["start"]) > 0) and np.array_equal(frame["start"].iloc[1:], frame["end"].iloc[:-1])
    every_left = np.concatenate([left, np.full(len(entered) - len(left), np.inf)])
    for row in frame.itertuples():
        mine = (published >= row.start) & (published < row.end)  # by publish time, not completion
        assert row.copies == mine.sum()
        if mine.any():
            assert row.latency_p99 == pytest.approx(np.quantile((finished - published)[mine], 0.99))
            assert row.latency_p50 == pytest.approx(np.quantile((finished - published)[mine], 0.5))
        else:
            assert math.isnan(row.latency_p99)
        span = row.end - row.start
        done = ((finished >= row.start) & (finished < row.end)).sum()
        assert row.throughput == pytest.approx(done / span)
        assert row.backlog_mean == pytest.approx(
            _depth_integral(entered, every_left, row.start, row.end) / span, rel=2e-3, abs=2e-3 * len(entered)
        )
        grid = np.linspace(row.start, row.end, 4001)[:-1] + span / 8000
        size = np.where(grid < 30.0, 2, np.where(grid < 70.0, 5, 3))
        assert row.group_size_mean == pytest.approx(size.mean(), rel=1e-3)


def test_the_last_window_is_cut_at_the_end_of_the_run():
    assert edges(10.0, 100.0, 40.0).tolist() == [10.0, 50.0, 90.0, 100.0]
    assert edges(0.0, 100.0, 25.0).tolist() == [0.0, 25.0, 50.0, 75.0, 100.0]


def test_the_peak_is_the_worst_window_with_enough_copies():
    rng = np.random.default_rng(1)
    published = np.linspace(0.0, 30.0, 3 * PEAK_COPIES + 6, endpoint=False)  # 102 in each window
    latency = np.where(published < 10.0, 1.0, np.where(published < 20.0, 5.0, 2.0)) * rng.uniform(
        0.5, 1.5, len(published)
    )
    frame = window_metrics(published, published + latency, np.array([]), np.array([]), [[(0.0, 1)]], 0.0, 30.0, 10.0)
    assert (frame["copies"] >= PEAK_COPIES).all()
    assert peak_p99(frame) == frame["latency_p99"].iloc[1] == frame["latency_p99"].max()
    few = frame.assign(copies=[PEAK_COPIES, PEAK_COPIES - 1, PEAK_COPIES])  # the worst has too few to judge
    assert peak_p99(few) == max(frame["latency_p99"].iloc[[0, 2]])
    assert math.isnan(peak_p99(None))


def test_a_varying_load_has_windows_and_a_steady_one_none_unless_asked():
    sine = Scenario(publish_rate=0.6, rate_profile="sine", rate_amplitude=0.8, rate_period=2400.0,
                    duration=2500.0, warmup=100.0, seed=3)  # fmt: skip
    assert width(sine) == pytest.approx(2400.0 / WINDOWS)
    steady = Scenario(publish_rate=0.6, duration=2500.0, warmup=100.0, seed=3)
    assert width(steady) is None and width(steady.model_copy(update={"window": 500.0})) == 500.0
    scaled = Scenario(autoscale=True, target_backlog=2.0, max_consumers=4, duration=2500.0, warmup=100.0)
    assert width(scaled) is not None
    named = Scenario(topics={"a": {}, "b": {"rate_profile": "step", "rate_factor": 2.0, "rate_change_at": 900.0}},
                     subscriptions={"s": {"topics": ["a", "b"]}}, duration=2500.0, warmup=100.0)  # fmt: skip
    assert width(named) is not None
    result = simulate(steady)
    assert result.windows is None and math.isnan(result.summary["latency_p99_peak"])
    asked = simulate(steady.model_copy(update={"window": 600.0}))
    assert asked.windows["end"].tolist() == [700.0, 1300.0, 1900.0, 2500.0]


def test_at_the_peak_of_a_sine_load_the_windowed_p99_is_well_above_the_whole_runs():
    """ρ swings from 0.24 to 0.96 around 0.6 over the run: the whole run's p99 mixes quiet hours into the peak's."""
    s = Scenario(publish_rate=0.6, rate_profile="sine", rate_amplitude=0.6, rate_period=24_000.0,
                 duration=24_100.0, warmup=100.0, seed=11)  # fmt: skip
    result = simulate(s)
    windows, summary = result.windows, result.summary
    assert len(windows) == WINDOWS
    assert summary["latency_p99_peak"] > 1.3 * summary["latency_p99"]  # 60.5 s against 39.0 s
    # The worst window is about where the rate peaks, a quarter period in (the queue follows the load closely).
    worst = windows.loc[windows["latency_p99"].idxmax()]
    assert 3_000.0 <= worst["start"] <= 9_000.0
    assert windows["throughput"].iloc[6] > 3 * windows["throughput"].iloc[18]  # peak against trough
    assert windows["copies"].sum() == pytest.approx(summary["processed"], rel=0.01)
