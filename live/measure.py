"""A live run's log reduced to the simulator's metrics, with the same names and meanings (docs/model.md).

Real times are turned into model seconds (divided by the time scale, from the
run's start) and the run is cut at the scenario's `duration`, as the simulator
stops there. A copy whose visibility timeout expired waits again (it is backlog,
as in the simulator) until it is claimed, acknowledged by a late attempt, or
the run ends.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from pubsub import METRICS
from pubsub.metrics import backlog_metrics, latency_metrics, throughput

from .runner import Attempt, Log


def summarize(log: Log) -> dict[str, float]:
    """Every metric of `pubsub.METRICS` for the live run in `log`."""
    s = log.scenario
    end, warmup = s.duration, s.warmup
    at = log.model_time
    subscriptions = [(t, g) for t in range(s.topic_count) for g in range(s.subscribers)]

    published: dict[int, list[tuple[str, float]]] = {t: [] for t in range(s.topic_count)}  # copy, scheduled
    for topic, copy, scheduled, _ in log.published:
        if scheduled <= end:
            published[topic].append((copy, scheduled))
    attempts: dict[tuple[int, int, str], list[Attempt]] = defaultdict(list)
    for a in log.attempts:
        if at(a.taken) <= end:
            attempts[a.topic, a.subscription, a.copy].append(a)
    dead = {(t, g, copy): at(when) for t, g, copy, when in log.dead if at(when) <= end}

    counts = dict.fromkeys(("delivered", "processed", "redelivered", "duplicates", "suppressed", "dead_lettered"), 0)
    counts["published"] = sum(len(p) for p in published.values())
    backlog_final = in_flight_final = 0
    entered, left, firsts = [], [], []  # waiting intervals; (published, started, finished) of first successes
    for t, g in subscriptions:
        for copy, scheduled in published[t]:
            tries = sorted(attempts.get((t, g, copy), []), key=lambda a: a.taken)
            dead_at = dead.get((t, g, copy), math.inf)
            success = next((a for a in tries if a.outcome == "processed" and at(a.ended) <= end), None)
            settled_at = min(dead_at, at(success.ended) if success else math.inf)
            counts["delivered"] += len(tries)
            counts["redelivered"] += sum(a.delivery > 1 for a in tries)
            for a in tries:
                if a.outcome in ("duplicate", "suppressed") and at(a.ended) <= end:
                    counts["suppressed" if a.outcome == "suppressed" else "duplicates"] += 1
            if success:
                counts["processed"] += 1
                firsts.append((scheduled, at(success.taken), at(success.ended)))
            if dead_at <= end:
                counts["dead_lettered"] += 1
            waits = _waiting(
                scheduled,
                [at(a.taken) for a in tries],
                s.ack_timeout if s.ack else None,
                settled_at,
                dead_at < math.inf,
            )
            for start, stop in waits:
                if start > end:
                    continue  # expires only after the run
                entered.append(start)
                if stop <= end:
                    left.append(stop)
            if settled_at > end:
                if any(start <= end < stop for start, stop in waits):
                    backlog_final += 1
                else:
                    in_flight_final += 1

    firsts_array = np.array(firsts, dtype=float).reshape(-1, 3)
    utilization, busiest = _utilization(log, s.topic_count * s.subscribers * s.group_size)
    metrics: dict[str, float] = {
        **counts,
        "dropped": 0,
        "backlog_final": backlog_final,
        "in_flight_final": in_flight_final,
        **latency_metrics(firsts_array[:, 0], firsts_array[:, 1], firsts_array[:, 2], warmup),
        **backlog_metrics(np.sort(entered), np.sort(left), warmup, end),
        "throughput": throughput(firsts_array[:, 2], warmup, end),
        "utilization": utilization,
        "utilization_max": busiest,
        # Groups on the broker are fixed (autoscaling is refused): consumers cost their size × the window.
        "consumer_seconds": s.topic_count * s.subscribers * s.group_size * (end - warmup),
        "group_size_mean": float(s.group_size),
        "group_size_max": s.group_size,
        "scale_ups": 0,
        "scale_downs": 0,
        "lost": 0,  # crashes are refused on the broker
        "crashes": 0,
        "rebalances": 0,  # and groups never change there
        "paused_seconds": 0.0,
        "drain_time": math.nan,
        "wall_seconds": log.wall_seconds,
        "sim_rate": counts["delivered"] / log.wall_seconds,
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


def _utilization(log: Log, consumers: int) -> tuple[float, float]:
    """The consumers' utilization, and the busiest one's, over the measured window."""
    s, at = log.scenario, log.model_time
    busy: dict[tuple[int, int, int], float] = {}
    for a in log.attempts:
        start = max(at(a.taken), s.warmup)
        stop = min(at(a.ended) if not math.isnan(a.ended) else s.duration, s.duration)
        who = (a.topic, a.subscription, a.consumer)
        busy[who] = busy.get(who, 0.0) + max(0.0, stop - start)
    window = s.duration - s.warmup
    return sum(busy.values()) / (consumers * window), max(busy.values(), default=0.0) / window
