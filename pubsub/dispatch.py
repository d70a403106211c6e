"""How a consumer group shares its subscription's stream among its consumers."""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from functools import partial
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
    the others give each consumer its own, `mailbox(i)` making consumer i's.

    Copies go only to the group's `members`: the consumers up and not retired.
    When membership changes, `reassign` routes anew and `rehome` moves the
    copies still waiting to where they now belong.
    """

    one_queue = False

    def __init__(self, mailbox: Callable[[int], Mailbox], consumers: Sequence[Consumer]):
        self.new_mailbox = mailbox
        self.consumers = list(consumers)
        self.mailboxes = [mailbox(-1)] if self.one_queue else [mailbox(i) for i in range(len(self.consumers))]
        self.members = list(range(len(self.consumers)))

    def route(self, key: int) -> Mailbox:
        raise NotImplementedError

    def peek(self, key: int) -> Mailbox:
        return self.route(key)

    def redeliver(self, copy: Copy) -> Mailbox:
        """Where an unacknowledged copy goes back to."""
        return self.route(copy.message.key)

    def inbox(self, consumer: int) -> Mailbox:
        """The mailbox consumer `consumer` takes its copies from."""
        return self.mailboxes[0 if self.one_queue else consumer]

    def attach(self, subscription: Subscription) -> None:
        """Called once by the subscription this dispatch serves."""

    def add(self, consumer: Consumer) -> Mailbox:
        """A new consumer, not yet a member; its inbox."""
        self.consumers.append(consumer)
        if not self.one_queue:
            self.mailboxes.append(self.new_mailbox(len(self.mailboxes)))
        return self.inbox(len(self.consumers) - 1)

    def reassign(self, members: list[int]) -> list[int]:
        """Route to `members` (consumer indices, ascending) from now on; returns the members that gained a share
        of the stream (partitions moved to them). With no member left, copies keep their old routes and wait."""
        if members:
            self.members = members
            self._assign(members)
        return []

    def _assign(self, members: list[int]) -> None:
        """Rebuild the routes for `members`."""

    def belongs(self, copy: Copy, mailbox: Mailbox) -> bool:
        """Whether a copy waiting in `mailbox` is where the current routes would put it."""
        return mailbox.consumer in self.members

    def strays(self, mailbox: Mailbox, copy: Copy) -> bool:
        return not self.belongs(copy, mailbox)

    def rehome(self, now: float) -> None:
        """Move waiting copies that no longer belong where they wait, keeping their order; redeliveries stay
        ahead of new copies. Capacity does not apply: they were admitted once."""
        if self.one_queue:
            return
        for mailbox in self.mailboxes:
            if not len(mailbox):
                continue
            retries, items = mailbox.withdraw(now, partial(self.strays, mailbox))
            for copy in retries:
                copy.home = target = self.route(copy.message.key)
                target.requeue(now, copy)
            for copy in items:
                copy.home = target = self.route(copy.message.key)
                target.put(now, copy)


class Shared(Dispatch):
    """One queue for the group; whichever consumer is idle takes the next copy."""

    one_queue = True

    def route(self, key: int) -> Mailbox:
        return self.mailboxes[0]


class RoundRobin(Dispatch):
    """Copy k goes to member k mod group size, into its own queue."""

    def __init__(self, mailbox: Callable[[int], Mailbox], consumers: Sequence[Consumer]):
        super().__init__(mailbox, consumers)
        self._next = 0
        self._assign(self.members)

    def _assign(self, members: list[int]) -> None:
        self._ring = [self.mailboxes[i] for i in members]
        self._homes = set(self._ring)
        self._next %= len(self._ring)

    def route(self, key: int) -> Mailbox:
        mailbox = self._ring[self._next]
        self._next = (self._next + 1) % len(self._ring)
        return mailbox

    def peek(self, key: int) -> Mailbox:
        return self._ring[self._next]

    def redeliver(self, copy: Copy) -> Mailbox:
        # Back to its own consumer's queue: a redelivery must not take a new message's turn.
        if copy.home in self._homes:
            return copy.home
        return self.route(copy.message.key)


class LeastLoaded(Dispatch):
    """To the member with the fewest copies waiting plus in service; lowest index on ties."""

    def __init__(self, mailbox: Callable[[int], Mailbox], consumers: Sequence[Consumer]):
        super().__init__(mailbox, consumers)
        self._assign(self.members)

    def _assign(self, members: list[int]) -> None:
        self._pairs = [(self.mailboxes[i], self.consumers[i]) for i in members]

    def route(self, key: int) -> Mailbox:
        return min(self._pairs, key=_load)[0]  # min keeps the first of equals: the lowest index


def _load(pair: tuple[Mailbox, Consumer]) -> int:
    mailbox, consumer = pair
    return len(mailbox) + consumer.busy


class Partitioned(Dispatch):
    """Kafka: the key's hash picks one of `partitions`; each partition belongs to one member (range assignment).

    A consumer takes its partitions' copies in publish order, so order per
    partition holds while nothing is redelivered: later copies of a key may be
    processed while a failed copy of it awaits its visibility timeout.
    Consumers beyond the partition count own nothing and sit idle. When
    membership changes, partitions are assigned anew over the members and the
    copies waiting in a moved partition follow it, in order.
    """

    def __init__(self, mailbox: Callable[[int], Mailbox], consumers: Sequence[Consumer], keys: int, partitions: int):
        super().__init__(mailbox, consumers)
        self.partitions = partitions
        self.keys = keys
        self._assign(self.members)

    def partition_count(self, members: list[int]) -> int:
        return self.partitions

    def _assign(self, members: list[int]) -> None:
        partitions = self.partition_count(members)
        owner = [member for member, block in zip(members, range_assignment(partitions, len(members))) for _ in block]
        self._by_key = [self.mailboxes[owner[partition(key, partitions)]] for key in range(self.keys)]

    def reassign(self, members: list[int]) -> list[int]:
        """The members that gained keys: what they take over waits for them."""
        before = self._by_key
        super().reassign(members)
        return sorted({new.consumer for old, new in zip(before, self._by_key) if new is not old})

    def route(self, key: int) -> Mailbox:
        return self._by_key[key]

    def belongs(self, copy: Copy, mailbox: Mailbox) -> bool:
        return self._by_key[copy.message.key] is mailbox


class KeyHash(Partitioned):
    """The key's hash picks the member: one partition per member, whatever `partitions` says, so any change of
    membership moves most keys."""

    def partition_count(self, members: list[int]) -> int:
        return len(members)


def range_assignment(partitions: int, consumers: int) -> list[range]:
    """Kafka's range assignor: consumer i owns a contiguous block; the first `partitions mod consumers` one more."""
    each, extra = divmod(partitions, consumers)
    start = [i * each + min(i, extra) for i in range(consumers)]
    return [range(first, first + each + (i < extra)) for i, first in enumerate(start)]


