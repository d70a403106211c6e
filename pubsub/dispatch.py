"""How a consumer group shares its subscription's stream among its consumers."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from asimpy import Environment

from .mailbox import Buffer, Mailbox, PushQueue
from .message import Copy
from .scenario import DispatchPolicy

if TYPE_CHECKING:
    from .consumer import Consumer
    from .subscription import Subscription


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

    def redeliver(self, now: float, copy: Copy) -> Mailbox:
        """Where an unacknowledged copy goes back to."""
        return self.route(copy.message.key)

    def inbox(self, consumer: int) -> Mailbox:
        """The mailbox consumer `consumer` takes its copies from."""
        return self.mailboxes[0 if self.one_queue else consumer]

    def attach(self, subscription: Subscription) -> None:
        """Called once by the subscription this dispatch serves."""


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

    def redeliver(self, now: float, copy: Copy) -> Mailbox:
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


class Prefetch(Dispatch):
    """RabbitMQ's `basic.qos`: the broker pushes a waiting copy to a consumer holding fewer than `prefetch`.

    Copies wait in the group's queue (the backlog); the broker delivers them,
    round-robin among the consumers with room, into each consumer's own buffer,
    which the consumer works through in order. A delivered copy counts as in
    flight until it is finished; if its delivery expires while it is still
    buffered, it leaves the buffer for the group's queue. With `prefetch` = 1
    this is `shared`.
    """

    one_queue = True

    def __init__(self, env: Environment, consumers: Sequence[Consumer], capacity: int | None, prefetch: int):
        super().__init__([PushQueue(env, capacity, self.push)], consumers, 1, 1)
        self.queue = self.mailboxes[0]
        self.buffers = [Buffer(env, i, self.push) for i in range(len(consumers))]
        self.prefetch = prefetch
        self._next = 0
        self._subscription: Subscription | None = None

    def attach(self, subscription: Subscription) -> None:
        self._subscription = subscription

    def route(self, key: int) -> Mailbox:
        return self.queue

    def inbox(self, consumer: int) -> Mailbox:
        return self.buffers[consumer]

    def redeliver(self, now: float, copy: Copy) -> Mailbox:
        return self.queue  # an expired delivery has left its buffer already (`Acknowledgments._expire`)

    def push(self, now: float) -> None:
        """Deliver waiting copies to consumers with room, round-robin, until either runs out."""
        queue, subscription = self.queue, self._subscription
        assert subscription is not None, "a Prefetch dispatch must be attached to its subscription"
        while len(queue):
            buffer = self._with_room()
            if buffer is None:
                return
            copy = queue.take(now)
            if copy is None:  # paused
                return
            buffer.held += 1
            subscription.taken(now, copy)
            buffer.put(now, copy)

    def _with_room(self) -> Buffer | None:
        buffers, n = self.buffers, len(self.buffers)
        for step in range(n):
            i = (self._next + step) % n
            if buffers[i].held < self.prefetch:
                self._next = (i + 1) % n
                return buffers[i]
        return None


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
    prefetch: int | None = None,
) -> Dispatch:
    """Mailboxes for a group under `policy`, and the dispatch that fills them (`prefetch`: shared only)."""
    if policy not in POLICIES:
        raise ValueError(f"dispatch: unknown policy {policy!r}; choose from {', '.join(POLICIES)}")
    if prefetch is not None:
        if policy != "shared":
            raise ValueError(f"prefetch ({prefetch}) needs dispatch='shared', not {policy!r}")
        return Prefetch(env, consumers, capacity, prefetch)
    kind = POLICIES[policy]
    if kind.one_queue:
        mailboxes = [Mailbox(env, capacity)]
    else:
        mailboxes = [Mailbox(env, capacity, consumer=i) for i in range(len(consumers))]
    return kind(mailboxes, consumers, keys, partitions if partitions is not None else len(consumers))
