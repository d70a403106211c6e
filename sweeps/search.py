"""Search specs: for each combination of the other fields, the smallest size (or the largest rate) whose metric
interval lies wholly below a target, found by bracketing from a guess and bisecting, not by a full grid."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from pubsub import METRICS, WALL_CLOCK_METRICS, Scenario
from pubsub.metric_info import QUANTILES
from pubsub.scenario import SubscriptionSettings, split_path
from pubsub.suggest import did_you_mean
from pubsub.topology import Topology

# Searchable fields, and which end of the range the search looks for.
SEARCHABLE: dict[str, Literal["smallest", "largest"]] = {
    "group_size": "smallest",
    "partitions": "smallest",
    "max_consumers": "smallest",
    "publish_rate": "largest",
}
INTEGER_FIELDS = {"group_size", "partitions", "max_consumers"}


class SearchSpec(BaseModel):
    """A spec's `[search]` table."""

    model_config = ConfigDict(extra="forbid", strict=True)

    field: str
    low: int | float
    high: int | float
    metric: str = "latency_p99"
    below: float | None = Field(
        None, gt=0, description="the target: the metric's 95% interval must lie wholly below it (default: [answer]'s)"
    )
    tolerance: float | None = Field(None, gt=0, description="publish_rate: stop when the bracket is this narrow")
    max_replications: int | None = Field(None, ge=2, description="add replications to a straddling cell, up to")

    @model_validator(mode="after")
    def _consistent(self) -> SearchSpec:
        try:
            split_path(self.field)
        except ValueError as error:
            raise ValueError(f"field: {error}") from None
        if self.name not in SEARCHABLE:
            raise ValueError(f"field: {self.field!r} cannot be searched; choose from {', '.join(SEARCHABLE)}")
        if self.metric not in METRICS:
            raise ValueError(f"metric: unknown metric {self.metric!r}{did_you_mean(self.metric, METRICS)}")
        if self.metric in WALL_CLOCK_METRICS:
            raise ValueError(f"metric: {self.metric} is wall-clock, not a simulated result")
        if self.name in INTEGER_FIELDS:
            for name in ("low", "high"):
                if not isinstance(getattr(self, name), int):
                    raise ValueError(f"{name}: {self.field} is an integer, got {getattr(self, name)!r}")
            if self.tolerance is not None:
                raise ValueError(f"tolerance ({self.tolerance}) is for publish_rate; {self.field} is an integer")
        elif self.tolerance is None:
            raise ValueError(f"tolerance: searching {self.field} needs one (how narrow the final bracket is)")
        if self.low >= self.high:
            raise ValueError(f"low ({self.low}) must be less than high ({self.high})")
        return self

    @property
    def target(self) -> float:
        """`below`, which the spec fills from its `[answer]` table when the search does not set it."""
        assert self.below is not None, "a spec's search always has a target"  # pragma: no mutate
        return self.below

    @property
    def name(self) -> str:
        """The searched field's name, without the part it belongs to."""
        return split_path(self.field)[2]

    @property
    def subscription(self) -> str | None:
        """The subscription whose own metric judges the search, if the field is a named subscription's."""
        table, part, _ = split_path(self.field)
        return part if table == "subscriptions" else None

    @property
    def wants(self) -> Literal["smallest", "largest"]:
        return SEARCHABLE[self.name]


Verdict = Literal["meets", "misses", "straddles", "unknown"]


def verdict(ci_low: float, ci_high: float, target: float) -> Verdict:
    """Whether an interval lies wholly below the target, wholly at or above it, or across it."""
    if math.isnan(ci_low) or math.isnan(ci_high):
        return "unknown"
    if ci_high < target:
        return "meets"
    return "misses" if ci_low >= target else "straddles"


