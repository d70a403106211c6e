"""Reduce what a run logged to the metrics of `metric_info`, once, with numpy."""

from __future__ import annotations

import math
from collections.abc import Sequence, Sized
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .metric_info import METRICS, QUANTILES, WALL_CLOCK_METRICS
from .windows import peak_p99, window_metrics

if TYPE_CHECKING:
    import pandas as pd

    from .outage import Outage
    from .rebalance import Rebalancer
    from .scaling import Scaler


# What a run leaves for its reduction, whichever engine ran it: the asimpy model's own objects (`Recorder`,
# `Subscription`, `Mailbox`, `Consumer`) have these attributes, and the compiled engine's logs have the same.
# Logged times are anything `np.frombuffer` reads as float64 (an `array("d")`, a numpy array).

Log = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # first successes: publish, start, end, delivery


class Counted(Protocol):
    def counts(self) -> dict[str, int]: ...


class RunLog(Counted, Protocol):
    """Every first success, in the order they happened: publish, start of the attempt, end, its subscription, and
    the delivery (1 for the first) the successful attempt was on."""

    @property
    def published_at(self) -> Any: ...
    @property
    def started_at(self) -> Any: ...
    @property
    def finished_at(self) -> Any: ...
    @property
    def owner(self) -> Any: ...
    @property
    def delivery(self) -> Any: ...


class MailboxLog(Sized, Protocol):
    """A queue: when each copy entered and left it, in order; the consumer it feeds (-1: the group)."""

    @property
    def entered(self) -> Any: ...
    @property
    def left(self) -> Any: ...
    @property
    def consumer(self) -> int: ...


class ConsumerLog(Protocol):
    @property
    def started_at(self) -> float: ...
    @property
    def stopped_at(self) -> float: ...
    @property
    def busy(self) -> int: ...
    @property
    def busy_since(self) -> float: ...
    @property
    def busy_time(self) -> float: ...


