"""A sweep's results folder, read back: runs, backlog, spec, manifest and failures."""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pubsub import Scenario


@dataclass
class Results:
    folder: Path
    runs: pd.DataFrame
    spec: dict
    manifest: dict
    failures: list[dict]

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def varied(self) -> list[str]:
        """The fields the sweep varied: its grid and `together` keys, else any scenario field that differs."""
        keys = [*self.spec.get("grid", {}), *self.spec.get("together", {})]
        if keys:
            return keys
        fields = [f for f in Scenario.model_fields if f != "seed" and f in self.runs]
        return [f for f in fields if self.runs[f].nunique(dropna=False) > 1]

    def planned(self, field: str) -> list | None:
        """The values the spec gave `field` (so cells whose runs all failed still count), if it varied it."""
        for table in ("grid", "together"):
            if field in self.spec.get(table, {}):
                return sorted(set(self.spec[table][field]))
        return None

    def backlog(self) -> pd.DataFrame:
        return pd.read_parquet(self.folder / "backlog.parquet")


def load(folder: str | Path) -> Results:
    """Read `<results>/<name>/`; raises FileNotFoundError naming what is missing."""
    folder = Path(folder)
    runs_path = folder / "runs.parquet"
    if not runs_path.exists():
        raise FileNotFoundError(f"{runs_path} does not exist: run the sweep first (python -m sweeps run SPEC)")
    spec_path, manifest_path, failures_path = folder / "spec.toml", folder / "manifest.json", folder / "failures.json"
    return Results(
        folder=folder,
        runs=pd.read_parquet(runs_path),
        spec=tomllib.loads(spec_path.read_text()) if spec_path.exists() else {},
        manifest=json.loads(manifest_path.read_text()) if manifest_path.exists() else {},
        failures=json.loads(failures_path.read_text()) if failures_path.exists() else [],
    )
