"""Consumers: processes that take copies from their mailboxes and process them one at a time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from asimpy import Environment, FirstOf, Process, Timeout

from .mailbox import Mailbox
from .trace import Trace

if TYPE_CHECKING:
    from .subscription import Subscription


class Consumer(Process):
    """Takes the next copy from its mailboxes, works on it, then reports.

    An attempt lasts its service time plus `service_overhead`, and starts no
    earlier than `delivery_delay` after its message was published. A first
    attempt's service time and outcome were drawn with the copy; a redelivery's
    come from its subscription's retry draws (`Work`). A failed attempt ends as a
    crash would: no acknowledgment.

    A consumer may belong to several subscriptions (the chapter's Analytics reads
    two topics); it then waits on all its mailboxes at once with `FirstOf`.
    `busy_time` accumulates the time spent processing after `warmup`.
    """

    def init(
        self,
        name: str,
        warmup: float = 0.0,
        trace: Trace | None = None,
        delivery_delay: float = 0.0,
        service_overhead: float = 0.0,
    ):
        self.name = name
        self.warmup = warmup
        self.delivery_delay = delivery_delay
        self.service_overhead = service_overhead
        self.trace = trace
        self.inboxes: list[tuple[Mailbox, Subscription]] = []
        self.busy = 0
        self.busy_since = 0.0
        self.busy_time = 0.0

    def listen(self, mailbox: Mailbox, subscription: Subscription) -> None:
        self.inboxes.append((mailbox, subscription))

    async def run(self):
        env: Environment = self._env
        inboxes = self.inboxes
        warmup, trace = self.warmup, self.trace
        delay, overhead = self.delivery_delay, self.service_overhead
        if not inboxes:
            return
        single = len(inboxes) == 1
        mailbox, subscription = inboxes[0]
        while True:
            now = env.now
            if single:
                copy = mailbox.take(now)
                if copy is None:
                    copy = await mailbox.get()
                    now = env.now
            else:
                copy, subscription = await self._next(now)
                now = env.now
            subscription.taken(now, copy)
            delivery = copy.deliveries
            if delivery == 1:
                service, fails = copy.service, copy.fails
            else:
                service, fails = subscription.work.retry()
                fails = fails or copy.message.poison
            if trace is not None:
                trace.taken(now, self, subscription, copy)
            self.busy = 1
            start = now
            if delay and copy.message.published_at + delay > now:
                # Taken by an idle consumer before it could have reached it: the attempt starts on arrival.
                start = copy.message.published_at + delay
            self.busy_since = start
            if start > now:
                await Timeout(env, start - now)
                now = env.now
            await Timeout(env, service + overhead)
            end = env.now
            self.busy = 0
            if end > warmup:
                self.busy_time += end - (now if now > warmup else warmup)
            ok = not fails
            subscription.finished(end, copy, now, ok, delivery)
            if trace is not None:
                trace.finished(end, self, subscription, copy, ok)

    async def _next(self, now: float):
        """The next copy from any mailbox: those with copies waiting first, in order."""
        for mailbox, subscription in self.inboxes:
            copy = mailbox.take(now)
            if copy is not None:
                return copy, subscription
        waits = {str(i): mailbox.get() for i, (mailbox, _) in enumerate(self.inboxes)}
        which, copy = await FirstOf(self._env, **waits)
        return copy, self.inboxes[int(which)][1]
