"""Autoscaling a shared group on its backlog, and what consumers cost."""

import math
from collections import defaultdict

import numpy as np
import pytest
from asimpy import Environment

from pubsub import Scenario, simulate
from pubsub.consumer import Consumer
from pubsub.message import Copy, Message
from pubsub.recorder import Recorder
from pubsub.simulation import build
from pubsub.subscription import Subscription
from pubsub.work import Work
from tests.pubsub.helpers import Recording, nan_safe, watch

SCALED = dict(
    dispatch="shared",
    publish_rate=2.0,
    rate_profile="sine",
    rate_amplitude=0.9,
    rate_period=1500.0,
    group_size=2,
    autoscale=True,
    min_consumers=1,
    max_consumers=6,
    target_backlog=2.0,
    scale_interval=15.0,
    scale_down_delay=60.0,
    duration=3000.0,
    warmup=300.0,
)


@pytest.mark.parametrize("fields", [dict(group_size=3), dict(group_size=2, subscribers=2, topics=2, ack=True)])
def test_a_fixed_group_costs_exactly_its_size_times_the_window(fields):
    s = simulate(Scenario(publish_rate=1.0, duration=1000.0, warmup=100.0, seed=1, **fields)).summary
    groups = s["topics"] * s["subscribers"]
    assert s["consumer_seconds"] == s["group_size"] * groups * 900.0
    assert (s["group_size_mean"], s["group_size_max"], s["scale_ups"], s["scale_downs"]) == (s["group_size"],
            s["group_size"], 0, 0)  # fmt: skip
    assert s["rebalances"] == 0 and s["paused_seconds"] == 0.0


def run_scaled(**changes):
    s = Scenario(seed=3, **{**SCALED, **changes})
    env, trace = Environment(), Recording()
    model = build(env, s, trace)
    env.run(until=s.duration)
    return s, model, trace


def test_the_scaler_follows_the_load_within_its_bounds():
    result = simulate(Scenario(seed=3, **SCALED))
    s, sizes = result.summary, result.backlog["consumers_running"]
    assert s["scale_ups"] > 3 and s["scale_downs"] > 3
    assert sizes.min() >= 1 and sizes.max() <= 6 and s["group_size_max"] <= 6
    # It pays for what it runs: the mean size is the time-average of the sampled sizes.
    window = result.backlog[result.backlog["time"] >= 300.0]
    assert s["group_size_mean"] == pytest.approx(window["consumers_running"].mean(), rel=0.05)
    assert 1.0 < s["group_size_mean"] < 6.0


@pytest.mark.parametrize("case", ["rising", "coming and going"])
def test_cost_and_sampled_size_count_each_consumer_from_its_hire_to_its_stop(case):
    """Each consumer is paid for from its hire to its stop, inside the window: on a rising load every hired one
    runs to the end; on a swinging one with a long warm-up some come and go before it ends. The sampled size at
    each time (from 0, and at the very instants the size changes) is the size in effect just after it."""
    if case == "rising":
        fields = {k: v for k, v in SCALED.items() if k not in ("rate_amplitude", "rate_period")}
        fields.update(rate_profile="ramp", publish_rate=0.6, rate_factor=8.0, group_size=1, scale_down_delay=1e6)
    else:
        fields = dict(SCALED, warmup=1000.0)
    s = Scenario(seed=3, **fields)
    env = Environment()
    model = build(env, s)
    env.run(until=s.duration)
    result = simulate(s)
    if case == "rising":
        hired = [c for c in model.consumers if c.started_at > s.warmup]
        assert len(hired) >= 2 and all(c.stopped_at == math.inf for c in model.consumers)
    else:
        assert sum(c.stopped_at < s.warmup for c in model.consumers) >= 2
    paid = sum(max(0.0, min(c.stopped_at, s.duration) - max(c.started_at, s.warmup)) for c in model.consumers)
    assert result.summary["consumer_seconds"] == pytest.approx(paid, rel=1e-12)
    (subscription,) = model.subscriptions
    times = result.backlog["time"].to_numpy()
    assert set(times) & {at for at, _ in subscription.sizes[1:]}  # some sizes change at a sampling instant
    in_effect = [[n for at, n in subscription.sizes if at <= t][-1] for t in times]
    assert result.backlog["consumers_running"].tolist() == in_effect


def test_a_new_consumer_takes_nothing_before_its_startup_time():
    _, model, trace = run_scaled(startup_time=20.0)
    first_take = {}
    for _, at, name, _ in trace.of("taken"):
        first_take.setdefault(name, at)
    added = [c for c in model.consumers if c.started_at > 0]
    assert len(added) > 5
    checked = 0
    for consumer in added:
        if consumer.name in first_take:
            assert first_take[consumer.name] >= consumer.started_at + 20.0
            checked += 1
    assert checked > 5


