"""Sweep specs: a TOML file saying which scenario fields to fix, which to vary, and how often."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from pubsub import METRICS, MODEL_VERSION, WALL_CLOCK_METRICS, Scenario
from pubsub.engines import Engine
from pubsub.scenario import dotted, split_path, with_paths
from pubsub.suggest import did_you_mean

from .search import SearchSpec, value_of

SHIPPED = Path(__file__).parent / "specs"
SCENARIO_FIELDS = set(Scenario.model_fields)
# Fields that may be None (no limit, no cap): TOML has no null, so a spec writes "none".
OPTIONAL_FIELDS = {name for name, f in Scenario.model_fields.items() if type(None) in get_args(f.annotation)}


class SpecError(ValueError):
    """A spec that cannot run; the message names the culprit."""


MAX_REPLICATIONS = 10_000
MAX_CELLS = 100_000


class Precision(BaseModel):
    """Add replications to a cell until `metric`'s 95% interval is within `relative_half_width` of its mean."""

    model_config = ConfigDict(extra="forbid", strict=True)

    metric: str
    relative_half_width: float = Field(gt=0, lt=1)
    max_replications: int = Field(ge=2, le=MAX_REPLICATIONS)
    batch: int | None = Field(None, ge=1, description="replications added per round; default: replications")


class AnswerSpec(BaseModel):
    """A spec's `[answer]` table: the target its report's answers (and its search) judge against."""

    model_config = ConfigDict(extra="forbid", strict=True)

    metric: str = "latency_p99"
    below: float = Field(gt=0, description="the metric's 95% interval must lie wholly below it")

    @field_validator("metric")
    @classmethod
    def _answerable(cls, metric: str) -> str:
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}{did_you_mean(metric, METRICS)}")
        if metric != "latency_p99":  # the report's answers, figures and floors are p99's
            raise ValueError(f"{metric!r}: only latency_p99 targets drive the report's answers so far")
        return metric


