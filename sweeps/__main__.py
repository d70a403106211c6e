"""python -m sweeps run SPEC | list | where SPEC | status SPEC

Only `run` imports the driver (pandas, pyarrow, Dask): the other commands start at once.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from pubsub.engines import ENGINES

from .layout import Layout
from .spec import SHIPPED, SpecError, load, resolve
from .store import ResultStore


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m sweeps", description="Run declarative sweeps of pubsub scenarios.")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a sweep (only what is missing, unless --fresh)")
    run.add_argument("spec", help="a spec file, or the name of a shipped spec (see `list`)")
    run.add_argument("--workers", type=positive, help="worker processes (default: one per core)")
    run.add_argument(
        "--dask", metavar="local|ADDRESS", help="run on a new Dask LocalCluster, or the scheduler at ADDRESS"
    )
    run.add_argument("--results", type=Path, default=Path("results"), help="results root (default: results/)")
    run.add_argument("--fresh", action="store_true", help="discard stored results of this sweep first")
    run.add_argument("--no-report", action="store_true", help="store the runs only; `python -m analysis report` later")
    run.add_argument("--slo-p99", help="the report's p99 target, s (default: the spec's [answer], else 10 services)")
    run.add_argument(
        "--engine", choices=ENGINES, help="simulation engine (default: the spec's `engine`, else auto: the compiled "
        "one wherever it covers a cell); results are the same on every engine"
    )  # fmt: skip
    sub.add_parser("list", help="list the shipped specs")
    where = sub.add_parser("where", help="print the results folder of a spec")
    where.add_argument("spec")
    where.add_argument("--results", type=Path, default=Path("results"))
    status = sub.add_parser("status", help="show done, failed and pending runs per cell")
    status.add_argument("spec")
    status.add_argument("--results", type=Path, default=Path("results"))
    return p


def cmd_run(args) -> int:
    from . import driver

    sweep = load(args.spec)
    if args.engine is not None:
        sweep = sweep.model_copy(update={"engine": args.engine})
    try:
        outcome = driver.run_sweep(sweep, resolve(args.spec), args.results, args.workers, args.dask, args.fresh)
    except driver.SweepError as error:
        return fail(error)
    done = len(outcome.runs)
    print(f"{sweep.name}: {done} runs stored in {outcome.folder} ({outcome.computed} computed now)")
    if outcome.interrupted:
        print("interrupted: finished runs are kept; run the same command again to resume", file=sys.stderr)
        return 130
    status = 0
    if outcome.failed:
        print(f"{len(outcome.failed)} runs failed (details in {Layout(outcome.folder).failures}):", file=sys.stderr)
        for failure in outcome.failed[:10]:
            fields = {k: v for k, v in failure.items() if k not in ("error", "cell")}
            print(f"  cell {failure['cell']} {fields}: {failure['error'].splitlines()[0]}", file=sys.stderr)
        status = 1
    if not args.no_report and done:  # the report of what finished, failed cells or not
        from analysis.__main__ import main as analysis

        target = ["--slo-p99", args.slo_p99] if args.slo_p99 is not None else []
        reported = analysis(["report", str(outcome.folder), *target])
        status = status or reported
    return status


def cmd_list(args) -> int:
    for path in sorted(SHIPPED.glob("*.toml")):
        sweep = load(path)
        what = "searches" if sweep.search is not None else "cells"
        print(f"{path.stem:<16} {len(sweep.cells()):>4} {what} × {sweep.replications} reps  {sweep.description}")
    return 0


def cmd_where(args) -> int:
    print(args.results / load(args.spec).name)
    return 0


def cmd_status(args) -> int:
    sweep = load(args.spec)
    store = ResultStore(args.results / sweep.name)
    cells_csv = store.layout.cells
    planned: dict[int, int] = {}
    rows: list[dict] = []
    if cells_csv.exists():
        with cells_csv.open(newline="") as lines:
            rows = list(csv.DictReader(lines))
        planned = {int(row["cell"]): int(row["replications"]) for row in rows}
    totals = {"done": 0, "failed": 0, "pending": 0}
    print(f"{sweep.name} in {store.folder}")
    # A search's cells are those it has probed so far, as its last run wrote them.
    cells = sweep.cells() if sweep.search is None else [sweep.probed(row) for row in rows]
    for cell in cells:
        n = max(planned.get(cell.index, 0), sweep.replications)
        runs = sweep.runs(cell, n)
        done = sum(store.done(r) for r in runs)
        failed = sum(store.error(r) is not None for r in runs)
        pending = n - done - failed
        totals["done"] += done
        totals["failed"] += failed
        totals["pending"] += pending
        fields = " ".join(f"{k}={v}" for k, v in cell.varied.items())
        print(f"  cell {cell.index:>3} {fields:<50} {done}/{n} done" + (f", {failed} failed" if failed else ""))
    if sweep.search is not None and not rows:
        print(f"  nothing probed yet: the search picks its cells as it runs ({len(sweep.cells())} to search)")
    print(f"total: {totals['done']} done, {totals['failed']} failed, {totals['pending']} pending")
    return 0


def fail(error: Exception) -> int:
    print(f"error: {error}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        commands = {"run": cmd_run, "list": cmd_list, "where": cmd_where, "status": cmd_status}
        return commands[args.command](args)
    except SpecError as error:
        return fail(error)


if __name__ == "__main__":
    sys.exit(main())
