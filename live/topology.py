"""How a Scenario maps onto Redis Streams, and which Scenario fields the mapping cannot carry.

- a topic is a stream; under `key-hash` it is one stream per consumer index
  (a partition), chosen by the key with the simulator's own hash;
- a subscription is a consumer group on its topic's stream(s): fan-out is
  several groups reading the same entries;
- `shared` dispatch is `XREADGROUP ... >` by whichever consumer is idle;
- acknowledgment is `XACK`, the visibility timeout `XAUTOCLAIM` with
  min-idle-time = `ack_timeout`, the delivery count `XPENDING`'s; past
  `max_deliveries` an entry is added to the group's dead-letter stream, then
  acknowledged; without `ack`, consumers read with `NOACK`;
- `idempotent` consumers keep processed entry ids in a set per group.
"""

from __future__ import annotations

from dataclasses import dataclass

from pubsub import Scenario
from pubsub.dispatch import partition

SUPPORTED_DISPATCH = ("shared", "key-hash")


def refuse_unsupported(scenario: Scenario) -> None:
    """Raise ValueError naming every field whose value this mapping cannot run."""
    problems = []
    if scenario.named:
        problems.append("named topics and subscriptions (only the uniform shorthand is mapped so far)")
    if scenario.dispatch not in SUPPORTED_DISPATCH:
        problems.append(f"dispatch={scenario.dispatch!r} (supported: {', '.join(SUPPORTED_DISPATCH)})")
    if scenario.crash_rate > 0:
        problems.append(f"crash_rate={scenario.crash_rate:g} (consumers here do not crash on purpose)")
    if scenario.autoscale:
        problems.append("autoscale=True (groups on the broker are fixed)")
    if scenario.prefetch > 1:
        problems.append(f"prefetch={scenario.prefetch} (consumers here read one entry at a time)")
    if scenario.batch_size > 1:
        problems.append(f"batch_size={scenario.batch_size} (consumers here read one entry at a time)")
    if scenario.queue_capacity is not None:
        problems.append(f"queue_capacity={scenario.queue_capacity} (streams here are unbounded)")
    for name in ("nack", "poison_prob", "batch_overhead"):
        if getattr(scenario, name):
            problems.append(f"{name}={getattr(scenario, name)!r} (not mapped onto Redis Streams yet)")
    if scenario.outage_duration > 0:
        problems.append(f"outage_duration={scenario.outage_duration:g} (no outages on a real broker yet)")
    if problems:
        raise ValueError("not supported on a real broker: " + "; ".join(problems))


@dataclass(frozen=True)
class Topology:
    """The keys of one live run, all under `prefix` so that the run can remove exactly what it made."""

    scenario: Scenario
    prefix: str

    @property
    def partitions(self) -> int:
        return self.scenario.group_size if self.scenario.dispatch == "key-hash" else 1

    def streams(self, topic: int) -> list[str]:
        return [self.stream(topic, p) for p in range(self.partitions)]

    def stream(self, topic: int, part: int = 0) -> str:
        return f"{self.prefix}:t{topic}" + (f":p{part}" if self.scenario.dispatch == "key-hash" else "")

    def stream_for_key(self, topic: int, key: int) -> str:
        return self.stream(topic, partition(key, self.partitions) if self.partitions > 1 else 0)

    def consumer_stream(self, topic: int, consumer: int) -> str:
        """The stream a consumer reads: its topic's, or under key-hash its own partition's."""
        return self.stream(topic, consumer if self.scenario.dispatch == "key-hash" else 0)

    @staticmethod
    def group(subscription: int) -> str:
        return f"s{subscription}"

    @staticmethod
    def consumer(index: int) -> str:
        return f"c{index}"

    def dead_letters(self, topic: int, subscription: int) -> str:
        return f"{self.prefix}:t{topic}:s{subscription}:dead"

    def done(self, topic: int, subscription: int) -> str:
        return f"{self.prefix}:t{topic}:s{subscription}:done"
