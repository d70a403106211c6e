"""Consumers that take copies in batches."""

import collections
import itertools

import pytest
from asimpy import Environment

from pubsub import Scenario, simulate
from pubsub import simulation as simulation_module
from pubsub.acks import Acknowledgments
from pubsub.batches import Batches
from pubsub.broker import Broker
from pubsub.consumer import Consumer
from pubsub.publisher import Publisher
from pubsub.recorder import Recorder
from pubsub.subscription import Subscription
from pubsub.work import Work
from tests.pubsub.helpers import Recording, nan_safe


def batch_topology(batches: Batches, first_failures, timeout: float | None = None):
    """One consumer; messages at 1.0, 1.1, 1.2 and 1.3; every attempt takes 1 s."""
    env, trace, recorder = Environment(), Recording(), Recorder()
    broker = Broker(recorder)
    consumer = Consumer(env, "c0", trace=trace, batches=batches)
    work = Work(itertools.repeat(1.0), iter(first_failures), itertools.repeat(1.0), itertools.repeat(False))
    acks = Acknowledgments(env, timeout) if timeout is not None else None
    subscription = Subscription(env, "s", "t", [consumer], recorder, dispatch="shared", acks=acks, trace=trace,
                                work=work)  # fmt: skip
    broker.subscribe(subscription)
    Publisher(env, "p", broker, "t", iter([1.0, 0.1, 0.1, 0.1, 1e12]), trace=trace)
    return env, trace, recorder


def test_a_batch_takes_what_is_waiting_and_all_of_it_finishes_when_the_batch_ends():
    env, trace, recorder = batch_topology(Batches(3, 0.5), itertools.repeat(False), timeout=100.0)
    env.run(until=50.0)
    # Alone at 1.0 (it does not wait to fill a batch): 0.5 + 1 s. At 2.5 three wait: 0.5 + 3 s, all done at 6.
    assert [(e[1], e[3]) for e in trace.of("taken")] == [(1.0, 0), (2.5, 1), (2.5, 2), (2.5, 3)]
    assert [(e[1], e[3]) for e in trace.of("finished")] == [(2.5, 0), (6.0, 1), (6.0, 2), (6.0, 3)]
    assert recorder.processed == 4


def test_a_failed_attempt_in_a_batch_fails_its_copy_only():
    env, trace, recorder = batch_topology(Batches(3, 0.5), [False, False, True, False], timeout=10.0)
    env.run(until=50.0)
    # Message 2 failed in the batch taken at 2.5: it alone comes back when its timeout expires, at 12.5.
    assert [(e[1], e[3]) for e in trace.of("requeued")] == [(12.5, 2)]
    assert [(e[1], e[3], e[4]) for e in trace.of("finished")][1:] == [
        (6.0, 1, True), (6.0, 2, False), (6.0, 3, True), (14.0, 2, True),
    ]  # fmt: skip
    assert (recorder.processed, recorder.redelivered) == (4, 1)


SCENARIOS = [
    dict(publish_rate=0.9, service="fixed"),
    dict(publish_rate=2.5, group_size=3, dispatch="shared", ack=True, ack_timeout=2.0, failure_prob=0.2,
         max_deliveries=3, nack=True, retry_delay=0.5),
    dict(publish_rate=1.5, group_size=2, dispatch="least-loaded", delivery_delay=0.3, service_overhead=0.1),
    dict(publish_rate=2.5, group_size=3, dispatch="shared", prefetch=3, ack=True, ack_timeout=2.0, failure_prob=0.2),
    dict(publish_rate=2.0, group_size=2, dispatch="partitioned", partitions=3, ack=True, ack_timeout=1.5,
         failure_prob=0.1, queue_capacity=4, outage_start=100.0, outage_duration=50.0),
    dict(publish_rate=1.5, group_size=2, dispatch="shared", ack=True, ack_timeout=3.0, poison_prob=0.05,
         max_deliveries=3, nack=True, retry_delay=0.5),
    dict(publish_rate=1.5, dispatch="shared", prefetch=2, autoscale=True, max_consumers=6, target_backlog=1.0,
         scale_interval=10.0, scale_down_delay=20.0, rate_profile="sine", rate_period=150.0, rate_amplitude=0.8),
    dict(publish_rate=1.5, group_size=3, dispatch="shared", ack=True, ack_timeout=4.0, crash_rate=0.005,
         restart_time=10.0, sample_interval=1.0),
]  # fmt: skip


@pytest.mark.parametrize("fields", SCENARIOS)
def test_batches_of_one_at_no_cost_run_exactly_as_the_plain_consumer(fields, monkeypatch):
    s = Scenario(duration=600.0, warmup=60.0, seed=11, **fields)
    plain = simulate(s).summary
    monkeypatch.setattr(simulation_module.Batches, "of", classmethod(lambda cls, s: cls(1, 0.0)))
    batched = simulate(s).summary
    assert plain["processed"] > 200
    assert nan_safe(batched) == nan_safe(plain)


def test_consumers_the_scaler_hires_take_batches_too():
    trace = Recording()
    s = Scenario(publish_rate=6.0, dispatch="shared", service="fixed", service_time=0.25, batch_size=4,
                 batch_overhead=1.0, autoscale=True, max_consumers=4, target_backlog=2.0, scale_interval=10.0,
                 duration=300.0, warmup=0.0, seed=2)  # fmt: skip
    simulate(s, trace=trace)
    takes = collections.Counter((e[2], e[1]) for e in trace.of("taken"))  # copies per (consumer, instant)
    hired = {consumer for consumer, _ in takes} - {"t0/s0/c0"}
    assert len(hired) == 3
    for consumer in hired:
        sizes = [n for (c, _), n in takes.items() if c == consumer]
        assert sum(sizes) > 50 and max(sizes) == 4, consumer


@pytest.mark.parametrize(("size", "overhead"), [(1, 0.5), (5, 2.0), (10, 1.0), (4, 0.0)])
def test_an_overloaded_consumer_completes_size_copies_per_overhead_plus_their_service(size, overhead):
    service = 0.25
    capacity = size / (overhead + size * service)
    s = Scenario(publish_rate=1.5 * capacity, service="fixed", service_time=service, batch_size=size,
                 batch_overhead=overhead, duration=4000.0, warmup=400.0, seed=1)  # fmt: skip
    summary = simulate(s).summary
    assert summary["throughput"] == pytest.approx(capacity, rel=0.005)
    assert summary["utilization"] == pytest.approx(1.0)


def test_a_scenario_batches_only_when_it_asks_for_more_than_one_copy_or_a_cost():
    assert Batches.of(Scenario()) is None  # the plain consumer
    assert Batches.of(Scenario(batch_size=3)) == Batches(3, 0.0)
    assert Batches.of(Scenario(batch_overhead=0.5)) == Batches(1, 0.5)
