"""Shared helpers: replications with Student-t intervals, reported at the end of the run."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from scipy import stats

from pubsub import Scenario, simulate

THEORY_ROWS: list[tuple[str, float, float, float, float]] = []


def seeds_for(case: str, replications: int) -> range:
    """Seeds of a case's own, so that separate checks are independent of each other."""
    base = zlib.crc32(case.encode()) % 1_000_000 * 1000
    return range(base, base + replications)


def replicate(metric: str, seeds, **fields) -> np.ndarray:
    """`metric` from one run of the scenario per seed."""
    return np.array([simulate(Scenario(seed=seed, **fields)).summary[metric] for seed in seeds])


def interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided Student-t interval over independent replications."""
    mean = float(np.mean(values))
    half = stats.sem(values) * stats.t.ppf((1 + confidence) / 2, len(values) - 1)
    return mean, mean - half, mean + half


def report(case: str, simulated: float, low: float, high: float, expected: float) -> None:
    THEORY_ROWS.append((case, simulated, low, high, expected))


def pytest_terminal_summary(terminalreporter):
    if not THEORY_ROWS:
        return
    tr = terminalreporter
    tr.section("simulated against closed form (simultaneous 95% intervals over replications)")
    tr.write_line(f"{'case':<44} {'simulated':>10} {'interval':>21} {'theory':>9}")
    for case, simulated, low, high, expected in THEORY_ROWS:
        mark = "" if low <= expected <= high else "  OUTSIDE"
        tr.write_line(f"{case:<44} {simulated:>10.4f} [{low:>9.4f}, {high:>9.4f}] {expected:>9.4f}{mark}")


@pytest.fixture
def conserved():
    """Checks MODEL.md's conservation law on a summary; returns the two sides."""

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
