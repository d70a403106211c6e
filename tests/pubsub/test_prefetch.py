"""Prefetch: the broker pushes copies into consumers' buffers, up to `prefetch` unfinished each."""

import itertools

import numpy as np
import pytest
from asimpy import Environment

from pubsub import Scenario, simulate
from pubsub import subscription as subscription_module
from pubsub.broker import Broker
from pubsub.consumer import Consumer
from pubsub.dispatch import Prefetch
from pubsub.publisher import Publisher
from pubsub.recorder import Recorder
from pubsub.simulation import build
from pubsub.subscription import Subscription
from pubsub.work import Work
from tests.pubsub.helpers import Recording, nan_safe

SCENARIOS = [
    dict(publish_rate=1.6, group_size=2),
    dict(publish_rate=2.5, group_size=3, service="lognormal", service_cv=2.0, ack=True, ack_timeout=2.0,
         failure_prob=0.2, max_deliveries=3, idempotent=True),
    dict(publish_rate=2.0, group_size=3, ack=True, ack_timeout=5.0, failure_prob=0.3, nack=True,
         retry_delay=0.5, retry_backoff="exponential", poison_prob=0.02, max_deliveries=4),
    dict(publish_rate=1.5, group_size=2, delivery_delay=0.3, service_overhead=0.1, queue_capacity=3),
    dict(publish_rate=1.8, group_size=2, queue_capacity=2, overflow="block", outage_start=100.0,
         outage_duration=60.0),
]  # fmt: skip


@pytest.mark.parametrize("fields", SCENARIOS)
def test_prefetch_of_one_is_shared_exactly(fields, monkeypatch):
    s = Scenario(dispatch="shared", duration=600.0, warmup=60.0, seed=5, **fields)
    shared = simulate(s).summary
    monkeypatch.setattr(subscription_module, "prefetch_of", lambda s: s.prefetch)  # push even at prefetch 1
    pushed = simulate(s).summary
    assert shared["processed"] > 200
    # Latencies and counts are identical; which idle consumer gets a copy may differ (round-robin rather than
    # longest idle), and a copy pushed on arrival logs a zero-length wait, so sums over consumers and over
    # waits add the same terms in another order: equal to rounding. The busiest consumer's share of the work
    # is what differs with who gets each copy: it is not compared.
    shared, pushed = nan_safe(shared), nan_safe(pushed)
    del shared["utilization_max"], pushed["utilization_max"]
    exact = [m for m in shared if not isinstance(shared[m], float) or m.startswith(("latency", "wait"))]
    assert {m: pushed[m] for m in exact} == {m: shared[m] for m in exact}
    assert {m: pytest.approx(pushed[m], rel=1e-12) for m in shared if m not in exact} == {
        m: shared[m] for m in shared if m not in exact
    }


def test_the_broker_pushes_from_a_prefetch_of_two_and_a_prefetch_of_one_is_plain_shared():
    assert subscription_module.prefetch_of(Scenario(dispatch="shared", prefetch=2)) == 2
    assert subscription_module.prefetch_of(Scenario(dispatch="shared")) is None


def test_the_broker_pushes_round_robin_to_consumers_with_room():
    env, trace, recorder = Environment(), Recording(), Recorder()
    broker = Broker(recorder)
    consumers = [Consumer(env, f"c{i}", trace=trace) for i in range(2)]
    subscription = Subscription(env, "s", "t", consumers, recorder, dispatch="shared", trace=trace,
                                work=Work.constant(1.0), prefetch=2)  # fmt: skip
    broker.subscribe(subscription)
    Publisher(env, "p", broker, "t", itertools.chain([1.0], itertools.repeat(0.1, 4), [1e12]), trace=trace)
    env.run(until=1.45)
    # Messages 0–3 are pushed at once, alternately; c0 and c1 then hold two each, so message 4 waits.
    assert (recorder.delivered, len(subscription.mailboxes[0])) == (4, 1)
    env.run(until=20.0)
    # Each consumer works through its own buffer in order; c0 finishes first, at 2.0, and gets message 4.
    started = [(e[1], e[2], e[3]) for e in trace.of("taken")]
    assert started == [(1.0, "c0", 0), (1.1, "c1", 1), (2.0, "c0", 2), (2.1, "c1", 3), (3.0, "c0", 4)]
    assert recorder.processed == 5


