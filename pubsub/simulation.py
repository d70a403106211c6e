"""`simulate`: build the topology a Scenario describes, run it, and measure it."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from asimpy import Environment

from . import randomness as rnd
from .acks import Acknowledgments
from .batches import Batches
from .broker import Broker
from .consumer import Consumer
from .crashes import Crasher
from .metric_info import METRICS
from .metrics import backlog_series, summarize
from .outage import Outage
from .publisher import Publisher
from .rebalance import Rebalancer
from .recorder import Recorder
from .retries import Retries
from .scaling import Scaler, Scaling
from .scenario import Scenario
from .subscription import Subscription
from .trace import Trace
from .work import Work

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Model:
    """The parts of a built topology that measuring needs."""

    recorder: Recorder
    subscriptions: list[Subscription]
    consumers: list[Consumer] = field(default_factory=list)
    scalers: list[Scaler] = field(default_factory=list)
    rebalancers: list[Rebalancer] = field(default_factory=list)


@dataclass
class Result:
    """A run's outcome: `summary` is one flat dict of scalars, `backlog` the sampled depths."""

    summary: dict
    backlog: pd.DataFrame


def build(env: Environment, scenario: Scenario, trace: Trace | None = None) -> Model:
    """Topics, subscriptions with their consumer groups, and publishers, as `scenario` says."""
    s = scenario
    recorder = Recorder()
    broker = Broker(recorder)
    model = Model(recorder, [])
    batches = Batches.of(s)
    scaling = Scaling.of(s)
    for t in range(s.topics):
        topic = f"t{t}"
        for g in range(s.subscribers):
            group = [_consumer(env, s, (t, g, i), batches, trace) for i in range(s.group_size)]
            acks = Acknowledgments(env, s.ack_timeout, s.max_deliveries, s.idempotent, Retries.of(s)) if s.ack else None
            subscription = Subscription(
                env,
                f"{topic}/s{g}",
                topic,
                group,
                recorder,
                dispatch=s.dispatch,
                capacity=s.queue_capacity,
                overflow=s.overflow,
                acks=acks,
                keys=s.keys,
                trace=trace,
                work=Work.of(s, t, g),
                partitions=s.partition_count,
                prefetch=prefetch_of(s),
            )
            broker.subscribe(subscription)
            model.subscriptions.append(subscription)
            model.consumers.extend(group)
            subscription.rebalancer = Rebalancer.of(env, s)
            if subscription.rebalancer is not None:
                model.rebalancers.append(subscription.rebalancer)
            if s.crash_rate > 0:
                for i, consumer in enumerate(group):
                    _crashes(env, s, consumer, subscription, rnd.crash_gaps(s, t, g, i), recorder)
            if scaling is not None:
                hire = _hiring(env, s, model, subscription, (t, g), batches, scaling, trace)
                model.scalers.append(Scaler(env, subscription, scaling, hire))
        for p in range(s.publishers):
            gaps, keys, poisons = rnd.arrival_gaps(s, t, p), rnd.message_keys(s, t, p), rnd.poison_messages(s, t, p)
            Publisher(env, f"{topic}/p{p}", broker, topic, gaps, keys, trace, poisons)
    return model


def _consumer(
    env: Environment,
    s: Scenario,
    where: tuple[int, int, int],
    batches: Batches | None,
    trace: Trace | None,
    startup: float = 0.0,
) -> Consumer:
    """Consumer `where` = (topic, subscription, index), with the Scenario's costs and batching."""
    topic, subscription, index = where
    return Consumer(
        env,
        f"t{topic}/s{subscription}/c{index}",
        warmup=s.warmup,
        trace=trace,
        delivery_delay=s.delivery_delay,
        service_overhead=s.service_overhead,
        batches=batches,
        startup=startup,
    )


def _hiring(
    env: Environment,
    s: Scenario,
    model: Model,
    owner: Subscription,
    group: tuple[int, int],
    batches: Batches | None,
    scaling: Scaling,
    trace: Trace | None,
):
    """A scaler's way to make a new consumer for `owner` (numbered `group`), counted among the model's consumers."""
    indices = itertools.count(s.group_size)
    topic, subscription = group

    def hire() -> Consumer:
        index = next(indices)
        consumer = _consumer(env, s, (topic, subscription, index), batches, trace, startup=scaling.startup)
        model.consumers.append(consumer)
        if s.crash_rate > 0:
            _crashes(env, s, consumer, owner, rnd.crash_gaps(s, topic, subscription, index), model.recorder)
        return consumer

    return hire


def _crashes(env: Environment, s: Scenario, consumer: Consumer, subscription: Subscription, gaps, recorder) -> None:
    """Crash `consumer` as `gaps` say; a crash and a restart are membership changes of its group."""
    consumer.joined = subscription.joined
    Crasher(env, consumer, gaps, s.restart_time, recorder, lambda now: subscription.left(now, consumer))


def prefetch_of(s: Scenario) -> int | None:
    """The group's prefetch limit, if the broker pushes copies to consumers' buffers; None for plain `shared`."""
    return s.prefetch if s.prefetch > 1 else None


def simulate(scenario: Scenario, trace: Trace | None = None) -> Result:
    """Run `scenario` to its duration; the same scenario and seed give the same result."""
    started = time.perf_counter()
    env = Environment()
    model = build(env, scenario, trace)
    outage = None
    if scenario.outage_duration > 0:
        first = model.subscriptions[0]
        Outage(env, first, scenario.outage_start, scenario.outage_duration)
        outage = (first, scenario.outage_start, scenario.outage_duration)
    env.run(until=scenario.duration)
    metrics = summarize(
        model.recorder,
        model.subscriptions,
        model.consumers,
        scenario.warmup,
        scenario.duration,
        outage,
        model.scalers,
        model.rebalancers,
    )
    backlog = backlog_series(model.subscriptions, scenario.backlog_interval, scenario.duration)
    wall = time.perf_counter() - started
    metrics["wall_seconds"] = wall
    metrics["sim_rate"] = metrics["delivered"] / wall  # (building a topology alone takes far above a clock tick)
    # The registry's order, and a KeyError here if a metric were never computed.
    return Result({**scenario.model_dump(), **{name: metrics[name] for name in METRICS}}, backlog)
