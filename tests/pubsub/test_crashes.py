"""Consumer crashes: what they lose without acknowledgments, and how acknowledgments save it."""

import itertools
from collections import defaultdict

import pytest
from asimpy import Environment

from pubsub import Scenario, simulate
from pubsub.broker import Broker
from pubsub.consumer import Consumer
from pubsub.publisher import Publisher
from pubsub.recorder import Recorder
from pubsub.simulation import build
from pubsub.subscription import Subscription
from pubsub.work import Work
from tests.pubsub.helpers import Recording, nan_safe, times_consumers_leave, watch

CRASHY = dict(publish_rate=1.5, group_size=3, dispatch="shared", crash_rate=0.02, restart_time=15.0,
              duration=3000.0, warmup=0.0, seed=6)  # fmt: skip


# Mostly idle: a restarted consumer often crashes again before it takes anything.
CHANGES = [{}, {"batch_size": 3}, {"publish_rate": 0.2, "crash_rate": 0.05, "restart_time": 2.0}]
CHANGE_IDS = ["one at a time", "batches", "mostly idle"]


def run(**changes):
    s = Scenario(**{**CRASHY, **changes})
    env, trace = Environment(), Recording()
    model = build(env, s, trace)
    env.run(until=s.duration)
    return s, model, trace


def unfinished(trace) -> list[tuple]:
    """(consumer, message, taken at) of attempts that never finished."""
    open_ = {(e[2], e[3]): e[1] for e in trace.of("taken")}
    for e in trace.of("finished"):
        open_.pop((e[2], e[3]), None)
    return [(c, m, at) for (c, m), at in open_.items()]


@pytest.mark.parametrize("changes", CHANGES, ids=CHANGE_IDS)
def test_without_acknowledgments_a_crash_loses_exactly_the_copies_in_its_attempt(changes):
    _, model, trace = run(**changes)
    cut = unfinished(trace)
    # A consumer busy at the end is in its last take (or batch): those attempts are unfinished, not lost.
    last_take = {e[2]: e[1] for e in trace.of("taken")}
    running = {(c.name, last_take[c.name]) for c in model.consumers if c.busy}
    lost = [(c, m) for c, m, at in cut if (c, at) not in running]
    assert model.recorder.crashes > 50 and len(lost) > 10
    assert model.recorder.lost == len(lost)
    processed = {e[3] for e in trace.of("finished")}
    assert not processed & {m for _, m in lost}  # a lost copy never comes back


@pytest.mark.parametrize("changes", CHANGES, ids=CHANGE_IDS)
def test_an_attempt_cut_by_a_crash_counts_as_busy_from_its_start_to_the_crash(changes):
    """Busy time per consumer, from the trace: each attempt (or batch: its copies share their take) from its take,
    or the warm-up's end, to its finish, to the crash that lost it, or to the end of the run."""
    s, model, trace = run(**changes, warmup=500.0)
    ends = {(e[2], e[3]): e[1] for e in trace.of("finished")}
    lost_at = {e[3]: e[1] for e in trace.of("lost")}
    attempts: dict[tuple[str, float], float] = {}
    for _, taken, consumer, message in trace.of("taken"):
        attempts[consumer, taken] = ends.get((consumer, message), lost_at.get(message, s.duration))
    busy: dict[str, float] = defaultdict(float)
    for (consumer, taken), end in attempts.items():
        busy[consumer] += max(0.0, end - max(taken, s.warmup))
    assert sum(1 for at in lost_at.values() if at > s.warmup) > 10
    running = {c.name: c.busy * max(0.0, s.duration - max(c.busy_since, s.warmup)) for c in model.consumers}
    assert {c.name: c.busy_time + running[c.name] for c in model.consumers} == pytest.approx(busy, rel=1e-9)


def ten_second_attempts(published: list[float], **consumer_fields):
    """One consumer (`consumer_fields` for its warm-up, delay) of messages published at `published` times, each
    attempt lasting 10 s, without acknowledgments."""
    env, recorder, trace = Environment(), Recorder(), Recording()
    broker = Broker(recorder)
    consumer = Consumer(env, "c0", trace=trace, **consumer_fields)
    broker.subscribe(Subscription(env, "s", "t", [consumer], recorder, work=Work.constant(10.0), trace=trace))
    gaps = [b - a for a, b in zip([0.0, *published], published)]
    Publisher(env, "p", broker, "t", iter([*gaps, 1e12]), trace=trace)
    return env, recorder, trace, consumer


@pytest.mark.parametrize(
    ("warmup", "delay", "crash_at", "busy"),
    [(0.0, 0.0, 8.0, 6.0), (5.0, 0.0, 8.0, 3.0), (9.0, 0.0, 8.0, 0.0), (0.0, 3.0, 4.0, 0.0), (0.0, 3.0, 8.0, 3.0)],
)
def test_a_crash_counts_the_attempts_busy_time_inside_the_window_from_its_start(warmup, delay, crash_at, busy):
    """A 10 s attempt on a message published at 2 s (starting `delay` later) is cut at `crash_at`."""
    env, recorder, _, consumer = ten_second_attempts([2.0], warmup=warmup, delivery_delay=delay)
    env.schedule(crash_at, lambda: consumer.crash(100.0))
    env.run(until=20.0)
    assert consumer.busy_time == busy and recorder.lost == 1 and not consumer.busy


