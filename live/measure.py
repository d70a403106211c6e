"""A live run's log reduced to the simulator's metrics, with the same names and meanings (docs/model.md).

Real times are turned into model seconds (divided by the time scale, from the
run's start) and the run is cut at the scenario's `duration`, as the simulator
stops there. A copy whose visibility timeout expired waits again (it is backlog,
as in the simulator) until it is claimed, acknowledged by a late attempt, or
the run ends.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pubsub import METRICS
from pubsub.metrics import backlog_metrics, latency_metrics, subscription_frame, throughput
from pubsub.scenario import SubscriptionSettings
from pubsub.topology import Topology as Parts
from pubsub.windows import peak_p99, width, window_metrics

from .runner import Attempt, Log


def summarize(log: Log) -> dict[str, float]:
    """Every metric of `pubsub.METRICS` for the live run in `log`, over all its subscriptions."""
    return _metrics(log, _measured(log), published=sum(len(p) for p in _published(log).values()))


def by_subscription(log: Log) -> pd.DataFrame:
    """The same metrics for each subscription alone, as `pubsub.simulate`'s `by_subscription`: a row per
    subscription, indexed by its name; `published` counts the copies offered to it."""
    parts = _measured(log)
    names = [part.name for part in Parts.of(log.scenario).subscriptions]
    return subscription_frame(names, [_metrics(log, [part], published=part.copies) for part in parts])


def _measured(log: Log) -> list[_Measured]:
    """Each subscription's copies, measured."""
    parts, published = Parts.of(log.scenario), _published(log)
    topics = {topic.name: t for t, topic in enumerate(parts.topics)}
    return [
        _Measured.of(log, g, part.settings, [published[topics[name]] for name in part.topics])
        for g, part in enumerate(parts.subscriptions)
    ]


def _published(log: Log) -> dict[int, list[tuple[str, float]]]:
    """Per topic: (copy, scheduled publish time) of each message published within the run."""
    published: dict[int, list[tuple[str, float]]] = defaultdict(list)
    for topic, copy, scheduled, _ in log.published:
        if scheduled <= log.scenario.duration:
            published[topic].append((copy, scheduled))
    return published


@dataclass
class _Measured:
    """What one subscription's copies did within the run: counts, waiting intervals, first successes."""

    subscription: int
    group_size: int
    copies: int = 0
    counts: Counter = field(default_factory=Counter)
    entered: list[float] = field(default_factory=list)
    left: list[float] = field(default_factory=list)
    # published, started, finished, and the delivery it succeeded on
    firsts: list[tuple[float, float, float, int]] = field(default_factory=list)

    @classmethod
    def of(cls, log: Log, g: int, settings: SubscriptionSettings, topics: list[list[tuple[str, float]]]) -> _Measured:
        """Subscription `g`'s copies: (copy, scheduled publish time) of each message of each of its `topics`."""
        at, end = log.model_time, log.scenario.duration
        attempts: dict[str, list[Attempt]] = defaultdict(list)
        for a in log.attempts:
            if a.subscription == g and at(a.taken) <= end:
                attempts[a.copy].append(a)
        dead = {copy: at(when) for sub, copy, when in log.dead if sub == g and at(when) <= end}
        measured = cls(g, settings.group_size)
        counts = measured.counts
        for published in topics:
            for copy, scheduled in published:
                measured.copies += 1
                tries = sorted(attempts.get(copy, []), key=lambda a: a.taken)
                dead_at = dead.get(copy, math.inf)
                success = next((a for a in tries if a.outcome == "processed" and at(a.ended) <= end), None)
                settled_at = min(dead_at, at(success.ended) if success else math.inf)
                counts["delivered"] += len(tries)
                counts["redelivered"] += sum(a.delivery > 1 for a in tries)
                for a in tries:
                    if a.outcome in ("duplicate", "suppressed") and at(a.ended) <= end:
                        counts["suppressed" if a.outcome == "suppressed" else "duplicates"] += 1
                if success:
                    counts["processed"] += 1
                    measured.firsts.append((scheduled, at(success.taken), at(success.ended), success.delivery))
                if dead_at <= end:
                    counts["dead_lettered"] += 1
                timeout = settings.ack_timeout if settings.ack else None
                waits = _waiting(scheduled, [at(a.taken) for a in tries], timeout, settled_at, dead_at < math.inf)
                for start, stop in waits:
                    if start > end:
                        continue  # expires only after the run
                    measured.entered.append(start)
                    if stop <= end:
                        measured.left.append(stop)
                if settled_at > end:
                    if any(start <= end < stop for start, stop in waits):
                        counts["backlog_final"] += 1
                    else:
                        counts["in_flight_final"] += 1
        return measured


