"""What a sweep runs next: a grid's cells (with replications added for precision), or a search's probes."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pandas as pd

from pubsub.intervals import interval

from .search import IntegerSearch, RateSearch, describe, make_search, verdict
from .spec import Cell, Run, SweepSpec
from .store import ResultStore


def cell_values(
    sweep: SweepSpec, cell: Cell, planned: int, store: ResultStore, metric: str, subscription: str | None = None
) -> np.ndarray:
    """`metric` over a cell's stored replications among its first `planned`: the run's, or one subscription's."""
    runs = [r for r in sweep.runs(cell, planned) if store.done(r)]
    if subscription is None:
        return np.array([store.summary(r)[metric] for r in runs], dtype=float)
    return np.array([store.subscription(r, subscription)[metric] for r in runs], dtype=float)


def cell_interval(values: np.ndarray, planned: int) -> tuple[float, float, float]:
    """(mean, low, high) of the 95% interval; NaN when a run is missing or a value undefined, or with one value."""
    if len(values) < planned or not len(values) or np.isnan(values).any():
        return math.nan, math.nan, math.nan
    found = interval(values)
    if found.n < 2:
        return found.mean, math.nan, math.nan
    return found.mean, found.low, found.high


class GridPlan:
    """Every cell of the grid; with `precision`, more replications for cells whose interval is still wide."""

    def __init__(self, sweep: SweepSpec):
        self.sweep = sweep
        self.cells = sweep.cells()
        self.planned = {cell.index: sweep.replications for cell in self.cells}

    def runs(self) -> Iterator[Run]:
        for cell in self.cells:
            yield from self.sweep.runs(cell, self.planned[cell.index])

    def advance(self, store: ResultStore) -> bool:
        """Plan more replications for cells short of the precision target; False if none are."""
        target = self.sweep.precision
        if target is None:
            return False
        batch = target.batch or self.sweep.replications
        extended = False
        for cell in self.cells:
            n = self.planned[cell.index]
            values = cell_values(self.sweep, cell, n, store, target.metric)
            if n >= target.max_replications or len(values) < n or np.isnan(values).any():
                continue  # at the limit, a failed run, or a metric that is undefined here
            mean, half = self._precision(values)
            if half <= target.relative_half_width * abs(mean):
                continue
            self.planned[cell.index] = min(target.max_replications, n + batch)
            extended = True
        return extended

    @staticmethod
    def _precision(values: np.ndarray) -> tuple[float, float]:
        """(mean, half-width); with a single value the half-width is infinite."""
        found = interval(values)
        return found.mean, (found.half_width if found.n >= 2 else math.inf)

    def table(self, store: ResultStore) -> pd.DataFrame:
        """One row per cell: its fields, replications planned and done, and the precision reached."""
        rows = []
        for cell in self.cells:
            n = self.planned[cell.index]
            row = _cell_row(self.sweep, cell, n, store)
            if self.sweep.precision is not None:
                values = cell_values(self.sweep, cell, n, store, self.sweep.precision.metric)
                mean, half = self._precision(values) if len(values) == n and n else (math.nan, math.nan)
                relative = half / abs(mean) if mean else math.nan
                row.update(
                    metric=self.sweep.precision.metric,
                    mean=mean,
                    half_width=half,
                    relative_half_width=relative,
                    target_met=bool(relative <= self.sweep.precision.relative_half_width),
                )
            rows.append(row)
        return pd.DataFrame(rows)


def _cell_row(sweep: SweepSpec, cell: Cell, planned: int, store: ResultStore) -> dict:
    runs = sweep.runs(cell, planned)
    return {
        "cell": cell.index,
        **cell.varied,
        "replications": planned,
        "done": sum(store.done(r) for r in runs),
        "failed": sum(store.error(r) is not None for r in runs),
    }


PROBES = 1000  # cell indices per combination of a rate search: more probes than a bisection ever makes


class Combination:
    """One search: a combination of the grid's fields, the cells probed so far, and what they showed."""

    def __init__(self, index: int, base: Cell, sweep: SweepSpec):
        assert sweep.search is not None
        self.index = index
        self.base = base
        self.sweep = sweep
        self.spec = spec = sweep.search
        self.search: IntegerSearch | RateSearch = make_search(spec, base.scenario)
        self.probes: dict[float, Cell] = {}
        self.why: str | None = None  # set when the search cannot go on
        self.done = False

    def probe(self, value: float) -> Cell:
        """The cell at `value` of the searched field (the grid's cell, with the same scenario and seeds)."""
        if value not in self.probes:
            spec = self.spec
            offset = int(value - spec.low) if isinstance(self.search, IntegerSearch) else len(self.probes)
            span = int(spec.high - spec.low) + 1 if isinstance(self.search, IntegerSearch) else PROBES
            self.probes[value] = self.sweep.probe(self.base, value, self.index * span + offset)
        return self.probes[value]


