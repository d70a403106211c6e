"""A publish-subscribe message broker modelled on asimpy, behind one seeded function.

from pubsub import Scenario, simulate
result = simulate(Scenario(publish_rate=0.8, group_size=2, dispatch="shared"))
result.summary["latency_p99"]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .metric_info import COUNT_METRICS, METRIC_INFO, METRICS, WALL_CLOCK_METRICS, MetricInfo
from .scenario import Scenario

if TYPE_CHECKING:
    from .simulation import Result, simulate

# Bump whenever a change alters what simulate returns for some scenario (and regenerate
# tests/pubsub/golden.json in the same commit): stored sweep results are keyed by it.
# docs/model.md is the contract that such a change must keep true.
# 10: p99 apart for copies served on their first delivery and on a later one, redelivered_share (others unchanged);
# 9: a copy handed to a consumer as it crashes goes back, and its restart is waited out (pubsub/process.py);
# 8: named topologies, results per subscription (uniform summaries unchanged); 7: utilization_max;
# 6: membership for every dispatch, joins after startup; 5: rebalances; 4: crashes, lost; 3: group metrics;
# 2: redeliveries first, calibration fields
MODEL_VERSION = 10

__all__ = [
    "COUNT_METRICS",
    "METRICS",
    "METRIC_INFO",
    "MODEL_VERSION",
    "WALL_CLOCK_METRICS",
    "MetricInfo",
    "Result",
    "Scenario",
    "simulate",
]


def __getattr__(name: str):
    # The model (asimpy, numpy) loads on first use: describing scenarios and metrics needs neither.
    if name in ("Result", "simulate"):
        from . import simulation

        return getattr(simulation, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