def test_scale_in_is_graceful_no_attempt_is_cut_and_nothing_is_taken_after_retiring():
    s, model, trace = run_scaled(ack=True, ack_timeout=1000.0)  # a cut attempt would show as a redelivery
    retired = [c for c in model.consumers if c.stopped_at < s.duration]
    assert len(retired) > 5
    takes, ends = defaultdict(list), defaultdict(list)
    for _, at, name, _ in trace.of("taken"):
        takes[name].append(at)
    for _, at, name, _, _ok in trace.of("finished"):
        ends[name].append(at)
    for consumer in retired:
        assert all(t < consumer.stopped_at for t in takes[consumer.name])
        assert len(ends[consumer.name]) == len(takes[consumer.name])  # every attempt it began, it finished
        assert all(e <= consumer.stopped_at for e in ends[consumer.name])
    assert model.recorder.redelivered == 0


def test_the_scaler_counts_each_resize_once_and_retires_idle_consumers_newest_first(monkeypatch):
    retirements = []  # (the retired consumer's order, the orders of the active consumers), at the time

    def order(c):
        return (c.busy, -c.started_at)  # idle before busy, then the newest first

    def note(subscription, now, consumer):
        retirements.append((order(consumer), [order(c) for c in subscription.active]))

    watch(monkeypatch, Subscription, "retire", note)
    _, model, _ = run_scaled()
    (scaler,), (subscription,) = model.scalers, model.subscriptions
    sizes = subscription.sizes
    changes = [(at, size - before) for (at, size), (_, before) in zip(sizes[1:], sizes)]
    assert scaler.ups == len({at for at, change in changes if change > 0}) > 3
    assert scaler.downs == len({at for at, change in changes if change < 0}) > 3
    assert len(changes) > scaler.ups + scaler.downs  # some resizes add or retire several consumers at once

    assert len(retirements) > 5 and sum(len({o for o in active if o[0] == 0}) > 1 for _, active in retirements) > 3
    for retired, active in retirements:
        assert retired == min(active)


def test_scaling_is_deterministic_and_a_scaler_pinned_to_one_size_changes_nothing():
    a = nan_safe(simulate(Scenario(seed=8, **SCALED)).summary)
    assert a == nan_safe(simulate(Scenario(seed=8, **SCALED)).summary)
    pinned = {**SCALED, "min_consumers": 3, "max_consumers": 3, "group_size": 3}
    fixed = {k: v for k, v in pinned.items() if k not in ("autoscale", "min_consumers", "max_consumers",
             "target_backlog", "scale_interval", "scale_down_delay")}  # fmt: skip
    scaled, plain = simulate(Scenario(seed=8, **pinned)).summary, simulate(Scenario(seed=8, **fixed)).summary
    same = [m for m in plain if m in scaled and m not in pinned and m not in ("wall_seconds", "sim_rate")]
    assert {m: scaled[m] for m in same} == {m: plain[m] for m in same}


def test_an_eager_scaler_flaps_and_a_stabilization_window_calms_it():
    eager = simulate(Scenario(seed=4, **{**SCALED, "scale_down_delay": 0.0})).summary
    calm = simulate(Scenario(seed=4, **{**SCALED, "scale_down_delay": 300.0})).summary
    assert eager["scale_downs"] > 2 * calm["scale_downs"]
    assert calm["consumer_seconds"] > eager["consumer_seconds"]  # calm costs more, and buys latency
    assert calm["latency_p99"] < eager["latency_p99"]


def test_cost_and_tail_move_opposite_ways_with_the_target_backlog():
    runs = {t: [simulate(Scenario(seed=seed, **{**SCALED, "target_backlog": t})).summary for seed in range(3)]
            for t in (1.0, 8.0)}  # fmt: skip
    cost = {t: np.mean([r["consumer_seconds"] for r in rs]) for t, rs in runs.items()}
    p99 = {t: np.mean([r["latency_p99"] for r in rs]) for t, rs in runs.items()}
    assert cost[1.0] > cost[8.0] and p99[1.0] < p99[8.0]


def test_a_copy_handed_to_a_consumer_as_it_is_retired_goes_back_to_the_queue():
    env, trace, recorder = Environment(), Recording(), Recorder()
    consumers = [Consumer(env, "c0", trace=trace)]
    subscription = Subscription(env, "s", "t", consumers, recorder, dispatch="shared", trace=trace,
                                work=Work.constant(1.0))  # fmt: skip
    (queue,) = subscription.mailboxes
    copy = Copy(Message(0, "t", 0, 1.0, False), queue, 1.0, False)

    def at_one():  # the same instant: the idle consumer is handed the copy, then retired before it resumes
        queue.put(1.0, copy)
        subscription.retire(1.0, consumers[0])

    env.schedule(1.0, at_one)
    env.run(until=5.0)
    assert trace.of("taken") == [] and list(queue.items) == [copy] and consumers[0].stopped_at == 1.0
