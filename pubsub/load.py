"""Load over time: the publish rate's multiplier f(t), its peak and its integral."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .scenario import RateProfile, TopicSettings


@dataclass(frozen=True)
class LoadProfile:
    """A publisher's rate at time t is `publish_rate` × `at(t)`.

    - `constant`: 1;
    - `step`: 1 before `change_at`, `factor` from then on;
    - `ramp`: linear from 1 at 0 to `factor` at `duration`;
    - `sine`: 1 + `amplitude` × sin(2πt / `period`).
    """

    kind: RateProfile = "constant"
    factor: float = 1.0
    change_at: float = 0.0
    amplitude: float = 0.0
    period: float = 1.0
    duration: float = 1.0

    @classmethod
    def of(cls, topic: TopicSettings, duration: float) -> LoadProfile:
        """A topic's profile over a run of `duration` s."""
        t = topic
        period = t.rate_period if t.rate_period is not None else 1.0
        return cls(t.rate_profile, t.rate_factor, t.rate_change_at, t.rate_amplitude, period, duration)

    @property
    def constant(self) -> bool:
        return self.kind == "constant"

    def at(self, t: float) -> float:
        if self.kind == "step":
            return self.factor if t >= self.change_at else 1.0
        if self.kind == "ramp":
            return 1.0 + (self.factor - 1.0) * min(t, self.duration) / self.duration
        if self.kind == "sine":
            return 1.0 + self.amplitude * math.sin(2.0 * math.pi * t / self.period)
        return 1.0

    @property
    def peak(self) -> float:
        """The largest multiplier over the run: thinning draws candidates at this rate."""
        if self.kind in ("step", "ramp"):
            return max(1.0, self.factor)
        return 1.0 + self.amplitude

    @property
    def trough(self) -> float:
        """The smallest multiplier over the run (positive: every profile keeps some load)."""
        if self.kind in ("step", "ramp"):
            return min(1.0, self.factor)
        return 1.0 - self.amplitude

    def cumulative(self, t: float) -> float:
        """∫₀ᵗ f: the expected arrivals by time t, in units of `publish_rate`."""
        if self.kind == "step":
            return t if t < self.change_at else self.change_at + self.factor * (t - self.change_at)
        if self.kind == "ramp":
            d = self.duration
            if t <= d:
                return t + (self.factor - 1.0) * t * t / (2.0 * d)
            return d * (1.0 + self.factor) / 2.0 + self.factor * (t - d)
        if self.kind == "sine":
            w = 2.0 * math.pi / self.period
            return t + self.amplitude * (1.0 - math.cos(w * t)) / w
        return t