def _metrics(log: Log, parts: list[_Measured], published: int) -> dict[str, float]:
    """The metrics of the copies of `parts` (one subscription, or all)."""
    s = log.scenario
    end, warmup = s.duration, s.warmup
    counts = sum((p.counts for p in parts), Counter())
    firsts = np.array([f for p in parts for f in p.firsts], dtype=float).reshape(-1, 4)
    entered = np.sort(np.array([t for p in parts for t in p.entered], dtype=float))
    left = np.sort(np.array([t for p in parts for t in p.left], dtype=float))
    consumers = sum(p.group_size for p in parts)
    utilization, busiest = _utilization(log, {p.subscription for p in parts}, consumers)
    delivered = counts["delivered"]
    metrics: dict[str, float] = {
        **{name: counts[name] for name in ("delivered", "processed", "redelivered", "duplicates", "suppressed")},
        "dead_lettered": counts["dead_lettered"],
        "published": published,
        "dropped": 0,
        "backlog_final": counts["backlog_final"],
        "in_flight_final": counts["in_flight_final"],
        **latency_metrics(firsts[:, 0], firsts[:, 1], firsts[:, 2], firsts[:, 3].astype(np.int32), warmup),
        "latency_p99_peak": _peak(log, firsts, entered, left, parts),
        **backlog_metrics(entered, left, warmup, end),
        "throughput": throughput(firsts[:, 2], warmup, end),
        "utilization": utilization,
        "utilization_max": busiest,
        # Groups on the broker are fixed (autoscaling is refused): consumers cost their size × the window.
        "consumer_seconds": consumers * (end - warmup),
        "group_size_mean": float(consumers) / len(parts),
        "group_size_max": max(p.group_size for p in parts),
        "scale_ups": 0,
        "scale_downs": 0,
        "lost": 0,  # crashes are refused on the broker
        "crashes": 0,
        "rebalances": 0,  # and groups never change there
        "paused_seconds": 0.0,
        "drain_time": math.nan,
        "wall_seconds": log.wall_seconds,
        "sim_rate": delivered / log.wall_seconds,
    }
    return {name: metrics[name] for name in METRICS}


def _waiting(
    published: float, takes: list[float], timeout: float | None, settled_at: float, dead_lettered: bool
) -> list[tuple[float, float]]:
    """The intervals a copy spent waiting: until its first take, then from each expiry to the next take.

    With acknowledgments a delivery expires `timeout` after it was taken; the
    copy then waits until it is taken again or settled (a late success withdraws
    it). The delivery that is dead-lettered does not wait: the simulator moves
    it straight to the dead letters when it expires.
    """
    first = takes[0] if takes else math.inf
    intervals = [(published, min(first, settled_at))]
    if timeout is None:
        return intervals
    for i, taken in enumerate(takes):
        expiry = taken + timeout
        if expiry >= settled_at:
            break
        following = takes[i + 1] if i + 1 < len(takes) else math.inf
        if following == math.inf and dead_lettered:
            break
        intervals.append((min(expiry, following), min(following, settled_at)))
    return intervals


def _utilization(log: Log, subscriptions: set[int], consumers: int) -> tuple[float, float]:
    """The consumers' utilization in `subscriptions`, and the busiest one's, over the measured window."""
    s, at = log.scenario, log.model_time
    busy: dict[tuple[int, int], float] = {}
    for a in log.attempts:
        if a.subscription not in subscriptions:
            continue
        start = max(at(a.taken), s.warmup)
        stop = min(at(a.ended) if not math.isnan(a.ended) else s.duration, s.duration)
        who = (a.subscription, a.consumer)
        busy[who] = busy.get(who, 0.0) + max(0.0, stop - start)
    window = s.duration - s.warmup
    return sum(busy.values()) / (consumers * window), max(busy.values(), default=0.0) / window


def _peak(log: Log, firsts: np.ndarray, entered: np.ndarray, left: np.ndarray, parts: list[_Measured]) -> float:
    """The largest windowed p99 (`pubsub.windows`), as the simulator reports it; NaN without windows."""
    window = width(log.scenario)
    if window is None:
        return math.nan
    sizes = [[(0.0, p.group_size)] for p in parts]  # groups on the broker are fixed
    s = log.scenario
    return peak_p99(window_metrics(firsts[:, 0], firsts[:, 2], entered, left, sizes, s.warmup, s.duration, window))
