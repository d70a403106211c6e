"""What each attempt on a subscription's copies costs: a service time, and whether it fails."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import randomness as rnd

if TYPE_CHECKING:
    from .topology import SubscriptionPart


@dataclass
class Work:
    """The draws of one subscription's attempts.

    A copy's first attempt takes the next draws of `services` and `failures` when
    the copy is admitted, in publish order: the same copy does the same work
    whichever consumer takes it, in every cell of a sweep that shares the seed,
    and on a real broker. Later attempts (redeliveries) take the next draws of the
    retry streams, in the order they happen. `failures` is None when no attempt
    can fail.
    """

    services: Iterator[float]
    failures: Iterator[bool] | None = None
    retry_services: Iterator[float] | None = None
    retry_failures: Iterator[bool] | None = None

    @classmethod
    def of(cls, subscription: SubscriptionPart) -> Work:
        """The draws of `subscription`'s attempts."""
        return cls(
            rnd.copy_service_times(subscription),
            rnd.copy_failures(subscription),
            rnd.retry_service_times(subscription),
            rnd.retry_failures(subscription),
        )

    @classmethod
    def constant(cls, service: float, fails: bool = False) -> Work:
        """Every attempt takes `service` and fails (or not) alike: for hand-built topologies. (Redeliveries
        draw from the same endless streams.)"""
        return cls(itertools.repeat(service), itertools.repeat(True) if fails else None)

    def first(self) -> tuple[float, bool]:
        """A newly admitted copy's first attempt."""
        return next(self.services), self.failures is not None and next(self.failures)

    def retry(self, poison: bool) -> tuple[float, bool]:
        """The next redelivery's attempt; a poison copy's fails whatever it drew (it still draws, in order)."""
        services = self.retry_services if self.retry_services is not None else self.services
        failures = self.retry_failures if self.retry_failures is not None else self.failures
        fails = failures is not None and next(failures)
        return next(services), fails or poison
