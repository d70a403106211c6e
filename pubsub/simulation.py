"""`simulate`: build the topology a Scenario describes, run it, and measure it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pandas as pd
from asimpy import Environment

from . import randomness as rnd
from .acks import Acknowledgments
from .broker import Broker
from .consumer import Consumer
from .metric_info import METRICS
from .metrics import backlog_series, summarize
from .outage import Outage
from .publisher import Publisher
from .recorder import Recorder
from .scenario import Scenario
from .subscription import Subscription
from .trace import Trace


@dataclass
class Model:
    """The parts of a built topology that measuring needs."""

    broker: Broker
    recorder: Recorder
    subscriptions: list[Subscription]
    consumers: list[Consumer] = field(default_factory=list)
    publishers: list[Publisher] = field(default_factory=list)


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
    model = Model(broker, recorder, [])
    uses_keys = s.dispatch == "key-hash"
    for t in range(s.topics):
        topic = f"t{t}"
        for g in range(s.subscribers):
            group = [
                Consumer(
                    env,
                    f"{topic}/s{g}/c{i}",
                    rnd.service_times(
                        s.service, s.service_time, s.service_cv, rnd.rng_for(s.seed, rnd.SERVICE, t, g, i)
                    ),
                    rnd.failures(s.failure_prob, rnd.rng_for(s.seed, rnd.FAILURES, t, g, i))
                    if s.failure_prob > 0
                    else None,
                    warmup=s.warmup,
                    trace=trace,
                )
                for i in range(s.group_size)
            ]
            acks = Acknowledgments(env, s.ack_timeout, s.max_deliveries, s.idempotent) if s.ack else None
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
            )
            broker.subscribe(subscription)
            model.subscriptions.append(subscription)
            model.consumers.extend(group)
        for p in range(s.publishers):
            gaps = rnd.interarrival_times(
                s.arrivals,
                s.publish_rate,
                rnd.rng_for(s.seed, rnd.ARRIVALS, t, p),
                phase=(p + 1) / s.publishers,
                burst_factor=s.burst_factor,
                burst_length=s.burst_length,
            )
            keys = rnd.keys(s.keys, s.key_skew, rnd.rng_for(s.seed, rnd.KEYS, t, p)) if uses_keys else None
            model.publishers.append(Publisher(env, f"{topic}/p{p}", broker, topic, gaps, keys, trace))
    return model


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
        model.recorder, model.subscriptions, model.consumers, scenario.warmup, scenario.duration, outage
    )
    backlog = backlog_series(model.subscriptions, scenario.backlog_interval, scenario.duration)
    wall = time.perf_counter() - started
    metrics["wall_seconds"] = wall
    metrics["sim_rate"] = metrics["delivered"] / wall if wall > 0 else float("nan")
    # The registry's order, and a KeyError here if a metric were never computed.
    return Result({**scenario.model_dump(), **{name: metrics[name] for name in METRICS}}, backlog)
