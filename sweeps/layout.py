"""A results folder, `<results>/<name>/`: the name of every file in it, and how each is written.

Sweeps (and the live runner) write the run tables; analysis reads them and writes
what it derives. Both name files only through `Layout`, and write them only
through `write_atomically`, so that a reader, or a resumed sweep, sees a whole
file or none, whenever the writer was killed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Call write(temporary_path), then rename the result to `path`."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: Path, data: Any) -> None:
    write_atomically(path, lambda p: p.write_text(json.dumps(data, indent=2, default=str)))


@dataclass(frozen=True)
class Layout:
    """The paths of one results folder."""

    folder: Path

    # What a sweep writes.
    @property
    def parts(self) -> Path:
        """One file per finished run (`runs/<key>.arrow`) or failed run (`errors/<key>.json`)."""
        return self.folder / "parts"

    @property
    def run_parts(self) -> Path:
        return self.parts / "runs"

    @property
    def error_parts(self) -> Path:
        return self.parts / "errors"

    @property
    def runs(self) -> Path:
        return self.folder / "runs.parquet"

    @property
    def backlog(self) -> Path:
        return self.folder / "backlog.parquet"

    @property
    def subscriptions(self) -> Path:
        """Each run's metrics per subscription: one row per cell × replication × subscription."""
        return self.folder / "subscriptions.parquet"

    @property
    def windows(self) -> Path:
        """Each run's metrics over time: one row per cell × replication × window (runs with windows only)."""
        return self.folder / "windows.parquet"

    @property
    def cells(self) -> Path:
        return self.folder / "cells.csv"

    @property
    def search(self) -> Path:
        """A search spec's answers: one row per combination of the other fields."""
        return self.folder / "search.csv"

    @property
    def failures(self) -> Path:
        return self.folder / "failures.json"

    @property
    def manifest(self) -> Path:
        return self.folder / "manifest.json"

    @property
    def spec(self) -> Path:
        return self.folder / "spec.toml"

    # What the live runner writes: real runs (beside a sweep's tables, or in a check's own folder).
    @property
    def live(self) -> Path:
        return self.folder / "live.parquet"

    @property
    def live_subscriptions(self) -> Path:
        """A named topology's real runs, a row per subscription of each."""
        return self.folder / "live_subscriptions.parquet"

    @property
    def live_parts(self) -> Path:
        return self.parts / "live"

    @property
    def validation(self) -> Path:
        return self.folder / "validation.csv"

    @property
    def live_comparison(self) -> Path:
        """Written by the analysis: simulated against real, per cell."""
        return self.folder / "simulated_vs_real.csv"

    # What the analysis derives from them.
    @property
    def summary_csv(self) -> Path:
        return self.folder / "summary.csv"

    @property
    def summary_parquet(self) -> Path:
        return self.folder / "summary.parquet"

    @property
    def subscriptions_summary(self) -> Path:
        """A named topology's summary per subscription and cell, with intervals."""
        return self.folder / "subscriptions_summary.csv"

    @property
    def paired(self) -> Path:
        return self.folder / "paired.csv"

    @property
    def capacity(self) -> Path:
        return self.folder / "capacity.csv"

    @property
    def figures(self) -> Path:
        return self.folder / "figures"

    @property
    def report(self) -> Path:
        return self.folder / "report.html"

    def derived(self) -> list[Path]:
        """Every file the analysis writes, figures aside."""
        return [
            self.summary_csv,
            self.summary_parquet,
            self.subscriptions_summary,
            self.paired,
            self.capacity,
            self.live_comparison,
            self.report,
        ]

    def files(self) -> list[Path]:
        """Every file of the folder but the parts and figures folders."""
        return [self.runs, self.backlog, self.subscriptions, self.windows, self.cells, self.search, self.failures,
                self.manifest, self.spec, *self.derived()]  # fmt: skip
