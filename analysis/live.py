"""Real runs against simulated ones: the live check's figure, and the report's "simulated vs real" section.

Reads what `python -m live` wrote (live.parquet, validation.csv); never runs anything.
"""

from __future__ import annotations

import math
from typing import Any, cast

import pandas as pd

from pubsub.intervals import interval
from sweeps.layout import Layout

from .figures import plt, save

STATISTICS = [("latency_mean", "mean"), ("latency_p50", "p50"), ("latency_p99", "p99")]
COLORS = {"real": "black", "calibrated": "tab:blue", "uncalibrated": "tab:orange"}


def validation_figure(layout: Layout):
    """Per case: real latency statistics, each replication and their mean, beside both simulations' means."""
    live = pd.read_parquet(layout.live)
    cases = list(dict.fromkeys(live["case"]))
    columns = min(3, len(cases))
    rows = math.ceil(len(cases) / columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(4.6 * columns, 3.4 * rows + 0.8), squeeze=False, layout="constrained"
    )
    positions = range(len(STATISTICS))
    for ax, case in zip(axes.flat, cases):
        runs = live[live["case"] == case]
        for p, (metric, _) in zip(positions, STATISTICS):
            ax.plot([p - 0.15] * len(runs), runs[metric], ls="", marker="o", ms=3, alpha=0.35, color=COLORS["real"])
        ax.plot(
            [p - 0.15 for p in positions],
            [runs[m].mean() for m, _ in STATISTICS],
            ls="",
            marker="o",
            ms=6,
            color=COLORS["real"],
            label="real broker (dots: replications)",
        )
        for offset, which in ((0.0, "calibrated"), (0.15, "uncalibrated")):
            ax.plot(
                [p + offset for p in positions],
                [runs[f"{which}_{m}"].mean() for m, _ in STATISTICS],
                ls="",
                marker="D" if which == "calibrated" else "s",
                ms=5,
                color=COLORS[which],
                label=f"simulated, {which} (same seeds)",
            )
        errors = [
            f"{label} {_error(runs, metric, 'calibrated'):+.1%} vs {_error(runs, metric, 'uncalibrated'):+.1%}"
            for metric, label in (("latency_mean", "mean"), ("latency_p99", "p99"))
        ]
        ax.set_xticks(list(positions), [label for _, label in STATISTICS])
        ax.set_ylim(bottom=0)
        ax.set_title(f"{case}\n{'; '.join(errors)}", fontsize=9)
        ax.set_ylabel("latency (model s)")
    for ax in list(axes.flat)[len(cases) :]:
        ax.set_visible(False)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=9)
    fig.suptitle(
        "Real broker against the simulator on the same seeds\n"
        "panel titles: error of the simulated mean and p99, calibrated vs uncalibrated",
        fontsize=11,
    )
    return save(fig, layout.figures, "live_vs_simulated")


def _error(runs: pd.DataFrame, metric: str, which: str) -> float:
    real = runs[metric].mean()
    return (runs[f"{which}_{metric}"].mean() - real) / real


def errors_figure(layout: Layout, bounds: dict[str, float]):
    """What calibration buys: per case and latency statistic, the simulated mean's error against the real
    one, with a 95% interval from the replications' paired errors, and the bound as a band."""
    live = pd.read_parquet(layout.live)
    cases = list(dict.fromkeys(live["case"]))
    fig, axes = plt.subplots(
        1,
        len(STATISTICS),
        figsize=(4.2 * len(STATISTICS), 0.42 * len(cases) + 2.0),
        sharey=True,
        squeeze=False,
        layout="constrained",
    )
    for ax, (metric, label) in zip(axes[0], STATISTICS):
        for offset, which in ((-0.15, "uncalibrated"), (0.15, "calibrated")):
            for y, case in enumerate(cases):
                runs = live[live["case"] == case]
                paired = interval(100 * (runs[f"{which}_{metric}"] - runs[metric]) / runs[metric].mean())
                spread = [[paired.mean - paired.low], [paired.high - paired.mean]] if paired.n > 1 else None
                ax.errorbar(
                    paired.mean,
                    y + offset,
                    xerr=spread,
                    fmt="D" if which == "calibrated" else "s",
                    ms=4,
                    capsize=2,
                    color=COLORS[which],
                    label=f"simulated, {which}" if y == 0 else None,
                )
        bound = 100 * bounds[metric]
        ax.axvspan(-bound, bound, color="green", alpha=0.1, lw=0)
        ax.axvline(0, color="grey", lw=1)
        ax.set_yticks(range(len(cases)), cases)
        ax.set_title(f"{label} latency (shaded: the bound, ±{bound:g}%)", fontsize=10)
        ax.set_xlabel("error vs the real broker (%)")
    axes[0, 0].invert_yaxis()
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=9)
    fig.suptitle(
        "What calibration buys: the simulator's error against the real broker, per case\n"
        "mean over replications; bars: 95% interval of the paired error (same seed)",
        fontsize=11,
    )
    return save(fig, layout.figures, "live_errors")


