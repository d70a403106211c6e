"""The broker: topics, and fan-out of every message to each of a topic's subscriptions."""

from __future__ import annotations

import itertools
from collections import defaultdict

from .mailbox import Mailbox
from .message import Message
from .recorder import Recorder
from .subscription import Subscription


class Broker:
    """Routes each published message to every subscription of its topic."""

    def __init__(self, recorder: Recorder):
        self.recorder = recorder
        self.subscriptions: dict[str, list[Subscription]] = defaultdict(list)
        self.copies_offered = 0  # published messages times their topic's subscriptions
        self._ids = itertools.count()

    def subscribe(self, subscription: Subscription) -> None:
        for topic in subscription.topics:
            self.subscriptions[topic].append(subscription)

    def full_mailbox(self, topic: str, key: int) -> Mailbox | None:
        """A full mailbox that a blocking publisher of `topic` must wait for, if any."""
        for subscription in self.subscriptions[topic]:
            mailbox = subscription.full_mailbox(key)
            if mailbox is not None:
                return mailbox
        return None

    def publish(self, now: float, topic: str, key: int, poison: bool) -> Message:
        """Publish a new message at `now`: one copy offered to each subscription."""
        message = Message(next(self._ids), topic, key, now, poison)
        self.recorder.messages[topic] += 1
        subscriptions = self.subscriptions[topic]
        self.copies_offered += len(subscriptions)
        for subscription in subscriptions:
            subscription.offer(now, message)
        return message
