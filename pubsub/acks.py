"""At-least-once delivery: visibility timeouts, redelivery and dead letters."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from asimpy import Environment

from .message import Copy

if TYPE_CHECKING:
    from .retries import Retries
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

    With `retries` a failed attempt negatively acknowledges its delivery, if
    that delivery is still the one awaited: the copy is dead-lettered if it
    has had `max_deliveries`, else it comes back after the retry delay (and
    stays in flight meanwhile). A nack for a delivery that already timed out
    changes nothing.
    """

    def __init__(
        self,
        env: Environment,
        timeout: float,
        max_deliveries: int | None = None,
        idempotent: bool = False,
        retries: Retries | None = None,
    ):
        self._env = env
        self.timeout = timeout
        self.max_deliveries = max_deliveries
        self.idempotent = idempotent
        self.retries = retries

    def taken(self, now: float, subscription: Subscription, copy: Copy) -> None:
        expires = now + self.timeout
        copy.outstanding = delivery = copy.deliveries
        # A raw callback sees the previous env.now, so it is given its time.
        self._env.schedule(expires, partial(self._expire, expires, subscription, copy, delivery))

    def finished(
        self, now: float, subscription: Subscription, copy: Copy, started: float, ok: bool, delivery: int
    ) -> None:
        copy.running -= 1
        recorder = subscription.recorder
        if copy.settled is None:
            if ok:
                if copy.mailbox is not None:
                    copy.mailbox.remove(now, copy)
                subscription.processed(now, copy, started, delivery)
            elif copy.doomed:
                if copy.running == 0:
                    subscription.dead_letter(now, copy)
            elif self.retries is not None and copy.outstanding == delivery:
                self._nack(now, subscription, copy)
        elif ok:
            if self.idempotent:
                recorder.suppressed += 1
            else:
                recorder.duplicates += 1

    def _nack(self, now: float, subscription: Subscription, copy: Copy) -> None:
        assert self.retries is not None
        copy.outstanding = 0
        if self.max_deliveries is not None and copy.deliveries >= self.max_deliveries:
            if copy.running:  # an earlier delivery's attempt still runs: it decides, as at a timeout
                copy.doomed = True
            else:
                subscription.dead_letter(now, copy)
            return
        back = now + self.retries.delay_after(copy.deliveries)
        if back > now:
            self._env.schedule(back, partial(self._return, back, subscription, copy))
        else:
            subscription.redeliver(now, copy)

    def _return(self, now: float, subscription: Subscription, copy: Copy) -> None:
        if copy.settled is None:  # another attempt may have succeeded during the delay
            subscription.redeliver(now, copy)

    def _expire(self, now: float, subscription: Subscription, copy: Copy, delivery: int) -> None:
        if copy.settled is not None or copy.outstanding != delivery:
            return
        copy.outstanding = 0
        if copy.mailbox is not None and not copy.mailbox.delivers:
            copy.mailbox.remove(now, copy)  # expired in a consumer's prefetch buffer, before any attempt began
        if self.max_deliveries is not None and copy.deliveries >= self.max_deliveries:
            if copy.running:
                copy.doomed = True
            else:
                subscription.dead_letter(now, copy)
        else:
            subscription.redeliver(now, copy)
