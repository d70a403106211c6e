"""The chapter's scenario, built from the model's own classes: `python -m pubsub.demo`.

OrderService and UserService publish; Inventory (fast) and Email (slow) read
orders; Analytics reads both topics at once. Email falls behind and its queue
grows; the others keep up.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

from asimpy import Environment

from . import randomness as rnd
from .broker import Broker
from .consumer import Consumer
from .metrics import summarize
from .publisher import Publisher
from .recorder import Recorder
from .subscription import Subscription
from .trace import Trace
from .work import Work

SERVICES = {"Inventory": 0.2, "Email": 3.0, "Analytics": 0.5}  # mean processing time, s
SUBSCRIPTIONS = [("orders", "Inventory"), ("orders", "Email"), ("orders", "Analytics"), ("user-activity", "Analytics")]
PUBLISHERS = [("OrderService", "orders", 0.5), ("UserService", "user-activity", 0.8)]  # messages/s


class PrintTrace(Trace):
    """Prints each event as a time-stamped line and keeps per-service latencies."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.latencies: dict[str, list[float]] = defaultdict(list)

    def _line(self, now: float, who: str, what: str) -> None:
        if not self.quiet:
            print(f"[{now:7.2f}s] {who:<13} {what}")

    def published(self, now, publisher, message):
        self._line(now, publisher, f"published {message.topic}#{message.id}")

    def taken(self, now, consumer, subscription, copy):
        m = copy.message
        self._line(now, consumer.name, f"took {m.topic}#{m.id} after waiting {now - m.published_at:.2f}s")

    def finished(self, now, consumer, subscription, copy, ok):
        m = copy.message
        self.latencies[consumer.name].append(now - m.published_at)
        self._line(now, consumer.name, f"finished {m.topic}#{m.id}, {now - m.published_at:.2f}s after it was published")


def run(duration: float = 30.0, seed: int = 1, trace: PrintTrace | None = None) -> dict:
    """Build and run the chapter's topology; return its summary metrics."""
    trace = trace if trace is not None else PrintTrace()
    env = Environment()
    recorder = Recorder()
    broker = Broker(recorder)
    consumers = {name: Consumer(env, name, trace=trace) for name in SERVICES}
    subscriptions = []
    for i, (topic, name) in enumerate(SUBSCRIPTIONS):
        # Each subscription's copies take its service's time (exponential, of the service's mean).
        work = Work(rnd.service_times("exponential", SERVICES[name], 1.0, rnd.rng_for(seed, rnd.SERVICE, i)))
        subscription = Subscription(env, f"{topic}/{name}", topic, [consumers[name]], recorder, trace=trace, work=work)
        broker.subscribe(subscription)
        subscriptions.append(subscription)
    for i, (name, topic, rate) in enumerate(PUBLISHERS):
        gaps = rnd.interarrival_times("poisson", rate, rnd.rng_for(seed, rnd.ARRIVALS, i))
        Publisher(env, name, broker, topic, gaps, trace=trace)
    env.run(until=duration)
    return {
        **summarize(recorder, subscriptions, list(consumers.values()), 0.0, duration),
        "copies_offered": broker.copies_offered,
        "waiting": {s.name: len(s.mailboxes[0]) for s in subscriptions},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=30.0, help="simulated seconds (default 30)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quiet", action="store_true", help="final statistics only")
    args = parser.parse_args()
    trace = PrintTrace(quiet=args.quiet)
    summary = run(args.duration, args.seed, trace)
    print(f"\nAfter {args.duration:g} simulated seconds:")
    print(f"  published {summary['published']} messages, {summary['copies_offered']} copies after fan-out")
    print(f"  {'service':<10} {'done':>5} {'mean latency':>13}")
    for name, latencies in sorted(trace.latencies.items()):
        mean = sum(latencies) / len(latencies)
        print(f"  {name:<10} {len(latencies):>5} {mean:>12.2f}s")
    print("  still waiting:", ", ".join(f"{k} {v}" for k, v in summary["waiting"].items()))
    print(f"  mean backlog {summary['backlog_mean']:.2f} copies, largest {summary['backlog_max']}")


if __name__ == "__main__":
    main()
