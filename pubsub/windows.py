"""Metrics over time: the measured part of a run cut into windows, for a load that varies.

A day-long sine load has one p99 over the whole run, but the question is the
p99 at the peak hour. Each window [a, b) reports the latency of the copies
*published* in it (what a message sent then went through), the first
successes completed in it per second, the time-averaged backlog and group
size over it. `latency_p99_peak` is the largest windowed p99.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from .scenario import Scenario

WINDOWS = 24  # windows over the measured time when the load varies and no width is given
# Fewest copies a window's p99 is judged on for the peak: with fewer, a p99 is little more than the window's
# largest latency, and a peak over many windows would pick whichever was unluckiest.
PEAK_COPIES = 100
COLUMNS = ("start", "end", "copies", "latency_p50", "latency_p99", "throughput", "backlog_mean", "group_size_mean")


def width(scenario: Scenario) -> float | None:
    """The scenario's window: its `window`, else a `WINDOWS`th of the measured time where some topic's rate
    varies or some group scales; None (no windows) for a steady load."""
    from .topology import Topology

    if scenario.window is not None:
        return scenario.window
    parts = Topology.of(scenario)
    varies = any(t.settings.rate_profile != "constant" for t in parts.topics)
    scales = any(s.settings.autoscale for s in parts.subscriptions)
    return (scenario.duration - scenario.warmup) / WINDOWS if varies or scales else None


def edges(warmup: float, duration: float, width: float) -> np.ndarray:
    """Window boundaries from the end of warm-up: every `width` seconds, the last window cut at `duration`."""
    count = max(1, math.ceil((duration - warmup) / width - 1e-9))
    return np.minimum(warmup + width * np.arange(count + 1), duration)


def window_metrics(
    published: np.ndarray,
    finished: np.ndarray,
    entered: np.ndarray,
    left: np.ndarray,
    sizes: Sequence[Sequence[tuple[float, int]]],
    warmup: float,
    duration: float,
    width: float,
) -> pd.DataFrame:
    """One row per window (`COLUMNS`), from first successes (publish and completion times), the sorted times
    copies entered and left the queues, and each group's size changes ((time, size) from time 0)."""
    import pandas as pd  # only when windows are asked for: `import pubsub` stays light

    bounds = edges(warmup, duration, width)
    starts, ends = bounds[:-1], bounds[1:]
    spans = ends - starts
    order = np.argsort(published, kind="stable")
    by_publish = published[order]
    latency = (finished - published)[order]
    cuts = np.searchsorted(by_publish, bounds, side="left")
    copies = np.diff(cuts)
    quantiles = np.full((len(starts), 2), math.nan)
    for k in np.flatnonzero(copies):
        quantiles[k] = np.quantile(latency[cuts[k] : cuts[k + 1]], [0.5, 0.99])
    completed = np.diff(np.searchsorted(np.sort(finished), bounds, side="left"))
    waiting = _area(entered, starts, ends) - _area(left, starts, ends)
    running = sum((_step_integral(changes, starts, ends) for changes in sizes), np.zeros(len(starts)))
    return pd.DataFrame(
        {
            "start": starts,
            "end": ends,
            "copies": copies,
            "latency_p50": quantiles[:, 0],
            "latency_p99": quantiles[:, 1],
            "throughput": completed / spans,
            "backlog_mean": waiting / spans,
            "group_size_mean": running / spans / max(len(sizes), 1),
        }
    )


def peak_p99(windows: pd.DataFrame | None) -> float:
    """The largest p99 of a window with at least `PEAK_COPIES` copies; NaN without such a window."""
    if windows is None:
        return math.nan
    judged = windows.loc[windows["copies"] >= PEAK_COPIES, "latency_p99"]
    return float(judged.max()) if len(judged) else math.nan


def _area(times: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Per window [a, b): the sum over sorted `times` x of b - clip(x, a, b), the time within the window after
    each x. (Entries minus exits: the integral of the queue's depth over the window.)"""
    before = np.concatenate(([0.0], np.cumsum(times)))  # sum of the first n times
    at_start = np.searchsorted(times, starts, side="left")
    at_end = np.searchsorted(times, ends, side="left")
    inside = (at_end - at_start) * ends - (before[at_end] - before[at_start])
    return at_start * (ends - starts) + inside


def _step_integral(changes: Sequence[tuple[float, int]], starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Per window, the integral of a step function (its value from each change on) over the window."""
    at = np.array([t for t, _ in changes], dtype=float)
    value = np.array([v for _, v in changes], dtype=float)
    total = np.concatenate(([0.0], np.cumsum(value[:-1] * np.diff(at))))  # the integral up to each change

    def integral(t: np.ndarray) -> np.ndarray:
        k = np.searchsorted(at, t, side="right") - 1
        return total[k] + value[k] * (t - at[k])

    return integral(ends) - integral(starts)
