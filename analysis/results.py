"""A sweep's results folder, read back: runs, backlog, spec, manifest and failures."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pubsub import METRICS, MODEL_VERSION, Scenario
from pubsub.scenario import dotted
from sweeps.layout import Layout


@dataclass
class Results:
    folder: Path
    runs: pd.DataFrame
    spec: dict
    manifest: dict
    failures: list[dict]

    @property
    def layout(self) -> Layout:
        return Layout(self.folder)

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def varied(self) -> list[str]:
        """The fields the sweep varied: its grid and `together` keys and the searched field, else any scenario
        field that differs."""
        searched = [self.spec["search"]["field"]] if "search" in self.spec else []
        keys = [*dotted(self.spec.get("grid", {})), *dotted(self.spec.get("together", {})), *searched]
        if keys:
            return keys
        fields = [f for f in Scenario.model_fields if f != "seed" and f in self.runs]
        return [f for f in fields if self.runs[f].nunique(dropna=False) > 1]

    def planned(self, field: str) -> list | None:
        """The values the spec gave `field` (so cells whose runs all failed still count), if it varied it."""
        for table in ("grid", "together"):
            values = dotted(self.spec.get(table, {}))
            if field in values:
                return sorted(set(values[field]))
        return None

    def backlog(self) -> pd.DataFrame:
        return pd.read_parquet(self.layout.backlog)

    def windows(self) -> pd.DataFrame:
        """Each run's metrics over time (`pubsub.windows`); empty when no run had windows."""
        return pd.read_parquet(self.layout.windows) if self.layout.windows.exists() else pd.DataFrame()

    @property
    def named(self) -> bool:
        """Whether the sweep ran a named topology (whose answers are per subscription)."""
        return bool(len(self.runs)) and bool(self.runs["subscriptions"].notna().any())

    def subscriptions(self) -> pd.DataFrame:
        """Each run's metrics per subscription (subscriptions.parquet)."""
        return pd.read_parquet(self.layout.subscriptions)


class StaleResults(ValueError):
    """Results written by an older model, which lack fields or metrics of this one."""


def load(folder: str | Path) -> Results:
    """Read `<results>/<name>/`; raises FileNotFoundError naming what is missing, StaleResults if they are old."""
    layout = Layout(Path(folder))
    if not layout.runs.exists():
        raise FileNotFoundError(f"{layout.runs} does not exist: run the sweep first (python -m sweeps run SPEC)")
    runs = pd.read_parquet(layout.runs)
    missing = [c for c in [*Scenario.model_fields, *METRICS] if c not in runs]
    if missing:
        raise StaleResults(
            f"{layout.runs} was written by an older model (it lacks {', '.join(missing[:4])}"
            f"{', …' if len(missing) > 4 else ''}); this is model version {MODEL_VERSION}: run the sweep again "
            "(python -m sweeps run SPEC recomputes what changed)"
        )
    return Results(
        folder=layout.folder,
        runs=runs,
        spec=tomllib.loads(layout.spec.read_text()) if layout.spec.exists() else {},
        manifest=json.loads(layout.manifest.read_text()) if layout.manifest.exists() else {},
        failures=json.loads(layout.failures.read_text()) if layout.failures.exists() else [],
    )