class SearchPlan:
    """A search per combination of the grid (and `together`) fields.

    Each round judges the probes whose runs are stored: a probe whose interval straddles the target gets
    more replications, up to `max_replications`; then each search proposes its next probes, until every
    search has its answer or cannot go on (a failed run, or a metric with no interval).
    """

    def __init__(self, sweep: SweepSpec):
        assert sweep.search is not None
        self.sweep = sweep
        self.spec = sweep.search
        self.most = self.spec.max_replications or sweep.replications
        self.combinations = [Combination(i, base, sweep) for i, base in enumerate(sweep.cells())]
        self.planned: dict[int, int] = {}
        for combination in self.combinations:
            for value in combination.search.first():
                self._plan(combination, value)

    def _plan(self, combination: Combination, value: float) -> None:
        cell = combination.probe(value)
        self.planned.setdefault(cell.index, self.sweep.replications)

    @property
    def cells(self) -> list[Cell]:
        return [cell for c in self.combinations for cell in c.probes.values()]

    def runs(self) -> Iterator[Run]:
        for cell in self.cells:
            yield from self.sweep.runs(cell, self.planned[cell.index])

    def judge(self, combination: Combination, value: float, store: ResultStore) -> tuple[str, tuple]:
        cell = combination.probes[value]
        n = self.planned[cell.index]
        values = cell_values(self.sweep, cell, n, store, self.spec.metric, self.spec.subscription)
        found = cell_interval(values, n)
        return verdict(found[1], found[2], self.spec.target), found

    def advance(self, store: ResultStore) -> bool:
        more = False
        for combination in self.combinations:
            if combination.done:
                continue
            search = combination.search
            for value in [v for v in combination.probes if v not in search.judged]:
                cell = combination.probes[value]
                n = self.planned[cell.index]
                if sum(store.done(r) for r in self.sweep.runs(cell, n)) < n:
                    combination.why = f"{self.spec.field} = {value}: some runs failed"
                    break
                judged, _ = self.judge(combination, value, store)
                if judged == "unknown":
                    combination.why = f"{self.spec.field} = {value}: {self.spec.metric} has no interval"
                    break
                if judged == "straddles" and n < self.most:
                    self.planned[cell.index] = min(self.most, n + self.sweep.replications)
                    more = True
                    continue
                search.judged[value] = judged == "meets"
            if combination.why is not None:
                combination.done = True
                continue
            if any(v not in search.judged for v in combination.probes):
                continue  # waiting for more replications
            upcoming = search.next()
            if not upcoming:
                combination.done = True
            for value in upcoming:
                self._plan(combination, value)
                more = True
        return more

    def table(self, store: ResultStore) -> pd.DataFrame:
        return pd.DataFrame([_cell_row(self.sweep, c, self.planned[c.index], store) for c in self.cells])

    def answers(self, store: ResultStore) -> pd.DataFrame:
        """One row per combination: its fields, the answer, the intervals at it and beside it, runs used."""
        spec = self.spec
        rows = []
        for combination in self.combinations:
            search = combination.search
            answer = search.answer() if combination.why is None else None
            text = f"undecided: {combination.why}" if combination.why else describe(search, spec)
            if combination.why is None and not combination.done:
                text = "undecided: the search was stopped before it finished"
                answer = None
            row: dict = {**combination.base.varied, "field": spec.field, "metric": spec.metric, "below": spec.target}
            row.update(answer=text, value=answer if answer is not None else math.nan)
            # Beside the answer: the value just short of it (smaller size, or larger rate), if probed.
            beside = _beside(search)
            for label, value in (("at", answer), ("beside", beside)):
                found = (math.nan,) * 3
                if value is not None and value in combination.probes:
                    _, found = self.judge(combination, value, store)
                row.update({
                    f"{label}_value": value if value is not None else math.nan,
                    f"{label}_mean": found[0], f"{label}_ci_low": found[1], f"{label}_ci_high": found[2],
                })  # fmt: skip
            row["runs"] = sum(self.planned[c.index] for c in combination.probes.values())
            row["note"] = search.contradictions() or ""
            rows.append(row)
        return pd.DataFrame(rows)


def _beside(search: IntegerSearch | RateSearch) -> float | None:
    """The probed value next to the answer on the side that misses the target."""
    if isinstance(search, IntegerSearch):
        below = search.bracket()[0]
        return below if below >= search.low else None
    return search.bracket()[1]


def make_plan(sweep: SweepSpec) -> GridPlan | SearchPlan:
    return SearchPlan(sweep) if sweep.search is not None else GridPlan(sweep)
