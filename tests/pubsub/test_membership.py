"""Groups whose membership changes under every dispatch: routes follow the members, waiting copies follow their
routes, cooperative rebalances stop only who gains, and prefetch buffers are worked off or lost."""

from collections import defaultdict

import pytest
from asimpy import Environment

from pubsub import Scenario, simulate
from pubsub.dispatch import KeyHash, Partitioned, RoundRobin, make_dispatch, partition, range_assignment
from pubsub.mailbox import Buffer, Mailbox
from pubsub.message import Copy, Message
from pubsub.rebalance import Rebalancer
from pubsub.simulation import build
from pubsub.subscription import Subscription
from tests.pubsub.helpers import Recording, times_consumers_leave

SCALED = dict(publish_rate=2.0, rate_profile="sine", rate_amplitude=0.9, rate_period=1500.0, group_size=2,
              autoscale=True, min_consumers=1, max_consumers=6, target_backlog=2.0, scale_interval=15.0,
              scale_down_delay=60.0, duration=3000.0, warmup=300.0)  # fmt: skip
CRASHY = dict(publish_rate=1.5, group_size=3, crash_rate=0.02, restart_time=15.0, duration=3000.0, warmup=0.0)


class Idle:
    busy = 0


def fill(dispatch, keys: list[int]) -> list[Copy]:
    """One new copy per key, in order, put where the dispatch routes it."""
    copies = []
    for i, key in enumerate(keys):
        mailbox = dispatch.route(key)
        copy = Copy(Message(i, "t", key, float(i), False), mailbox, 1.0, False)
        mailbox.put(float(i), copy)
        copies.append(copy)
    return copies


def where(dispatch) -> dict[int, list[Copy]]:
    return {box.consumer: list(box.retries) + list(box.items) for box in dispatch.mailboxes}


@pytest.mark.parametrize("kind, partitions", [(Partitioned, 6), (Partitioned, 2), (KeyHash, 2)])
def test_waiting_copies_follow_their_partition_in_order_when_a_member_joins_and_another_leaves(kind, partitions):
    env = Environment()
    dispatch = kind(lambda i: Mailbox(env, consumer=i), [Idle(), Idle()], keys=40, partitions=partitions)
    copies = fill(dispatch, [k * 7 % 40 for k in range(200)])
    first = copies[0].mailbox.take(5.0)
    first.deliveries = 1
    copies[0].home.requeue(5.0, first)
    dispatch.add(Idle())

    def owners(members):
        count = partitions if kind is Partitioned else len(members)
        owner = [m for m, block in zip(members, range_assignment(count, len(members))) for _ in block]
        return [owner[partition(key, count)] for key in range(40)]

    for before, members in (([0, 1], [0, 1, 2]), ([0, 1, 2], [0, 2])):
        gainers = dispatch.reassign(members)
        dispatch.rehome(10.0)
        assert gainers == sorted({new for old, new in zip(owners(before), owners(members)) if new != old})
        queues = where(dispatch)
        assert sum(len(q) for q in queues.values()) == len(copies)  # nothing lost or doubled
        for consumer, queue in queues.items():
            for copy in queue:
                assert copy.mailbox is dispatch.mailboxes[consumer]
                assert owners(members)[copy.message.key] == consumer
            by_key = defaultdict(list)
            for copy in queue:
                if copy.deliveries == 0:
                    by_key[copy.message.key].append(copy.message.id)
            assert all(ids == sorted(ids) for ids in by_key.values())  # publish order kept per key
        redelivered = copies[0]
        assert redelivered.mailbox.retries[0] is redelivered  # still ahead of the new copies
    assert not where(dispatch)[1]  # consumer 1 left: nothing waits for it


def test_a_member_beyond_the_partition_count_gains_nothing_and_moves_nothing():
    env = Environment()
    dispatch = Partitioned(lambda i: Mailbox(env, consumer=i), [Idle(), Idle()], keys=30, partitions=2)
    copies = fill(dispatch, list(range(30)))
    before = {c.message.id: c.mailbox for c in copies}
    dispatch.add(Idle())
    assert dispatch.reassign([0, 1, 2]) == []
    dispatch.rehome(1.0)
    assert {c.message.id: c.mailbox for c in copies} == before


def test_round_robin_skips_a_member_that_left_and_its_waiting_copies_go_round_the_others():
    env = Environment()
    dispatch = RoundRobin(lambda i: Mailbox(env, consumer=i), [Idle(), Idle(), Idle()])
    fill(dispatch, [0] * 9)
    assert dispatch.reassign([0, 2]) == []
    dispatch.rehome(1.0)
    assert {i: len(q) for i, q in where(dispatch).items()} == {0: 3 + 2, 1: 0, 2: 3 + 1}
    assert {dispatch.route(0).consumer for _ in range(6)} == {0, 2}


