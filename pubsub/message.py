"""Messages, and the copy of a message that each subscription delivers."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .mailbox import Mailbox


class Message:
    """One published message. Its id is unique within a run."""

    __slots__ = ("id", "topic", "key", "published_at", "poison")

    def __init__(self, id: int, topic: str, key: int, published_at: float, poison: bool):
        self.id = id
        self.topic = topic
        self.key = key
        self.published_at = published_at
        self.poison = poison  # every attempt on any copy of it fails

    def __repr__(self) -> str:
        return f"Message({self.id}, {self.topic!r}, key={self.key}, t={self.published_at:g})"


class Copy:
    """A subscription's own copy of a message and where it is in its life.

    `deliveries` counts hand-overs to consumers, `running` the attempts now in
    progress; `settled` becomes "processed" or "dead" exactly once. `service`
    and `fails` are its first attempt's work, drawn when it was admitted.
    `outstanding` is the delivery whose acknowledgment the broker awaits (0 once
    it timed out or was negatively acknowledged).
    """

    __slots__ = (
        "message",
        "home",
        "service",
        "fails",
        "deliveries",
        "running",
        "settled",
        "doomed",
        "mailbox",
        "outstanding",
    )

    def __init__(self, message: Message, home: Mailbox, service: float, fails: bool):
        self.message = message
        self.service = service
        self.fails = fails
        self.home = home  # the mailbox dispatch first chose; `mailbox` is where it waits now, if anywhere
        self.deliveries = 0
        self.running = 0
        self.settled: str | None = None
        # The last allowed delivery timed out while an attempt was still running:
        # that attempt decides between processed and dead-lettered.
        self.doomed = False
        self.mailbox: Mailbox | None = None
        self.outstanding = 0

    def __repr__(self) -> str:
        return f"Copy({self.message!r}, deliveries={self.deliveries})"