def test_pushes_go_round_the_consumers_in_index_order():
    env, trace, recorder = Environment(), Recording(), Recorder()
    broker = Broker(recorder)
    consumers = [Consumer(env, f"c{i}", trace=trace) for i in range(3)]
    subscription = Subscription(env, "s", "t", consumers, recorder, dispatch="shared", trace=trace,
                                work=Work.constant(1.0), prefetch=2)  # fmt: skip
    broker.subscribe(subscription)
    Publisher(env, "p", broker, "t", itertools.chain([1.0], itertools.repeat(0.1, 5), [1e12]), trace=trace)
    env.run(until=20.0)
    takers = [(e[2], e[3]) for e in trace.of("taken")]
    assert takers == [("c0", 0), ("c1", 1), ("c2", 2), ("c0", 3), ("c1", 4), ("c2", 5)]


def test_a_full_consumers_turn_passes_to_the_next_consumer_with_room():
    """Round-robin among those with room: while c1 holds a long job, c2 and c0 alternate; c0 never takes c1's turn."""
    env, trace, recorder = Environment(), Recording(), Recorder()
    broker = Broker(recorder)
    consumers = [Consumer(env, f"c{i}", trace=trace) for i in range(3)]
    services = itertools.chain([1.0, 100.0], itertools.repeat(1.0))
    subscription = Subscription(env, "s", "t", consumers, recorder, dispatch="shared", trace=trace,
                                work=Work(services), prefetch=1)  # fmt: skip
    broker.subscribe(subscription)
    # Three at once fill every buffer; then one every 2 s, each finished before the next arrives.
    Publisher(env, "p", broker, "t", itertools.chain([1.0, 0.1, 0.1], itertools.repeat(2.0, 6), [1e12]), trace=trace)
    env.run(until=50.0)
    takers = [e[2] for e in trace.of("taken")]
    assert takers == ["c0", "c1", "c2", "c0", "c2", "c0", "c2", "c0", "c2"]


def test_a_large_prefetch_hurts_the_tail_when_service_times_vary():
    """RabbitMQ's advice, measured: copies queued behind a long job in one consumer's buffer wait while others idle."""
    p99 = {1: [], 20: []}
    for seed in range(3):
        for prefetch in p99:
            s = Scenario(dispatch="shared", group_size=4, publish_rate=2.8, service="lognormal", service_cv=3.0,
                         prefetch=prefetch, duration=10_000.0, warmup=1000.0, seed=seed)  # fmt: skip
            p99[prefetch].append(simulate(s).summary["latency_p99"])
    assert all(np.array(p99[20]) > 1.5 * np.array(p99[1])), p99


def test_a_buffer_holds_what_it_was_given_and_not_yet_finished_however_copies_leave_it(monkeypatch):
    """`held` is the buffered copies plus at most the one in service, never above `prefetch`: checked at every push,
    while buffered copies expire, are acknowledged by another attempt, or fail."""
    checked = []
    original = Prefetch.push

    def push(self, now):
        for buffer in self.buffers:
            assert len(buffer) <= buffer.held <= min(len(buffer) + 1, self.prefetch), (now, buffer.consumer)
        checked.append(now)
        original(self, now)

    monkeypatch.setattr(Prefetch, "push", push)
    s = Scenario(dispatch="shared", group_size=3, prefetch=4, publish_rate=2.5, service="lognormal", service_cv=2.0,
                 ack=True, ack_timeout=2.0, failure_prob=0.2, max_deliveries=3, duration=500.0, seed=4)  # fmt: skip
    summary = simulate(s).summary
    assert len(checked) > 1000 and summary["redelivered"] > 100


def test_a_delivery_that_expires_in_a_buffer_leaves_it_and_counts_as_no_attempt():
    """Expired while buffered: back to the queue, and at the delivery limit dead-lettered, never stuck in flight."""
    s = Scenario(dispatch="shared", prefetch=6, publish_rate=0.8, service="fixed", ack=True, ack_timeout=1.5,
                 failure_prob=0.5, max_deliveries=2, duration=300.0, warmup=0.0, seed=1)  # fmt: skip
    env, trace = Environment(), Recording()
    model = build(env, s, trace)
    env.run(until=s.duration)
    (subscription,) = model.subscriptions
    assert model.recorder.dead_lettered > 10
    # Every copy still in flight is in a buffer, in service, or failed and awaiting its timeout.
    for copy in subscription.in_flight:
        assert copy.running >= 0 and copy.running <= 1 and not (copy.doomed and copy.running == 0)
    assert len(subscription.in_flight) <= s.prefetch + 2
