"""`simulate`: build the topology a Scenario describes, run it, and measure it."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from asimpy import Environment

from . import randomness as rnd
from .batches import Batches
from .broker import Broker
from .consumer import Consumer
from .crashes import Crasher
from .engines import Engine, choose
from .metric_info import METRICS
from .metrics import backlog_series, by_subscription, over_time, subscription_frame, success_log, summarize
from .outage import Outage
from .publisher import Publisher
from .rebalance import Rebalancer
from .recorder import Recorder
from .scaling import Scaler, Scaling
from .scenario import Scenario
from .subscription import Subscription
from .topology import SubscriptionPart, Topology
from .trace import Trace
from .windows import width as window_width

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Model:
    """The parts of a built topology that measuring needs."""

    recorder: Recorder
    subscriptions: list[Subscription]
    parts: list[SubscriptionPart] = field(default_factory=list)  # what each of `subscriptions` was built from
    consumers: list[Consumer] = field(default_factory=list)
    scalers: list[Scaler] = field(default_factory=list)
    rebalancers: list[Rebalancer] = field(default_factory=list)


@dataclass
class Result:
    """A run's outcome: `summary` is one flat dict of scalars (the fields, then the metrics of the whole run),
    `backlog` the sampled depths, `by_subscription` the metrics of each subscription alone (a row per
    subscription, indexed by its name), `engine` the engine that ran it, `windows` the metrics over time (a row
    per window, `pubsub.windows`; None for a steady load without a `window`)."""

    summary: dict
    backlog: pd.DataFrame
    by_subscription: pd.DataFrame
    engine: str = "asimpy"  # the engine that ran it
    windows: pd.DataFrame | None = None


def build(env: Environment, scenario: Scenario, trace: Trace | None = None) -> Model:
    """Topics, subscriptions with their consumer groups, and publishers, as `scenario` says.

    Parts are built topic by topic: a topic's subscriptions not yet built (a
    subscription of several topics comes with the first of them), then its
    publishers. At equal times, earlier-built processes act first.
    """
    topology = Topology.of(scenario)
    recorder = Recorder()
    broker = Broker(recorder)
    model = Model(recorder, [])
    built: set[str] = set()
    for topic in topology.topics:
        for part in topology.readers(topic.name):
            if part.name not in built:
                built.add(part.name)
                _subscription(env, scenario, topology, part, broker, model, trace)
        for p in range(topic.settings.publishers):
            keys = rnd.message_keys(topic, p) if topology.keyed(topic.name) else None
            gaps, poisons = rnd.arrival_gaps(topic, p), rnd.poison_messages(topic, p)
            Publisher(env, f"{topic.name}/p{p}", broker, topic.name, gaps, keys, trace, poisons)
    return model


def _subscription(
    env: Environment,
    scenario: Scenario,
    topology: Topology,
    part: SubscriptionPart,
    broker: Broker,
    model: Model,
    trace: Trace | None,
) -> None:
    """Subscription `part` with its group, and the processes that crash, scale and rebalance it."""
    s = part.settings
    batches = Batches.of(s)
    group = [_consumer(env, scenario, part, i, batches, trace) for i in range(s.group_size)]
    subscription = Subscription.of(env, part, group, model.recorder, topology.keys(part), trace)
    broker.subscribe(subscription)
    model.subscriptions.append(subscription)
    model.parts.append(part)
    model.consumers.extend(group)
    subscription.rebalancer = Rebalancer.of(env, s)
    if subscription.rebalancer is not None:
        model.rebalancers.append(subscription.rebalancer)
    if s.crash_rate > 0:
        for i, consumer in enumerate(group):
            _crashes(env, part, consumer, subscription, i)
    scaling = Scaling.of(s)
    if scaling is not None:
        hire = _hiring(env, scenario, model, part, subscription, batches, scaling, trace)
        model.scalers.append(Scaler(env, subscription, scaling, hire))


def _consumer(
    env: Environment,
    scenario: Scenario,
    part: SubscriptionPart,
    index: int,
    batches: Batches | None,
    trace: Trace | None,
    startup: float = 0.0,
) -> Consumer:
    """Consumer `index` of subscription `part`, with its costs and batching."""
    return Consumer(
        env,
        f"{part.name}/c{index}",
        warmup=scenario.warmup,
        trace=trace,
        delivery_delay=part.settings.delivery_delay,
        service_overhead=part.settings.service_overhead,
        redelivery_overhead=part.settings.redelivery_overhead,
        batches=batches,
        startup=startup,
    )


def _hiring(
    env: Environment,
    scenario: Scenario,
    model: Model,
    part: SubscriptionPart,
    owner: Subscription,
    batches: Batches | None,
    scaling: Scaling,
    trace: Trace | None,
):
    """A scaler's way to make a new consumer for `owner`, counted among the model's consumers."""
    indices = itertools.count(part.settings.group_size)

    def hire() -> Consumer:
        index = next(indices)
        consumer = _consumer(env, scenario, part, index, batches, trace, startup=scaling.startup)
        model.consumers.append(consumer)
        if part.settings.crash_rate > 0:
            _crashes(env, part, consumer, owner, index)
        return consumer

    return hire


def _crashes(env: Environment, part: SubscriptionPart, consumer: Consumer, subscription: Subscription, index: int):
    """Crash `consumer` (number `index` of its group) as its stream says; a crash and a restart are membership
    changes of its group."""
    consumer.joined = subscription.joined
    gaps = rnd.crash_gaps(part, index)
    restart = part.settings.restart_time
    Crasher(env, consumer, gaps, restart, subscription.recorder, lambda now: subscription.left(now, consumer))


def simulate(scenario: Scenario, trace: Trace | None = None, engine: Engine = "auto") -> Result:
    """Run `scenario` to its duration; the same scenario and seed give the same result, on either engine.

    `engine`: "asimpy" (the reference model), "compiled" (`pubsub.compiled`: the same steps, faster; refused,
    naming the fields, where it does not cover the scenario) or "auto", the compiled one where it covers the
    scenario. `Result.engine` says which ran.
    """
    started = time.perf_counter()
    ran = choose(scenario, engine, traced=trace is not None)
    if ran == "compiled":
        from . import compiled  # here: numba loads only when the compiled engine runs

        metrics, parts, backlog, names, windows = _measured(scenario, *compiled.run(scenario))
    else:
        env = Environment()
        model = build(env, scenario, trace)
        outages = [
            Outage(env, subscription, part.settings.outage_start, part.settings.outage_duration)
            for subscription, part in zip(model.subscriptions, model.parts)
            if part.settings.outage_duration > 0
        ]
        env.run(until=scenario.duration)
        metrics, parts, backlog, names, windows = _measured(
            scenario, model.recorder, model.subscriptions, model.consumers, outages, model.scalers, model.rebalancers
        )
    wall = time.perf_counter() - started
    metrics["wall_seconds"] = wall
    metrics["sim_rate"] = metrics["delivered"] / wall  # (building a topology alone takes far above a clock tick)
    # The registry's order, and a KeyError here if a metric were never computed.
    summary = {**scenario.summary_fields(), **{name: metrics[name] for name in METRICS}}
    return Result(summary, backlog, subscription_frame(names, parts), ran, windows)


def _measured(scenario: Scenario, log, subscriptions, consumers, outages=(), scalers=(), rebalancers=()):
    """What either engine's run left, reduced: (metrics of the whole run, of each subscription, the backlog
    series, the subscriptions' names, the metrics over time)."""
    warmup, duration, window = scenario.warmup, scenario.duration, window_width(scenario)
    windows = over_time(success_log(log), subscriptions, warmup, duration, window)
    metrics = summarize(log, subscriptions, consumers, warmup, duration, outages, scalers, rebalancers, windows)
    if len(subscriptions) == 1:  # the whole run is its one subscription's: no second pass (tested)
        parts = [dict(metrics)]
    else:
        parts = by_subscription(log, subscriptions, warmup, duration, outages, scalers, window)
    backlog = backlog_series(subscriptions, scenario.backlog_interval, duration)
    return metrics, parts, backlog, [s.name for s in subscriptions], windows
