"""Optional observers of a run, for demos and tests; the model never prints."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .consumer import Consumer
    from .message import Copy, Message
    from .subscription import Subscription


class Trace:
    """Does nothing; subclasses override the events they want to see."""

    def published(self, now: float, publisher: str, message: Message) -> None:
        pass

    def taken(self, now: float, consumer: Consumer, subscription: Subscription, copy: Copy) -> None:
        pass

    def finished(self, now: float, consumer: Consumer, subscription: Subscription, copy: Copy, ok: bool) -> None:
        pass

    def requeued(self, now: float, subscription: Subscription, copy: Copy) -> None:
        pass

    def dead_lettered(self, now: float, subscription: Subscription, copy: Copy) -> None:
        pass

    def lost(self, now: float, subscription: Subscription, copy: Copy) -> None:
        """A crash cut `copy` short without acknowledgments (its attempt, or its place in a prefetch buffer)."""
