"""Negative acknowledgments with retry delays, and poison messages."""

from collections import defaultdict

import numpy as np
import pytest
from asimpy import Environment
from scipy.stats import binomtest

from pubsub import Scenario, simulate
from pubsub.acks import Acknowledgments
from pubsub.broker import Broker
from pubsub.consumer import Consumer
from pubsub.publisher import Publisher
from pubsub.recorder import Recorder
from pubsub.retries import Retries
from pubsub.subscription import Subscription
from pubsub.work import Work
from tests.pubsub.helpers import Recording, one_message_topology


def test_a_nack_returns_the_copy_after_the_delay_and_dead_letters_at_the_limit():
    env, trace, recorder, _ = one_message_topology(
        service=1.0, timeout=100.0, max_deliveries=3, retries=Retries(0.5, "exponential")
    )
    env.run(until=300.0)
    # Fails at 3, back at 3.5; fails at 4.5, back at 5.5; the third failure, at 6.5, dead-letters it at once.
    assert [e[1] for e in trace.of("taken")] == [2.0, 3.5, 5.5]
    assert [e[1] for e in trace.of("requeued")] == [3.5, 5.5]
    assert [e[1] for e in trace.of("dead_lettered")] == [6.5]
    assert (recorder.delivered, recorder.redelivered, recorder.dead_lettered) == (3, 2, 1)


def test_a_nack_for_a_delivery_that_already_timed_out_changes_nothing():
    env, trace, recorder, _ = one_message_topology(
        service=5.0, timeout=4.0, group=2, max_deliveries=3, retries=Retries(1.0)
    )
    env.run(until=300.0)
    # c0 takes it at 2; it times out at 6 and c1 takes it. c0's failure at 7 is for a delivery already
    # timed out: nothing comes back at 8. It times out again at 10 and c0 takes it; c1's failure at 11 is
    # stale too. The third delivery times out at 14 while running: its own failure, at 15, dead-letters it.
    assert [(e[1], e[2]) for e in trace.of("taken")] == [(2.0, "c0"), (6.0, "c1"), (10.0, "c0")]
    assert [e[1] for e in trace.of("requeued")] == [6.0, 10.0]
    assert [e[1] for e in trace.of("dead_lettered")] == [15.0]
    assert (recorder.delivered, recorder.dead_lettered, recorder.processed) == (3, 1, 0)


class PoisonTrace(Recording):
    def __init__(self):
        super().__init__()
        self.deliveries: dict[int, int] = {}
        self.poison: dict[int, bool] = {}

    def published(self, now, publisher, message):
        self.poison[message.id] = message.poison

    def taken(self, now, consumer, subscription, copy):
        self.deliveries[copy.message.id] = copy.deliveries

    def finished(self, now, consumer, subscription, copy, ok):
        assert not (ok and copy.message.poison), "a poison message was processed"


def test_poison_messages_are_delivered_max_deliveries_times_then_dead_lettered():
    poison, p, k = 0.1, 0.2, 3
    s = Scenario(
        publish_rate=2.0,
        group_size=4,
        dispatch="shared",
        service_time=0.5,
        ack=True,
        ack_timeout=100.0,  # no delivery times out: only failures count towards the limit
        failure_prob=p,
        max_deliveries=k,
        poison_prob=poison,
        nack=True,
        retry_delay=0.2,
        duration=5000.0,
        warmup=0.0,
        seed=4,
    )
    trace = PoisonTrace()
    summary = simulate(s, trace=trace).summary
    poisoned = [m for m, is_poison in trace.poison.items() if is_poison]
    settled = summary["processed"] + summary["dead_lettered"]
    # Every poison message that was settled took exactly k deliveries.
    assert {trace.deliveries[m] for m in poisoned[:-10]} == {k}
    # The poison fraction is the poison stream's, and the dead-lettered fraction adds the ordinary failures' p^k.
    assert binomtest(len(poisoned), len(trace.poison), poison).pvalue > 0.001
    expected = poison + (1 - poison) * p**k
    assert binomtest(summary["dead_lettered"], settled, expected).pvalue > 0.001


def test_without_a_delivery_limit_poison_copies_cycle_for_ever():
    s = Scenario(
        publish_rate=0.5,
        group_size=2,
        dispatch="shared",
        ack=True,
        ack_timeout=3.0,
        poison_prob=0.05,
        duration=2000.0,
        warmup=0.0,
        seed=2,
    )
    trace = PoisonTrace()
    summary = simulate(s, trace=trace).summary
    poisoned = sum(trace.poison.values())
    assert poisoned > 20 and summary["dead_lettered"] == 0
    assert summary["processed"] + summary["backlog_final"] + summary["in_flight_final"] == summary["published"]
    # Only what is not poison gets processed; poison copies keep coming back and crowd the group.
    assert summary["processed"] <= summary["published"] - poisoned
    assert summary["redelivered"] > 10 * poisoned


