"""The end-of-run reductions against direct computations."""

import math
import time
from types import SimpleNamespace

import numpy as np
import pytest
from asimpy import Environment

from pubsub import Scenario, simulate
from pubsub.mailbox import Mailbox
from pubsub.metrics import backlog_metrics, group_metrics, latency_metrics, sorted_times, throughput
from tests.pubsub.helpers import Recording


def mailbox_with(entered, left) -> Mailbox:
    box = Mailbox(Environment())
    box.entered.extend(entered)
    box.left.extend(left)
    return box


def brute_force_depth(boxes, t):
    return sum(sum(e <= t for e in b.entered) - sum(x <= t for x in b.left) for b in boxes)


def test_backlog_mean_and_max_match_a_fine_grid():
    rng = np.random.default_rng(0)
    boxes = []
    for _ in range(3):
        entered = np.sort(rng.uniform(0, 100, 40))
        waits = rng.exponential(5, 40)
        left = np.sort((entered + waits)[entered + waits < 100])[:30]
        boxes.append(mailbox_with(entered, np.sort(left)))
    warmup, duration = 20.0, 100.0
    metrics = backlog_metrics(*sorted_times(boxes), warmup, duration)
    rises = [t for b in boxes for t in b.entered if t > warmup] + [warmup]
    assert metrics["backlog_max"] == max(brute_force_depth(boxes, t) for t in rises)
    grid = np.linspace(warmup, duration, 8001)[:-1] + (duration - warmup) / 16000  # midpoints
    assert metrics["backlog_mean"] == pytest.approx(np.mean([brute_force_depth(boxes, t) for t in grid]), rel=2e-3)


FIRST = np.ones(8, np.int32)  # every copy served on its first delivery


def test_p99_apart_for_copies_served_on_their_first_delivery_and_on_a_later_one():
    published = np.arange(10.0)
    latency = np.array([9.0, 1.0, 2.0, 30.0, 3.0, 31.0, 4.0, 5.0, 6.0, 7.0])
    delivery = np.array([3, 1, 1, 2, 1, 3, 1, 1, 1, 1], np.int32)  # the first copy's is before warm-up
    metrics = latency_metrics(published, published, published + latency, delivery, warmup=1.0)
    assert metrics["latency_p99_first"] == pytest.approx(np.quantile([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], 0.99))
    assert metrics["latency_p99_redelivered"] == pytest.approx(np.quantile([30.0, 31.0], 0.99))
    assert metrics["redelivered_share"] == pytest.approx(2 / 9)
    alone = latency_metrics(published[:3], published[:3], published[:3] + 1.0, FIRST[:3], warmup=0.0)
    assert math.isnan(alone["latency_p99_redelivered"]) and alone["redelivered_share"] == 0.0


def test_latency_quantiles_are_numpys_over_post_warmup_copies():
    published, done = np.array([1.0, 5.0, 6.0, 7.0]), np.array([2.0, 9.0, 6.5, 8.0])
    metrics = latency_metrics(published, published, done, FIRST[:4], warmup=4.0)
    latencies = np.array([4.0, 0.5, 1.0])
    assert metrics["latency_mean"] == pytest.approx(latencies.mean())
    assert metrics["latency_p99"] == pytest.approx(np.quantile(latencies, 0.99))
    assert metrics["latency_max"] == 4.0


def test_latency_statistics_are_nan_when_no_copy_was_published_after_warmup():
    published = np.array([1.0, 2.0])
    metrics = latency_metrics(published, published, published + 1.0, FIRST[:2], warmup=3.0)
    assert len(metrics) == 10 and all(isinstance(v, float) and math.isnan(v) for v in metrics.values())


def test_a_copy_published_at_the_very_start_of_the_window_counts():
    """Fixed arrivals land on whole multiples of their gap, so one can be published exactly as the warm-up ends."""
    published = np.array([3.0, 4.0])
    metrics = latency_metrics(published, published, published + 2.0, FIRST[:2], warmup=4.0)
    assert (metrics["latency_mean"], metrics["latency_max"]) == (2.0, 2.0)
    # Likewise a fixed service can end exactly then: that success counts in the window's throughput.
    assert throughput(np.array([3.0, 4.0, 5.0]), warmup=4.0, duration=6.0) == 1.0


def test_latency_and_wait_keep_copies_published_after_warmup_not_those_finished_after_it():
    # Two copies published before the warm-up finish after it: a filter on finish time would keep them.
    published = np.array([1.0, 2.0, 5.0, 6.0])
    started = np.array([8.0, 9.0, 10.0, 6.0])
    finished = np.array([9.0, 10.0, 12.0, 7.0])
    metrics = latency_metrics(published, started, finished, FIRST[:4], warmup=4.0)
    assert metrics["latency_mean"] == pytest.approx((7.0 + 1.0) / 2)
    assert metrics["wait_mean"] == pytest.approx((5.0 + 0.0) / 2)
    assert metrics["latency_max"] == 7.0


class Attempts(Recording):
    """Each message's publish time, and the start and end of the attempt that processed it (one subscription)."""

    def __init__(self):
        super().__init__()
        self.published_at, self.taken_at, self.done = {}, {}, {}

    def published(self, now, publisher, message):
        self.published_at[message.id] = now

    def taken(self, now, consumer, subscription, copy):
        self.taken_at[copy.message.id] = now

    def finished(self, now, consumer, subscription, copy, ok):
        if ok:
            self.done.setdefault(copy.message.id, (self.taken_at[copy.message.id], now))