def recorded_changes(monkeypatch, **fields):
    """Run, and record every membership change: (time, members before, members after, gainers)."""
    changes = []
    original = Subscription._regroup

    def regroup(self, now, members, joining):
        before = list(self.members)
        original(self, now, members, joining)
        changes.append((now, before, list(members), self.mailboxes))

    monkeypatch.setattr(Subscription, "_regroup", regroup)
    s = Scenario(**fields)
    env, trace = Environment(), Recording()
    model = build(env, s, trace)
    env.run(until=s.duration)
    return s, model, trace, changes


@pytest.mark.parametrize("dispatch", ["round-robin", "least-loaded", "key-hash", "partitioned"])
def test_after_a_crash_no_copy_waits_for_the_crashed_consumer_while_another_is_up(monkeypatch, dispatch):
    lengths = []
    original = Subscription.left

    def left(self, now, consumer):
        original(self, now, consumer)
        if self.members:
            lengths.append(len(self.mailboxes[self.consumers.index(consumer)]))

    monkeypatch.setattr(Subscription, "left", left)
    extra = {"partitions": 12} if dispatch == "partitioned" else {}
    summary = simulate(Scenario(dispatch=dispatch, keys=50, seed=3, **CRASHY, **extra)).summary
    assert summary["crashes"] > 50 and len(lengths) > 50 and set(lengths) == {0}


@pytest.mark.parametrize("dispatch", ["key-hash", "partitioned"])
def test_a_cooperative_rebalance_stops_only_who_gains_keys_and_an_eager_one_stops_everyone(monkeypatch, dispatch):
    pauses = defaultdict(list)
    original = Rebalancer.changed

    def changed(self, now, subscription, joining, gainers):
        whom = set(gainers) | ({subscription.consumers.index(joining)} if joining is not None else set())
        pauses[self.mode].append((now, whom, list(subscription.members)))
        original(self, now, subscription, joining, gainers)

    monkeypatch.setattr(Rebalancer, "changed", changed)
    extra = {"partitions": 12} if dispatch == "partitioned" else {}
    base = dict(dispatch=dispatch, keys=60, seed=5, rebalance_time=4.0, **CRASHY, **extra)
    coop = simulate(Scenario(rebalance="cooperative", **base)).summary
    eager = simulate(Scenario(rebalance="eager", **base)).summary
    assert coop["rebalances"] == len(pauses["cooperative"]) > 50
    # Some cooperative changes stop fewer than every member (a crash's survivors that gain nothing go on).
    assert any(len(whom) < len(members) for _, whom, members in pauses["cooperative"])
    assert coop["paused_seconds"] < eager["paused_seconds"]
    assert coop["latency_p99"] < eager["latency_p99"]


def test_a_crash_loses_its_whole_prefetch_buffer_without_acks_and_nothing_with_acks(monkeypatch):
    held = []
    original = Subscription.left

    def left(self, now, consumer):
        held.append(self.dispatch.buffers[self.consumers.index(consumer)].held)
        original(self, now, consumer)

    monkeypatch.setattr(Subscription, "left", left)
    fields = dict(dispatch="shared", prefetch=5, seed=2, **CRASHY)
    plain = simulate(Scenario(**fields)).summary
    assert plain["crashes"] == len(held) > 50 and sum(held) > len(held)  # buffers, not just the attempt
    assert plain["lost"] == sum(held)
    held.clear()
    acked = simulate(Scenario(ack=True, ack_timeout=6.0, **fields)).summary
    assert acked["lost"] == 0 and acked["redelivered"] >= sum(held) > 50


def test_copies_lost_with_a_prefetch_buffer_are_lost_when_their_consumer_crashes(monkeypatch):
    crashes = times_consumers_leave(monkeypatch)  # (no consumer retires here)
    s = Scenario(dispatch="shared", prefetch=5, seed=2, **CRASHY)
    env, trace = Environment(), Recording()
    model = build(env, s, trace)
    env.run(until=s.duration)
    lost = trace.of("lost")
    assert len(lost) == model.recorder.lost > len(crashes) > 50  # buffers, not just the attempt
    assert {now for _, now, *_ in lost} <= set(crashes)


