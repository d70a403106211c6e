"""Consumers: processes that take copies from their mailbox and process them one at a time."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from asimpy import Environment, Interrupt, Timeout

from .batches import Batches
from .mailbox import Mailbox
from .message import Copy
from .process import Process
from .trace import Trace

if TYPE_CHECKING:
    from .subscription import Subscription


CRASH, RETIRE = "crash", "retire"  # why a consumer is interrupted


class Consumer(Process):
    """Takes the next copy from its mailbox, works on it, then reports to its subscription.

    An attempt lasts its service time plus `service_overhead` (plus
    `redelivery_overhead` on a redelivered copy: a real consumer's claim costs
    more than a read), and starts no
    earlier than `delivery_delay` after its message was published. A first
    attempt's service time and outcome were drawn with the copy; a redelivery's
    come from its subscription's retry draws (`Work`). A failed attempt ends as a
    crash would: no acknowledgment.

    With `batches` it takes up to a batch of waiting copies from one mailbox
    at once, and they all finish when the batch does.

    Its mailbox is its group's queue or its own (a subscription of several topics
    still has one queue: the copies of all its topics in arrival order).
    `busy_time` accumulates the time spent processing after `warmup`.
    """

    def init(
        self,
        name: str,
        warmup: float = 0.0,
        trace: Trace | None = None,
        delivery_delay: float = 0.0,
        service_overhead: float = 0.0,
        redelivery_overhead: float = 0.0,
        batches: Batches | None = None,
        startup: float = 0.0,
    ):
        self.name = name
        self.batches = batches
        self.startup = startup  # seconds before it takes its first copy (a consumer added by a scaler)
        self.started_at = self._env.now
        self.stopped_at = math.inf
        self.retiring = False
        self.down = False  # crashed and not yet restarted
        self.restart = 0.0
        self.joined: Callable[[float, Consumer], None] | None = None  # told when it is up (hired, or restarted)
        self.joining = False  # it tells `joined` before it takes its first copy
        self.holding: list[tuple[Copy, Subscription]] = []  # a batch in progress, for a crash to lose
        self.warmup = warmup
        self.delivery_delay = delivery_delay
        self.service_overhead = service_overhead
        self.redelivery_overhead = redelivery_overhead
        self.trace = trace
        self.mailbox: Mailbox | None = None
        self.subscription: Subscription | None = None
        self.busy = 0
        self.busy_since = 0.0
        self.busy_time = 0.0

    def listen(self, mailbox: Mailbox, subscription: Subscription) -> None:
        """Take copies from `mailbox`, for `subscription` (before the consumer starts)."""
        self.mailbox, self.subscription = mailbox, subscription

    def retire(self, now: float) -> None:
        """Take nothing new: an idle consumer stops now, a busy one when its attempt (or batch) ends and its
        prefetch buffer, if it has one, is empty."""
        self.retiring = True
        if not self.busy:
            self.stopped_at = now
            self.interrupt(RETIRE)

    def hold(self, seconds: float) -> None:
        """Take nothing for `seconds` more before starting (a cooperative rebalance of a joining consumer)."""
        self.startup += seconds

    def crash(self, restart: float) -> None:
        """Die now, losing the attempt (or batch) in progress; take nothing for `restart` seconds."""
        self.restart = restart
        self.down = True
        self.interrupt(CRASH)

    def _crashed(self, now: float, copies: list[tuple[Copy, Subscription]]) -> None:
        if self.busy:  # (nothing counts before the warm-up's end, or while waiting for a copy's delivery delay)
            self.busy_time += max(0.0, now - max(self.busy_since, self.warmup))
            for copy, subscription in copies:
                subscription.crashed(now, copy)
            self.busy = 0
        self.holding = []

    async def run(self):
        env: Environment = self._env
        mailbox, subscription = self.mailbox, self.subscription
        warmup, trace = self.warmup, self.trace
        delay, overhead = self.delivery_delay, self.service_overhead
        if mailbox is None or subscription is None:
            return
        copy = None
        while True:
            try:
                while self.startup or self.joining:
                    if self.startup:
                        startup, self.startup = self.startup, 0.0
                        await Timeout(env, startup)
                    else:
                        self.joining = False
                        if self.joined is not None:
                            self.joined(env.now, self)  # which may hold it (a cooperative rebalance)
                if self.batches is not None:
                    await self._run_batches(self.batches, mailbox, subscription)
                    return
                while True:
                    now = env.now
                    copy = mailbox.take(now)
                    if copy is None:
                        copy = await mailbox.get()
                        now = env.now
                    delivers = mailbox.delivers  # False for a prefetch buffer: the push was the delivery
                    if delivers:
                        subscription.taken(now, copy)
                    delivery = copy.deliveries
                    if delivery == 1:
                        service, fails = copy.service, copy.fails
                    else:
                        service, fails = subscription.work.retry(copy.message.poison)
                        service += self.redelivery_overhead
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
                    if not delivers:
                        mailbox.done(end)
                    if trace is not None:
                        trace.finished(end, self, subscription, copy, ok)
                    if self.retiring and (delivers or not len(mailbox)):
                        self.stopped_at = end
                        return
            except Interrupt as interrupt:
                if interrupt.cause is not CRASH:
                    return  # retired while starting up or idle
                current = [(copy, subscription)] if copy is not None else []
                self._crashed(env.now, self.holding if self.batches is not None else current)
                if self.retiring:
                    self.stopped_at = env.now
                    return
                try:
                    await Timeout(env, self.restart)
                except Interrupt:  # retired while down
                    return
                self.down = False
                self.joining = True

    async def _run_batches(self, batches: Batches, mailbox: Mailbox, subscription: Subscription):
        env: Environment = self._env
        warmup, trace = self.warmup, self.trace
        delay, overhead = self.delivery_delay, self.service_overhead
        while True:
            first = mailbox.take(env.now)
            if first is None:
                first = await mailbox.get()
            now = env.now
            batch = [first]
            while len(batch) < batches.size and (copy := mailbox.take(now)) is not None:
                batch.append(copy)
            attempts = []
            self.holding = [(copy, subscription) for copy in batch]
            length, start = batches.overhead, now
            delivers = mailbox.delivers
            for copy in batch:
                if delivers:
                    subscription.taken(now, copy)
                delivery = copy.deliveries
                if delivery == 1:
                    service, fails = copy.service, copy.fails
                else:
                    service, fails = subscription.work.retry(copy.message.poison)
                    service += self.redelivery_overhead
                attempts.append((copy, delivery, not fails))
                length += service + overhead
                if delay and copy.message.published_at + delay > start:
                    start = copy.message.published_at + delay
                if trace is not None:
                    trace.taken(now, self, subscription, copy)
            self.busy = 1
            self.busy_since = start
            if start > now:
                await Timeout(env, start - now)
                now = env.now
            await Timeout(env, length)
            end = env.now
            self.busy = 0
            if end > warmup:
                self.busy_time += end - (now if now > warmup else warmup)
            for copy, delivery, ok in attempts:
                subscription.finished(end, copy, now, ok, delivery)
                if not delivers:
                    mailbox.done(end)
                if trace is not None:
                    trace.finished(end, self, subscription, copy, ok)
            if self.retiring and (delivers or not len(mailbox)):
                self.stopped_at = end
                return
