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

    def __init__(self, mailboxes: Sequence[Mailbox], consumers: Sequence[Consumer], keys: int, partitions: int):
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

    def __init__(self, mailboxes: Sequence[Mailbox], consumers: Sequence[Consumer], keys: int, partitions: int):
        super().__init__(mailboxes, consumers, keys, partitions)
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

    def __init__(self, mailboxes: Sequence[Mailbox], consumers: Sequence[Consumer], keys: int, partitions: int):
        super().__init__(mailboxes, consumers, keys, partitions)
        self._pairs = list(zip(self.mailboxes, consumers))

    def route(self, key: int) -> Mailbox:
        best, best_load = self._pairs[0][0], None
        for mailbox, consumer in self._pairs:
            load = len(mailbox) + consumer.busy
            if best_load is None or load < best_load:
                best, best_load = mailbox, load
        return best


class Partitioned(Dispatch):
    """Kafka: the key's hash picks one of `partitions`; each partition belongs to one consumer (range assignment).

    A consumer takes its partitions' copies in publish order, so order per
    partition holds while nothing is redelivered: later copies of a key may be
    processed while a failed copy of it awaits its visibility timeout.
    Consumers beyond the partition count own nothing and sit idle.
    """

    def __init__(self, mailboxes: Sequence[Mailbox], consumers: Sequence[Consumer], keys: int, partitions: int):
        super().__init__(mailboxes, consumers, keys, partitions)
        owner = [i for i, owned in enumerate(range_assignment(partitions, len(self.mailboxes))) for _ in owned]
        self._by_key = [self.mailboxes[owner[partition(key, partitions)]] for key in range(keys)]

    def route(self, key: int) -> Mailbox:
        return self._by_key[key]


class KeyHash(Partitioned):
    """The key's hash picks the consumer: one partition per consumer, whatever `partitions` says."""

    def __init__(self, mailboxes: Sequence[Mailbox], consumers: Sequence[Consumer], keys: int, partitions: int):
        super().__init__(mailboxes, consumers, keys, len(mailboxes))


def range_assignment(partitions: int, consumers: int) -> list[range]:
    """Kafka's range assignor: consumer i owns a contiguous block; the first `partitions mod consumers` one more."""
    each, extra = divmod(partitions, consumers)
    starts = [i * each + min(i, extra) for i in range(consumers + 1)]
    return [range(starts[i], starts[i + 1]) for i in range(consumers)]


def partition(key: int, partitions: int) -> int:
    """A stable hash of the key onto [0, partitions)."""
    return zlib.crc32(str(key).encode()) % partitions


# Every value of the Scenario's `dispatch` field, and the class that implements it.
POLICIES: dict[DispatchPolicy, type[Dispatch]] = {
    "round-robin": RoundRobin,
    "shared": Shared,
    "least-loaded": LeastLoaded,
    "key-hash": KeyHash,
    "partitioned": Partitioned,
}


def make_dispatch(
    policy: DispatchPolicy,
    env: Environment,
    consumers: Sequence[Consumer],
    capacity: int | None,
    keys: int,
    partitions: int | None = None,
) -> Dispatch:
    """Mailboxes for a group under `policy`, and the dispatch that fills them."""
    if policy not in POLICIES:
        raise ValueError(f"dispatch: unknown policy {policy!r}; choose from {', '.join(POLICIES)}")
    kind = POLICIES[policy]
    if kind.one_queue:
        mailboxes = [Mailbox(env, capacity)]
    else:
        mailboxes = [Mailbox(env, capacity, consumer=i) for i in range(len(consumers))]
    return kind(mailboxes, consumers, keys, partitions if partitions is not None else len(consumers))
