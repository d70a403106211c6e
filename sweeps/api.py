"""`sweeps.run`: a sweep from Python (a notebook, a script), with its runs, summary, answers and report."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .layout import Layout
from .spec import load

if TYPE_CHECKING:
    import pandas as pd

    from pubsub.engines import Engine


@dataclass
class Sweep:
    """What `run` did: the stored runs (a row per run), the report's summary per cell and its answers (None
    with `report=False`), the report's path, and the runs that failed."""

    folder: Path
    runs: pd.DataFrame
    summary: pd.DataFrame | None = None
    answers: pd.DataFrame | None = None
    report: Path | None = None
    failed: list[dict] = field(default_factory=list)
    interrupted: bool = False


def run(
    spec: str | Path | dict[str, Any],
    results: str | Path = "results",
    *,
    workers: int | None = None,
    dask: str | None = None,
    fresh: bool = False,
    engine: Engine | None = None,
    report: bool = True,
    progress: bool | None = None,
    slo_p99: float | None = None,
) -> Sweep:
    """Run `spec` (a spec file, a shipped spec's name, or the spec's tables as a dict) into `results/<name>/`,
    computing only what is missing unless `fresh`; then write its report (for `slo_p99`, if given, instead of the
    spec's target). Bad specs raise `SpecError`."""
    import pandas as pd

    from .driver import run_sweep

    with tempfile.TemporaryDirectory(prefix="sweep-spec-") as scratch:
        path = _as_file(spec, Path(scratch)) if isinstance(spec, dict) else spec
        sweep = load(path)
        if engine is not None:
            sweep = sweep.model_copy(update={"engine": engine})
        outcome = run_sweep(sweep, Path(path), Path(results), workers, dask, fresh, progress=progress)
    done = Sweep(outcome.folder, outcome.runs, failed=outcome.failed, interrupted=outcome.interrupted)
    if report and len(outcome.runs):
        from analysis import report as write_report

        done.report = write_report(outcome.folder, slo_p99)
        layout = Layout(outcome.folder)
        done.summary = pd.read_parquet(layout.summary_parquet)
        done.answers = outcome.answers if outcome.answers is not None else pd.read_csv(layout.capacity)
    return done


def _as_file(tables: dict[str, Any], folder: Path) -> Path:
    """The spec's tables as the TOML file they would have been (None written as the spec's "none")."""
    import tomli_w

    path = folder / "spec.toml"
    path.write_text(tomli_w.dumps(_nones(tables)))
    return path


def _nones(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _nones(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nones(v) for v in value]
    return "none" if value is None else value
