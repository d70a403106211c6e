"""`python -m analysis compare A B`: what changed between two results folders.

Cells are matched by the values of the fields both sweeps varied (a cell of A
and a cell of B with the same grid coordinates). Where the two ran the same
seeds, runs are paired seed by seed and each metric's change is the paired
difference B − A with its 95% interval (a model change, or a setting that both
grids share); otherwise the change is the difference of the two means with
Welch's interval. A metric moved where its interval excludes zero. The
capacity answers (each folder's capacity.csv, written by its report) are
compared setting by setting.
"""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from pubsub.intervals import interval

from .figures import save
from .results import Results

COMPARED = ("latency_mean", "latency_p99", "throughput", "utilization", "redelivered", "dropped", "dead_lettered")


@dataclass
class Comparison:
    a: Results
    b: Results
    matched_on: list[str]  # the varied fields both share, by which cells are matched
    changes: pd.DataFrame  # per matched cell and metric: A, B, change and its interval, paired or not, moved
    answers: pd.DataFrame  # per setting: A's answer, B's, changed


def _welch(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Difference of means b − a and its 95% Welch interval (NaN bounds with fewer than two of either)."""
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) < 2 or len(b) < 2:
        return (float(b.mean() - a.mean()) if len(a) and len(b) else math.nan), math.nan, math.nan
    found = scipy_stats.ttest_ind(b, a, equal_var=False).confidence_interval(0.95)
    return float(b.mean() - a.mean()), float(found.low), float(found.high)


def compare(a: Results, b: Results) -> Comparison:
    shared = [f for f in a.varied if f in b.varied]
    rows = []
    key = shared or ["__all__"]
    runs_a = a.runs.assign(__all__=0)
    runs_b = b.runs.assign(__all__=0)
    for values, group_a in runs_a.groupby(key, sort=True, dropna=False):
        values = values if isinstance(values, tuple) else (values,)
        group_b = runs_b
        for field, value in zip(key, values):
            group_b = group_b[group_b[field] == value]
        if group_b.empty:
            continue
        # Several cells of one side can share these coordinates (it varied more): each side's runs pooled.
        seeds = sorted(set(group_a["seed"]) & set(group_b["seed"]))
        paired = len(seeds) >= 2 and group_a["seed"].is_unique and group_b["seed"].is_unique
        for metric in COMPARED:
            x, y = group_a[metric].to_numpy(float), group_b[metric].to_numpy(float)
            if paired:
                xa = group_a.set_index("seed").loc[seeds, metric].to_numpy(float)
                yb = group_b.set_index("seed").loc[seeds, metric].to_numpy(float)
                found = interval(yb - xa)
                change, low, high = found.mean, found.low, found.high
            else:
                change, low, high = _welch(x, y)
            mean_a, mean_b = float(np.nanmean(x)), float(np.nanmean(y))
            rows.append(
                {
                    **{f: v for f, v in zip(key, values) if f != "__all__"},
                    "metric": metric,
                    "a": mean_a,
                    "b": mean_b,
                    "change": change,
                    "change_low": low,
                    "change_high": high,
                    "relative": change / mean_a if mean_a else math.nan,
                    "paired": paired,
                    "moved": bool(low > 0 or high < 0),
                }
            )
    return Comparison(a, b, shared, pd.DataFrame(rows), _answers(a, b))


def _answers(a: Results, b: Results) -> pd.DataFrame:
    """The capacity answers of both folders, setting by setting (empty if either has none)."""
    found = []
    for side in (a, b):
        path = side.layout.capacity
        frame = pd.read_csv(path) if path.exists() and path.stat().st_size > 1 else pd.DataFrame()
        found.append(frame)
    first, second = found
    if first.empty or second.empty or "answer" not in first or "answer" not in second:
        return pd.DataFrame()
    on = [
        c
        for c in first.columns
        if c in second.columns and c not in ("answer", "slo_p99") and not c.startswith("latency")
    ]
    if on:
        merged = first.merge(second, on=on, how="inner", suffixes=("_a", "_b"))
    elif len(first) == len(second) == 1:  # one setting each: the whole sweep's answer
        merged = pd.DataFrame({"answer_a": first["answer"], "answer_b": second["answer"]})
    else:
        return pd.DataFrame()
    if merged.empty:
        return merged
    merged["changed"] = merged["answer_a"].astype(str) != merged["answer_b"].astype(str)
    return merged[[*on, "answer_a", "answer_b", "changed"]]


def names(comparison: Comparison) -> tuple[str, str]:
    """The two folders' names, with as many of their parents as it takes to tell them apart (one spec run into
    two results roots has one name)."""
    a, b = comparison.a.folder.resolve().parts, comparison.b.folder.resolve().parts
    depth = 1
    while depth < min(len(a), len(b)) and a[-depth:] == b[-depth:]:
        depth += 1
    return "/".join(a[-depth:]), "/".join(b[-depth:])


def text(comparison: Comparison) -> str:
    """The comparison in a few lines: answers that changed, metrics that moved beyond their intervals."""
    (a, b), changes = names(comparison), comparison.changes
    lines = [f"{a} → {b}: cells matched on {', '.join(comparison.matched_on) or 'the whole run'}"]
    if changes.empty:
        return lines[0] + ": no cell in common"
    how = (
        "paired by seed"
        if changes["paired"].all()
        else "unpaired (Welch)"
        if not changes["paired"].any()
        else "paired where seeds match"
    )
    lines[0] += f", {how}"
    answers = comparison.answers
    if not answers.empty:
        changed = answers[answers["changed"]]
        lines.append(f"capacity answers changed in {len(changed)} of {len(answers)} settings")
        for _, row in changed.iterrows():
            where = ", ".join(f"{c}={row[c]}" for c in answers.columns if c not in ("answer_a", "answer_b", "changed"))
            lines.append(f"  {where}: {row['answer_a']} → {row['answer_b']}")
    moved = changes[changes["moved"]]
    lines.append(f"metrics moved beyond their 95% intervals: {len(moved)} of {len(changes)}")
    fields = [c for c in changes.columns if c not in ("metric", "a", "b", "change", "change_low", "change_high",
                                                      "relative", "paired", "moved")]  # fmt: skip
    for _, row in moved.sort_values("relative", key=abs, ascending=False).head(12).iterrows():
        where = ", ".join(f"{f}={row[f]}" for f in fields)
        lines.append(f"  {where + ': ' if where else ''}{row['metric']} {row['a']:.4g} → {row['b']:.4g} "
                     f"({row['relative']:+.1%} [{row['change_low']:+.3g}, {row['change_high']:+.3g}])")  # fmt: skip
    return "\n".join(lines)


def figure(comparison: Comparison, folder: Path) -> Path | None:
    """Relative change of mean and p99 latency per matched cell, with 95% intervals."""
    changes = comparison.changes
    shown = changes[changes["metric"].isin(["latency_mean", "latency_p99"])] if not changes.empty else changes
    if shown.empty:
        return None
    fields = [c for c in comparison.matched_on if c in shown]
    shown = shown.assign(label=[", ".join(f"{f}={r[f]}" for f in fields) or "whole run" for _, r in shown.iterrows()])
    labels = list(dict.fromkeys(shown["label"]))
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.4 * len(labels) + 2.2), sharey=True, squeeze=False,
                             layout="constrained")  # fmt: skip
    for ax, metric in zip(axes[0], ["latency_mean", "latency_p99"]):
        data = shown[shown["metric"] == metric].set_index("label").reindex(labels)
        base = data["a"].replace(0, math.nan)
        mean = 100 * data["change"] / base
        low = (mean - 100 * data["change_low"] / base).fillna(0)
        high = (100 * data["change_high"] / base - mean).fillna(0)
        y = range(len(labels))
        ax.errorbar(mean, list(y), xerr=[low, high], fmt="o", ms=4, capsize=2, color="tab:blue")
        ax.axvline(0, color="grey", lw=1)
        ax.set_yticks(list(y), labels)
        ax.set_xlabel(f"{'mean' if metric == 'latency_mean' else 'p99'} latency, B − A (% of A)")
    axes[0, 0].invert_yaxis()
    a, b = names(comparison)
    fig.suptitle(f"A = {a}, B = {b}: what moved (95% intervals)", fontsize=11)
    return save(fig, folder, "compare_latency")


def page(comparison: Comparison, folder: Path) -> Path:
    """A short HTML page: the text, the figure, the table of changes."""
    folder.mkdir(parents=True, exist_ok=True)
    drawn = figure(comparison, folder)
    from .reporting import STYLE, _table

    body = f"<pre>{html.escape(text(comparison))}</pre>"
    if drawn is not None:
        data = base64.b64encode(drawn.read_bytes()).decode()
        body += (
            f'<figure><img src="data:image/png;base64,{data}" alt="what moved"><figcaption>Change of mean and p99 '
            "latency from A to B per matched cell, in % of A; bars are 95% intervals (paired by seed where both "
            "ran the same seeds).</figcaption></figure>"
        )
    if not comparison.answers.empty:
        body += "<h2>Capacity answers</h2>" + _table(comparison.answers)
    body += "<h2>Every metric compared</h2>" + _table(comparison.changes)
    path = folder / "compare.html"
    title = "{} vs {}".format(*names(comparison))
    head = f"<meta charset='utf-8'><title>{html.escape(title)}</title><style>{STYLE}</style>"
    path.write_text(f"<!doctype html><html><head>{head}</head><body><h1>{html.escape(title)}</h1>{body}</body></html>")
    return path
