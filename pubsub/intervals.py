"""Confidence intervals over independent replications: the one Student-t interval the project uses.

The driver's precision rounds, the analysis and the tests all call `interval`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import stats


class Interval(NamedTuple):
    """Mean, sample standard deviation, count and two-sided interval of the non-missing values.

    With fewer than two values the spread is unknown: `std`, `low` and `high` are NaN.
    """

    mean: float
    std: float
    n: int
    low: float
    high: float

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


def interval(values, confidence: float = 0.95) -> Interval:
    """The Student-t interval for the mean of `values`, NaNs left out."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    n = len(x)
    if n == 0:
        return Interval(math.nan, math.nan, 0, math.nan, math.nan)
    mean = float(x.mean())
    if n == 1:
        return Interval(mean, math.nan, 1, math.nan, math.nan)
    std = float(x.std(ddof=1))
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * std / math.sqrt(n)
    return Interval(mean, std, n, mean - half, mean + half)
