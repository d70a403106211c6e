"""Bounded queues with drop or block, and an outage's build-up and drain."""

import math

import numpy as np
import pytest
from asimpy import Environment, Process, Timeout

from pubsub import Scenario, simulate
from pubsub.broker import Broker
from pubsub.consumer import Consumer
from pubsub.mailbox import Mailbox
from pubsub.message import Copy, Message
from pubsub.publisher import Publisher
from pubsub.recorder import Recorder
from pubsub.subscription import Subscription
from tests.pubsub.helpers import Recording

OVERLOADED = dict(publish_rate=1.5, service="fixed", duration=2000.0, warmup=200.0, seed=6)


def test_drop_refuses_copies_beyond_capacity():
    result = simulate(Scenario(queue_capacity=5, overflow="drop", **OVERLOADED))
    s = result.summary
    assert s["dropped"] > 0.25 * s["published"]
    assert result.backlog["depth"].max() <= 5
    assert s["backlog_max"] <= 5
    assert s["throughput"] == pytest.approx(1.0, rel=0.02)


def test_block_slows_the_publisher_and_drops_nothing():
    result = simulate(Scenario(queue_capacity=5, overflow="block", **OVERLOADED))
    s = result.summary
    assert s["dropped"] == 0
    assert s["backlog_max"] == 5
    assert result.backlog["depth"].max() <= 5
    # Backpressure: the publisher can only go as fast as the consumer.
    assert s["published"] / s["duration"] == pytest.approx(1.0, rel=0.02)


def test_block_waits_for_every_subscription_of_the_topic():
    s = simulate(
        Scenario(queue_capacity=3, overflow="block", subscribers=2, group_size=2, dispatch="round-robin", **OVERLOADED)
    ).summary
    assert s["dropped"] == 0 and s["backlog_max"] <= 2 * 2 * 3


def test_redeliveries_go_back_even_to_a_full_queue():
    s = simulate(
        Scenario(queue_capacity=2, overflow="drop", ack=True, ack_timeout=0.5, failure_prob=0.5, **OVERLOADED)
    ).summary
    assert s["redelivered"] > 0
    assert s["dropped"] > 0


OUTAGE = dict(
    publish_rate=0.5,
    group_size=1,
    service="exponential",
    outage_start=1000.0,
    outage_duration=200.0,
    duration=4000.0,
    warmup=100.0,
    seed=3,
)


def test_outage_builds_a_backlog_that_drains():
    trace = Recording()
    result = simulate(Scenario(**OUTAGE), trace=trace)
    s = result.summary
    during = [e for e in trace.of("taken") if 1000.0 < e[1] < 1200.0]
    assert during == []
    at_end = result.backlog.query("time == 1200.0")["depth"].sum()
    assert at_end == pytest.approx(0.5 * 200, rel=0.3)
    # Drains at μ − λ = 0.5/s: about 100 copies in about 200 s.
    assert 50 < s["drain_time"] < 600
    assert s["drain_time"] == pytest.approx(drain_time_of(trace, 1000.0, 1200.0), rel=1e-12)


def drain_time_of(trace: Recording, start: float, end: float) -> float:
    """The drain time by its definition, from one subscription's trace: copies waiting = published − taken.

    (A copy handed straight to an idle consumer is published and taken at the same moment.)
    """
    published = np.array([e[1] for e in trace.of("published")])
    taken = np.array([e[1] for e in trace.of("taken")])

    def waiting(t: float) -> int:  # just after everything that happened at t
        return int(np.count_nonzero(published <= t) - np.count_nonzero(taken <= t))

    before = waiting(start)
    for t in [end, *sorted(taken[taken > end])]:  # the backlog falls only when a copy is taken
        if waiting(t) <= before:
            return t - end
    return math.nan


def test_work_in_progress_finishes_during_an_outage():
    trace = Recording()
    simulate(
        Scenario(
            publish_rate=0.9,
            service="fixed",
            service_time=1.0,
            outage_start=500.0,
            outage_duration=100.0,
            duration=1000.0,
            warmup=0.0,
            seed=1,
        ),
        trace=trace,
    )
    finished = [e for e in trace.of("finished") if 500.0 < e[1] < 600.0]
    assert len(finished) <= 1


