"""A topic's subscription: a consumer group that shares its own copy of the stream."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from asimpy import Environment

from .acks import Acknowledgments
from .dispatch import make_dispatch
from .mailbox import Mailbox
from .message import Copy, Message
from .rebalance import Rebalancer
from .recorder import Recorder
from .retries import Retries
from .scenario import DispatchPolicy
from .work import Work

if TYPE_CHECKING:
    from .consumer import Consumer
    from .scenario import SubscriptionSettings
    from .topology import SubscriptionPart
    from .trace import Trace


def prefetch_of(s: SubscriptionSettings) -> int | None:
    """The group's prefetch limit, if the broker pushes copies to consumers' buffers; None for plain `shared`."""
    return s.prefetch if s.prefetch > 1 else None


class Subscription:
    """Admits copies of its topics' messages, dispatches them to its group, and settles them.

    A subscription of several topics has one group for all of them: their
    copies share its mailboxes, in the order they were admitted, so a free
    consumer takes the oldest waiting copy whichever topic it came from.

    Every admitted copy is, at any moment, in exactly one place: waiting in a
    mailbox, in flight (taken and not settled, or awaiting redelivery), or
    settled as processed or dead-lettered. `recorder` is its own counters.
    """

    def __init__(
        self,
        env: Environment,
        name: str,
        topics: str | Sequence[str],
        consumers: Sequence[Consumer],
        recorder: Recorder,
        dispatch: DispatchPolicy = "shared",
        capacity: int | None = None,
        overflow: str = "drop",
        acks: Acknowledgments | None = None,
        keys: int = 1,
        trace: Trace | None = None,
        work: Work | None = None,
        partitions: int | None = None,
        prefetch: int | None = None,
    ):
        if overflow not in ("drop", "block"):
            raise ValueError(f"overflow: unknown policy {overflow!r}; choose drop or block")
        self.work = work if work is not None else Work.constant(1.0)
        if acks is None and self.work.failures is not None:
            raise ValueError(f"{name}: attempts that can fail need acknowledgments, or failed copies vanish")
        self.name = name
        self.topics = (topics,) if isinstance(topics, str) else tuple(topics)
        self.consumers = list(consumers)
        self.recorder = recorder.tally(self.topics)
        self.dispatch = make_dispatch(dispatch, env, self.consumers, capacity, keys, partitions, prefetch)
        self.dispatch.attach(self)
        self.blocks = capacity is not None and overflow == "block"
        self.acks = acks
        self.trace = trace
        self.in_flight: set[Copy] = set()
        self.active = list(self.consumers)  # consumers hired and not retired: the group's size
        self.members = list(range(len(self.consumers)))  # indices of the active consumers that are up
        self.sizes = [(0.0, len(self.active))]  # (time, group size) at every change
        self.rebalancer: Rebalancer | None = None
        for i, consumer in enumerate(self.consumers):
            consumer.listen(self.dispatch.inbox(i), self)

    @classmethod
    def of(
        cls,
        env: Environment,
        part: SubscriptionPart,
        consumers: Sequence[Consumer],
        recorder: Recorder,
        keys: int,
        trace: Trace | None = None,
    ) -> Subscription:
        """The subscription `part` describes, for `keys` distinct message keys, served by `consumers`."""
        s = part.settings
        acks = Acknowledgments(env, s.ack_timeout, s.max_deliveries, s.idempotent, Retries.of(s)) if s.ack else None
        return cls(
            env,
            part.name,
            part.topics,
            consumers,
            recorder,
            dispatch=s.dispatch,
            capacity=s.queue_capacity,
            overflow=s.overflow,
            acks=acks,
            keys=keys,
            trace=trace,
            work=Work.of(part),
            partitions=s.partition_count,
            prefetch=prefetch_of(s),
        )

    def add_consumer(self, now: float, consumer: Consumer) -> None:
        """A consumer is hired (autoscaling): it counts in the group's size at once and joins the group's
        assignment, a membership change, once it has started up."""
        self.consumers.append(consumer)
        self.active.append(consumer)
        consumer.listen(self.dispatch.add(consumer), self)
        consumer.joined = self.joined
        consumer.joining = True
        self.sizes.append((now, len(self.active)))

    def retire(self, now: float, consumer: Consumer) -> None:
        """A consumer leaves the group gracefully: it finishes what it was given and takes nothing new."""
        self.active.remove(consumer)
        consumer.retire(now)
        self.sizes.append((now, len(self.active)))
        self.left(now, consumer)

    def joined(self, now: float, consumer: Consumer) -> None:
        """`consumer` is up (started, or restarted after a crash): copies are routed to it again."""
        index = self.consumers.index(consumer)
        # A consumer retired in its startup never gets here (the interrupt ends its wait); a crash left first.
        assert not consumer.retiring and index not in self.members, (consumer.name, self.members)  # pragma: no mutate
        self._regroup(now, sorted([*self.members, index]), consumer)

    def left(self, now: float, consumer: Consumer) -> None:
        """`consumer` retired or crashed: nothing more is routed to it."""
        index = self.consumers.index(consumer)
        if index in self.members:
            self._regroup(now, [i for i in self.members if i != index], None)

    def _regroup(self, now: float, members: list[int], joining: Consumer | None) -> None:
        """A membership change: route to `members`, rebalance (if the group does), then move waiting copies."""
        self.members = members
        gainers = self.dispatch.reassign(members)
        if self.rebalancer is not None:
            self.rebalancer.changed(now, self, joining, gainers)
        self.dispatch.rehome(now)

    @property
    def mailboxes(self) -> list[Mailbox]:
        return self.dispatch.mailboxes

    def full_mailbox(self, key: int) -> Mailbox | None:
        """The mailbox that would make a publisher wait for this key, if any."""
        if self.blocks:
            mailbox = self.dispatch.peek(key)
            if mailbox.is_full():
                return mailbox
        return None

    def offer(self, now: float, message: Message) -> None:
        """Admit a new copy of `message`, or drop it if its mailbox is full."""
        mailbox = self.dispatch.route(message.key)
        # Drawn before the capacity check, so that later copies draw alike whatever is dropped.
        service, fails = self.work.first()  # as the live runner draws it
        copy = Copy(message, mailbox, service, fails or message.poison)
        if mailbox.is_full():
            self.recorder.dropped += 1
            return
        mailbox.put(now, copy)

    def taken(self, now: float, copy: Copy) -> None:
        """A consumer has taken `copy` at `now`: one delivery."""
        recorder = self.recorder
        recorder.delivered += 1
        copy.deliveries += 1
        copy.running += 1
        if copy.deliveries > 1:
            recorder.redelivered += 1
        self.in_flight.add(copy)
        if self.acks is not None:
            self.acks.taken(now, self, copy)

    def finished(self, now: float, copy: Copy, started: float, ok: bool, delivery: int) -> None:
        """An attempt on `copy`'s `delivery`-th delivery that began at `started` ended at `now`, well or not."""
        if self.acks is None:
            copy.running -= 1
            self.processed(now, copy, started, delivery)
        else:
            self.acks.finished(now, self, copy, started, ok, delivery)

    def processed(self, now: float, copy: Copy, started: float, delivery: int) -> None:
        """The attempt on `copy`'s `delivery`-th delivery that began at `started` succeeded first, at `now`."""
        copy.settled = "processed"
        self.in_flight.discard(copy)
        self.recorder.first_success(copy.message.published_at, started, now, delivery)

    def redeliver(self, now: float, copy: Copy) -> None:
        """Put an unacknowledged copy back; it was admitted once, so capacity does not apply."""
        self.in_flight.discard(copy)
        self.dispatch.redeliver(copy).requeue(now, copy)
        if self.trace is not None:
            self.trace.requeued(now, self, copy)

    def crashed(self, now: float, copy: Copy) -> None:
        """An attempt on `copy` died with its consumer: with acknowledgments the copy waits out its timeout (and,
        if its last delivery already timed out, is dead-lettered); without, it is lost."""
        copy.running -= 1
        if self.acks is not None:
            if copy.settled is None and copy.doomed and copy.running == 0:
                self.dead_letter(now, copy)
            return
        copy.settled = "lost"
        self.in_flight.discard(copy)
        self.recorder.lost += 1
        if self.trace is not None:
            self.trace.lost(now, self, copy)

    def dead_letter(self, now: float, copy: Copy) -> None:
        copy.settled = "dead"
        self.in_flight.discard(copy)
        self.recorder.dead_lettered += 1
        if self.trace is not None:
            self.trace.dead_lettered(now, self, copy)
