"""`python -m live run SPEC`: a sweep spec's cells on the real broker, into `results/<name>/live.parquet`.

Each cell × replication runs with the seed the simulated sweep gives it, so the
report can pair real and simulated runs. Every finished run is stored at once
(`parts/live/<key>.json`), so an interrupted run resumes where it stopped.
Beside the real metrics each row carries the calibrated simulation of the same
scenario and seed (`calibrated_<metric>`), and the calibration itself.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from pubsub import MODEL_VERSION, simulate
from pubsub.topology import Topology as Parts
from sweeps.layout import Layout, write_atomically
from sweeps.spec import Run, SpecError, load, resolve

from . import measure, runner
from .calibrate import calibrate
from .server import running
from .topology import refuse_unsupported

REAL_SECONDS_PER_SERVICE = 0.02  # default time scale: a mean service of 20 ms
CALIBRATED = (
    "latency_mean",
    "latency_p50",
    "latency_p95",
    "latency_p99",
    "latency_max",
    "wait_mean",
    "redelivered",
    "dead_lettered",
    "duplicates",
    "throughput",
    "utilization",
    "backlog_mean",
)


def time_scale_for(run: Run, given: float | None) -> float:
    """The given scale, or one that makes the shortest mean service of the run's subscriptions 20 ms."""
    if given is not None:
        return given
    shortest = min(part.settings.service_time for part in Parts.of(run.scenario).subscriptions)
    return REAL_SECONDS_PER_SERVICE / shortest


def part_name(run: Run, scale: float) -> str:
    """A real run's stored name: its simulated key, the model's version and the time scale."""
    text = json.dumps({"run": run.key, "model": MODEL_VERSION, "time_scale": scale}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20] + ".json"


def run_spec(
    spec: str,
    results: Path,
    url: str | None,
    scale: float | None,
    fresh: bool,
    max_hours: float,
    calibration_rounds: int | None = None,
) -> int:
    try:
        sweep = load(spec)
    except SpecError as error:
        raise ValueError(str(error)) from None
    cells = sweep.cells()
    for cell in cells:
        try:
            refuse_unsupported(cell.scenario)
        except ValueError as error:
            where = ", ".join(f"{k}={v!r}" for k, v in cell.varied.items()) or "every cell"
            raise ValueError(f"{resolve(spec)}: cell {where}: {error}") from None
    runs = [run for cell in cells for run in sweep.runs(cell, sweep.replications)]
    hours = sum(r.scenario.duration * time_scale_for(r, scale) for r in runs) / 3600
    if hours > max_hours:
        raise ValueError(
            f"{sweep.name}: {len(runs)} real runs would take about {hours:.1f} hours (duration × time "
            f"scale, summed); shorten the spec's duration, or pass --max-hours {hours:.0f}"
        )
    layout = Layout(Path(results) / sweep.name)
    if fresh:
        shutil.rmtree(layout.live_parts, ignore_errors=True)
        layout.live.unlink(missing_ok=True)
    layout.live_parts.mkdir(parents=True, exist_ok=True)
    todo = [r for r in runs if not (layout.live_parts / part_name(r, time_scale_for(r, scale))).exists()]
    print(
        f"{sweep.name}: {len(runs)} real runs, {len(todo)} to do, about "
        f"{sum(r.scenario.duration * time_scale_for(r, scale) for r in todo) / 60:.1f} min",
        file=sys.stderr,
    )
    try:
        if todo:
            with running(url) as server:
                found = calibrate(server.url, REAL_SECONDS_PER_SERVICE, rounds=calibration_rounds)
                for run in tqdm(todo, unit="run", desc=f"{sweep.name} (live)"):
                    _one(run, server, found, time_scale_for(run, scale), layout)
    finally:
        table = _consolidate(runs, scale, layout)
    print(f"{sweep.name}: {len(table)} real runs in {layout.live}", file=sys.stderr)
    return 0 if len(table) == len(runs) else 1


def _one(run: Run, server, found, scale: float, layout: Layout) -> None:
    log = runner.run(run.scenario, server.url, scale)
    real = measure.summarize(log)
    calibration = found.fields(run.scenario.ack, scale)  # (a named topology's parts: each by its own ack)
    twin = simulate(found.applied(run.scenario, scale))
    calibrated = twin.summary
    row = {
        "cell": run.cell.index,
        "replication": run.replication,
        **run.scenario.summary_fields(),
        **{path: value for path, value in run.cell.varied.items() if "." in path},  # a named part's, as runs.parquet
        **real,
        "time_scale": scale,
        "conserved": log.server["holds"],
        "broker": f"{server.name} {server.version}",
        **{f"calibrated_{name}": value for name, value in calibration.items()},
        **{f"calibrated_{metric}": calibrated[metric] for metric in CALIBRATED},
    }
    if run.scenario.named:  # each subscription's real metrics beside its calibrated twin's
        real_parts = measure.by_subscription(log)
        row["per_subscription"] = [
            {
                "subscription": name,
                **real_parts.loc[name].to_dict(),
                **{f"calibrated_{m}": twin.by_subscription.loc[name, m].item() for m in CALIBRATED},
            }
            for name in real_parts.index
        ]
    path = layout.live_parts / part_name(run, scale)
    write_atomically(path, lambda p: p.write_text(json.dumps(row)))


def _consolidate(runs: list[Run], scale: float | None, layout: Layout) -> pd.DataFrame:
    """live.parquet, a row per real run; for a named topology also live_subscriptions.parquet, a row per
    subscription of each, with the run's cell, replication and varied fields."""
    rows, parts = [], []
    for run in runs:
        path = layout.live_parts / part_name(run, time_scale_for(run, scale))
        if path.exists():
            row = json.loads(path.read_text())
            for part in row.pop("per_subscription", []):
                parts.append({"cell": row["cell"], "replication": row["replication"],
                              **{f: row[f] for f in run.cell.varied if f in row}, **part})  # fmt: skip
            rows.append(row)
    table = pd.DataFrame(rows)
    if len(table):
        write_atomically(layout.live, lambda p: table.to_parquet(p, index=False))
    if parts:
        by_part = pd.DataFrame(parts)
        write_atomically(layout.live_subscriptions, lambda p: by_part.to_parquet(p, index=False))
    return table