def test_a_buffer_paused_by_a_cooperative_rebalance_is_filled_the_moment_it_resumes(monkeypatch):
    resumed = []
    original = Rebalancer._resume

    def resume(self, at, mailbox):
        original(self, at, mailbox)
        if isinstance(mailbox, Buffer) and not mailbox.paused:
            queue = model.subscriptions[0].dispatch.queue
            resumed.append(mailbox.held == s.prefetch or len(queue) == 0 or not mailbox.open)  # (crashed again)

    monkeypatch.setattr(Rebalancer, "_resume", resume)
    s = Scenario(dispatch="shared", prefetch=3, rebalance="cooperative", rebalance_time=5.0, **CRASHY)
    env = Environment()
    model = build(env, s)
    env.run(until=s.duration)
    assert len(resumed) > 50 and all(resumed)


def test_a_retired_prefetch_consumer_works_off_its_buffer_and_then_stops(monkeypatch):
    buffered = []
    original = Subscription.retire

    def retire(self, now, consumer):
        buffered.append(len(self.dispatch.buffers[self.consumers.index(consumer)]))
        original(self, now, consumer)

    monkeypatch.setattr(Subscription, "retire", retire)
    s = Scenario(dispatch="shared", prefetch=4, seed=9, ack=True, ack_timeout=1000.0, **SCALED)
    env, trace = Environment(), Recording()
    model = build(env, s, trace)
    env.run(until=s.duration)
    (subscription,) = model.subscriptions
    retired = [c for c in subscription.consumers if c.stopped_at < s.duration]
    assert len(retired) > 5 and sum(buffered) > 5  # some left with copies in their buffers
    for consumer in retired:
        buffer = subscription.dispatch.buffers[subscription.consumers.index(consumer)]
        assert len(buffer) == 0 and buffer.held == 0
    assert model.recorder.redelivered == 0  # nothing it held was cut or handed back


@pytest.mark.parametrize("dispatch", ["round-robin", "least-loaded", "key-hash", "partitioned"])
def test_autoscaling_works_for_every_dispatch_within_its_bounds(dispatch):
    extra = {"partitions": 4} if dispatch == "partitioned" else {}
    s = simulate(Scenario(dispatch=dispatch, keys=40, seed=1, **SCALED, **extra)).summary
    fixed = {k: v for k, v in SCALED.items() if k not in ("autoscale", "min_consumers", "max_consumers",
             "target_backlog", "scale_interval", "scale_down_delay")}  # fmt: skip
    small = simulate(Scenario(dispatch=dispatch, keys=40, seed=1, **{**fixed, "group_size": 1}, **extra)).summary
    assert s["scale_ups"] > 3 and s["scale_downs"] > 3 and 1 <= s["group_size_mean"] <= s["group_size_max"] <= 6
    assert s["latency_p99"] < small["latency_p99"]


def test_a_round_robin_redelivery_whose_consumer_is_down_goes_to_a_member(monkeypatch):
    s = Scenario(dispatch="round-robin", ack=True, ack_timeout=4.0, failure_prob=0.2, seed=4, **CRASHY)
    env = Environment()
    model = build(env, s)
    (subscription,) = model.subscriptions
    homes = []
    original = Mailbox.requeue

    def requeue(self, now, copy):
        homes.append((self.consumer in subscription.members, bool(subscription.members)))
        original(self, now, copy)

    monkeypatch.setattr(Mailbox, "requeue", requeue)
    env.run(until=s.duration)
    assert len(homes) > 500 and all(member for member, anyone in homes if anyone)


def test_the_broker_pushes_nothing_to_a_hired_consumer_before_it_has_started_up(monkeypatch):
    pushed = []
    original = Buffer.put

    def put(self, now, copy):
        pushed.append((now, self.consumer))
        original(self, now, copy)

    monkeypatch.setattr(Buffer, "put", put)
    s = Scenario(dispatch="shared", prefetch=3, seed=3, startup_time=20.0, **SCALED)
    env = Environment()
    model = build(env, s)
    env.run(until=s.duration)
    (subscription,) = model.subscriptions
    hired = {i: c for i, c in enumerate(subscription.consumers) if c.started_at > 0}
    assert len(hired) > 5
    early = [(at, i) for at, i in pushed if i in hired and at < hired[i].started_at + 20.0]
    assert not early and any(i in hired for _, i in pushed)


def test_make_dispatch_names_what_it_refuses():
    env = Environment()
    with pytest.raises(ValueError, match="dispatch: unknown policy 'random'; choose from round-robin, shared"):
        make_dispatch("random", env, [Idle()], None, 1)
    with pytest.raises(ValueError, match=r"prefetch \(4\) needs dispatch='shared', not 'key-hash'"):
        make_dispatch("key-hash", env, [Idle()], None, 1, prefetch=4)
