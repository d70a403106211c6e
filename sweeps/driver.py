"""Run a sweep: every cell × replication, in parallel, stored as each finishes, resumable."""

from __future__ import annotations

import math
import platform
import subprocess
import sys
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from pubsub import MODEL_VERSION
from pubsub.intervals import interval

from .backends import backend, default_workers, worker_deaths
from .layout import write_atomically, write_json
from .spec import Cell, Run, SweepSpec
from .store import ResultStore
from .task import run_batch, run_scenario


class SweepError(RuntimeError):
    """A sweep that cannot start; the message says why."""


@dataclass
class Outcome:
    folder: Path
    runs: pd.DataFrame
    computed: int = 0
    failed: list[dict] = field(default_factory=list)
    interrupted: bool = False
    crashed: bool = False


def run_sweep(
    sweep: SweepSpec,
    spec_path: Path,
    results: Path = Path("results"),
    workers: int | None = None,
    dask: str | None = None,
    fresh: bool = False,
    task=run_scenario,
    progress: bool | None = None,
) -> Outcome:
    """Compute what `results/<name>/` is missing of `sweep`, then consolidate it.

    `progress=None` shows a bar only on a terminal.
    """
    workers = workers or default_workers()
    cells = sweep.cells()
    store = ResultStore(Path(results) / sweep.name)
    pool, backend_name = backend(dask, workers)
    stack = ExitStack()
    try:
        completed = stack.enter_context(pool)
    except OSError as error:  # an unreachable Dask scheduler: fail before anything is written
        raise SweepError(f"--dask {dask}: cannot reach the scheduler: {error}") from None
    store.prepare(fresh)
    spec_text = Path(spec_path).read_bytes()
    write_atomically(store.layout.spec, lambda p: p.write_bytes(spec_text))
    manifest = _manifest(sweep, len(cells), spec_path, backend_name, workers)

    planned = {cell.index: sweep.replications for cell in cells}
    outcome = Outcome(store.folder, pd.DataFrame())
    failed_now: set[str] = set()
    bar = tqdm(total=0, unit="run", desc=sweep.name, disable=(None if progress is None else not progress))
    try:
        with stack:
            while True:
                todo = [r for r in _runs(sweep, cells, planned) if not store.done(r) and r.key not in failed_now]
                # Longest first, so that no worker is left alone with a big run at the end.
                todo.sort(key=_expected_copies, reverse=True)
                bar.total += len(todo)
                bar.refresh()
                batches = _batches(todo)
                work = [[r.scenario.model_dump() for r in batch] for batch in batches]
                try:
                    for i, outputs in completed(partial(run_batch, task), work):
                        for run, result in zip(batches[i], outputs):
                            if "error" in result:
                                store.save_error(run, result["error"] + "\n" + result["traceback"])
                                failed_now.add(run.key)
                            else:
                                store.save(run, result["part"])
                                outcome.computed += 1
                            bar.update()
                except worker_deaths() as death:
                    # We cannot tell which run took the worker down: every unfinished one is recorded.
                    outcome.crashed = True
                    for run in todo:
                        if not store.done(run):
                            store.save_error(
                                run,
                                f"a worker process died ({type(death).__name__}: killed, or out "
                                "of memory?) before this run finished; run the sweep again to retry",
                            )
                if outcome.crashed or sweep.precision is None or not _extend(sweep, cells, planned, store):
                    break
    except KeyboardInterrupt:
        outcome.interrupted = True
    finally:
        bar.close()

    runs = list(_runs(sweep, cells, planned))
    outcome.runs = store.consolidate(runs, sweep.varied)
    outcome.failed = [e for r in runs if (e := store.error(r)) is not None]
    table = _cells_table(sweep, cells, planned, store)
    write_atomically(store.layout.cells, lambda p: table.to_csv(p, index=False))
    write_json(store.layout.failures, outcome.failed)
    manifest.update(
        finished=_now(),
        interrupted=outcome.interrupted,
        runs_planned=len(runs),
        runs_done=len(outcome.runs),
        runs_computed_now=outcome.computed,
        runs_failed=len(outcome.failed),
    )
    write_json(store.layout.manifest, manifest)
    return outcome