def test_drain_time_is_nan_when_the_outage_outlasts_the_run():
    busy = simulate(Scenario(**{**OUTAGE, "outage_duration": 5000.0})).summary
    assert busy["backlog_final"] > 1000 and math.isnan(busy["drain_time"])
    # Nothing arrives during this one, so the backlog is back to its level at once, but the outage never ended.
    quiet = dict(arrivals="fixed", publish_rate=0.001, service="fixed", duration=1500.0, warmup=0.0)
    summary = simulate(Scenario(**quiet, outage_start=1200.0, outage_duration=500.0)).summary
    assert summary["published"] == 1 and summary["backlog_final"] == 0
    assert math.isnan(summary["drain_time"])
    assert simulate(Scenario(**quiet, outage_start=1200.0, outage_duration=300.0)).summary["drain_time"] == 0.0


def test_an_outage_shorter_than_a_second_still_holds_what_arrives_during_it():
    trace = Recording()
    s = Scenario(publish_rate=4.0, arrivals="fixed", service="fixed", service_time=0.1, outage_start=100.0,
                 outage_duration=0.5, duration=200.0, warmup=10.0)  # fmt: skip
    summary = simulate(s, trace=trace).summary
    held = [e[1] for e in trace.of("published") if 100.0 <= e[1] < 100.5]
    assert len(held) == 2 and not [e for e in trace.of("taken") if 100.0 < e[1] < 100.5]
    assert sum(e[1] == 100.5 for e in trace.of("taken")) == 1  # the first at once, the second when it is done
    assert summary["drain_time"] == pytest.approx(drain_time_of(trace, 100.0, 100.5)) and summary["drain_time"] > 0


def test_drain_time_is_nan_without_outage_or_recovery():
    assert math.isnan(simulate(Scenario(duration=200.0, warmup=10.0)).summary["drain_time"])
    never = simulate(Scenario(**{**OUTAGE, "publish_rate": 0.99, "duration": 1300.0})).summary
    assert math.isnan(never["drain_time"])


def test_a_copy_handed_to_a_get_that_is_then_cancelled_goes_back_to_the_head_of_its_own_queue():
    """A consumer may crash or retire in the instant a copy is handed to its get: the copy goes back where it was,
    a redelivery ahead of the other redeliveries, still known to be waiting there."""
    env = Environment()
    box = Mailbox(env, None)
    first, second, new = (Copy(Message(i, "t", 0, 0.0, False), box, 1.0, False) for i in range(3))
    first.deliveries = second.deliveries = 1
    waiting = box.get()
    box.requeue(0.0, first)  # handed straight to the waiting get
    assert waiting.triggered
    waiting.cancel()
    assert first.mailbox is box and len(box) == 1
    box.requeue(0.0, second)
    box.put(0.0, new)
    assert [box.take(1.0) for _ in range(3)] == [first, second, new]


def test_a_get_takes_a_copy_already_waiting_at_once_and_at_that_time():
    """`get` (a consumer listening to several subscriptions) hands over what already waits, without a wait."""
    env = Environment()
    box = Mailbox(env, None)
    waiting = Copy(Message(0, "t", 0, 0.0, False), box, 1.0, False)
    box.put(0.0, waiting)
    got = []

    class Taker(Process):
        async def run(self):
            await Timeout(self._env, 5.0)
            got.append((self._env.now, await box.get()))

    Taker(env)
    env.run(until=10.0)
    assert got == [(5.0, waiting)] and list(box.left) == [5.0]


def test_a_hand_built_subscription_refuses_an_unknown_overflow_and_works_one_second_per_copy_by_default():
    env, recorder = Environment(), Recorder()
    consumer = Consumer(env, "c0")
    with pytest.raises(ValueError, match="overflow: unknown policy 'spill'; choose drop or block"):
        Subscription(env, "s", "t", [consumer], recorder, overflow="spill")
    broker = Broker(recorder)
    broker.subscribe(Subscription(env, "s", "t", [consumer], recorder))
    Publisher(env, "p", broker, "t", iter([0.5, 1e12]))
    env.run(until=10.0)
    assert recorder.processed == 1 and consumer.busy_time == 1.0  # and a hand-built consumer has no warm-up
    assert consumer.busy_since == 0.5  # nor a start-up: it took the copy on arrival
