"""At-least-once delivery: visibility timeouts, redelivery and dead letters."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from asimpy import Environment

from .message import Copy

if TYPE_CHECKING:
    from .subscription import Subscription


class Acknowledgments:
    """The broker's side of acknowledgments for one subscription.

    A copy's visibility timeout starts when a consumer takes it. A successful
    attempt acknowledges it; if the timeout expires first the copy goes back to
    the subscription, or, after `max_deliveries` deliveries, to the dead-letter
    queue. An attempt still running when its copy is delivered again produces a
    duplicate; `idempotent` consumers (who share a record of completed ids per
    subscription) suppress it instead.

    An acknowledged copy is withdrawn from its queue, so a duplicate always starts
    before the first success and costs its full processing time: idempotence
    keeps the effect single, it does not save consumer time.
    """

    def __init__(
        self,
        env: Environment,
        timeout: float,
        max_deliveries: int | None = None,
        idempotent: bool = False,
    ):
        self._env = env
        self.timeout = timeout
        self.max_deliveries = max_deliveries
        self.idempotent = idempotent

    def taken(self, now: float, subscription: Subscription, copy: Copy) -> None:
        expires = now + self.timeout
        # A raw callback sees the previous env.now, so it is given its time.
        self._env.schedule(expires, partial(self._expire, expires, subscription, copy))

    def finished(self, now: float, subscription: Subscription, copy: Copy, started: float, ok: bool) -> None:
        copy.running -= 1
        recorder = subscription.recorder
        if copy.settled is None:
            if ok:
                if copy.mailbox is not None:
                    copy.mailbox.remove(now, copy)
                subscription.processed(now, copy, started)
            elif copy.doomed and copy.running == 0:
                subscription.dead_letter(now, copy)
        elif ok:
            if self.idempotent:
                recorder.suppressed += 1
            else:
                recorder.duplicates += 1

    def _expire(self, now: float, subscription: Subscription, copy: Copy) -> None:
        if copy.settled is not None:
            return
        if self.max_deliveries is not None and copy.deliveries >= self.max_deliveries:
            if copy.running:
                copy.doomed = True
            else:
                subscription.dead_letter(now, copy)
        else:
            subscription.redeliver(now, copy)
