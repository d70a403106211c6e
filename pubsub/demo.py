"""The chapter's system as a named topology, run with a printed trace: `python -m pubsub.demo`.

OrderService publishes orders and UserService user activity; inventory (fast)
and email (slow) read orders; analytics reads both topics with one consumer.
Email falls behind and its queue grows; the others keep up.
"""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path

from .scenario import RUN_FIELDS, Scenario
from .simulation import simulate
from .trace import Trace

# The chapter's system is described once, in the shipped sweep spec that sizes it (a data file, read here).
SPEC = Path(__file__).resolve().parents[1] / "sweeps" / "specs" / "chapter.toml"
PUBLISHERS = {"orders/p0": "OrderService", "user-activity/p0": "UserService"}


class PrintTrace(Trace):
    """Prints each event as a time-stamped line."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet

    def _line(self, now: float, who: str, what: str) -> None:
        if not self.quiet:
            print(f"[{now:7.2f}s] {who:<14} {what}")

    def published(self, now, publisher, message):
        self._line(now, PUBLISHERS.get(publisher, publisher), f"published {message.topic}#{message.id}")

    def taken(self, now, consumer, subscription, copy):
        m = copy.message
        self._line(now, consumer.name, f"took {m.topic}#{m.id} after waiting {now - m.published_at:.2f}s")

    def finished(self, now, consumer, subscription, copy, ok):
        m = copy.message
        self._line(now, consumer.name, f"finished {m.topic}#{m.id}, {now - m.published_at:.2f}s after it was published")


def chapter() -> dict:
    """The chapter's system: the spec's fixed fields but the run's (one consumer per subscription)."""
    fields = tomllib.loads(SPEC.read_text())["scenario"]
    return {k: v for k, v in fields.items() if k not in RUN_FIELDS}


def scenario(duration: float = 30.0, seed: int = 1) -> Scenario:
    """The chapter's system over `duration` simulated seconds, measured from the start."""
    return Scenario(**chapter(), duration=duration, warmup=0.0, seed=seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=30.0, help="simulated seconds (default 30)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quiet", action="store_true", help="final statistics only")
    args = parser.parse_args()
    result = simulate(scenario(args.duration, args.seed), trace=PrintTrace(quiet=args.quiet))
    parts = result.by_subscription
    copies = int(parts["published"].sum())
    print(f"\nAfter {args.duration:g} simulated seconds:")
    print(f"  {', '.join(PUBLISHERS.values())} published {result.summary['published']} messages, {copies} copies")
    print(f"  {'subscription':<12} {'done':>5} {'mean latency':>13} {'p99':>8} {'waiting':>8}")
    for name, row in parts.iterrows():
        mean, p99 = row["latency_mean"], row["latency_p99"]
        print(f"  {name:<12} {int(row['processed']):>5} {mean:>12.2f}s {p99:>7.2f}s {int(row['backlog_final']):>8}")


if __name__ == "__main__":
    main()