class SweepSpec(BaseModel):
    """What a sweep runs: every combination of `grid`, crossed with the rows of `together`."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)
    description: str = ""
    replications: int = Field(ge=1, le=MAX_REPLICATIONS)
    seed: int = Field(0, ge=0)
    scenario: dict[str, Any] = {}
    grid: dict[str, list[Any]] = {}
    together: dict[str, list[Any]] = Field({}, description="fields varied element by element, not crosswise")
    precision: Precision | None = None
    search: SearchSpec | None = Field(None, description="instead of a grid axis: the value that meets a target")
    engine: Engine = Field("auto", description="auto: the compiled engine wherever it covers a cell; asimpy; compiled")
    answer: AnswerSpec | None = Field(None, description="the target of the report's answers and the search")

    @field_validator("grid", "together", mode="before")
    @classmethod
    def _dotted(cls, table: Any) -> Any:
        """`subscriptions.email.group_size = [...]` unquoted is a nested TOML table: the same path, dotted."""
        return dotted(table) if isinstance(table, dict) else table

    @field_validator("scenario", "grid", "together")
    @classmethod
    def _known_fields(cls, table: dict, info) -> dict:
        for key in table:
            if key == "seed":
                raise ValueError("seed is set per replication from the spec's top-level seed")
            if key not in SCENARIO_FIELDS:
                if info.field_name == "scenario" or "." not in key:
                    raise ValueError(f"unknown scenario field {key!r}{did_you_mean(key, SCENARIO_FIELDS)}")
                try:
                    split_path(key)
                except ValueError as error:
                    raise ValueError(f"{error}") from None
        return table

    @field_validator("grid", "together")
    @classmethod
    def _non_empty(cls, table: dict) -> dict:
        for key, values in table.items():
            if not values:
                raise ValueError(f"{key} has no values")
        return table

    @field_validator("grid")
    @classmethod
    def _distinct(cls, grid: dict) -> dict:
        for key, values in grid.items():
            repeated = sorted({repr(v) for v in values if values.count(v) > 1})
            if repeated:
                raise ValueError(f"{key} repeats {', '.join(repeated)}")
        return grid

    @model_validator(mode="after")
    def _consistent(self) -> SweepSpec:
        lengths = {key: len(values) for key, values in self.together.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"together: lists must have equal lengths, got {lengths}")
        for a, b, what in [
            (self.scenario, self.grid, "scenario and grid"),
            (self.scenario, self.together, "scenario and together"),
            (self.grid, self.together, "grid and together"),
        ]:
            if both := sorted(set(a) & set(b)):
                raise ValueError(f"{', '.join(both)} set in both {what}")
        if self.precision is not None:
            if self.precision.metric not in METRICS:
                metric = self.precision.metric
                raise ValueError(f"precision.metric: unknown metric {metric!r}{did_you_mean(metric, METRICS)}")
            if self.precision.metric in WALL_CLOCK_METRICS:
                raise ValueError(f"precision.metric: {self.precision.metric} is wall-clock, not a simulated result")
            if self.precision.max_replications < self.replications:
                raise ValueError("precision.max_replications must be at least replications")
        if self.search is not None:
            searched = self.search.field
            for table, name in ((self.scenario, "scenario"), (self.grid, "grid"), (self.together, "together")):
                if searched in table:
                    raise ValueError(f"search.field: {searched} is searched, so it cannot also be set in {name}")
            if self.precision is not None:
                raise ValueError("search and precision: a search adds replications itself (search.max_replications)")
            most = self.search.max_replications
            if most is not None and most < self.replications:
                raise ValueError(f"search.max_replications ({most}) must be at least replications")
            self._search_target()
        return self

    def _search_target(self) -> None:
        """A search judges against its own `below`, or else the `[answer]` table's; both must agree."""
        assert self.search is not None  # pragma: no mutate
        own, answer = self.search.below, self.answer
        if own is None and answer is None:
            raise ValueError("search.below: a search needs a target: set search.below, or an [answer] table")
        if answer is not None:
            if own is not None and own != answer.below:
                raise ValueError(f"search.below ({own}) and answer.below ({answer.below}) differ: set one of them")
            if self.search.metric != answer.metric:
                raise ValueError(f"search.metric ({self.search.metric!r}) and answer.metric ({answer.metric!r}) differ")
            self.search = self.search.model_copy(update={"below": answer.below})

    @property
    def varied(self) -> list[str]:
        """The fields that differ between cells, in the order the spec gives them (the searched one last)."""
        return [*self.grid, *self.together, *([self.search.field] if self.search else [])]

    def cells(self) -> list[Cell]:
        """Every cell, each with a validated scenario (seed left at 0); with a search, every combination
        that is searched, its scenario at the searched field's default."""
        rows = [dict(zip(self.together, row)) for row in zip(*self.together.values())] or [{}]
        count = math.prod(len(v) for v in self.grid.values()) * len(rows)
        if count > MAX_CELLS:
            raise SpecError(f"the grid has {count:,} cells, more than {MAX_CELLS:,}")
        crossed = [dict(zip(self.grid, combo)) for combo in itertools.product(*self.grid.values())]
        cells = []
        fixed = _nones(self.scenario)
        for index, (a, b) in enumerate(itertools.product(crossed, rows)):
            varied = {k: _none(k, v) for k, v in {**a, **b}.items()}
            where = ", ".join(f"{k}={v!r}" for k, v in varied.items()) or "every cell"
            try:
                scenario = Scenario(**with_paths(fixed, varied))
            except ValidationError as error:
                raise SpecError(f"cell {where}: {_describe(error, 'scenario')}") from None
            except ValueError as error:  # a path to a part the scenario does not have
                raise SpecError(f"cell {where}: {error}") from None
            cells.append(Cell(index, varied, scenario))
        return cells

    def probe(self, base: Cell, value: Any, index: int) -> Cell:
        """A search's cell: combination `base` with the searched field at `value` (a grid's cell, if it had one)."""
        assert self.search is not None
        varied = {**base.varied, self.search.field: value}
        fields = with_paths(base.scenario.model_dump(), {self.search.field: value})
        return Cell(index, varied, Scenario.model_validate(fields))

    def probed(self, row: dict[str, str]) -> Cell:
        """The search cell that a row of cells.csv describes."""
        assert self.search is not None
        field = self.search.field
        for base in self.cells():
            if all(str(v) == row[k] for k, v in base.varied.items()):
                return self.probe(base, value_of(field, row[field]), int(row["cell"]))
        raise SpecError(f"cells.csv names cell {row['cell']}, which this spec does not search: was the spec changed?")

    def seed_for(self, replication: int) -> int:
        """Replication r's seed, shared by every cell (common random numbers)."""
        import numpy as np  # here: `python -m sweeps list` has no seeds to draw

        return int(np.random.SeedSequence([self.seed, replication]).generate_state(1)[0])

    def runs(self, cell: Cell, count: int) -> list[Run]:
        """The cell's first `count` replications, each with its replication's seed."""
        return [cell.run(r, self.seed_for(r)) for r in range(count)]


