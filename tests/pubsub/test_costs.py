"""Calibration costs: `delivery_delay` holds back a copy only from an idle consumer; `service_overhead`
lengthens every attempt; `redelivery_overhead` lengthens every attempt on a redelivered copy, and no other."""

import pytest

from pubsub import Scenario, simulate
from tests.pubsub.helpers import Recording

LIGHT = dict(arrivals="fixed", publish_rate=0.1, service="fixed", duration=1000.0, warmup=100.0)


def test_an_idle_consumer_starts_a_delay_after_publish_and_works_service_plus_overhead():
    s = simulate(Scenario(**LIGHT, delivery_delay=0.5, service_overhead=0.25)).summary
    assert s["latency_mean"] == pytest.approx(1.75) and s["latency_max"] == pytest.approx(1.75)
    assert s["wait_mean"] == pytest.approx(0.5)
    assert s["utilization"] == pytest.approx(1.25 / 10, rel=1e-3)


def test_a_queued_copy_pays_no_delay_only_the_overhead():
    trace = Recording()
    simulate(
        Scenario(
            arrivals="fixed",
            publish_rate=1.0,
            service="fixed",
            service_time=1.25,
            service_overhead=0.25,
            delivery_delay=0.2,
            duration=12.0,
            warmup=0.0,
        ),
        trace=trace,
    )
    ends = [e[1] for e in trace.of("finished")]
    # Published at 1, 2, 3, ...: the first waits for its delay, the rest queue behind it.
    assert ends[:4] == pytest.approx([1.2 + 1.5, 1.2 + 3.0, 1.2 + 4.5, 1.2 + 6.0])


@pytest.mark.parametrize("batch_size", [1, 2], ids=["single", "batches"])
def test_only_a_redelivered_attempt_pays_the_redelivery_overhead(batch_size):
    trace = Recording()
    simulate(
        Scenario(
            arrivals="fixed",
            publish_rate=0.05,  # a copy every 20 s: each is done with (or dead-lettered) before the next
            service="fixed",
            ack=True,
            ack_timeout=3.0,
            failure_prob=0.5,
            max_deliveries=3,
            service_overhead=0.25,
            redelivery_overhead=0.5,
            batch_size=batch_size,
            duration=2000.0,
            warmup=0.0,
            seed=4,
        ),
        trace=trace,
    )
    takes: dict[int, list[float]] = {}
    lengths: dict[int, set[float]] = {1: set(), 2: set(), 3: set()}  # delivery -> attempt lengths, rounded
    for kind, at, _, message, *_ in sorted(trace.of("taken") + trace.of("finished"), key=lambda e: e[1]):
        if kind == "taken":
            takes.setdefault(message, []).append(at)
        else:
            delivery = len(takes[message])
            lengths[delivery].add(round(at - takes[message][-1], 9))
    assert lengths == {1: {1.25}, 2: {1.75}, 3: {1.75}}


def test_zero_costs_change_nothing():
    base = dict(publish_rate=1.6, group_size=2, dispatch="shared", ack=True, failure_prob=0.1, duration=500.0, seed=3)
    plain = simulate(Scenario(**base)).summary
    zero = simulate(Scenario(**base, delivery_delay=0.0, service_overhead=0.0, redelivery_overhead=0.0)).summary
    assert {k: plain[k] for k in ("latency_mean", "latency_p99", "delivered", "processed")} == {
        k: zero[k] for k in ("latency_mean", "latency_p99", "delivered", "processed")
    }
