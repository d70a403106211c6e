"""Rebalances: a consumer group stops taking copies while its membership changes."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from asimpy import Environment

if TYPE_CHECKING:
    from .consumer import Consumer
    from .scenario import RebalanceMode, Scenario
    from .subscription import Subscription


@dataclass
class Rebalancer:
    """On every membership change (a consumer added, retired, crashed or restarted) of a shared group:

    - `eager` (Kafka's classic protocol): the whole group takes nothing for `pause` seconds: its queue hands
      out nothing, overlapping changes extending the stop; attempts under way finish;
    - `cooperative` (KIP-429): only the consumer joining (added or restarted) waits `pause` more before it
      takes copies; with a shared queue nothing moves away from the others.
    """

    env: Environment
    mode: RebalanceMode
    pause: float
    rebalances: int = 0
    paused_seconds: float = 0.0  # consumer-seconds during which consumers could take nothing because of it
    _until: float = 0.0

    @classmethod
    def of(cls, env: Environment, s: Scenario) -> Rebalancer | None:
        return cls(env, s.rebalance, s.rebalance_time) if s.rebalance != "none" else None

    def changed(self, now: float, subscription: Subscription, joining: Consumer | None) -> None:
        self.rebalances += 1
        if self.mode == "cooperative":
            if joining is not None:
                joining.hold(now, self.pause)
                self.paused_seconds += self.pause
            return
        until = now + self.pause
        if until <= self._until:
            return
        self.paused_seconds += len(subscription.active) * (until - max(now, self._until))
        if self._until <= now:
            for mailbox in subscription.mailboxes:
                mailbox.pause()
        self._until = until
        self.env.schedule(until, partial(self._resume, until, subscription))

    def _resume(self, at: float, subscription: Subscription) -> None:
        if at == self._until:  # the last stop scheduled: no later change extended it
            for mailbox in subscription.mailboxes:
                mailbox.resume(at)
