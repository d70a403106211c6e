"""Same scenario and seed, same result; arrivals shared across cells (common random numbers)."""

import pandas as pd
import pytest

from pubsub import Scenario, simulate
from tests.pubsub.helpers import Recording, nan_safe

BUSY = dict(
    topics=2,
    publishers=2,
    subscribers=2,
    group_size=3,
    publish_rate=0.6,
    dispatch="key-hash",
    key_skew=1.1,
    service="lognormal",
    service_cv=1.5,
    ack=True,
    ack_timeout=3.0,
    failure_prob=0.2,
    max_deliveries=3,
    queue_capacity=8,
    outage_start=100.0,
    outage_duration=50.0,
    arrivals="bursty",
    duration=600.0,
    warmup=60.0,
)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_scenario_and_seed_give_identical_results(seed):
    first = simulate(Scenario(seed=seed, **BUSY))
    second = simulate(Scenario(seed=seed, **BUSY))
    assert nan_safe(first.summary) == nan_safe(second.summary)
    pd.testing.assert_frame_equal(first.backlog, second.backlog)


def test_different_seeds_differ():
    assert simulate(Scenario(seed=1)).summary["latency_mean"] != simulate(Scenario(seed=2)).summary["latency_mean"]


def publish_times(**fields) -> list[tuple]:
    trace = Recording()
    simulate(Scenario(**fields), trace=trace)
    return [(e[1], e[2]) for e in trace.of("published")]


@pytest.mark.parametrize(
    "change",
    [
        {"group_size": 5},
        {"dispatch": "shared"},
        {"dispatch": "least-loaded"},
        {"dispatch": "key-hash", "keys": 7},
        {"ack": True, "failure_prob": 0.4, "ack_timeout": 0.5},
        {"subscribers": 3, "service": "fixed"},
        {"queue_capacity": 2, "overflow": "drop"},
    ],
)
def test_arrivals_do_not_change_with_consumers_dispatch_or_acks(change):
    # A group of 3 (at 1, every dispatch policy is the same topology), busy enough that the policies differ.
    base = dict(topics=2, publishers=2, publish_rate=0.7, group_size=3, duration=300.0, warmup=10.0, seed=42)
    assert publish_times(**base) == publish_times(**{**base, **change})
    latencies = [simulate(Scenario(**fields)).summary["latency_mean"] for fields in (base, {**base, **change})]
    assert latencies[0] != latencies[1], "the two cells should measure different systems"


class FirstAttempts(Recording):
    """Each copy's first attempt: how long it took and whether it succeeded."""

    def __init__(self):
        super().__init__()
        self.started = {}
        self.first = {}

    def taken(self, now, consumer, subscription, copy):
        if copy.deliveries == 1:
            self.started[copy.message.id] = (now, consumer)

    def finished(self, now, consumer, subscription, copy, ok):
        started, by = self.started.get(copy.message.id, (None, None))
        if by is consumer and copy.message.id not in self.first:  # a consumer works on one copy at a time
            self.first[copy.message.id] = (now - started, ok)


@pytest.mark.parametrize(
    "change",
    [
        {"group_size": 2},
        {"group_size": 4, "dispatch": "shared"},
        {"group_size": 3, "dispatch": "least-loaded"},
        {"group_size": 3, "dispatch": "key-hash"},
        {"ack_timeout": 0.7},
    ],
)
def test_each_copy_does_the_same_work_whoever_takes_it(change):
    """Common random numbers across cells: a copy's first attempt lasts as long, and fails alike,
    whatever the group size, dispatch or timeout (the strongest pairing of cells a sweep can have)."""
    base = dict(
        publish_rate=0.9,
        service="lognormal",
        service_cv=1.5,
        ack=True,
        ack_timeout=5.0,
        failure_prob=0.2,
        duration=400.0,
        warmup=10.0,
        seed=9,
    )
    a, b = FirstAttempts(), FirstAttempts()
    simulate(Scenario(**base), trace=a)
    simulate(Scenario(**{**base, **change}), trace=b)
    both = a.first.keys() & b.first.keys()
    assert len(both) > 250
    assert all(a.first[k][0] == pytest.approx(b.first[k][0], abs=1e-9) and a.first[k][1] == b.first[k][1] for k in both)


@pytest.mark.parametrize("dispatch", ["round-robin", "shared"])
def test_group_sizes_share_arrivals_and_each_copys_work(dispatch):
    """Common random numbers across group sizes: the same seed gives the same publish times and the same
    first-attempt service time and outcome per copy, though each size takes the copies in its own order."""
    base = dict(publish_rate=0.9, dispatch=dispatch, service="lognormal", service_cv=1.5, ack=True,
                ack_timeout=5.0, failure_prob=0.2, duration=400.0, warmup=10.0, seed=13)  # fmt: skip
    seen = {}
    for size in (1, 2, 4):
        trace = FirstAttempts()
        simulate(Scenario(group_size=size, **base), trace=trace)
        seen[size] = ([e[1] for e in trace.of("published")], trace.first)
    times, work = seen[1]
    assert len(times) > 300
    for size in (2, 4):
        assert seen[size][0] == times
        both = work.keys() & seen[size][1].keys()
        assert len(both) > 250
        assert all(seen[size][1][k][0] == pytest.approx(work[k][0], abs=1e-9) for k in both)
        assert all(seen[size][1][k][1] == work[k][1] for k in both)
