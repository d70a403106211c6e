"""A dozen varied scenarios whose summaries are pinned in golden.json.

Regenerate (only when a change of results is intended and explained in the same
commit): python -m tests.pubsub.golden_scenarios
"""

import json
from pathlib import Path

from pubsub import WALL_CLOCK_METRICS, Scenario, simulate

GOLDEN = Path(__file__).with_name("golden.json")

SCENARIOS = [
    dict(publish_rate=0.8, duration=3000.0, warmup=300.0, seed=1),
    dict(publish_rate=1.6, group_size=2, dispatch="shared", duration=2000.0, warmup=200.0, seed=2),
    dict(publish_rate=2.4, group_size=3, dispatch="round-robin", service="fixed", duration=2000.0, seed=3),
    dict(
        publish_rate=2.0,
        group_size=4,
        dispatch="least-loaded",
        service="lognormal",
        service_cv=2.0,
        duration=2000.0,
        seed=4,
    ),
    dict(publish_rate=1.5, group_size=4, dispatch="key-hash", keys=50, key_skew=1.2, duration=2000.0, seed=5),
    dict(
        topics=2,
        publishers=2,
        subscribers=3,
        group_size=2,
        publish_rate=0.4,
        dispatch="shared",
        duration=1500.0,
        seed=6,
    ),
    dict(
        publish_rate=1.2,
        group_size=2,
        dispatch="shared",
        ack=True,
        ack_timeout=2.0,
        failure_prob=0.2,
        max_deliveries=3,
        service="lognormal",
        service_cv=1.5,
        duration=2000.0,
        seed=7,
    ),
    dict(
        publish_rate=1.2,
        group_size=2,
        dispatch="shared",
        ack=True,
        ack_timeout=2.0,
        failure_prob=0.2,
        idempotent=True,
        service="lognormal",
        service_cv=1.5,
        duration=2000.0,
        seed=7,
    ),
    dict(publish_rate=1.5, queue_capacity=4, overflow="drop", service="fixed", duration=2000.0, seed=8),
    dict(publish_rate=1.5, queue_capacity=4, overflow="block", group_size=1, duration=2000.0, seed=9),
    dict(
        publish_rate=0.7,
        arrivals="bursty",
        burst_factor=5.0,
        group_size=2,
        dispatch="round-robin",
        duration=3000.0,
        seed=10,
    ),
    dict(
        publish_rate=1.0,
        group_size=2,
        dispatch="shared",
        outage_start=500.0,
        outage_duration=200.0,
        arrivals="fixed",
        duration=2000.0,
        seed=11,
    ),
    # Round-robin with acknowledgments: where a redelivery goes (back to its own consumer) shows in latency.
    dict(
        publish_rate=1.8,
        group_size=3,
        dispatch="round-robin",
        ack=True,
        ack_timeout=2.0,
        failure_prob=0.2,
        max_deliveries=4,
        duration=2000.0,
        seed=12,
    ),
]


def summaries() -> list[dict]:
    """Each scenario's summary without wall-clock metrics, NaN as the string "NaN" (JSON-safe, exact)."""
    out = []
    for fields in SCENARIOS:
        summary = simulate(Scenario(**fields)).summary
        out.append(
            {
                k: ("NaN" if isinstance(v, float) and v != v else v)
                for k, v in summary.items()
                if k not in WALL_CLOCK_METRICS
            }
        )
    return out


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(summaries(), indent=1) + "\n")
    print(f"wrote {GOLDEN}")
