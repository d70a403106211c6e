"""Declarative sweeps: grids of seeded replications of `pubsub.simulate`, stored as Parquet."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .spec import SpecError, SweepSpec, load

if TYPE_CHECKING:
    from .api import Sweep, run
    from .driver import Outcome, run_sweep

__all__ = ["Outcome", "SpecError", "Sweep", "SweepSpec", "load", "run", "run_sweep"]


def __getattr__(name: str):
    # The driver brings pandas, pyarrow and Dask: load it on first use, not for `python -m sweeps list`.
    if name in ("Outcome", "run_sweep"):
        from . import driver

        return getattr(driver, name)
    if name in ("Sweep", "run"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