def test_a_backlog_from_before_the_warmup_is_left_out_of_latency_and_wait():
    """An outage ends with the warm-up: hundreds of copies published before it finish after it."""
    trace = Attempts()
    warmup = 300.0
    s = simulate(
        Scenario(publish_rate=0.8, outage_start=50.0, outage_duration=250.0, duration=1500.0, warmup=warmup, seed=3),
        trace=trace,
    ).summary
    early = [m for m, (_, end) in trace.done.items() if trace.published_at[m] < warmup <= end]
    assert len(early) > 150
    kept = [m for m in trace.done if trace.published_at[m] >= warmup]
    latency = np.array([trace.done[m][1] - trace.published_at[m] for m in kept])
    wait = np.array([trace.done[m][0] - trace.published_at[m] for m in kept])
    assert s["latency_mean"] == pytest.approx(latency.mean(), rel=1e-12)
    assert s["wait_mean"] == pytest.approx(wait.mean(), rel=1e-12)
    assert s["latency_max"] == pytest.approx(latency.max(), rel=1e-12)
    assert s["latency_p99"] == pytest.approx(np.quantile(latency, 0.99), rel=1e-12)


def test_backlog_series_samples_every_mailbox():
    result = simulate(Scenario(group_size=3, dispatch="round-robin", duration=100.0, warmup=10.0, sample_interval=10.0))
    frame = result.backlog
    assert list(frame.columns) == ["time", "subscription", "consumer", "depth", "consumers_running"]
    assert len(frame) == 11 * 3 and (frame["consumers_running"] == 3).all()
    assert sorted(frame["consumer"].unique()) == [0, 1, 2]
    shared = simulate(Scenario(group_size=3, dispatch="shared", duration=100.0, warmup=10.0)).backlog
    assert set(shared["consumer"]) == {-1} and len(shared) == 201


def test_mm1_utilization_and_throughput():
    s = simulate(Scenario(publish_rate=0.7, duration=50_000.0, warmup=5000.0, seed=3)).summary
    assert s["utilization"] == pytest.approx(0.7, rel=0.03)
    assert s["throughput"] == pytest.approx(0.7, rel=0.03)
    assert s["latency_p50"] <= s["latency_p95"] <= s["latency_p99"] <= s["latency_p999"] <= s["latency_max"]
    # M/M/1 sojourn is exponential with rate μ − λ: p99 = ln(100)/(μ − λ).
    assert s["latency_p99"] == pytest.approx(np.log(100) / 0.3, rel=0.1)


def test_utilization_and_the_busiest_consumers_against_attempts_in_the_trace():
    """Each consumer's busy time is the part of its attempts (take to finish, or to the end) inside the window."""
    s = Scenario(dispatch="key-hash", group_size=3, keys=5, key_skew=1.5, publish_rate=1.2, duration=2000.0,
                 warmup=200.0, seed=2)  # fmt: skip
    trace = Recording()
    summary = simulate(s, trace=trace).summary
    ends = {(e[2], e[3]): e[1] for e in trace.of("finished")}
    busy = dict.fromkeys((f"c{i}" for i in range(3)), 0.0)
    for _, taken, consumer, message in trace.of("taken"):
        end = ends.get((consumer, message), s.duration)
        busy[consumer.rsplit("/", 1)[-1]] += max(0.0, end - max(taken, s.warmup))
    window = s.duration - s.warmup
    assert any((c, m) not in ends for _, _, c, m in trace.of("taken"))  # an attempt runs on at the end
    assert summary["utilization"] == pytest.approx(sum(busy.values()) / (3 * window), rel=1e-9)
    assert summary["utilization_max"] == pytest.approx(max(busy.values()) / window, rel=1e-9)
    assert summary["utilization_max"] > 1.2 * summary["utilization"]  # skewed keys: one consumer is the busiest


def consumer(started_at=0.0, stopped_at=math.inf, busy_time=0.0):
    return SimpleNamespace(started_at=started_at, stopped_at=stopped_at, busy_time=busy_time, busy=0, busy_since=0.0)


def test_the_busiest_consumer_may_be_one_that_ran_for_under_a_second():
    """A consumer hired half a second before the end and busy all of it is the busiest (1.0), not half as busy."""
    group = SimpleNamespace(sizes=[(0.0, 1), (99.5, 2)])
    steady, late = consumer(busy_time=50.0), consumer(started_at=99.5, busy_time=0.5)
    m = group_metrics([group], [steady, late], [], warmup=0.0, duration=100.0)
    assert m["utilization_max"] == 1.0 and m["consumer_seconds"] == 100.5


def test_the_largest_group_is_the_largest_size_in_effect_inside_the_window():
    """The size at the window's start counts (not any before it), and so does a change at its very end."""
    group = SimpleNamespace(sizes=[(0.0, 5), (50.0, 2), (70.0, 3), (100.0, 4)])
    m = group_metrics([group], [consumer(busy_time=1.0)], [], warmup=60.0, duration=100.0)
    assert m["group_size_max"] == 4
    group.sizes.pop()
    assert group_metrics([group], [consumer(busy_time=1.0)], [], warmup=60.0, duration=100.0)["group_size_max"] == 3


def test_the_wall_clock_metrics_time_the_run_and_rate_its_deliveries():
    started = time.perf_counter()
    summary = simulate(Scenario(duration=300.0, warmup=10.0)).summary
    elapsed = time.perf_counter() - started
    assert 0 < summary["wall_seconds"] <= elapsed
    assert summary["sim_rate"] == summary["delivered"] / summary["wall_seconds"] and summary["delivered"] > 100