COMPARED = [
    ("latency_mean", "mean latency"),
    ("latency_p50", "p50 latency"),
    ("latency_p99", "p99 latency"),
    ("throughput", "throughput"),
    ("redelivered", "redelivered"),
    ("dead_lettered", "dead-lettered"),
]


def compare(runs: pd.DataFrame, live: pd.DataFrame, varied: list[str], subscriptions: bool = False) -> pd.DataFrame:
    """Per cell (and subscription, with `subscriptions`: `runs` and `live` then have a row per subscription of
    each run) and metric: the real mean, the simulated means (as specified, and calibrated), and each
    simulation's error relative to the real runs, paired by replication (the same seed), with 95% intervals."""
    by = ["cell", "subscription"] if subscriptions else ["cell"]
    simulated = runs.set_index([*by, "replication"]).sort_index()
    rows = []
    for key, real in live.groupby(by, sort=True):
        real = real.set_index("replication")
        try:
            mine = simulated.loc[cast(Any, key)]
        except KeyError:
            continue  # the simulated sweep has not run this cell
        both = real.index.intersection(mine.index)
        sim = mine.loc[both]
        first = real.iloc[0]
        cell = key[0] if isinstance(key, tuple) else key
        label = ", ".join(f"{f}={first[f]}" for f in varied if f in first) or f"cell {cell}"
        if subscriptions:
            label = f"{key[1]}: {label}"
        for metric, shown in COMPARED:
            r = real.loc[both, metric].astype(float)
            if not r.abs().sum():
                continue  # nothing to compare (no redeliveries, say)
            row = {
                "cell": cell,
                **({"subscription": key[1]} if subscriptions else {}),
                **{f: first[f] for f in varied if f in first},
                "label": label,
                "metric": shown,
                "replications": len(both),
                "real": r.mean(),
            }
            for name, values in (("simulated", sim[metric]), ("calibrated", real.loc[both, f"calibrated_{metric}"])):
                error = interval((values.astype(float) - r) / r.where(r != 0))
                row.update(
                    {
                        name: float(values.mean()),
                        f"{name}_error": error.mean,
                        f"{name}_error_low": error.low,
                        f"{name}_error_high": error.high,
                    }
                )
            rows.append(row)
    return pd.DataFrame(rows)


def comparison_figure(comparison: pd.DataFrame, folder):
    """Relative error of the simulated mean and p99 latency against the real runs, per cell, with intervals."""
    shown = comparison[comparison["metric"].isin(["mean latency", "p99 latency"])]
    if shown.empty:
        return None
    labels = list(dict.fromkeys(shown["label"]))
    fig, axes = plt.subplots(
        1, 2, figsize=(11, 0.45 * len(labels) + 2.2), sharey=True, squeeze=False, layout="constrained"
    )
    for ax, metric in zip(axes[0], ["mean latency", "p99 latency"]):
        data = shown[shown["metric"] == metric].set_index("label").reindex(labels)
        y = range(len(labels))
        for offset, name, color in (
            (-0.15, "simulated", COLORS["uncalibrated"]),
            (0.15, "calibrated", COLORS["calibrated"]),
        ):
            mean = 100 * data[f"{name}_error"]
            low = (mean - 100 * data[f"{name}_error_low"]).fillna(0)
            high = (100 * data[f"{name}_error_high"] - mean).fillna(0)
            ax.errorbar(
                mean,
                [v + offset for v in y],
                xerr=[low, high],
                fmt="o",
                ms=4,
                capsize=2,
                color=color,
                label="as specified" if name == "simulated" else "with calibration",
            )
        bound = 5 if metric == "mean latency" else 10
        ax.axvspan(-bound, bound, color="green", alpha=0.08, lw=0)
        ax.axvline(0, color="grey", lw=1)
        ax.set_yticks(list(y), labels)
        ax.set_xlabel("error vs the real broker (%)")
        ax.set_title(f"{metric} (shaded: ±{bound}%)", fontsize=10)
    axes[0, 0].invert_yaxis()  # the axes share y: once inverts both
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=2, fontsize=9)
    fig.suptitle(
        "How far the simulator is from the real broker, cell by cell\n"
        "mean over replications of each run's error against its real twin (same seed); 95% intervals",
        fontsize=11,
    )
    return save(fig, folder, "simulated_vs_real")
