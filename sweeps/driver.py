"""Run a sweep: every cell × replication, in parallel, stored as each finishes, resumable."""

from __future__ import annotations

import platform
import subprocess
import sys
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from importlib.metadata import version
from pathlib import Path

import pandas as pd

from pubsub import MODEL_VERSION
from pubsub.engines import uncovered
from pubsub.topology import Topology

from .backends import backend, default_workers, worker_deaths
from .layout import write_atomically, write_json
from .plans import SearchPlan, make_plan
from .progress import Progress
from .spec import Run, SweepSpec
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
    answers: pd.DataFrame | None = None  # a search's, one row per combination


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

    `progress=None` shows a bar on a terminal or in a notebook, else a line every few seconds (`Progress`).
    """
    workers = workers or default_workers()
    plan = make_plan(sweep)
    if sweep.engine == "compiled":  # refused before anything is written, naming the first cell it cannot run
        for cell in plan.cells:
            if missing := uncovered(cell.scenario):
                raise SweepError(
                    f"engine='compiled' does not cover cell {cell.index} {cell.varied}: {', '.join(missing)}"
                )
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
    manifest = _manifest(sweep, len(plan.cells), spec_path, backend_name, workers)

    outcome = Outcome(store.folder, pd.DataFrame())
    failed_now: set[str] = set()
    bar = Progress(sweep.name, progress)
    try:
        with stack:
            while True:
                todo = [r for r in plan.runs() if not store.done(r) and r.key not in failed_now]
                # Longest first, so that no worker is left alone with a big run at the end.
                todo.sort(key=_expected_copies, reverse=True)
                bar.add(len(todo))
                batches = _batches(todo)
                work = [[r.scenario.model_dump() for r in batch] for batch in batches]
                try:
                    for i, outputs in completed(partial(run_batch, task, engine=sweep.engine), work):
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
                if outcome.crashed or not plan.advance(store):
                    break
    except KeyboardInterrupt:
        outcome.interrupted = True
    finally:
        bar.close()

    runs = list(plan.runs())
    outcome.runs = store.consolidate(runs, sweep.varied)
    outcome.failed = [e for r in runs if (e := store.error(r)) is not None]
    table = plan.table(store)
    write_atomically(store.layout.cells, lambda p: table.to_csv(p, index=False))
    if isinstance(plan, SearchPlan):
        outcome.answers = answers = plan.answers(store)
        write_atomically(store.layout.search, lambda p: answers.to_csv(p, index=False))
    write_json(store.layout.failures, outcome.failed)
    manifest.update(
        finished=_now(),
        interrupted=outcome.interrupted,
        cells=len(plan.cells),
        runs_planned=len(runs),
        runs_done=len(outcome.runs),
        runs_computed_now=outcome.computed,
        runs_failed=len(outcome.failed),
        engines_ran=_engines_ran(outcome.runs),
    )
    write_json(store.layout.manifest, manifest)
    return outcome


def _engines_ran(runs: pd.DataFrame) -> dict[str, int]:
    """How many stored runs each engine ran (runs stored before engines were recorded count as "unrecorded")."""
    if runs.empty or "engine" not in runs:
        return {}
    return {str(k): int(v) for k, v in runs["engine"].fillna("unrecorded").value_counts().items()}


def _expected_copies(run: Run) -> float:
    return Topology.of(run.scenario).copy_rate() * run.scenario.duration


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
        "search": sweep.search.model_dump() if sweep.search else None,
        "engine": sweep.engine,
    }
