"""Rebalances: consumers of a group stop taking copies while its membership changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from asimpy import Environment

if TYPE_CHECKING:
    from .consumer import Consumer
    from .mailbox import Mailbox
    from .scenario import RebalanceMode, SubscriptionSettings
    from .subscription import Subscription


@dataclass
class Rebalancer:
    """On every membership change of a group (a consumer joined, or retired, crashed or restarted):

    - `eager` (Kafka's classic protocol): every member takes nothing for `pause` seconds: the group's
      mailboxes hand out nothing, overlapping changes extending the stop; attempts under way finish;
    - `cooperative` (KIP-429): only the member joining and the members that gain partitions take nothing
      for `pause` seconds; the others go on. A member's whole mailbox waits, so the partitions it kept
      wait with those it gained: exact for a joining consumer, an upper bound on the cost for the others.

    A consumer paused on a shared queue is held back; one with its own mailbox or prefetch buffer
    has it paused.
    """

    env: Environment
    mode: RebalanceMode
    pause: float
    rebalances: int = 0
    paused_seconds: float = 0.0  # consumer-seconds during which members could take nothing because of it
    _group_until: float = 0.0  # the end of the eager stop under way, if any
    _until: dict[Mailbox, float] = field(default_factory=dict)

    @classmethod
    def of(cls, env: Environment, s: SubscriptionSettings) -> Rebalancer | None:
        return cls(env, s.rebalance, s.rebalance_time) if s.rebalance != "none" else None

    def changed(self, now: float, subscription: Subscription, joining: Consumer | None, gainers: list[int]) -> None:
        self.rebalances += 1
        until = now + self.pause
        if self.mode == "eager":
            if until > self._group_until:
                self.paused_seconds += len(subscription.members) * (until - max(now, self._group_until))
                self._group_until = until
            for mailbox in subscription.mailboxes:
                self._stop(now, mailbox, until)
            return
        dispatch = subscription.dispatch
        whom = set(gainers)
        if joining is not None:
            whom.add(subscription.consumers.index(joining))
        for i in sorted(whom):
            inbox = dispatch.inbox(i)
            if inbox in dispatch.mailboxes and dispatch.one_queue:  # the group's shared queue: hold the consumer
                subscription.consumers[i].hold(self.pause)
                self.paused_seconds += self.pause
            else:
                self.paused_seconds += until - max(now, self._until.get(inbox, now))
                self._stop(now, inbox, until)

    def _stop(self, now: float, mailbox: Mailbox, until: float) -> None:
        """Pause `mailbox` until `until` at least."""
        if until <= self._until.get(mailbox, now):
            return
        self._until[mailbox] = until
        mailbox.pause()
        self.env.schedule(until, partial(self._resume, until, mailbox))

    def _resume(self, at: float, mailbox: Mailbox) -> None:
        if self._until[mailbox] == at:  # the last stop scheduled: no later change extended it
            mailbox.resume(at)