def _runs(sweep: SweepSpec, cells: list[Cell], planned: dict[int, int]):
    for cell in cells:
        yield from sweep.runs(cell, planned[cell.index])


def _expected_copies(run: Run) -> float:
    s = run.scenario
    return s.topics * s.publishers * s.publish_rate * s.subscribers * s.duration


BATCH_COPIES = 5_000  # about 30 ms of simulation: less is not worth a round trip to a worker alone
BATCH_RUNS = 16


def _batches(runs: list[Run]) -> list[list[Run]]:
    """Consecutive runs grouped until each group is worth sending to a worker; big runs go alone."""
    batches, batch, copies = [], [], 0.0
    for run in runs:
        batch.append(run)
        copies += _expected_copies(run)
        if copies >= BATCH_COPIES or len(batch) == BATCH_RUNS:
            batches.append(batch)
            batch, copies = [], 0.0
    return [*batches, batch] if batch else batches


def _precision(sweep: SweepSpec, cell: Cell, planned: int, store: ResultStore):
    """(values, mean, half-width) of the precision metric over a cell's stored replications.

    Both are NaN if a value is missing; with a single value the half-width is infinite.
    """
    assert sweep.precision is not None
    metric = sweep.precision.metric
    runs = sweep.runs(cell, planned)
    values = np.array([store.summary(r)[metric] for r in runs if store.done(r)], dtype=float)
    if not len(values) or np.isnan(values).any():
        return values, math.nan, math.nan
    found = interval(values)
    return values, found.mean, (found.half_width if found.n >= 2 else math.inf)


def _extend(sweep: SweepSpec, cells: list[Cell], planned: dict[int, int], store: ResultStore) -> bool:
    """Plan more replications for cells short of the precision target; False if none are."""
    target = sweep.precision
    assert target is not None
    batch = target.batch or sweep.replications
    extended = False
    for cell in cells:
        n = planned[cell.index]
        values, mean, half = _precision(sweep, cell, n, store)
        if n >= target.max_replications or len(values) < n or np.isnan(values).any():
            continue  # at the limit, a failed run, or a metric that is undefined here
        if half <= target.relative_half_width * abs(mean):
            continue
        planned[cell.index] = min(target.max_replications, n + batch)
        extended = True
    return extended


def _cells_table(sweep: SweepSpec, cells: list[Cell], planned: dict[int, int], store: ResultStore) -> pd.DataFrame:
    """One row per cell: its fields, replications planned and done, and the precision reached."""
    rows = []
    for cell in cells:
        runs = sweep.runs(cell, planned[cell.index])
        row = {
            "cell": cell.index,
            **cell.varied,
            "replications": planned[cell.index],
            "done": sum(store.done(r) for r in runs),
            "failed": sum(store.error(r) is not None for r in runs),
        }
        if sweep.precision is not None:
            _, mean, half = _precision(sweep, cell, planned[cell.index], store)
            relative = half / abs(mean) if mean else math.nan
            row.update(
                metric=sweep.precision.metric,
                mean=mean,
                half_width=half,
                relative_half_width=relative,
                target_met=bool(relative <= sweep.precision.relative_half_width),
            )
        rows.append(row)
    return pd.DataFrame(rows)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _git_commit() -> str:
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+uncommitted changes" if dirty else "")


def _manifest(sweep: SweepSpec, cells: int, spec_path: Path, backend_name: str, workers: int) -> dict:
    return {
        "sweep": sweep.name,
        "spec": str(spec_path),
        "started": _now(),
        "command": " ".join(sys.argv),
        "backend": backend_name,
        "workers": workers,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "asimpy": version("asimpy"),
        "model_version": MODEL_VERSION,
        "pubsub-sweeps": version("pubsub-sweeps"),
        "git_commit": _git_commit(),
        "cells": cells,
        "replications": sweep.replications,
        "seed": sweep.seed,
        "precision": sweep.precision.model_dump() if sweep.precision else None,
    }
