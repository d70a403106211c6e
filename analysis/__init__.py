"""Statistics, figures and a report from sweep results; never runs simulations."""

from __future__ import annotations

from pathlib import Path


def report(folder: str | Path, slo_p99: float | None = None) -> Path:
    """Write the summary tables, figures and report.html of the results in `folder`; return the report's path."""
    from . import reporting
    from .results import load

    return reporting.build(load(folder), slo_p99)
