"""Autoscaling a consumer group on its backlog, KEDA's rule: desired = ceil(waiting / target), clamped."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from asimpy import Process, Timeout

if TYPE_CHECKING:
    from .consumer import Consumer
    from .scenario import SubscriptionSettings
    from .subscription import Subscription


@dataclass(frozen=True)
class Scaling:
    """How a group is scaled: every `interval` s to ceil(copies waiting / `target_backlog`) within
    [`minimum`, `maximum`]; up at once, down only to the highest size desired over the last
    `down_delay` s (Kubernetes' stabilization window). A new consumer takes copies after `startup`."""

    minimum: int
    maximum: int
    target_backlog: float
    interval: float
    down_delay: float
    startup: float

    @classmethod
    def of(cls, s: SubscriptionSettings) -> Scaling | None:
        if not s.autoscale:
            return None
        assert s.max_consumers is not None and s.target_backlog is not None  # the Scenario checked
        return cls(s.min_consumers, s.max_consumers, s.target_backlog, s.scale_interval, s.scale_down_delay,
                   s.startup_time)  # fmt: skip

    def desired(self, waiting: int) -> int:
        return min(self.maximum, max(self.minimum, math.ceil(waiting / self.target_backlog)))


class Scaler(Process):
    """Looks at one subscription's backlog every `scaling.interval` s and resizes its group.

    Scale-out adds consumers made by `hire` (they start after `startup`).
    Scale-in retires idle consumers first, the newest first, then busy ones,
    which finish their current attempt and take nothing new (graceful).
    """

    def init(self, subscription: Subscription, scaling: Scaling, hire: Callable[[], Consumer]):
        self.subscription = subscription
        self.scaling = scaling
        self.hire = hire
        self.ups = 0
        self.downs = 0
        self._recent: deque[tuple[float, int]] = deque()  # (time, desired size) within the down delay

    async def run(self):
        env, scaling, subscription = self._env, self.scaling, self.subscription
        while True:
            await Timeout(env, scaling.interval)
            now = env.now
            waiting = sum(len(m) for m in subscription.mailboxes)
            desired = scaling.desired(waiting)
            recent = self._recent
            recent.append((now, desired))
            while recent[0][0] < now - scaling.down_delay:
                recent.popleft()
            size = len(subscription.active)
            if desired > size:
                for _ in range(desired - size):
                    subscription.add_consumer(now, self.hire())
                self.ups += 1
            else:
                floor = max(d for _, d in recent)
                if floor < size:
                    idle_first = sorted(subscription.active, key=lambda c: (c.busy, -c.started_at))
                    for consumer in idle_first[: size - floor]:
                        subscription.retire(now, consumer)
                    self.downs += 1