class SubscriptionLog(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def recorder(self) -> Counted: ...
    @property
    def mailboxes(self) -> Sequence[MailboxLog]: ...
    @property
    def consumers(self) -> Sequence[ConsumerLog]: ...
    @property
    def in_flight(self) -> Sized: ...
    @property
    def sizes(self) -> Sequence[tuple[float, int]]: ...
    @property
    def rebalancer(self) -> Rebalancer | None: ...


def summarize(
    recorder: RunLog,
    subscriptions: Sequence[SubscriptionLog],
    consumers: Sequence[ConsumerLog],
    warmup: float,
    duration: float,
    outages: Sequence[Outage] = (),
    scalers: Sequence[Scaler] = (),
    rebalancers: Sequence[Rebalancer] = (),
    windows: pd.DataFrame | None = None,
) -> dict[str, float]:
    """Every metric but the wall-clock ones, over the whole run that ended at `duration` (the peak p99 from its
    `windows`, `over_time`'s: NaN without)."""
    counts = recorder.counts()
    log = success_log(recorder)
    return _measure(counts, log, subscriptions, consumers, warmup, duration, outages, scalers, rebalancers, windows)


def success_log(recorder: RunLog) -> Log:
    """The run's first successes as arrays: publish, start and end times, and the delivery each was on."""
    published, started, finished = (np.frombuffer(a) for a in (recorder.published_at, recorder.started_at,
                                                                recorder.finished_at))  # fmt: skip
    return published, started, finished, np.frombuffer(recorder.delivery, dtype=np.int32)


def over_time(
    log: Log, subscriptions: Sequence[SubscriptionLog], warmup: float, duration: float, window: float | None
) -> pd.DataFrame | None:
    """Metrics over time (`pubsub.windows`) of these subscriptions' copies, queues and groups; None without a
    window."""
    if window is None:
        return None
    published, _, finished, _ = log
    mailboxes = [m for s in subscriptions for m in s.mailboxes]
    sizes = [s.sizes for s in subscriptions]
    return window_metrics(published, finished, *sorted_times(mailboxes), sizes, warmup, duration, window)


def by_subscription(
    recorder: RunLog,
    subscriptions: Sequence[SubscriptionLog],
    warmup: float,
    duration: float,
    outages: Sequence[Outage] = (),
    scalers: Sequence[Scaler] = (),
    window: float | None = None,
) -> list[dict[str, float]]:
    """The same metrics for each subscription alone, in the order of `subscriptions` (which is the recorder's):
    its copies, its mailboxes and its consumers; `published` counts the copies offered to it."""
    arrays = success_log(recorder)
    owner = np.frombuffer(recorder.owner, dtype=np.int_)
    rows = []
    for index, subscription in enumerate(subscriptions):
        mine = owner == index
        log = (arrays[0][mine], arrays[1][mine], arrays[2][mine], arrays[3][mine])
        rows.append(
            _measure(
                subscription.recorder.counts(),
                log,
                [subscription],
                subscription.consumers,
                warmup,
                duration,
                [o for o in outages if o.subscription is subscription],
                [s for s in scalers if s.subscription is subscription],
                [subscription.rebalancer] if subscription.rebalancer is not None else [],
                over_time(log, [subscription], warmup, duration, window),
            )
        )
    return rows


def subscription_frame(names: Sequence[str], rows: Sequence[dict[str, float]]) -> pd.DataFrame:
    """One row per subscription (`rows`, in the order of `names`), indexed by its name, with every metric but the
    wall-clock ones: `Result.by_subscription`, and the live run's."""
    import pandas as pd  # here, as for the backlog: `import pubsub` stays light

    metrics = [m for m in METRICS if m not in WALL_CLOCK_METRICS]
    index = pd.Index(list(names), name="subscription")
    return pd.DataFrame([[row[m] for m in metrics] for row in rows], index=index, columns=metrics)


def _measure(
    counts: dict[str, int],
    log: Log,
    subscriptions: Sequence[SubscriptionLog],
    consumers: Sequence[ConsumerLog],
    warmup: float,
    duration: float,
    outages: Sequence[Outage],
    scalers: Sequence[Scaler],
    rebalancers: Sequence[Rebalancer],
    windows: pd.DataFrame | None,
) -> dict[str, float]:
    """The metrics of some subscriptions, their consumers and their first successes (`log`: publish, start and
    end times, and the delivery each succeeded on)."""
    published, started, finished, delivery = log
    mailboxes = [m for s in subscriptions for m in s.mailboxes]
    metrics: dict[str, float] = dict(counts)
    metrics["backlog_final"] = sum(len(m) for m in mailboxes)
    metrics["in_flight_final"] = sum(len(s.in_flight) for s in subscriptions)
    metrics.update(latency_metrics(published, started, finished, delivery, warmup))
    metrics["latency_p99_peak"] = peak_p99(windows)
    metrics.update(backlog_metrics(*sorted_times(mailboxes), warmup, duration))
    metrics["throughput"] = throughput(finished, warmup, duration)
    metrics.update(group_metrics(subscriptions, consumers, scalers, warmup, duration))
    metrics["rebalances"] = sum(r.rebalances for r in rebalancers)
    metrics["paused_seconds"] = sum((r.paused_seconds for r in rebalancers), 0.0)
    metrics["drain_time"] = drain_time(outages, duration)
    return metrics


def drain_time(outages: Sequence[Outage], duration: float) -> float:
    """Seconds after the outages until every subscription that had one is drained: NaN without an outage, or if
    some subscription never drains."""
    times = [_drain_time(o.subscription, o.start, o.duration, duration) for o in outages]
    return max(times) if times and not any(math.isnan(t) for t in times) else math.nan


def latency_metrics(
    published: np.ndarray, started: np.ndarray, finished: np.ndarray, delivery: np.ndarray, warmup: float
) -> dict[str, float]:
    """Latency and wait statistics of first successes, given each one's publish, attempt start and end times and
    the delivery its successful attempt was on; p99 apart for copies served on their first delivery and on a
    later one (a retry's wait sets the second, and the whole p99 once more than 1% of copies need one)."""
    keep = published >= warmup
    latency = finished[keep] - published[keep]
    wait = started[keep] - published[keep]
    later = delivery[keep] > 1
    nan = math.nan
    if latency.size == 0:
        return {
            "latency_mean": nan,
            **dict.fromkeys(QUANTILES, nan),
            "latency_max": nan,
            "latency_p99_first": nan,
            "latency_p99_redelivered": nan,
            "redelivered_share": nan,
            "wait_mean": nan,
        }
    quantiles = np.quantile(latency, list(QUANTILES.values()))
    first, again = latency[~later], latency[later]
    return {
        "latency_mean": float(latency.mean()),
        **{name: float(q) for name, q in zip(QUANTILES, quantiles)},
        "latency_max": float(latency.max()),
        "latency_p99_first": float(np.quantile(first, 0.99)) if first.size else nan,
        "latency_p99_redelivered": float(np.quantile(again, 0.99)) if again.size else nan,
        "redelivered_share": again.size / latency.size,
        "wait_mean": float(wait.mean()),
    }


def sorted_times(mailboxes: Sequence[MailboxLog]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted times at which copies entered and left these mailboxes (a group has at least one)."""
    entered = np.sort(np.concatenate([np.frombuffer(m.entered) for m in mailboxes]))
    left = np.sort(np.concatenate([np.frombuffer(m.left) for m in mailboxes]))
    return entered, left


def _depth(entered: np.ndarray, left: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Copies waiting just after each time in `at` (after everything that happened then)."""
    return np.searchsorted(entered, at, side="right") - np.searchsorted(left, at, side="right")


def throughput(finished: np.ndarray, warmup: float, duration: float) -> float:
    """First successes per second after warm-up, given their completion times."""
    return float(np.count_nonzero(finished >= warmup)) / (duration - warmup)


def backlog_metrics(entered: np.ndarray, left: np.ndarray, warmup: float, duration: float) -> dict[str, float]:
    """Time-averaged and largest backlog after warm-up, from the sorted times copies started and stopped waiting."""
    # The depth is a step function; its integral over [warmup, duration] is, per
    # copy, the time it spent waiting within that window.
    area = np.sum(duration - np.maximum(entered, warmup)) - np.sum(duration - np.maximum(left, warmup))
    peaks = np.concatenate(([warmup], entered[entered > warmup]))
    return {
        "backlog_mean": float(area) / (duration - warmup),
        "backlog_max": _depth(entered, left, peaks).max().item(),
    }


def group_metrics(
    subscriptions: Sequence[SubscriptionLog],
    consumers: Sequence[ConsumerLog],
    scalers: Sequence[Scaler],
    warmup: float,
    duration: float,
) -> dict[str, float]:
    """Consumer time paid for (consumers running, whether busy or not), group sizes, scaling actions, utilization."""
    window = duration - warmup
    if all(c.started_at <= warmup and c.stopped_at >= duration for c in consumers):
        consumer_seconds = len(consumers) * window  # a fixed group: exactly size × window
    else:
        consumer_seconds = sum(max(0.0, min(c.stopped_at, duration) - max(c.started_at, warmup)) for c in consumers)
    # Attempts still running when the run stopped count up to its end.
    # (Up to none, for an attempt that would only have started after the end.)
    running_on = [max(0.0, duration - max(c.busy_since, warmup)) if c.busy else 0.0 for c in consumers]
    busy = sum(c.busy_time for c in consumers) + sum(running_on)
    each = [c.busy_time + extra for c, extra in zip(consumers, running_on)]
    running = [max(0.0, min(c.stopped_at, duration) - max(c.started_at, warmup)) for c in consumers]
    busiest = max((b / r for b, r in zip(each, running) if r > 0), default=math.nan)
    largest = 0
    for s in subscriptions:
        in_effect = [size for at, size in s.sizes if at <= warmup][-1:]  # the size at the start of the window
        largest = max(largest, *in_effect, *(size for at, size in s.sizes if warmup < at <= duration))
    return {
        "utilization": busy / consumer_seconds,
        "utilization_max": busiest,
        "consumer_seconds": consumer_seconds,
        "group_size_mean": consumer_seconds / (window * len(subscriptions)),
        "group_size_max": largest,
        "scale_ups": sum(s.ups for s in scalers),
        "scale_downs": sum(s.downs for s in scalers),
    }


def _drain_time(subscription: SubscriptionLog, start: float, length: float, duration: float) -> float:
    """Seconds after the outage until the backlog is back to its level when the outage began."""
    end = start + length
    if end > duration:
        return math.nan
    entered, left = sorted_times(subscription.mailboxes)
    before = _depth(entered, left, np.array([start]))[0]
    candidates = np.concatenate(([end], left[left > end]))  # (no copy leaves after the run's end)
    drained = np.flatnonzero(_depth(entered, left, candidates) <= before)
    return float(candidates[drained[0]] - end) if drained.size else math.nan


def backlog_series(subscriptions: Sequence[SubscriptionLog], interval: float, duration: float) -> pd.DataFrame:
    """Copies waiting in each mailbox, sampled every `interval` seconds from 0 to `duration`."""
    import pandas as pd  # only when a backlog frame is built: `import pubsub` stays light

    times = interval * np.arange(math.floor(duration / interval + 1e-9) + 1)
    owners = [(s.name, m) for s in subscriptions for m in s.mailboxes]
    # A single mailbox logs its times in order, so no sorting is needed here.
    depths = [_depth(np.frombuffer(m.entered), np.frombuffer(m.left), times) for _, m in owners]
    sizes = {s.name: _sizes_at(s, times) for s in subscriptions}
    return pd.DataFrame(
        {
            "time": np.tile(times, len(owners)),
            "subscription": np.repeat([name for name, _ in owners], len(times)),
            "consumer": np.repeat([m.consumer for _, m in owners], len(times)),
            "depth": np.concatenate(depths),
            "consumers_running": np.concatenate([sizes[name] for name, _ in owners]),
        }
    )


def _sizes_at(subscription: SubscriptionLog, times: np.ndarray) -> np.ndarray:
    """The subscription's group size just after each of `times`."""
    at = np.array([t for t, _ in subscription.sizes])
    size = np.array([n for _, n in subscription.sizes])
    return size[np.searchsorted(at, times, side="right") - 1]
