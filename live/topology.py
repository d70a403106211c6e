"""How a Scenario maps onto Redis Streams, and which Scenario fields the mapping cannot carry.

- a topic is a stream; a topic that a `key-hash` subscription reads is one
  stream per consumer of that subscription (a partition), chosen by the key
  with the simulator's own hash;
- a subscription is a consumer group on each stream of its topics: fan-out is
  several groups reading the same entries;
- `shared` dispatch: whichever consumer is idle takes the oldest waiting entry
  of its subscription's streams (one stream, or several when it reads several
  topics or partitions: a server-side script compares their heads by publish
  time and reads that one with `XREADGROUP ... >`, the simulator's single FIFO);
- acknowledgment is `XACK`, the visibility timeout `XAUTOCLAIM` with
  min-idle-time = `ack_timeout`, the delivery count `XPENDING`'s; past
  `max_deliveries` an entry is added to the group's dead-letter stream, then
  acknowledged; without `ack`, consumers read with `NOACK`;
- `idempotent` consumers keep processed entry ids in a set per group.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from pubsub import Scenario
from pubsub.dispatch import partition
from pubsub.topology import SubscriptionPart, TopicPart
from pubsub.topology import Topology as Parts

SUPPORTED_DISPATCH = ("shared", "key-hash")


def refuse_unsupported(scenario: Scenario) -> None:
    """Raise ValueError naming every field (by its path, in a named topology) whose value this mapping cannot run."""
    parts = Parts.of(scenario)
    problems: list[str] = []
    for topic in parts.topics:
        _refuse_topic(topic, _path(scenario, "topics", topic.name), problems)
    for subscription in parts.subscriptions:
        _refuse_subscription(subscription, _path(scenario, "subscriptions", subscription.name), problems)
    for topic in parts.topics:
        counts = {s.settings.group_size for s in parts.readers(topic.name) if s.settings.dispatch == "key-hash"}
        if len(counts) > 1:
            problems.append(f"topics.{topic.name}: key-hash subscriptions of different group sizes ({sorted(counts)})")
    if problems:
        raise ValueError("not supported on a real broker: " + "; ".join(dict.fromkeys(problems)))


def _path(scenario: Scenario, kind: str, name: str) -> str:
    """The prefix that names a part's field: none under the uniform shorthand, whose fields are flat."""
    return f"{kind}.{name}." if scenario.named else ""


def _refuse_topic(topic: TopicPart, at: str, problems: list[str]) -> None:
    if topic.settings.poison_prob:
        problems.append(f"{at}poison_prob={topic.settings.poison_prob!r} (not mapped onto Redis Streams yet)")


def _refuse_subscription(subscription: SubscriptionPart, at: str, problems: list[str]) -> None:
    s = subscription.settings
    if s.dispatch not in SUPPORTED_DISPATCH:
        problems.append(f"{at}dispatch={s.dispatch!r} (supported: {', '.join(SUPPORTED_DISPATCH)})")
    if s.dispatch == "key-hash" and len(subscription.topics) > 1:
        problems.append(f"{at}dispatch='key-hash' on several topics (a consumer reads its partition of one topic)")
    if s.crash_rate > 0:
        problems.append(f"{at}crash_rate={s.crash_rate:g} (consumers here do not crash on purpose)")
    if s.autoscale:
        problems.append(f"{at}autoscale=True (groups on the broker are fixed)")
    if s.prefetch > 1:
        problems.append(f"{at}prefetch={s.prefetch} (consumers here read one entry at a time)")
    if s.batch_size > 1:
        problems.append(f"{at}batch_size={s.batch_size} (consumers here read one entry at a time)")
    if s.queue_capacity is not None:
        problems.append(f"{at}queue_capacity={s.queue_capacity} (streams here are unbounded)")
    for name in ("nack", "batch_overhead"):
        if getattr(s, name):
            problems.append(f"{at}{name}={getattr(s, name)!r} (not mapped onto Redis Streams yet)")
    if s.outage_duration > 0:
        problems.append(f"{at}outage_duration={s.outage_duration:g} (no outages on a real broker yet)")


@dataclass(frozen=True)
class Topology:
    """The keys of one live run, all under `prefix` so that the run can remove exactly what it made.

    Topics and subscriptions are numbered as `pubsub.topology.Topology` orders them.
    """

    scenario: Scenario
    prefix: str

    @cached_property
    def parts(self) -> Parts:
        return Parts.of(self.scenario)

    def topic_index(self, name: str) -> int:
        return next(i for i, t in enumerate(self.parts.topics) if t.name == name)

    def _keyed_size(self, topic: int) -> int | None:
        """The group size of the topic's key-hash subscriptions (all of them agree), None if it has none."""
        name = self.parts.topics[topic].name
        keyed = [s.settings.group_size for s in self.parts.readers(name) if s.settings.dispatch == "key-hash"]
        return keyed[0] if keyed else None

    def partitions(self, topic: int) -> int:
        """How many streams a topic is: one per consumer of its key-hash subscription, else one."""
        return self._keyed_size(topic) or 1

    def streams(self, topic: int) -> list[str]:
        return [self.stream(topic, p) for p in range(self.partitions(topic))]

    def stream(self, topic: int, part: int = 0) -> str:
        partitioned = self._keyed_size(topic) is not None
        return f"{self.prefix}:{self.parts.topics[topic].name}" + (f":p{part}" if partitioned else "")

    def stream_for_key(self, topic: int, key: int) -> str:
        count = self.partitions(topic)
        return self.stream(topic, partition(key, count) if count > 1 else 0)

    def topics_of(self, subscription: int) -> list[int]:
        return [self.topic_index(name) for name in self.parts.subscriptions[subscription].topics]

    def subscription_streams(self, subscription: int) -> list[str]:
        """Every stream a subscription's group reads."""
        return [stream for t in self.topics_of(subscription) for stream in self.streams(t)]

    def consumer_streams(self, subscription: int, consumer: int) -> list[str]:
        """The streams a consumer reads: its subscription's, or under key-hash its own partition's."""
        if self.parts.subscriptions[subscription].settings.dispatch == "key-hash":
            (topic,) = self.topics_of(subscription)
            return [self.stream(topic, consumer)]
        return self.subscription_streams(subscription)

    def group(self, subscription: int) -> str:
        return self.parts.subscriptions[subscription].name

    @staticmethod
    def consumer(index: int) -> str:
        return f"c{index}"

    def dead_letters(self, subscription: int) -> str:
        return f"{self.prefix}:{self.group(subscription)}:dead"

    def done(self, subscription: int) -> str:
        return f"{self.prefix}:{self.group(subscription)}:done"
