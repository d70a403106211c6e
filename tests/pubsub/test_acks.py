"""Acknowledgments: redelivery at the visibility timeout, dead letters, duplicates, idempotence."""

import itertools
import math

import pytest
from asimpy import Environment

from pubsub import WALL_CLOCK_METRICS, Scenario, simulate
from pubsub.acks import Acknowledgments
from pubsub.broker import Broker
from pubsub.consumer import Consumer
from pubsub.outage import Outage
from pubsub.publisher import Publisher
from pubsub.recorder import Recorder
from pubsub.subscription import Subscription
from pubsub.work import Work
from tests.pubsub.helpers import Recording, nan_safe, one_message_topology


def test_unacknowledged_message_is_redelivered_exactly_when_its_timeout_expires():
    env, trace, recorder, _ = one_message_topology(service=1.0, timeout=5.0, max_deliveries=3)
    env.run(until=100.0)
    assert [e[1] for e in trace.of("taken")] == [2.0, 7.0, 12.0]
    assert [e[1] for e in trace.of("requeued")] == [7.0, 12.0]
    assert [e[1] for e in trace.of("dead_lettered")] == [17.0]
    assert (recorder.delivered, recorder.redelivered, recorder.dead_lettered, recorder.processed) == (3, 2, 1, 0)


def test_visibility_timeout_starts_when_taken_not_when_published():
    env, trace, _, subscription = one_message_topology(service=1.0, timeout=5.0, max_deliveries=2)
    Outage(env, subscription, 0.0, 10.0)  # published at 2.0, but nobody may take it before 10.0
    env.run(until=100.0)
    assert [e[1] for e in trace.of("taken")] == [10.0, 15.0]
    assert [e[1] for e in trace.of("dead_lettered")] == [20.0]


def test_processing_longer_than_the_timeout_makes_a_duplicate():
    env, trace, recorder, _ = one_message_topology(service=2.0, timeout=1.5, group=2, fails=False)
    env.run(until=100.0)
    taken = trace.of("taken")
    assert [(e[1], e[2]) for e in taken] == [(2.0, "c0"), (3.5, "c1")]
    assert (recorder.processed, recorder.duplicates, recorder.redelivered) == (1, 1, 1)


def test_waiting_in_a_long_queue_is_not_redelivered():
    s = simulate(
        Scenario(
            publish_rate=0.95,
            arrivals="poisson",
            service="fixed",
            ack=True,
            ack_timeout=1.5,
            duration=5000.0,
            warmup=500.0,
            seed=3,
        )
    ).summary
    assert s["wait_mean"] > 5 * 1.5
    assert s["redelivered"] == s["duplicates"] == 0


@pytest.mark.parametrize("p", [0.1, 0.3, 0.6])
def test_redeliveries_per_processed_copy_is_p_over_1_minus_p(p):
    s = simulate(
        Scenario(
            publish_rate=0.2,
            service="fixed",
            ack=True,
            failure_prob=p,
            ack_timeout=2.0,
            duration=60_000.0,
            warmup=100.0,
            seed=11,
        )
    ).summary
    expected = p / (1 - p)
    # Deliveries per copy are geometric: variance p/(1-p)^2 per copy.
    se = math.sqrt(p / (1 - p) ** 2 / s["processed"])
    assert s["redelivered"] / s["processed"] == pytest.approx(expected, abs=4 * se)
    assert s["duplicates"] == s["dead_lettered"] == 0


@pytest.mark.parametrize("p, k", [(0.5, 1), (0.5, 2), (0.3, 3)])
def test_dead_lettered_fraction_is_p_to_the_k(p, k):
    s = simulate(
        Scenario(
            publish_rate=0.2,
            service="fixed",
            ack=True,
            failure_prob=p,
            ack_timeout=2.0,
            max_deliveries=k,
            duration=60_000.0,
            warmup=100.0,
            seed=12,
        )
    ).summary
    settled = s["processed"] + s["dead_lettered"]
    fraction = s["dead_lettered"] / settled
    se = math.sqrt(p**k * (1 - p**k) / settled)
    assert fraction == pytest.approx(p**k, abs=4 * se)
    assert s["delivered"] <= k * s["published"]


