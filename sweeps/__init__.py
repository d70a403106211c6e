"""Declarative sweeps: grids of seeded replications of `pubsub.simulate`, stored as Parquet."""

from .driver import Outcome, run_sweep
from .spec import SpecError, SweepSpec, load

__all__ = ["Outcome", "SpecError", "SweepSpec", "load", "run_sweep"]