@dataclass
class IntegerSearch:
    """The smallest value in [low, high] that meets the target, the metric assumed to fall as the value grows.

    Probes the guess and the value below it first; then gallops away from the bracket's known side in
    doubling steps and bisects once both sides are known. A value that does not meet the target (it
    misses it, or its interval straddles it) counts as below the answer, as in a grid; and as a grid
    scanned upwards, the answer is the smallest value that meets with the one below it missing, whatever
    larger values showed (noise can make a larger one miss: `contradictions` names them).
    """

    low: int
    high: int
    guess: int
    judged: dict[float, bool] = field(default_factory=dict)  # value -> meets (values are ints)
    _steps: int = 0

    def first(self) -> list[float]:
        guess = min(self.high, max(self.low, self.guess))
        return [guess - 1, guess] if guess > self.low else [guess]

    def bracket(self) -> tuple[float, float | None]:
        """(the largest value below the smallest that meets that does not, low - 1 if none; the smallest value
        that meets, None if none)."""
        above = min((v for v, ok in self.judged.items() if ok), default=None)
        misses = [v for v, ok in self.judged.items() if not ok and (above is None or v < above)]
        return max(misses, default=self.low - 1), above

    def next(self) -> list[float]:
        """The values to judge next; [] once decided."""
        below, above = self.bracket()
        if above is None:
            if below >= self.high:
                return []
            self._steps += 1
            return [min(self.high, below + 2 ** (self._steps - 1))]
        if above - below <= 1:
            return []
        if below == self.low - 1:  # nothing below the smallest that meets has been judged: gallop down
            self._steps += 1
            return [max(self.low, above - 2 ** (self._steps - 1))]
        return [(below + above) // 2]

    def answer(self) -> float | None:
        below, above = self.bracket()
        return above if above is not None and above - below <= 1 else None

    def contradictions(self) -> str | None:
        """Larger values that did not meet the target although a smaller one did, if any were probed."""
        above = self.bracket()[1]
        larger = sorted(v for v, ok in self.judged.items() if not ok and above is not None and v > above)
        return f"{', '.join(map(str, larger))} did not meet the target although {above} did" if larger else None


@dataclass
class RateSearch:
    """The largest rate in [low, high] that meets the target, to `tolerance`; the metric assumed to rise with it."""

    low: float
    high: float
    tolerance: float
    judged: dict[float, bool] = field(default_factory=dict)

    def first(self) -> list[float]:
        return [self.low, self.high]

    def bracket(self) -> tuple[float | None, float | None]:
        """(the largest rate below the smallest that does not meet that meets, None if none; the smallest rate
        that does not meet, None if none)."""
        bad = min((v for v, ok in self.judged.items() if not ok), default=None)
        meets = [v for v, ok in self.judged.items() if ok and (bad is None or v < bad)]
        return max(meets, default=None), bad

    def next(self) -> list[float]:
        good, bad = self.bracket()
        if good is None or bad is None or bad - good <= self.tolerance:
            return []
        return [round((good + bad) / 2, 12)]

    def answer(self) -> float | None:
        good, bad = self.bracket()
        if good is None:
            return None
        return good if bad is None or bad - good <= self.tolerance else None

    def contradictions(self) -> str | None:
        """Larger rates that met the target although a smaller one did not, if any were probed."""
        bad = self.bracket()[1]
        larger = sorted(v for v, ok in self.judged.items() if ok and bad is not None and v > bad)
        return f"{', '.join(map(str, larger))} met the target although {bad} did not" if larger else None


@dataclass(frozen=True)
class Load:
    """What a searched subscription faces: its arrival rate (all its topics' publishers), its settings, and
    whether those arrivals are Poisson at a constant rate."""

    rate: float
    settings: SubscriptionSettings
    poisson: bool


def loads(spec: SearchSpec, base: Scenario) -> list[Load]:
    """The load on each subscription the searched field sets: the named one, or (a flat field) every one."""
    topology = Topology.of(base)
    topics = {t.name: t.settings for t in topology.topics}
    out = []
    for part in topology.subscriptions:
        if spec.subscription not in (None, part.name):
            continue
        read = [topics[t] for t in part.topics]
        rate = sum(t.publishers * t.publish_rate for t in read)
        poisson = all(t.arrivals == "poisson" and t.rate_profile == "constant" for t in read)
        out.append(Load(rate, part.settings, poisson))
    return out


def smallest_stable_size(load: Load) -> int:
    """The fewest consumers that keep up with a subscription's offered load."""
    work = load.settings.service_time + load.settings.service_overhead
    return math.floor(load.rate * work) + 1


def predicted(load: Load, metric: str, size: int) -> float | None:
    """The closed form's value of `metric` for a group of `size`, where one applies (Poisson arrivals and
    exponential service at a constant rate, `shared` as M/M/c or `round-robin` as E_c/M/1, failures and
    redeliveries ignored); else None."""
    from pubsub import theory  # scipy: only a search needs it

    s = load.settings
    plain = load.poisson and (s.service, s.prefetch, s.batch_size) == ("exponential", 1, 1)
    plain = plain and s.service_overhead == 0 and s.delivery_delay == 0
    if not plain or s.dispatch not in ("shared", "round-robin") or metric not in (*QUANTILES, "latency_mean"):
        return None
    lam, mu = load.rate, 1.0 / s.service_time
    if lam >= size * mu:
        return math.inf
    if s.dispatch == "shared":
        if metric == "latency_mean":
            return theory.mmc_latency(lam, mu, size)
        return theory.mmc_latency_quantile(lam, mu, size, QUANTILES[metric])
    if metric == "latency_mean":
        return theory.ecm1_latency(lam, mu, size)
    return theory.ecm1_latency_quantile(lam, mu, size, QUANTILES[metric])


def first_guess(spec: SearchSpec, base: Scenario) -> int:
    """Where a group-size search starts: the smallest size that queueing theory says meets the target, when a
    closed form applies; else the smallest size that keeps up with the load (the largest over the
    subscriptions the field sets). Only the runs decide."""
    guesses = []
    for load in loads(spec, base):
        size = smallest_stable_size(load)
        if spec.name == "group_size" and predicted(load, spec.metric, size) is not None:
            while size < spec.high and (predicted(load, spec.metric, size) or 0.0) >= spec.target:
                size += 1
        guesses.append(size)
    return max(guesses)


def make_search(spec: SearchSpec, base: Scenario) -> IntegerSearch | RateSearch:
    if spec.name in INTEGER_FIELDS:
        return IntegerSearch(int(spec.low), int(spec.high), first_guess(spec, base))
    assert spec.tolerance is not None
    return RateSearch(float(spec.low), float(spec.high), spec.tolerance)


def describe(search: IntegerSearch | RateSearch, spec: SearchSpec) -> str:
    """The answer as text: the value, or why there is none."""
    answer = search.answer()
    if answer is not None:
        return str(answer)
    if isinstance(search, IntegerSearch):
        return f"none up to {spec.high}"
    return f"none: even {spec.low} misses the target"


def value_of(field_name: str, value: Any) -> Any:
    """A searched value read back from text; `field_name` may be a path."""
    return int(value) if field_name.rsplit(".", 1)[-1] in INTEGER_FIELDS else float(value)
