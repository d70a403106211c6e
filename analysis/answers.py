"""The figures and sentence that answer "how many consumers?": the metric against group size with the answer
marked, what one more consumer buys, and one dispatch policy against another, run by run."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .figures import _colors, _legend_outside, save
from .stats import interval

LABELS = {
    "latency_p99": "p99 latency (s)",
    "latency_p99_peak": "p99 latency of the worst window (s)",
    "latency_mean": "mean latency (s)",
    "latency_p50": "median latency (s)",
}


UNITS = {"publish_rate": "messages/s per publisher", "service_time": "s", "group_size": "consumers"}


def field_title(path: str) -> str:
    """A varied field as a legend names it: `orders publish rate (messages/s per publisher)` for
    `topics.orders.publish_rate`."""
    pieces = path.split(".")
    name = pieces[-1]
    words = " ".join([*pieces[1:-1], name]) if len(pieces) == 3 else name
    unit = UNITS.get(name)
    return words.replace("_", " ") + (f" ({unit})" if unit else "")


def _label(value) -> str:
    return format(value, "g") if isinstance(value, (int, float, np.number)) else str(value)


def _split(others: list[str], frame: pd.DataFrame) -> tuple[str | None, list[str]]:
    """The field drawn as coloured lines (the numeric one with most values) and those that make panels."""
    numeric = [f for f in others if pd.api.types.is_numeric_dtype(frame[f]) and frame[f].nunique() > 1]
    hue = max(numeric, key=lambda f: frame[f].nunique(), default=None)
    return hue, [f for f in others if f != hue]


def _grid(count: int, height: float):
    """A figure with `count` panels, at most three to a row, sharing the y axis; the unused axes hidden."""
    columns = min(count, 3)
    rows = math.ceil(count / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(5.0 * columns + 2.0, height * rows), sharey=True,
                             squeeze=False, layout="constrained")  # fmt: skip
    flat = list(axes.flat)
    for ax in flat[count:]:
        ax.set_visible(False)
    return fig, flat[:count]


def _integer_ticks(ax, values) -> None:
    values = sorted(set(values))
    ax.set_xticks(values)
    ax.set_xlim(values[0] - 0.5, values[-1] + 0.5)


def _panels(frame: pd.DataFrame, fields: list[str]) -> list[tuple[str, pd.DataFrame]]:
    if not fields:
        return [("", frame)]
    return [
        (", ".join(f"{f}: {v}" for f, v in zip(fields, key if isinstance(key, tuple) else (key,))), group)
        for key, group in frame.groupby(fields, sort=True, dropna=False)
    ]


def answer_figure(
    summary: pd.DataFrame,
    answers: pd.DataFrame,
    others: list[str],
    target: float,
    folder: Path,
    field: str = "group_size",
    metric: str = "latency_p99",
    name: str = "answer",
    heading: str = "",
) -> Path | None:
    """The metric against `field`, one line per value of the main other field, one panel per the rest; the
    target as a line, each combination's answer ringed, intervals as bars. Saved as `name`.png; `heading` heads
    it (a subscription's name)."""
    if summary.empty or answers.empty:
        return None
    hue, panel_fields = _split(others, summary)
    panels = _panels(summary, panel_fields)
    colors = _colors(summary, hue, "viridis")
    fig, axes = _grid(len(panels), 4.4)
    finite = summary[f"{metric}_mean"].replace([np.inf, -np.inf], np.nan).dropna()
    top = max(target * 30, float(finite.quantile(0.75))) if len(finite) else target * 30
    lows = summary[f"{metric}_ci_low"].where(summary[f"{metric}_ci_low"] > 0).dropna()
    bottom = min(target, float(lows.min()) if len(lows) else target) * 0.7
    for ax, (title, cells) in zip(axes, panels):
        for value, group in cells.groupby(hue, sort=True) if hue else [(None, cells)]:
            group = group.sort_values(field)
            mean = group[f"{metric}_mean"]
            errors = [mean - group[f"{metric}_ci_low"], group[f"{metric}_ci_high"] - mean]
            label = None if hue is None else _label(value)
            ax.errorbar(group[field], mean, yerr=errors, marker="o", ms=4, capsize=2, color=colors[value], label=label)
            chosen = _answer_for(answers, panel_fields, hue, group.iloc[0], value)
            if chosen is not None and chosen in set(group[field]):
                at = group.set_index(field).loc[chosen]
                ax.plot([chosen], [at[f"{metric}_mean"]], "o", ms=13, mfc="none", mec="black", mew=1.6)
        ax.axhline(target, color="firebrick", ls="--", lw=1.2)
        ax.set_yscale("log")
        ax.set_ylim(bottom, top)
        ax.set_title(title or None)
        ax.set_xlabel("consumers in the group" if field == "group_size" else field)
        _integer_ticks(ax, summary[field])
    axes[0].set_ylabel(f"{LABELS.get(metric, metric)}, log scale")
    axes[0].annotate(
        f"target {target:g} s",
        (0.01, target),
        xycoords=("axes fraction", "data"),
        textcoords="offset points",
        xytext=(2, 3),
        color="firebrick",
        fontsize=9,
    )
    if hue:
        _legend_outside(fig, axes[0], field_title(hue))
    fig.suptitle(
        (f"{heading}: r" if heading else "R") + "inged, the smallest group whose 95% interval lies wholly below the "
        "target\nbars: 95% intervals over replications; off the top: groups that cannot keep up",
        fontsize=11,
    )
    return save(fig, folder, name)


def _answer_for(answers: pd.DataFrame, panel_fields: list[str], hue: str | None, row: pd.Series, value) -> int | None:
    match = answers
    for f in panel_fields:
        match = match[match[f] == row[f]]
    if hue is not None:
        match = match[match[hue] == value]
    if len(match) != 1:
        return None
    text = str(match["answer"].iloc[0])
    return int(text) if text.isdigit() else None


def answer_sentence(
    answers: pd.DataFrame, others: list[str], target: float, field: str = "group_size", metric: str = "latency_p99"
) -> str:
    """The answer in words: per panel, the smallest group for each value of the main other field."""
    if answers.empty:
        return ""
    hue, panel_fields = _split(others, answers)
    parts = []
    for title, group in _panels(answers, panel_fields):
        group = group.sort_values(hue) if hue else group
        listed = ", ".join(
            f"{a} at {_label(v)}" if hue else str(a)
            for a, v in zip(group["answer"], group[hue] if hue else [math.nan] * len(group))
        )
        parts.append(f"{title + ': ' if title else ''}{listed}")
    what = "consumers needed" if field == "group_size" else f"smallest {field}"
    per = f" per {hue.replace('_', ' ')}" if hue else ""
    judged = "the worst window's p99" if metric == "latency_p99_peak" else "p99"
    return f"For {judged} wholly below {target:g} s, {what}{per}: " + "; ".join(parts) + "."


def one_more_consumer_figure(
    paired: pd.DataFrame, summary: pd.DataFrame, others: list[str], folder: Path
) -> Path | None:
    """How much p99 drops when the group grows by one, paired by seed, for groups that keep up with the load."""
    if paired.empty:
        return None
    rows = paired[(paired["field"] == "group_size") & (paired["metric"] == "latency_p99")]
    if rows.empty:
        return None
    load = summary.set_index([*others, "group_size"])["rho"]
    keeps_up = [load.get((*r[others], r["from"]), math.nan) < 0.95 for _, r in rows.iterrows()]
    rows = rows[keeps_up]
    if rows.empty:
        return None
    hue, panel_fields = _split(others, rows)
    panels = _panels(rows, panel_fields)
    colors = _colors(rows, hue, "viridis")
    fig, axes = _grid(len(panels), 4.0)
    for ax, (title, cells) in zip(axes, panels):
        for value, group in cells.groupby(hue, sort=True) if hue else [(None, cells)]:
            group = group.sort_values("to")
            added = (group["to"] - group["from"]).astype(float)  # a grid may skip sizes: per consumer added
            saved = -group["difference"] / added
            errors = [saved - (-group["ci_high"] / added), (-group["ci_low"] / added) - saved]
            label = None if hue is None else _label(value)
            ax.errorbar(group["to"], saved, yerr=errors, marker="o", ms=4, capsize=2, color=colors[value], label=label)
        ax.axhline(0, color="black", lw=0.8)
        ax.set_yscale("symlog", linthresh=0.1)
        ax.set_title(title or None)
        ax.set_xlabel("")
        _integer_ticks(ax, rows["to"])
    axes[0].set_ylabel("p99 saved per consumer added (s)")
    fig.supxlabel("consumers in the group (each point: from the next smaller size swept)", fontsize=11)
    if hue:
        _legend_outside(fig, axes[0], field_title(hue))
    fig.suptitle(
        "What one more consumer buys: the drop in p99 per consumer added, replication by replication\n"
        "(same seeds); bars: 95% paired intervals; symlog scale; only groups that already keep up (load below 0.95)",
        fontsize=11,
    )
    return save(fig, folder, "one_more_consumer")


def dispatch_ratios(runs: pd.DataFrame, varied: list[str], metric: str = "latency_p99") -> pd.DataFrame:
    """Per cell of the other fields, the ratio of `metric` between each dispatch policy and the first
    (alphabetically), replication by replication, with its 95% interval."""
    if "dispatch" not in varied or runs["dispatch"].nunique() < 2:
        return pd.DataFrame()
    others = [f for f in varied if f != "dispatch"]
    policies = sorted(runs["dispatch"].unique())
    base = policies[0]
    rows = []
    for key, group in runs.groupby(others, sort=True) if others else [((), runs)]:
        key = key if isinstance(key, tuple) else (key,)
        by = {p: g.set_index("replication")[metric] for p, g in group.groupby("dispatch")}
        for policy in policies[1:]:
            if base not in by or policy not in by:
                continue
            both = by[base].index.intersection(by[policy].index)
            ratio = (by[policy][both] / by[base][both]).astype(float)
            found = interval(ratio)
            rows.append(
                {
                    **dict(zip(others, key)),
                    "dispatch": policy,
                    "against": base,
                    "metric": metric,
                    "ratio": found.mean,
                    "ci_low": found.low,
                    "ci_high": found.high,
                    "n": found.n,
                }
            )
    return pd.DataFrame(rows)


def dispatch_figure(ratios: pd.DataFrame, summary: pd.DataFrame, others: list[str], folder: Path) -> Path | None:
    """The p99 of one dispatch policy over another's, cell by cell, for groups that keep up with the load."""
    if ratios.empty or "group_size" not in others:
        return None
    load = summary.groupby([*others])["rho"].max()
    ratios = ratios[[load.get(tuple(r[others]), math.nan) < 0.95 for _, r in ratios.iterrows()]]
    if ratios.empty:
        return None
    hue, panel_fields = _split([f for f in others if f != "group_size"], ratios)
    panels = _panels(ratios, panel_fields)
    colors = _colors(ratios, hue, "viridis")
    fig, axes = _grid(len(panels), 4.0)
    for ax, (title, cells) in zip(axes, panels):
        for value, group in cells.groupby(hue, sort=True) if hue else [(None, cells)]:
            group = group.sort_values("group_size")
            errors = [group["ratio"] - group["ci_low"], group["ci_high"] - group["ratio"]]
            label = None if hue is None else _label(value)
            ax.errorbar(group["group_size"], group["ratio"], yerr=errors, marker="o", ms=4, capsize=2,
                        color=colors[value], label=label)  # fmt: skip
        ax.axhline(1.0, color="black", lw=0.8)
        ax.set_title(title or None)
        ax.set_xlabel("consumers in the group")
        _integer_ticks(ax, ratios["group_size"])
    first = ratios.iloc[0]
    axes[0].set_ylabel(f"p99 of {first['dispatch']} ÷ p99 of {first['against']}")
    if hue:
        _legend_outside(fig, axes[0], field_title(hue))
    fig.suptitle(
        f"Dispatch compared run by run (same seeds): above 1, {first['dispatch']} has the longer tail\n"
        "bars: 95% intervals of the per-replication ratio; only groups that keep up (load below 0.95)",
        fontsize=11,
    )
    return save(fig, folder, "dispatch")


def fixed_groups_figure(per: dict, folder: Path, metric: str = "latency_p99") -> Path | None:
    """One panel per subscription whose group size was not varied: its metric against the main other varied
    field (a numeric one), with 95% intervals and its target."""
    fixed = {
        name: (summary, answer, others)
        for name, (summary, answer, others) in per.items()
        if not answer.empty and summary["group_size"].nunique() == 1 and "group_size" not in others
    }
    if not fixed:
        return None
    fig, axes = _grid(len(fixed), 3.8)
    for ax, (name, (summary, answer, others)) in zip(axes, fixed.items()):
        hue, _ = _split(others, summary)
        x = summary[hue] if hue else pd.Series(range(len(summary)))
        mean = summary[f"{metric}_mean"]
        errors = [mean - summary[f"{metric}_ci_low"], summary[f"{metric}_ci_high"] - mean]
        ax.errorbar(x, mean, yerr=errors, marker="o", ms=4, capsize=2, color="tab:blue")
        target = float(answer["slo_p99"].iloc[0])
        ax.axhline(target, color="firebrick", ls="--", lw=1.2)
        ax.annotate(f"target {target:g} s", (0.01, target), xycoords=("axes fraction", "data"),
                    textcoords="offset points", xytext=(2, 3), color="firebrick", fontsize=9)  # fmt: skip
        ax.set_yscale("log")
        size = int(summary["group_size"].iloc[0])
        ax.set_title(f"{name}: {size} consumer{'s' if size > 1 else ''}")
        ax.set_xlabel(field_title(hue) if hue else "cell")
    axes[0].set_ylabel(f"{LABELS.get(metric, metric)}, log scale")
    fig.suptitle("Subscriptions whose group size was not varied: p99 against the load, 95% intervals", fontsize=11)
    return save(fig, folder, "fixed_subscriptions")
