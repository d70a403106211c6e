"""Shared helpers: replications with Student-t intervals, reported at the end of the run."""

from __future__ import annotations

import atexit
import functools
import zlib
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from hypothesis import settings

from pubsub import Scenario, simulate
from pubsub.intervals import interval

# Property tests try 250 scenarios; `make mutation` runs them once per mutant, so there they try 25; a longer
# hunt (the engines' differential test, say) takes `--hypothesis-profile=thorough`.
settings.register_profile("default", max_examples=250)
settings.register_profile("mutation", max_examples=25)
settings.register_profile("thorough", max_examples=5000)
settings.load_profile("default")

THEORY_ROWS: list[tuple] = []


def seeds_for(case: str, replications: int) -> range:
    """Seeds of a case's own, so that separate checks are independent of each other."""
    base = zlib.crc32(case.encode()) % 1_000_000 * 1000
    return range(base, base + replications)


def _run(metric: str, seed: int, fields: dict) -> float:
    return simulate(Scenario(seed=seed, **fields)).summary[metric]


@functools.cache
def _pool() -> ProcessPoolExecutor:
    """Two workers for the long replications of the statistical checks (the machine has two cores)."""
    pool = ProcessPoolExecutor(max_workers=2)
    atexit.register(pool.shutdown)
    return pool


def replicate(metric: str, seeds, **fields) -> np.ndarray:
    """`metric` from one run of the scenario per seed, in seed order (runs are independent and deterministic)."""
    seeds = list(seeds)
    return np.array(list(_pool().map(_run, [metric] * len(seeds), seeds, [fields] * len(seeds))))


def _run_parts(seed: int, fields: dict):
    return simulate(Scenario(seed=seed, **fields)).by_subscription


def replicate_parts(seeds, **fields) -> list:
    """Each subscription's metrics (`by_subscription`) from one run of the scenario per seed, in seed order."""
    seeds = list(seeds)
    return list(_pool().map(_run_parts, seeds, [fields] * len(seeds)))


def report(case: str, values: np.ndarray, simultaneous: float, expected: float) -> None:
    """Keep a row for the end-of-run table: the plain 95% and the simultaneous interval."""
    plain, joint = interval(values), interval(values, simultaneous)
    THEORY_ROWS.append((case, plain.mean, plain.low, plain.high, joint.low, joint.high, expected))


def pytest_terminal_summary(terminalreporter):
    if not THEORY_ROWS:
        return
    tr = terminalreporter
    tr.section("mean latency (s): simulated against closed form")
    tr.write_line(f"{'case':<32} {'simulated':>9} {'95% interval':>19} {'simultaneous 95%':>19} {'theory':>8}")
    for case, mean, low95, high95, low, high, expected in THEORY_ROWS:
        mark = "" if low <= expected <= high else "  OUTSIDE"
        plain = f"[{low95:>7.4f}, {high95:>7.4f}]"
        joint = f"[{low:>7.4f}, {high:>7.4f}]"
        tr.write_line(f"{case:<32} {mean:>9.4f} {plain} {joint} {expected:>8.4f}{mark}")


@pytest.fixture
def conserved():
    """Checks docs/model.md's conservation law on a summary; returns the two sides."""

    def check(summary: dict, copies: int) -> None:
        settled = (
            summary["processed"]
            + summary["backlog_final"]
            + summary["in_flight_final"]
            + summary["dropped"]
            + summary["dead_lettered"]
        )
        assert copies == settled, f"{copies} copies published, {settled} accounted for: {summary}"

    return check
