"""A FIFO of copies waiting for a consumer, which logs when copies enter and leave."""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable

from asimpy import Environment, Event

from .message import Copy


class Mailbox:
    """Copies waiting for a consumer: a group's shared queue or one consumer's own.

    Copies back for redelivery (`requeue`) are handed out before new ones (`put`),
    in the order they came back.

    `capacity` limits what `is_full` reports; callers decide what a full mailbox
    means (a redelivery is always put back). A paused mailbox keeps accepting
    copies but hands none out. Every time a copy starts or stops waiting is
    logged in `entered` and `left`, from which backlog metrics are computed once,
    at the end of the run.
    """

    delivers = True  # taking a copy from it is a delivery (not so from a consumer's prefetch buffer)

    def __init__(self, env: Environment, capacity: int | None = None, consumer: int = -1):
        self._env = env
        self.capacity = capacity
        self.consumer = consumer  # index of the consumer it feeds, -1 if the whole group
        self.items: deque[Copy] = deque()
        self.retries: deque[Copy] = deque()  # copies back for redelivery: handed out before new ones
        self.entered = array("d")
        self.left = array("d")
        self.paused = False
        self._getters: deque[Event] = deque()
        self._room: Event | None = None

    def __len__(self) -> int:
        return len(self.items) + len(self.retries)

    def is_full(self) -> bool:
        return self.capacity is not None and len(self) >= self.capacity

    def put(self, now: float, copy: Copy) -> None:
        """Add a copy at time `now`, handing it straight to a waiting consumer if any."""
        if not self.paused:
            getters = self._getters
            while getters:
                getter = getters.popleft()
                if not getter.cancelled:
                    getter.succeed(copy)
                    return
        self.items.append(copy)
        copy.mailbox = self
        self.entered.append(now)

    def requeue(self, now: float, copy: Copy) -> None:
        """Put back a copy for redelivery: ahead of the new copies, behind earlier redeliveries."""
        Mailbox.put(self, now, copy)  # handed to a waiting consumer at once, or it waits...
        if copy.mailbox is self:  # ...among the redeliveries, not the new copies
            self.retries.append(self.items.pop())

    def take(self, now: float) -> Copy | None:
        """The next waiting copy, removed at time `now`; None if there is none to hand out."""
        if self.paused:
            return None
        queue = self.retries or self.items
        if not queue:
            return None
        copy = queue.popleft()
        copy.mailbox = None
        self.left.append(now)
        if self._room is not None:
            self._release_room()
        return copy

    def done(self, now: float) -> None:
        """A consumer finished a copy it took from here (only a prefetch buffer cares)."""

    def get(self) -> Event:
        """An event whose value is the next copy handed out.

        If the event is cancelled after a copy was handed to it (its consumer
        crashed or retired as the copy came), the copy goes back to the head of
        its queue.
        """
        event = Event(self._env)
        event._on_cancel = self._put_back
        copy = self.take(self._env.now)
        if copy is None:
            self._getters.append(event)
        else:
            event.succeed(copy)
        return event

    def _put_back(self, copy: object) -> None:
        if not isinstance(copy, Copy):  # cancelled before any copy came
            return
        (self.retries if copy.deliveries else self.items).appendleft(copy)
        copy.mailbox = self
        self.entered.append(self._env.now)

    def remove(self, now: float, copy: Copy) -> None:
        """Withdraw a waiting copy (it was acknowledged meanwhile)."""
        (self.retries if copy in self.retries else self.items).remove(copy)
        copy.mailbox = None
        self.left.append(now)
        if self._room is not None:
            self._release_room()

    def withdraw(self, now: float, leaving: Callable[[Copy], bool]) -> tuple[list[Copy], list[Copy]]:
        """Take out the waiting copies for which `leaving` holds: (redeliveries, new copies), each in order."""
        out: tuple[list[Copy], list[Copy]] = ([], [])
        for queue, gone in zip((self.retries, self.items), out):
            kept: list[Copy] = []
            for copy in queue:
                (gone if leaving(copy) else kept).append(copy)
            if gone:
                queue.clear()
                queue.extend(kept)
                for copy in gone:
                    copy.mailbox = None
                    self.left.append(now)
        if self._room is not None:
            self._release_room()
        return out

    def room(self) -> Event:
        """An event that fires once this mailbox, full now, has room (a blocked publisher then looks again)."""
        if self._room is None:
            self._room = Event(self._env)
        return self._room

    def _release_room(self) -> None:
        """Called where a copy leaves while publishers wait for room (`_room` is set)."""
        if not self.is_full():
            room, self._room = self._room, None
            assert room is not None  # pragma: no mutate
            room.succeed()

    def pause(self) -> None:
        self.paused = True

    def resume(self, now: float) -> None:
        """Hand waiting copies to the consumers that asked while paused."""
        self.paused = False
        getters = self._getters
        while (self.items or self.retries) and getters:
            getter = getters.popleft()
            if not getter.cancelled:
                getter.succeed(self.take(now))


class Buffer(Mailbox):
    """A consumer's prefetch buffer: copies already delivered to it, waiting for it to get to them.

    `held` counts the copies delivered to the consumer and not yet finished
    (buffered or in service); whenever it drops, `room` (the dispatch's push)
    is called so that the broker can deliver another.
    """

    delivers = False

    def __init__(self, env: Environment, consumer: int, room: Callable[[float], None]):
        super().__init__(env, consumer=consumer)
        self.held = 0
        self.open = True  # its consumer is a member of the group: the broker may deliver to it
        self._on_room = room

    def resume(self, now: float) -> None:
        super().resume(now)
        self._on_room(now)

    def done(self, now: float) -> None:
        """The consumer finished a copy it had taken from here."""
        self.held -= 1
        self._on_room(now)

    def remove(self, now: float, copy: Copy) -> None:
        """Withdraw a buffered copy (acknowledged by another attempt, or its delivery expired) before any attempt
        on it started: the delivery counted it as running, and the consumer has room again."""
        super().remove(now, copy)
        copy.running -= 1
        self.held -= 1
        self._on_room(now)


class PushQueue(Mailbox):
    """A group's queue that the broker pushes from (`push`) whenever a copy arrives or the queue resumes."""

    def __init__(self, env: Environment, capacity: int | None, push: Callable[[float], None]):
        super().__init__(env, capacity)
        self._push = push

    def put(self, now: float, copy: Copy) -> None:
        super().put(now, copy)
        self._push(now)

    def requeue(self, now: float, copy: Copy) -> None:
        super().requeue(now, copy)
        self._push(now)

    def resume(self, now: float) -> None:
        super().resume(now)
        self._push(now)