@dataclass(frozen=True)
class Cell:
    index: int
    varied: dict[str, Any]
    scenario: Scenario

    def run(self, replication: int, seed: int) -> Run:
        return Run(self, replication, self.scenario.model_copy(update={"seed": seed}))


@dataclass(frozen=True)
class Run:
    """One replication of one cell: the unit of work."""

    cell: Cell
    replication: int
    scenario: Scenario

    @cached_property
    def key(self) -> str:
        """Names this run's stored result; a change to the scenario or the model's version gives a new key."""
        text = json.dumps({"model": MODEL_VERSION, **self.scenario.model_dump()}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:20]


def _none(field: str, value: Any) -> Any:
    """The spec's "none" for a field that may be None (e.g. `max_deliveries`: no limit); `field` may be a path."""
    return None if value == "none" and field.rsplit(".", 1)[-1] in OPTIONAL_FIELDS else value


def _nones(fields: dict[str, Any]) -> dict[str, Any]:
    """The [scenario] table with "none" made None, in named parts' tables too."""
    out = {k: _none(k, v) for k, v in fields.items()}
    for table in ("topics", "subscriptions"):
        if isinstance(out.get(table), dict):
            out[table] = {
                name: {k: _none(k, v) for k, v in part.items()} if isinstance(part, dict) else part
                for name, part in out[table].items()
            }
    return out


# Every key a spec's tables may hold, for "did you mean" on an unknown one.
SPEC_NAMES = {
    *SweepSpec.model_fields, *Precision.model_fields, *SearchSpec.model_fields, *AnswerSpec.model_fields,
    *SCENARIO_FIELDS,
}  # fmt: skip


def _describe(error: ValidationError, whole: str = "spec") -> str:
    """Pydantic's errors on one line: location, message and offending value of each."""
    parts = []
    for e in error.errors():
        where = ".".join(str(p) for p in e["loc"]) or whole
        message = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden" and e["loc"]:
            message += did_you_mean(str(e["loc"][-1]), SPEC_NAMES)
        shown = e["type"] != "missing" and not isinstance(e.get("input"), dict)
        parts.append(f"{where}: {message}" + (f" (got {e['input']!r})" if shown else ""))
    return "; ".join(parts)


def resolve(spec: str | Path) -> Path:
    """A spec path, or the name of a shipped spec (`default` is sweeps/specs/default.toml)."""
    path = Path(spec)
    if path.exists():
        return path
    shipped = SHIPPED / f"{spec}.toml"
    if shipped.exists():
        return shipped
    hint = did_you_mean(str(spec), [p.stem for p in SHIPPED.glob("*.toml")])
    raise SpecError(f"{spec}: no such spec file, and no shipped spec of that name{hint} (see `python -m sweeps list`)")


def load(spec: str | Path) -> SweepSpec:
    """Read and validate a spec, including every cell's scenario. Raises SpecError."""
    path = resolve(spec)
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise SpecError(f"{path}: TOML syntax error: {error}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(f"{path}: cannot read: {error}") from None
    try:
        sweep = SweepSpec(**data)
    except ValidationError as error:
        raise SpecError(f"{path}: {_describe(error)}") from None
    try:
        cells = sweep.cells()
        if sweep.search is not None:
            _check_search_ends(sweep.search, cells)
    except SpecError as error:
        raise SpecError(f"{path}: {error}") from None
    return sweep


def _check_search_ends(search: SearchSpec, cells: list[Cell]) -> None:
    """Every combination must be a valid scenario at both ends of the searched range."""
    for cell in cells:
        for end in (search.low, search.high):
            try:
                Scenario.model_validate(with_paths(cell.scenario.model_dump(), {search.field: end}))
            except ValidationError as error:
                where = ", ".join(f"{k}={v!r}" for k, v in cell.varied.items()) or "every cell"
                raise SpecError(
                    f"search: {search.field}={end!r} in cell {where}: {_describe(error, 'scenario')}"
                ) from None
