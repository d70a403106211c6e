"""How many copies a consumer takes at once, and what a batch costs beyond its copies' work."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .scenario import SubscriptionSettings


@dataclass(frozen=True)
class Batches:
    """A consumer takes up to `size` waiting copies at once (never waiting to fill a batch).

    The batch lasts `overhead` plus every copy's attempt, and all its copies
    finish (and are acknowledged, or fail) when it ends.
    """

    size: int = 1
    overhead: float = 0.0

    @classmethod
    def of(cls, s: SubscriptionSettings) -> Batches | None:
        """The Scenario's batching; None for one copy at a time at no extra cost (the plain consumer)."""
        if s.batch_size == 1 and s.batch_overhead == 0:
            return None
        return cls(s.batch_size, s.batch_overhead)