def test_poison_draws_belong_to_messages_not_to_dispatch():
    """Each message is poison or not the same way whatever the group and dispatch (its own stream)."""
    marks = []
    for fields in ({"group_size": 1}, {"group_size": 3, "dispatch": "shared"}, {"group_size": 2, "nack": True}):
        trace = PoisonTrace()
        simulate(Scenario(ack=True, poison_prob=0.3, duration=200.0, warmup=0.0, seed=9, **fields), trace=trace)
        marks.append(np.array([trace.poison[i] for i in range(50)]))
    assert marks[0].any() and all((m == marks[0]).all() for m in marks)


def test_backoff_doubles_from_the_first_delivery_up_to_its_cap_and_never_overflows():
    assert [Retries(0.5).delay_after(k) for k in (1, 2, 9)] == [0.5, 0.5, 0.5]
    assert [Retries(0.5, "exponential").delay_after(k) for k in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert [Retries(0.5, "exponential", 3.0).delay_after(k) for k in (3, 4, 50)] == [2.0, 3.0, 3.0]
    # A copy that keeps failing (poison, no limit) reaches thousands of deliveries.
    assert Retries(0.0, "exponential").delay_after(5000) == 0.0
    assert Retries(1.0, "exponential").delay_after(5000) > 1e300


@pytest.mark.parametrize(
    "policy",
    [{}, {"nack": True, "retry_delay": 0.5, "retry_backoff": "exponential", "retry_delay_max": 3.0}],
    ids=["timeout", "nack with backoff"],
)
def test_a_scenarios_retry_policy_decides_when_each_failed_copy_comes_back(policy):
    """Without nacks a failed copy comes back when its visibility timeout (30 s from its take) expires; with them,
    its k-th failure returns it min(0.5 · 2^(k−1), 3) s after that attempt ends."""
    s = Scenario(ack=True, ack_timeout=30.0, failure_prob=0.3, publish_rate=0.2, group_size=4, dispatch="shared",
                 service="fixed", duration=2000.0, warmup=0.0, seed=4, **policy)  # fmt: skip
    assert (Retries.of(s) is None) == (not policy)
    trace = Recording()
    simulate(s, trace=trace)
    takes, failed, back = defaultdict(list), defaultdict(list), defaultdict(list)
    for _, at, _, message in trace.of("taken"):
        takes[message].append(at)
    for _, at, _, message, ok in trace.of("finished"):
        if not ok:
            failed[message].append(at)
    for _, at, _, message in trace.of("requeued"):
        back[message].append(at)
    assert max(len(b) for b in back.values()) >= 3
    for message, returns in back.items():
        for k, at in enumerate(returns, start=1):
            if policy:
                assert at == pytest.approx(failed[message][k - 1] + min(0.5 * 2 ** (k - 1), 3.0)), (message, k)
            else:
                assert at == pytest.approx(takes[message][k - 1] + 30.0), (message, k)


def test_a_scenario_builds_a_retry_policy_only_when_it_nacks():
    assert Retries.of(Scenario(ack=True)) is None
    nacking = Scenario(ack=True, nack=True, retry_delay=0.5, retry_backoff="exponential", retry_delay_max=3.0)
    assert Retries.of(nacking) == Retries(0.5, "exponential", 3.0)


def nack_at_the_limit(first_fails: bool):
    """Delivery 1 (5 s) outlasts its 1 s timeout; delivery 2 (0.5 s) fails at once, at the limit of 2."""
    env, trace, recorder = Environment(), Recording(), Recorder()
    broker = Broker(recorder)
    consumers = [Consumer(env, f"c{i}", trace=trace) for i in range(2)]
    work = Work(iter([5.0]), iter([first_fails]), iter([0.5]), iter([True]))
    acks = Acknowledgments(env, 1.0, max_deliveries=2, retries=Retries(0.0))
    subscription = Subscription(env, "s", "t", consumers, recorder, dispatch="shared", acks=acks, trace=trace,
                                work=work)  # fmt: skip
    broker.subscribe(subscription)
    Publisher(env, "p", broker, "t", iter([2.0, 1e12]), trace=trace)
    env.run(until=50.0)
    assert [(e[1], e[2]) for e in trace.of("taken")] == [(2.0, "c0"), (3.0, "c1")]
    return trace, recorder, subscription


def test_a_nack_at_the_limit_waits_for_an_earlier_attempt_still_running():
    """The first attempt, still running, decides, as it would at a timeout. It succeeds: processed, not
    dead-lettered."""
    _, recorder, _ = nack_at_the_limit(first_fails=False)
    assert (recorder.processed, recorder.dead_lettered, recorder.duplicates) == (1, 0, 0)


def test_a_nack_at_the_limit_dead_letters_when_the_earlier_attempt_still_running_fails_too():
    """As above, but delivery 1 fails as well: when it ends, at 7, the copy is dead-lettered, not left in flight."""
    trace, recorder, subscription = nack_at_the_limit(first_fails=True)
    assert [e[1] for e in trace.of("dead_lettered")] == [7.0]
    assert (recorder.processed, recorder.dead_lettered) == (0, 1) and not subscription.in_flight
