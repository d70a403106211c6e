"""Rebalances: membership changes stop the whole group (eager) or only the joining consumer (cooperative)."""

import itertools

import pytest
from asimpy import Environment

from pubsub import Scenario, simulate
from pubsub.rebalance import Rebalancer
from pubsub.simulation import build
from tests.pubsub.helpers import Recording, watch

SCALED = dict(dispatch="shared", publish_rate=2.0, rate_profile="sine", rate_amplitude=0.9, rate_period=1500.0,
              group_size=2, autoscale=True, min_consumers=1, max_consumers=6, target_backlog=2.0,
              scale_interval=15.0, scale_down_delay=60.0, duration=3000.0, warmup=300.0)  # fmt: skip


@pytest.mark.parametrize("seed", range(3))
def test_eager_pauses_cost_more_tail_than_cooperative_and_cooperative_more_than_none(seed):
    p99 = {
        mode: simulate(Scenario(seed=seed, rebalance=mode, rebalance_time=pause, **SCALED)).summary["latency_p99"]
        for mode, pause in (("none", 0.0), ("cooperative", 5.0), ("eager", 5.0))
    }
    assert p99["none"] < p99["cooperative"] < p99["eager"]


def run_recording_changes(monkeypatch, **fields):
    changes = []

    def note(rebalancer, now, subscription, joining, gainers):
        changes.append((now, joining.name if joining is not None else None, len(subscription.members)))

    watch(monkeypatch, Rebalancer, "changed", note)
    s = Scenario(**fields)
    env, trace = Environment(), Recording()
    model = build(env, s, trace)
    env.run(until=s.duration)
    return s, model, trace, changes


def test_an_eager_rebalance_lets_nobody_take_a_copy_until_it_is_over(monkeypatch):
    _s, model, trace, changes = run_recording_changes(
        monkeypatch, publish_rate=1.5, group_size=3, dispatch="shared", crash_rate=0.01, restart_time=10.0,
        rebalance="eager", rebalance_time=3.0, duration=2000.0, warmup=0.0, seed=1,
    )  # fmt: skip
    assert len(changes) > 50 and model.recorder.crashes > 25
    takes = [e[1] for e in trace.of("taken")]
    for at, *_ in changes:
        assert not any(at < t < at + 3.0 for t in takes)
    (rebalancer,) = model.rebalancers
    assert rebalancer.rebalances == len(changes) and 0 < rebalancer.paused_seconds <= len(changes) * 3 * 3.0


def test_a_cooperative_rebalance_holds_back_only_the_joining_consumer(monkeypatch):
    _s, _model, trace, changes = run_recording_changes(
        monkeypatch, seed=2, rebalance="cooperative", rebalance_time=5.0, startup_time=2.0, **SCALED
    )
    joined = {name: at for at, name, _ in changes if name is not None}
    first_take = {}
    for _, at, name, _ in trace.of("taken"):
        first_take.setdefault(name, at)
    checked = 0
    for name, at in joined.items():
        if name in first_take:
            assert first_take[name] >= at + 5.0
            checked += 1
    assert checked > 5
    # The others keep taking copies through every change.
    takes = [e[1] for e in trace.of("taken")]
    assert any(at < t < at + 5.0 for at, *_ in changes for t in takes)


def test_an_eager_rebalance_charges_each_change_its_members_for_the_stop_it_adds(monkeypatch):
    """The group stops until 3 s after the latest change; a change inside a stop only adds its extension."""
    _s, model, _trace, changes = run_recording_changes(
        monkeypatch, publish_rate=1.5, group_size=3, dispatch="shared", crash_rate=0.01, restart_time=10.0,
        rebalance="eager", rebalance_time=3.0, duration=2000.0, warmup=0.0, seed=1,
    )  # fmt: skip
    expected, stopped_until = 0.0, 0.0
    for at, _, members in changes:
        if at + 3.0 > stopped_until:
            expected += members * (at + 3.0 - max(at, stopped_until))
            stopped_until = at + 3.0
    overlapping = sum(b - a < 3.0 for (a, *_), (b, *_) in itertools.pairwise(changes))
    assert overlapping > 5 and len({members for *_, members in changes}) > 1
    assert model.rebalancers[0].paused_seconds == pytest.approx(expected, rel=1e-12)


def test_a_cooperative_rebalance_of_a_shared_queue_costs_each_joining_consumer_its_pause(monkeypatch):
    _s, model, _trace, changes = run_recording_changes(
        monkeypatch, seed=2, rebalance="cooperative", rebalance_time=5.0, startup_time=2.0, **SCALED
    )
    joins = sum(name is not None for _, name, _ in changes)
    assert joins > 5 and model.rebalancers[0].paused_seconds == pytest.approx(5.0 * joins, rel=1e-12)


def test_a_cooperative_rebalance_of_partitions_costs_the_time_each_mailbox_stops(monkeypatch):
    """Each mailbox's stops (the joining consumer's, and those of consumers gaining partitions) counted once
    where they overlap."""
    stops = []

    def note(rebalancer, now, mailbox, until):
        stops.append((id(mailbox), now, until))

    watch(monkeypatch, Rebalancer, "_stop", note)
    _s, model, _trace, changes = run_recording_changes(
        monkeypatch, publish_rate=1.5, group_size=3, dispatch="partitioned", partitions=6, crash_rate=0.01,
        restart_time=10.0, rebalance="cooperative", rebalance_time=3.0, duration=2000.0, warmup=0.0, seed=1,
    )  # fmt: skip
    expected, stopped_until, overlaps = 0.0, {}, 0
    for mailbox, now, until in stops:
        extension = until - max(now, stopped_until.get(mailbox, now))
        overlaps += 0 < extension < 3.0
        if extension > 0:
            expected += extension
            stopped_until[mailbox] = until
    assert len(changes) > 50 and len(stops) > len(changes) and overlaps > 5  # gainers stop too
    assert model.rebalancers[0].paused_seconds == pytest.approx(expected, rel=1e-12)


def test_a_scenario_builds_a_rebalancer_only_when_it_asks_for_rebalances():
    assert Rebalancer.of(Environment(), Scenario()) is None
    eager = Rebalancer.of(Environment(), Scenario(rebalance="eager", rebalance_time=2.0))
    assert eager is not None and (eager.mode, eager.pause) == ("eager", 2.0)
