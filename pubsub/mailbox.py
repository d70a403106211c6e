"""A FIFO of copies waiting for a consumer, which logs when copies enter and leave."""

from __future__ import annotations

from array import array
from collections import deque

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
        if not self.paused:
            getters = self._getters
            while getters:
                getter = getters.popleft()
                if not getter.cancelled:
                    getter.succeed(copy)
                    return
        self.retries.append(copy)
        copy.mailbox = self
        self.entered.append(now)

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

    def get(self) -> Event:
        """An event whose value is the next copy handed out (for use with `FirstOf`)."""
        event = Event(self._env)
        copy = self.take(self._env.now)
        if copy is None:
            self._getters.append(event)
        else:
            event._on_cancel = self._put_back
            event.succeed(copy)
        return event

    def _put_back(self, copy: Copy) -> None:
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

    def room(self) -> Event:
        """An event that fires once the mailbox is not full."""
        if not self.is_full():
            event = Event(self._env)
            event.succeed()
            return event
        if self._room is None:
            self._room = Event(self._env)
        return self._room

    def _release_room(self) -> None:
        room = self._room
        if room is not None and not self.is_full():
            self._room = None
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
