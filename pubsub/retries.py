"""When a negatively acknowledged copy may be taken again: the retry delay policy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .scenario import Backoff, SubscriptionSettings


@dataclass(frozen=True)
class Retries:
    """A failed attempt returns its copy at once (a nack); the copy waits `delay(deliveries)` before it is back."""

    delay: float = 0.0
    backoff: Backoff = "fixed"
    delay_max: float | None = None

    @classmethod
    def of(cls, s: SubscriptionSettings) -> Retries | None:
        """The Scenario's retry policy; None if failed attempts wait out the visibility timeout instead."""
        return cls(s.retry_delay, s.retry_backoff, s.retry_delay_max) if s.nack else None

    def delay_after(self, deliveries: int) -> float:
        """The wait after the `deliveries`-th delivery failed: constant, or doubling from the first."""
        if self.backoff == "fixed":
            return self.delay
        # Past 2^1023 a float power overflows; any run ends long before such a wait would.
        wait = self.delay * 2.0 ** min(deliveries - 1, 1023)
        return wait if self.delay_max is None else min(wait, self.delay_max)