def test_idempotent_consumers_suppress_exactly_the_duplicates():
    fields = dict(
        publish_rate=1.0,
        group_size=3,
        dispatch="shared",
        service="lognormal",
        service_cv=1.5,
        ack=True,
        ack_timeout=2.0,
        failure_prob=0.1,
        duration=3000.0,
        warmup=100.0,
        seed=5,
    )
    plain = simulate(Scenario(**fields)).summary
    idempotent = simulate(Scenario(idempotent=True, **fields)).summary
    assert plain["duplicates"] > 50
    assert idempotent["duplicates"] == 0
    assert idempotent["suppressed"] == plain["duplicates"]
    differ = ("idempotent", "duplicates", "suppressed", *WALL_CLOCK_METRICS)
    assert nan_safe(idempotent, differ) == nan_safe(plain, differ)


def test_acknowledged_copy_waiting_for_redelivery_is_withdrawn():
    # Attempt 1 outlasts the timeout (requeued at 3.5) and succeeds at 4.0 while the
    # only consumer is still busy, so the requeued copy must leave the queue, not run again.
    env, trace, recorder, subscription = one_message_topology(service=2.0, timeout=1.5, fails=False)
    env.run(until=100.0)
    assert [e[1] for e in trace.of("requeued")] == [3.5]
    assert len(trace.of("taken")) == 1
    assert (recorder.processed, recorder.duplicates) == (1, 0)
    assert len(subscription.mailboxes[0]) == 0 and not subscription.in_flight


def test_failing_consumers_without_acknowledgments_are_refused():
    env = Environment()
    consumer = Consumer(env, "c")
    with pytest.raises(ValueError, match="need acknowledgments"):
        Subscription(env, "s", "t", [consumer], Recorder(), work=Work.constant(1.0, fails=True))
    env.run()  # the consumer, in no subscription, finishes at once


def test_constant_work_fails_every_attempt_or_none():
    failing, working = Work.constant(2.0, fails=True), Work.constant(3.0)
    assert [failing.first(), failing.retry(False), failing.first()] == [(2.0, True)] * 3
    assert [working.first(), working.retry(False), working.retry(True)] == [(3.0, False), (3.0, False), (3.0, True)]
    assert working.failures is None  # so a subscription needs no acknowledgments for it


@pytest.mark.parametrize("dispatch", ["shared", "round-robin"])
def test_a_copy_back_for_redelivery_is_taken_before_copies_already_waiting(dispatch):
    """As brokers do (RabbitMQ requeues in place, Kafka replays the failed offset, Redis consumers claim
    pending entries first): the copy whose timeout expired goes ahead of the new copies waiting."""
    env = Environment()
    trace = Recording()
    recorder = Recorder()
    broker = Broker(recorder)
    # One consumer; A is published at 1 and fails, B at 1.5 and C at 1.6 wait behind it.
    consumer = Consumer(env, "c0", trace=trace)
    acks = Acknowledgments(env, 2.0)
    # First attempts: A fails, B and C succeed; A's redelivery succeeds.
    work = Work(itertools.repeat(1.2), iter([True, False, False]), itertools.repeat(1.2), itertools.repeat(False))
    subscription = Subscription(
        env, "s", "t", [consumer], recorder, dispatch=dispatch, acks=acks, trace=trace, work=work
    )
    broker.subscribe(subscription)
    Publisher(env, "p", broker, "t", iter([1.0, 0.5, 0.1, 1e12]), trace=trace)
    env.run(until=20.0)
    # A fails at 2.2 and expires at 3.0, while B runs; C has waited since 1.6, but A goes first.
    taken = trace.of("taken")
    assert [e[3] for e in taken] == [0, 1, 0, 2]
    assert [e[1] for e in taken] == pytest.approx([1.0, 2.2, 3.4, 4.6])
