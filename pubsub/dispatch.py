"""How a consumer group shares its subscription's stream among its consumers."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from asimpy import Environment

from .mailbox import Mailbox
from .message import Copy
from .scenario import DispatchPolicy

if TYPE_CHECKING:
    from .consumer import Consumer


class Dispatch:
    """Chooses the mailbox for each copy. `peek` is `route` without side effects.

    `one_queue` dispatches feed a single mailbox that the whole group reads;
    the others give each consumer its own.
    """

    one_queue = False

    def __init__(self, mailboxes: Sequence[Mailbox], consumers: Sequence[Consumer], keys: int):
        self.mailboxes = list(mailboxes)

    def route(self, key: int) -> Mailbox:
        raise NotImplementedError

    def peek(self, key: int) -> Mailbox:
        return self.route(key)

    def redeliver(self, copy: Copy) -> Mailbox:
        """Where an unacknowledged copy goes back to."""
        return self.route(copy.message.key)


class Shared(Dispatch):
    """One queue for the group; whichever consumer is idle takes the next copy."""

    one_queue = True

    def route(self, key: int) -> Mailbox:
        return self.mailboxes[0]


class RoundRobin(Dispatch):
    """Copy k goes to consumer k mod group size, into its own queue."""

    def __init__(self, mailboxes: Sequence[Mailbox], consumers: Sequence[Consumer], keys: int):
        super().__init__(mailboxes, consumers, keys)
        self._next = 0

    def route(self, key: int) -> Mailbox:
        mailbox = self.mailboxes[self._next]
        self._next = (self._next + 1) % len(self.mailboxes)
        return mailbox

    def peek(self, key: int) -> Mailbox:
        return self.mailboxes[self._next]

    def redeliver(self, copy: Copy) -> Mailbox:
        # Back to its own consumer's queue: a redelivery must not take a new message's turn.
        return copy.home


class LeastLoaded(Dispatch):
    """To the consumer with the fewest copies waiting plus in service; lowest index on ties."""

    def __init__(self, mailboxes: Sequence[Mailbox], consumers: Sequence[Consumer], keys: int):
        super().__init__(mailboxes, consumers, keys)
        self._pairs = list(zip(self.mailboxes, consumers))

    def route(self, key: int) -> Mailbox:
        best, best_load = self._pairs[0][0], None
        for mailbox, consumer in self._pairs:
            load = len(mailbox) + consumer.busy
            if best_load is None or load < best_load:
                best, best_load = mailbox, load
        return best


class KeyHash(Dispatch):
    """The key's hash picks the consumer, as a Kafka partition does.

    Order per key is kept while nothing is redelivered: later copies of a key
    may be processed while a failed copy of it awaits its visibility timeout.
    """

    def __init__(self, mailboxes: Sequence[Mailbox], consumers: Sequence[Consumer], keys: int):
        super().__init__(mailboxes, consumers, keys)
        self._by_key = [self.mailboxes[partition(key, len(self.mailboxes))] for key in range(keys)]

    def route(self, key: int) -> Mailbox:
        return self._by_key[key]


def partition(key: int, partitions: int) -> int:
    """A stable hash of the key onto [0, partitions)."""
    return zlib.crc32(str(key).encode()) % partitions


# Every value of the Scenario's `dispatch` field, and the class that implements it.
POLICIES: dict[DispatchPolicy, type[Dispatch]] = {
    "round-robin": RoundRobin,
    "shared": Shared,
    "least-loaded": LeastLoaded,
    "key-hash": KeyHash,
}


def make_dispatch(
    policy: DispatchPolicy,
    env: Environment,
    consumers: Sequence[Consumer],
    capacity: int | None,
    keys: int,
) -> Dispatch:
    """Mailboxes for a group under `policy`, and the dispatch that fills them."""
    if policy not in POLICIES:
        raise ValueError(f"dispatch: unknown policy {policy!r}; choose from {', '.join(POLICIES)}")
    kind = POLICIES[policy]
    if kind.one_queue:
        mailboxes = [Mailbox(env, capacity)]
    else:
        mailboxes = [Mailbox(env, capacity, consumer=i) for i in range(len(consumers))]
    return kind(mailboxes, consumers, keys)