def test_a_consumer_told_to_retire_mid_attempt_that_then_crashes_stops_at_the_crash():
    """Retiring waits for the attempt under way; a crash ends that attempt, and the consumer stops there."""
    env, _, trace, consumer = ten_second_attempts([2.0, 8.0])
    env.schedule(5.0, lambda: consumer.retire(5.0))
    env.schedule(7.0, lambda: consumer.crash(1.0))
    env.run(until=30.0)
    assert consumer.stopped_at == 7.0 and consumer.busy_time == 5.0
    assert [e[1] for e in trace.of("taken")] == [2.0] and [e[1] for e in trace.of("lost")] == [7.0]


def test_a_consumer_told_to_retire_is_never_crashed_while_it_finishes(monkeypatch):
    """Scale-in retires busy consumers too (after the idle ones); their crash clocks stop with that."""
    crashed_while_retiring, retired_busy = [], []
    watch(monkeypatch, Consumer, "crash", lambda consumer, restart: crashed_while_retiring.append(consumer.retiring))
    watch(monkeypatch, Consumer, "retire", lambda consumer, now: retired_busy.append(consumer.busy))
    s = Scenario(dispatch="shared", publish_rate=0.6, service="fixed", service_time=8.0, rate_profile="sine",
                 rate_amplitude=0.9, rate_period=600.0, autoscale=True, max_consumers=8, target_backlog=1.0,
                 scale_interval=15.0, scale_down_delay=0.0, crash_rate=0.05, restart_time=2.0, duration=3000.0,
                 warmup=0.0, seed=5)  # fmt: skip
    simulate(s)
    assert sum(retired_busy) > 20 and len(crashed_while_retiring) > 200
    assert not any(crashed_while_retiring)


def test_a_hired_consumer_that_crashes_leaves_its_own_group_in_every_topic_and_subscription(monkeypatch):
    left = []
    watch(monkeypatch, Subscription, "left", lambda subscription, now, consumer: left.append((subscription, consumer)))
    s = Scenario(topics=2, subscribers=3, dispatch="shared", publish_rate=2.0, autoscale=True, max_consumers=4,
                 target_backlog=1.0, scale_interval=10.0, crash_rate=0.01, restart_time=5.0, duration=600.0,
                 warmup=0.0, seed=4)  # fmt: skip
    simulate(s)
    assert all(consumer in subscription.consumers for subscription, consumer in left)
    hired = {subscription.name for subscription, consumer in left if subscription.consumers.index(consumer) > 0}
    assert hired == {f"t{t}/s{g}" for t in range(2) for g in range(3)}


def test_with_acknowledgments_nothing_is_lost_and_each_cut_copy_comes_back_at_its_timeout():
    s, model, trace = run(ack=True, ack_timeout=8.0)
    assert model.recorder.crashes > 50 and model.recorder.lost == 0
    requeued = {e[3]: e[1] for e in trace.of("requeued")}
    cut = [(c, m, at) for c, m, at in unfinished(trace) if at + 8.0 <= s.duration]
    assert len(cut) > 10
    for _, message, taken in cut:
        assert requeued[message] == pytest.approx(taken + 8.0)


def test_a_crash_dead_letters_a_copy_whose_last_delivery_already_timed_out(monkeypatch):
    """At the delivery limit, an attempt that outlives its timeout decides the copy's fate; if its consumer crashes
    first, the copy is dead-lettered then and there, not left in flight with nothing working on it."""
    crashes = times_consumers_leave(monkeypatch)  # (no consumer retires here)
    _, model, trace = run(ack=True, ack_timeout=0.8, max_deliveries=1)
    ended = {(e[1], e[3]) for e in trace.of("finished")}
    taken = {e[3]: e[1] for e in trace.of("taken")}  # (one delivery each)
    dead = [(at, message) for _, at, _, message in trace.of("dead_lettered")]
    # Dead-lettered as its attempt failed, at its timeout after a crash cut the attempt, or at the crash.
    expired = [(at, m) for at, m in dead if at == pytest.approx(taken[m] + 0.8)]
    at_crash = [(at, m) for at, m in dead if (at, m) not in ended and (at, m) not in expired]
    assert len(at_crash) > 10 and {at for at, _ in at_crash} <= set(crashes)
    (subscription,) = model.subscriptions
    assert all(copy.running > 0 or not copy.doomed for copy in subscription.in_flight)


def test_a_crashed_consumer_takes_nothing_until_it_restarts():
    s, _, trace = run()
    takes = defaultdict(list)
    for _, at, name, message in trace.of("taken"):
        takes[name].append((at, message))
    lost = {(c, m) for c, m, _ in unfinished(trace)}
    gaps = 0
    for name, events in takes.items():
        for (at, message), (next_at, _) in itertools.pairwise(events):
            if (name, message) in lost:
                assert next_at >= at + s.restart_time
                gaps += 1
    assert gaps > 10


def test_crashes_are_deterministic_and_their_own_draws():
    a = nan_safe(simulate(Scenario(**CRASHY)).summary)
    assert a == nan_safe(simulate(Scenario(**CRASHY)).summary)
    quiet = simulate(Scenario(**{**CRASHY, "crash_rate": 0.0, "restart_time": 0.0})).summary
    assert quiet["published"] == a["published"] and quiet["lost"] == quiet["crashes"] == 0
