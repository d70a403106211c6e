"""Every metric a run reports: its name, kind, unit and meaning, in one place.

The summary's order, the count/float split, the sweep store's column types and
the metric tables of the README and docs/model.md all come from `METRIC_INFO`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["count", "float", "wall-clock"]


@dataclass(frozen=True)
class MetricInfo:
    """`count` metrics are exact integers; `wall-clock` ones vary from run to run of the same seed."""

    kind: Kind
    unit: str
    meaning: str


QUANTILES = {"latency_p50": 0.5, "latency_p95": 0.95, "latency_p99": 0.99, "latency_p999": 0.999}

_AFTER_WARMUP = "over copies published after warm-up and completed by the end"

METRIC_INFO: dict[str, MetricInfo] = {
    "published": MetricInfo("count", "messages", "messages published, each counted once before fan-out"),
    "delivered": MetricInfo("count", "deliveries", "hand-overs of copies to consumers, redeliveries included"),
    "processed": MetricInfo("count", "copies", "copies processed successfully for the first time"),
    "redelivered": MetricInfo("count", "deliveries", "deliveries beyond each copy's first"),
    "duplicates": MetricInfo("count", "copies", "successful processings beyond a copy's first"),
    "suppressed": MetricInfo("count", "copies", "duplicates that idempotent consumers skipped"),
    "dropped": MetricInfo("count", "copies", "new copies refused by a full queue"),
    "dead_lettered": MetricInfo("count", "copies", "copies moved to the dead-letter queue"),
    "lost": MetricInfo("count", "copies", "copies whose attempt a crash cut short without acknowledgments: gone"),
    "crashes": MetricInfo("count", "crashes", "consumer crashes"),
    "backlog_final": MetricInfo("count", "copies", "copies waiting in a queue when the run ends"),
    "in_flight_final": MetricInfo(
        "count", "copies", "copies taken and not settled, or awaiting redelivery, when the run ends"
    ),
    "latency_mean": MetricInfo("float", "s", f"mean time from publish to first successful completion, {_AFTER_WARMUP}"),
    **{
        name: MetricInfo("float", "s", f"{q:g} quantile of that latency, {_AFTER_WARMUP}")
        for name, q in QUANTILES.items()
    },
    "latency_max": MetricInfo("float", "s", f"largest such latency, {_AFTER_WARMUP}"),
    "latency_p99_first": MetricInfo(
        "float", "s", f"0.99 quantile of latency of the copies that succeeded on their first delivery, {_AFTER_WARMUP}"
    ),
    "latency_p99_redelivered": MetricInfo(
        "float", "s", f"0.99 quantile of latency of the copies that succeeded on a later delivery, {_AFTER_WARMUP}"
    ),
    "latency_p99_peak": MetricInfo(
        "float",
        "s",
        "largest p99 latency of a window (`result.windows`) among those with 100 copies or more published in it;"
        " NaN without windows",
    ),
    "redelivered_share": MetricInfo(
        "float", "fraction", f"share of first successes that came on a later delivery, {_AFTER_WARMUP}"
    ),
    "wait_mean": MetricInfo(
        "float", "s", f"mean time from publish to the start of the successful attempt, {_AFTER_WARMUP}"
    ),
    "backlog_mean": MetricInfo("float", "copies", "time-averaged number of copies waiting, after warm-up"),
    "backlog_max": MetricInfo("count", "copies", "largest number of copies waiting, after warm-up"),
    "throughput": MetricInfo("float", "copies/s", "first successful completions per second, after warm-up"),
    "utilization": MetricInfo("float", "fraction", "fraction of the consumers' running time spent busy, after warm-up"),
    "utilization_max": MetricInfo(
        "float", "fraction", "the busiest consumer's utilization: what key skew or uneven partitions overload"
    ),
    "consumer_seconds": MetricInfo(
        "float", "consumer·s", "consumers running (busy or not), integrated over the measured window: the cost"
    ),
    "group_size_mean": MetricInfo("float", "consumers", "consumer_seconds ÷ (window × groups): the mean group size"),
    "group_size_max": MetricInfo("count", "consumers", "largest size any group reached in the measured window"),
    "scale_ups": MetricInfo("count", "actions", "times an autoscaler added consumers"),
    "scale_downs": MetricInfo("count", "actions", "times an autoscaler retired consumers"),
    "rebalances": MetricInfo("count", "rebalances", "membership changes that made a group rebalance"),
    "paused_seconds": MetricInfo(
        "float", "consumer·s", "consumer time during which rebalances let consumers take nothing"
    ),
    "drain_time": MetricInfo(
        "float",
        "s",
        "time from the outage's end until its subscription's backlog is back to its level at the outage's start "
        "(NaN without an outage, or if it never is)",
    ),
    "wall_seconds": MetricInfo("wall-clock", "s", "real time the run took"),
    "sim_rate": MetricInfo("wall-clock", "deliveries/s", "deliveries per real second"),
}

METRICS = tuple(METRIC_INFO)
COUNT_METRICS = tuple(name for name, info in METRIC_INFO.items() if info.kind == "count")
WALL_CLOCK_METRICS = tuple(name for name, info in METRIC_INFO.items() if info.kind == "wall-clock")


def markdown_table() -> str:
    """The metric table of the README and docs/model.md, one row per metric."""
    rows = ["| metric | unit | meaning |", "|---|---|---|"]
    rows += [f"| `{name}` | {info.unit} | {info.meaning} |" for name, info in METRIC_INFO.items()]
    return "\n".join(rows)