class Prefetch(Dispatch):
    """RabbitMQ's `basic.qos`: the broker pushes a waiting copy to a member holding fewer than `prefetch`.

    Copies wait in the group's queue (the backlog); the broker delivers them,
    round-robin among the members with room, into each consumer's own buffer,
    which the consumer works through in order. A delivered copy counts as in
    flight until it is finished; if its delivery expires while it is still
    buffered, it leaves the buffer for the group's queue. A consumer that
    leaves gracefully works through its buffer; one that crashes loses it, as
    it loses the attempt it was making. With `prefetch` = 1 this is `shared`.
    """

    one_queue = True

    def __init__(self, env: Environment, consumers: Sequence[Consumer], capacity: int | None, prefetch: int):
        super().__init__(lambda _: PushQueue(env, capacity, self.push), consumers)
        self._env = env
        self.queue = self.mailboxes[0]
        self.buffers = [Buffer(env, i, self.push) for i in range(len(self.consumers))]
        self.prefetch = prefetch
        self._next = 0
        self._subscription: Subscription | None = None

    def attach(self, subscription: Subscription) -> None:
        self._subscription = subscription

    def route(self, key: int) -> Mailbox:
        return self.queue

    def inbox(self, consumer: int) -> Mailbox:
        return self.buffers[consumer]

    def add(self, consumer: Consumer) -> Mailbox:
        self.consumers.append(consumer)
        buffer = Buffer(self._env, len(self.buffers), self.push)
        buffer.open = False
        self.buffers.append(buffer)
        return buffer

    def reassign(self, members: list[int]) -> list[int]:
        self.members = members
        for i, buffer in enumerate(self.buffers):
            buffer.open = i in members
        return []

    def rehome(self, now: float) -> None:
        """Empty the buffers of crashed consumers, then deliver to whoever has room."""
        subscription = self._subscription
        assert subscription is not None, "a Prefetch dispatch must be attached to its subscription"  # pragma: no mutate
        for buffer, consumer in zip(self.buffers, self.consumers):
            if consumer.down and buffer.held:
                buffer.held = 0  # the attempt it was making is the consumer's to lose
                retries, items = buffer.withdraw(now, lambda copy: True)
                for copy in retries + items:
                    subscription.crashed(now, copy)
        self.push(now)

    def redeliver(self, copy: Copy) -> Mailbox:
        return self.queue  # an expired delivery has left its buffer already (`Acknowledgments._expire`)

    def push(self, now: float) -> None:
        """Deliver waiting copies to members with room, round-robin, until either runs out."""
        queue, subscription = self.queue, self._subscription
        assert subscription is not None, "a Prefetch dispatch must be attached to its subscription"  # pragma: no mutate
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
            buffer = buffers[i]
            if buffer.held < self.prefetch and buffer.open and not buffer.paused:
                self._next = (i + 1) % n
                return buffer
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

    def mailbox(consumer: int) -> Mailbox:
        return Mailbox(env, capacity, consumer=consumer)

    kind = POLICIES[policy]
    if issubclass(kind, Partitioned):
        return kind(mailbox, consumers, keys, partitions if partitions is not None else len(consumers))
    return kind(mailbox, consumers)
