"""The live log reduced to metrics, on a hand-made log whose answers are known."""

import math

import pytest

from live.measure import summarize
from live.runner import Attempt, Log
from pubsub import Scenario

SCALE = 0.5
START = 100.0


def real(model_seconds: float) -> float:
    return START + model_seconds * SCALE


def log_of(scenario, published, attempts, dead=()):
    log = Log(scenario, SCALE, START, wall_seconds=5.0)
    log.published = [(0, copy, at, real(at)) for copy, at in published]
    for copy, delivery, consumer, taken, ended, outcome in attempts:
        at = dict(published)[copy]
        log.attempts.append(Attempt(0, 0, consumer, copy, at, delivery, real(taken), real(ended), outcome))
    log.dead = [(0, copy, real(at)) for copy, at in dead]
    return log


def test_latency_states_and_counts_of_a_small_acknowledged_run():
    s = Scenario(
        dispatch="shared", group_size=2, ack=True, ack_timeout=3.0, max_deliveries=2, duration=20.0, warmup=1.0
    )
    published = [("a", 1.0), ("b", 2.0), ("c", 3.0), ("d", 15.0), ("e", 18.0), ("f", 19.0)]
    attempts = [
        ("a", 1, 0, 1.0, 2.5, "processed"),  # latency 1.5
        ("b", 1, 1, 2.0, 3.0, "failed"),  # expires at 5: waits from 5 to 6
        ("c", 1, 0, 3.0, 4.0, "processed"),  # latency 1
        ("b", 2, 1, 6.0, 7.0, "failed"),  # its last delivery: dead-lettered at 9
        ("d", 1, 0, 15.0, 19.5, "processed"),  # outlasts its timeout at 18: waits from 18, then withdrawn at 19.5
        ("e", 1, 1, 18.5, math.nan, "unfinished"),  # running at the end: in flight
    ]
    m = summarize(log_of(s, published, attempts, dead=[("b", 9.0)]))
    assert (m["published"], m["delivered"], m["redelivered"], m["processed"], m["dead_lettered"]) == (6, 6, 1, 3, 1)
    assert (m["backlog_final"], m["in_flight_final"]) == (1, 1)  # f waits; e is being processed
    assert m["published"] == m["processed"] + m["backlog_final"] + m["in_flight_final"] + m["dead_lettered"]
    assert m["latency_mean"] == pytest.approx((1.5 + 1.0 + 4.5) / 3)
    assert m["latency_max"] == pytest.approx(4.5)
    assert m["throughput"] == pytest.approx(3 / 19)
    # Waiting: b from 5 to 6, d from 18 to 19.5, e from 18 to 18.5, f from 19 to 20 (the end).
    assert m["backlog_mean"] == pytest.approx((1.0 + 1.5 + 0.5 + 1.0) / 19)
    assert m["backlog_max"] == 2  # d and f, from 19 to 19.5
    busy = 1.5 + 1 + 1 + 1 + 4.5 + 1.5  # e runs from 18.5 to the end at 20
    assert m["utilization"] == pytest.approx(busy / (2 * 19))
    assert math.isnan(m["drain_time"]) and m["wall_seconds"] == 5.0


def test_events_after_the_end_are_left_out():
    s = Scenario(dispatch="shared", duration=10.0, warmup=0.0)
    m = summarize(log_of(s, [("a", 9.0)], [("a", 1, 0, 9.5, 10.5, "processed")]))
    assert (m["processed"], m["in_flight_final"], m["delivered"]) == (0, 1, 1)
    assert math.isnan(m["latency_mean"])
