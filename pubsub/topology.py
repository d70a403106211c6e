"""The parts a Scenario describes, resolved: each topic and subscription by name, with its settings and streams."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import randomness
from .scenario import KEYED, Scenario, SubscriptionSettings, TopicSettings


def name_key(name: str) -> tuple[int]:
    """A named part's key among the random streams: its name, as a number."""
    return (int.from_bytes(name.encode(), "big"),)


@dataclass(frozen=True)
class Part:
    """A topic or a subscription: its name, and the key that makes its random streams its own.

    Under the uniform shorthand the key is the part's indices (topic t; subscription g of topic t), as it always
    was; a named part's is its name, so that adding or removing a part leaves every other part's draws as they
    were: topologies that share a part share its draws (common random numbers).
    """

    name: str
    seed: int
    key: tuple[int, ...]

    def rng(self, kind: int, *index: int) -> np.random.Generator:
        """The stream of this part's source `kind` (and, for one publisher or consumer, its index)."""
        return randomness.rng_for(self.seed, kind, *self.key, *index)


@dataclass(frozen=True)
class TopicPart(Part):
    settings: TopicSettings
    duration: float  # the run's: a ramp's profile ends there


@dataclass(frozen=True)
class SubscriptionPart(Part):
    topics: tuple[str, ...]
    settings: SubscriptionSettings


@dataclass(frozen=True)
class Topology:
    """Every topic and subscription of a Scenario, in the order the model builds them."""

    topics: tuple[TopicPart, ...]
    subscriptions: tuple[SubscriptionPart, ...]

    @classmethod
    def of(cls, s: Scenario) -> Topology:
        topics = tuple(
            TopicPart(name, s.seed, name_key(name) if s.named else (t,), settings, s.duration)
            for t, (name, settings) in enumerate(s.topic_settings().items())
        )
        uniform = [divmod(i, s.subscribers) for i in range(s.topic_count * s.subscribers)]
        subscriptions = tuple(
            SubscriptionPart(name, s.seed, name_key(name) if s.named else uniform[i], read, settings)
            for i, (name, (read, settings)) in enumerate(s.subscription_settings().items())
        )
        return cls(topics, subscriptions)

    def readers(self, topic: str) -> list[SubscriptionPart]:
        """The subscriptions that read `topic`."""
        return [s for s in self.subscriptions if topic in s.topics]

    def keyed(self, topic: str) -> bool:
        """Whether some subscription of `topic` routes by message key: only then do its publishers draw keys."""
        return any(s.settings.dispatch in KEYED for s in self.readers(topic))

    def copy_rate(self) -> float:
        """Copies offered per second at the publishers' base rates: each topic's messages times its readers."""
        return sum(t.settings.publishers * t.settings.publish_rate * len(self.readers(t.name)) for t in self.topics)

    def keys(self, subscription: SubscriptionPart) -> int:
        """How many distinct keys reach `subscription`: the most any of its topics draws."""
        by_name = {t.name: t.settings.keys for t in self.topics}
        return max(by_name[t] for t in subscription.topics)
