"""Consumers: processes that take copies from their mailboxes and process them one at a time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from asimpy import Environment, FirstOf, Process, Timeout

from .mailbox import Mailbox
from .trace import Trace

if TYPE_CHECKING:
    from .subscription import Subscription


class Consumer(Process):
    """Takes the next copy from its mailboxes, works on it for a drawn time, then reports.

    A consumer may belong to several subscriptions (the chapter's Analytics reads
    two topics); it then waits on all its mailboxes at once with `FirstOf`. An
    attempt fails, when `failures` says so, as a crash would: no acknowledgment.
    `busy_time` accumulates the time spent processing after `warmup`.
    """

    def init(
        self,
        name: str,
        service_times: Iterator[float],
        failures: Iterator[bool] | None = None,
        warmup: float = 0.0,
        trace: Trace | None = None,
    ):
        self.name = name
        self.service_times = service_times
        self.failures = failures
        self.warmup = warmup
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
        service_times, failures, warmup, trace = self.service_times, self.failures, self.warmup, self.trace
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
            if trace is not None:
                trace.taken(now, self, subscription, copy)
            self.busy = 1
            self.busy_since = now
            await Timeout(env, next(service_times))
            end = env.now
            self.busy = 0
            if end > warmup:
                self.busy_time += end - (now if now > warmup else warmup)
            ok = failures is None or not next(failures)
            subscription.finished(end, copy, now, ok)
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
