"""Figures from a sweep's results, drawn only for what the sweep varied. Each returns its path or None."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from .stats import interval

sns.set_theme(style="whitegrid", context="notebook")


def save(fig, folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def _colors(data: pd.DataFrame, hue: str | None, name: str) -> dict:
    """One colour per value of `hue`, the same in every facet."""
    values = sorted(data[hue].unique()) if hue else [None]
    return dict(zip(values, sns.color_palette(name, len(values))))


def _lines(ax, data: pd.DataFrame, x: str, metric: str, hue: str | None, colors: dict) -> None:
    """Mean of `metric` against `x`, one line per `hue`, with its 95% interval as a band."""
    groups = data.groupby(hue, sort=True) if hue else [(None, data)]
    for value, group in groups:
        color = colors[value]
        group = group.sort_values(x)
        label = None if hue is None else str(value)
        ax.plot(group[x], group[f"{metric}_mean"], marker="o", ms=4, color=color, label=label)
        ax.fill_between(
            group[x], group[f"{metric}_ci_low"], group[f"{metric}_ci_high"], color=color, alpha=0.2, linewidth=0
        )


def _facets(summary: pd.DataFrame, column: str | None):
    return [(None, summary)] if column is None else list(summary.groupby(column, sort=True))


def _legend_outside(fig, ax, title: str) -> None:
    """One legend beside the panels, with every label any panel drew (a panel may lack some), in order."""
    found: dict[str, object] = {}
    for panel in [ax, *fig.axes]:
        for handle, label in zip(*panel.get_legend_handles_labels()):
            found.setdefault(label, handle)
    if found:
        labels = sorted(found, key=_label_order)
        fig.legend([found[label] for label in labels], labels, title=title, loc="outside right center", fontsize=9)


def _label_order(label: str) -> tuple:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


MAX_RHO = 1.2  # past this the queue only grows: latency measures the run's length, not the system


def _metric_grid(
    data: pd.DataFrame,
    varied: list[str],
    x: str,
    rows: list[tuple[str, str]],
    hue: str | None,
    xlabel: str,
    legend: str,
    log_y: bool = False,
):
    """A row per metric and a column per dispatch policy (if varied), a line per `hue` value."""
    hue = hue if hue in varied else None
    column = "dispatch" if "dispatch" in varied else None
    facets = _facets(data, column)
    colors = _colors(data, hue, "viridis")
    fig, axes = plt.subplots(
        len(rows),
        len(facets),
        figsize=(5.5 * len(facets) + 1.5, 3.9 * len(rows)),
        sharex=True,
        sharey="row",
        squeeze=False,
        layout="constrained",
    )
    for j, (policy, subset) in enumerate(facets):
        for i, (metric, label) in enumerate(rows):
            ax = axes[i, j]
            _lines(ax, subset, x, metric, hue, colors)
            if log_y:
                ax.set_yscale("log")
            ax.set_ylabel(label if j == 0 else "")
            if policy is not None and i == 0:
                ax.set_title(f"dispatch: {policy}")
    fig.supxlabel(xlabel)
    if hue:
        _legend_outside(fig, axes[0, 0], legend)
    return fig, axes


def latency_against_load(summary: pd.DataFrame, varied: list[str], folder: Path) -> Path | None:
    """Mean and p99 latency against ρ, a line per group size, a column per dispatch policy."""
    data, held = _held_fixed(summary, varied, ("group_size", "publish_rate", "dispatch"))
    shown = data[data["rho"] <= MAX_RHO]
    if "publish_rate" not in varied or shown.empty or shown["rho"].nunique() < 3:
        return None  # load is not what this sweep varies (a line per group size would be a single point)
    fig, axes = _metric_grid(
        shown,
        varied,
        "rho",
        [("latency_mean", "mean latency (s)"), ("latency_p99", "p99 latency (s)")],
        "group_size",
        "offered load ρ = publish rate × service time ÷ group size",
        "group size",
        log_y=True,
    )
    for ax in axes.flat:
        ax.axvline(1.0, color="grey", ls="--", lw=1)
    hidden = int((data["rho"] > MAX_RHO).sum())
    note = (f"; {hidden} overloaded cells (ρ > {MAX_RHO}) not shown" if hidden else "") + _held_note(held)
    fig.suptitle(
        f"Latency climbs steeply as offered load ρ nears 1 (dashed)\nbands: 95% intervals over replications{note}",
        fontsize=12,
    )
    return save(fig, folder, "latency_vs_load")


def backlog_over_time(summary: pd.DataFrame, backlog: pd.DataFrame, folder: Path) -> Path | None:
    """Copies waiting over simulated time in up to four representative cells."""
    if backlog.empty:
        return None
    outage = summary[summary["outage_duration"] > 0]
    if len(outage):
        chosen = outage.sort_values("rho").iloc[np.linspace(0, len(outage) - 1, min(4, len(outage))).astype(int)]
        title = "Backlog builds while consumers are out (shaded), then drains"
    else:
        pool = summary[summary["dispatch"] == summary["dispatch"].iloc[0]]
        if pool["publish_rate"].nunique() < 2 or pool["rho"].round(3).nunique() < 3:
            return None  # load is not what this sweep studies: its own figures show what it varies
        targets = [0.5, 0.8, 0.95, pool["rho"].max()]
        chosen = pool.loc[list(dict.fromkeys((pool["rho"] - t).abs().idxmin() for t in targets))]
        title = "Backlog stays small at moderate load, swings widely near ρ = 1, grows without bound past it"
    total = backlog.groupby(["cell", "replication", "time"], as_index=False)["depth"].sum()
    fig, axes = plt.subplots(1, len(chosen), figsize=(4.4 * len(chosen), 3.8), squeeze=False, layout="constrained")
    for ax, (_, cell) in zip(axes[0], chosen.iterrows()):
        series = total[total["cell"] == cell["cell"]]
        for _, run in series.groupby("replication"):
            ax.plot(run["time"], run["depth"], color="steelblue", alpha=0.25, lw=0.8)
        mean = series.groupby("time")["depth"].mean()
        ax.plot(mean.index, mean.values, color="navy", lw=1.6)
        if cell["outage_duration"] > 0:
            ax.axvspan(cell["outage_start"], cell["outage_start"] + cell["outage_duration"], color="orange", alpha=0.25)
        ax.set_title(f"group {cell['group_size']}, {cell['publish_rate']:g} msg/s, ρ={cell['rho']:.2f}", fontsize=10)
        ax.set_xlabel("simulated time (s)")
    axes[0, 0].set_ylabel("copies waiting")
    fig.suptitle(title + "\nthin lines: replications; thick: their mean", fontsize=12)
    return save(fig, folder, "backlog_over_time")


def _held_fixed(data: pd.DataFrame, varied: list[str], shown: tuple[str | None, ...]) -> tuple[pd.DataFrame, dict]:
    """`data` at the first value of every varied field not shown (else they would be pooled into one
    interval), and those values."""
    held = {f: sorted(data[f].dropna().unique())[0] for f in varied if f not in shown and data[f].notna().any()}
    for f, value in held.items():
        data = data[data[f] == value]
    return data, held


def _held_note(held: dict) -> str:
    return "".join(f"; {f.replace('_', ' ')} = {v}" for f, v in held.items())


def _intervals(data: pd.DataFrame, keys: Sequence[str], metrics: Sequence[str], sort: bool = True) -> pd.DataFrame:
    """One row per value of `keys`: each metric's mean and 95% interval over the rows (runs) with that value."""
    rows = []
    for key, group in data.groupby(list(keys), sort=sort):
        key = key if isinstance(key, tuple) else (key,)
        row: dict[str, object] = dict(zip(keys, key))
        for metric in metrics:
            mean, _, _, low, high = interval(group[metric])
            row.update({f"{metric}_mean": mean, f"{metric}_ci_low": low, f"{metric}_ci_high": high})
        rows.append(row)
    return pd.DataFrame(rows)


ACK_COSTS = [("redelivered", "redeliveries"), ("duplicates", "duplicates"), ("dead_lettered", "dead letters")]


def acknowledgment_costs(runs: pd.DataFrame, varied: list[str], folder: Path) -> Path | None:
    """Redeliveries, duplicates and dead letters per published copy against ack timeout and failure probability."""
    axes_fields = [f for f in ("ack_timeout", "failure_prob") if f in varied]
    if not axes_fields:
        return None
    x = axes_fields[0]
    hue = axes_fields[1] if len(axes_fields) > 1 else None
    data = runs[~runs["idempotent"]] if "idempotent" in varied else runs
    data, held = _held_fixed(data, varied, (x, hue, "idempotent"))
    copies = data["published"] * data["subscribers"]  # published counts every topic's messages
    keys = [x] + ([hue] if hue else [])
    per_copy = data.assign(**{m: data[m] / copies for m, _ in ACK_COSTS})
    summary = _intervals(per_copy, keys, [m for m, _ in ACK_COSTS])
    colors = _colors(summary, hue, "rocket_r")
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.4), squeeze=False, layout="constrained")
    for ax, (metric, label) in zip(axes[0], ACK_COSTS):
        _lines(ax, summary, x, metric, hue, colors)
        ax.set_ylim(bottom=0)
        if not summary[f"{metric}_mean"].any():
            ax.text(0.5, 0.5, f"no {label} in this sweep", transform=ax.transAxes, ha="center", color="grey")
        ax.set_xlabel("ack timeout (s)" if x == "ack_timeout" else "failure probability")
        if x == "ack_timeout":
            ax.set_xscale("log")
            ax.set_xticks(sorted(summary[x].unique()))
            ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_ylabel(f"{label} per published copy")
        ax.set_title(label)
    if hue:
        _legend_outside(fig, axes[0, 0], hue.replace("_", " "))
    at = "".join(f", {f.replace('_', ' ')} = {v}" for f, v in held.items())
    fig.suptitle(
        "Short timeouts cost duplicates; failures cost redeliveries and dead letters\n"
        f"bands: 95% intervals over replications{at}",
        fontsize=12,
    )
    return save(fig, folder, "ack_costs")


def throughput_and_utilization(summary: pd.DataFrame, varied: list[str], folder: Path) -> Path | None:
    """Throughput and consumer utilization against group size, a line per publish rate."""
    if "group_size" not in varied:
        return None
    data, held = _held_fixed(summary, varied, ("group_size", "publish_rate", "dispatch"))
    if data.empty or data.groupby(["publish_rate", "dispatch"])["group_size"].nunique().max() < 2:
        return None  # each load has a single group size (or no cell has the held values): no line to draw
    fig, _ = _metric_grid(
        data,
        varied,
        "group_size",
        [("throughput", "throughput (msg/s)"), ("utilization", "consumer utilization (fraction busy)")],
        "publish_rate",
        "consumers in the group",
        "publish rate (msg/s)",
    )
    fig.suptitle(
        "Throughput rises with consumers until it meets the publish rate; utilization then falls\n"
        f"bands: 95% intervals over replications{_held_note(held)}",
        fontsize=12,
    )
    return save(fig, folder, "throughput_utilization")


def simulated_against_theory(summary: pd.DataFrame, folder: Path) -> Path | None:
    """Simulated mean latency (with its interval) against the closed form, for cells that have one."""
    cells = summary.dropna(subset=["latency_theory"])
    if cells.empty:
        return None
    fig, ax = plt.subplots(figsize=(6.5, 5.5), layout="constrained")
    palette = dict(zip(sorted(cells["model"].unique()), sns.color_palette("tab10")))
    for model, group in cells.groupby("model"):
        err = [
            group["latency_mean_mean"] - group["latency_mean_ci_low"],
            group["latency_mean_ci_high"] - group["latency_mean_mean"],
        ]
        ax.errorbar(
            group["latency_theory"],
            group["latency_mean_mean"],
            yerr=err,
            fmt="o",
            ms=5,
            capsize=3,
            color=palette[model],
            label=model,
        )
    top = max(cells["latency_theory"].max(), cells["latency_mean_ci_high"].max()) * 1.05
    low = 0.0
    ax.plot([low, top], [low, top], color="grey", ls="--", lw=1, label="simulated = theory")
    ax.set_xlim(low, top)
    ax.set_ylim(low, top)
    ax.set_aspect("equal")
    ax.set_xlabel("closed-form mean latency (s)")
    ax.set_ylabel("simulated mean latency (s), 95% interval")
    ax.legend(fontsize=8)
    ax.set_title("Simulated latency lies on the closed forms' diagonal")
    return save(fig, folder, "theory")


def _knob_figure(
    summary: pd.DataFrame,
    varied: list[str],
    x: str,
    hue: str | None,
    rows: list[tuple[str, str, bool]],
    xlabel: str,
    legend: str,
    title: str,
    log_x: bool = False,
):
    """One panel per (metric, label, log scale) row side by side, against `x`, a line per `hue` value."""
    hue = hue if hue in varied else None
    data, held = _held_fixed(summary, varied, (x, hue))
    note = _held_note(held)
    colors = _colors(data, hue, "viridis")
    fig, axes = plt.subplots(1, len(rows), figsize=(5.2 * len(rows) + 1.5, 4.2), squeeze=False, layout="constrained")
    for ax, (metric, label, log) in zip(axes[0], rows):
        _lines(ax, data, x, metric, hue, colors)
        if log:
            ax.set_yscale("log")
        else:
            ax.set_ylim(bottom=0)
        if log_x:
            ax.set_xscale("log")
            ax.set_xticks(sorted(data[x].unique()))
            ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_ylabel(label)
        ax.set_xlabel(xlabel)
    if hue:
        _legend_outside(fig, axes[0, 0], legend)
    fig.suptitle(f"{title}\nbands: 95% intervals over replications{note}", fontsize=12)
    return fig


def partitions_figure(summary: pd.DataFrame, varied: list[str], folder: Path) -> Path | None:
    """Mean and p99 latency against group size, a line per partition count."""
    if not {"partitions", "group_size"} <= set(varied):
        return None
    fig = _knob_figure(
        summary,
        varied,
        "group_size",
        "partitions",
        [
            ("latency_mean", "mean latency (s, log scale)", True),
            ("latency_p99", "p99 latency (s, log scale)", True),
        ],
        "consumers in the group",
        "partitions",
        "Consumers beyond the partition count sit idle and buy nothing;\n"
        "an uneven assignment (some consumers own one partition more) overloads those consumers",
    )
    return save(fig, folder, "partitions")


def prefetch_figure(summary: pd.DataFrame, varied: list[str], folder: Path) -> Path | None:
    """Mean and p99 latency against prefetch, a line per service-time CV (or the next varied field)."""
    if "prefetch" not in varied:
        return None
    hue = next((f for f in ("service_cv", "publish_rate", "group_size") if f in varied), None)
    fig = _knob_figure(
        summary,
        varied,
        "prefetch",
        hue,
        [("latency_mean", "mean latency (s)", False), ("latency_p99", "p99 latency (s)", False)],
        "prefetch (unfinished copies a consumer may hold, log scale)",
        (hue or "").replace("_", " ").replace("service cv", "service-time CV"),
        "A large prefetch lets copies queue behind a slow one in a busy consumer's buffer\n"
        "while other consumers idle: the more service times vary, the more it costs",
        log_x=True,
    )
    return save(fig, folder, "prefetch")


def hot_keys_figure(summary: pd.DataFrame, varied: list[str], folder: Path) -> Path | None:
    """p99 latency and the busiest consumer's utilization against key skew, a line per key count."""
    if "key_skew" not in varied:
        return None
    hue = next((f for f in ("keys", "group_size", "publish_rate") if f in varied), None)
    fig = _knob_figure(
        summary,
        varied,
        "key_skew",
        hue,
        [
            ("latency_p99", "p99 latency (s, log scale)", True),
            ("utilization_max", "busiest consumer's utilization", False),
            ("utilization", "mean utilization", False),
        ],
        "key skew (Zipf exponent: 0 = every key equally likely)",
        (hue or "").replace("_", " "),
        "Skewed keys pile onto the consumer that owns the hottest ones: it saturates\n"
        "while the group's mean utilization, and its capacity on paper, stay the same or fall",
    )
    return save(fig, folder, "hot_keys")


def batching_figure(summary: pd.DataFrame, varied: list[str], folder: Path) -> Path | None:
    """Throughput, mean and p99 latency against batch size, a line per batch overhead."""
    if "batch_size" not in varied:
        return None
    fig = _knob_figure(
        summary,
        varied,
        "batch_size",
        "batch_overhead",
        [
            ("throughput", "throughput (msg/s)", False),
            ("latency_mean", "mean latency (s, log scale)", True),
            ("latency_p99", "p99 latency (s, log scale)", True),
        ],
        "batch size (copies taken at once, at most; log scale)",
        "overhead per batch (s)",
        "Batches amortize a per-poll cost and rescue throughput when it is large;\n"
        "without one they only make early copies wait for the rest of their batch",
        log_x=True,
    )
    return save(fig, folder, "batching")


POISON_ROWS = [
    ("wasted", "deliveries that processed nothing (%)", False),
    ("dead_lettered_share", "dead-lettered (% of copies)", False),
    ("latency_p99", "p99 latency (s, log scale)", True),
]


BACKPRESSURE_ROWS = [
    ("latency_p99", "p99 latency (s, log scale)", True),
    ("dropped_share", "copies dropped (%)", False),
    ("throughput", "throughput (msg/s)", False),
]


def backpressure_figure(runs: pd.DataFrame, varied: list[str], folder: Path) -> Path | None:
    """p99, the share of copies dropped and throughput against load, a line per queue capacity, a column per
    overflow policy: what a bounded queue trades near and past saturation."""
    if "queue_capacity" not in varied or "publish_rate" not in varied:
        return None
    data = runs.assign(
        dropped_share=100 * runs["dropped"] / (runs["published"] * runs["subscribers"]),
        rho=runs["publishers"] * runs["publish_rate"] * runs["service_time"] / runs["group_size"],
    )
    keys = ["rho", "queue_capacity", *(["overflow"] if "overflow" in varied else [])]
    data, held = _held_fixed(data, varied, ("publish_rate", "queue_capacity", "overflow"))
    summary = _intervals(data, keys, [m for m, _, _ in BACKPRESSURE_ROWS])
    columns = _facets(summary, "overflow" if "overflow" in varied else None)
    colors = _colors(summary, "queue_capacity", "viridis")
    fig, axes = plt.subplots(len(BACKPRESSURE_ROWS), len(columns), figsize=(5.5 * len(columns) + 1.5, 10.5),
                             sharex=True, sharey="row", squeeze=False, layout="constrained")  # fmt: skip
    for j, (policy, part) in enumerate(columns):
        for i, (metric, label, _) in enumerate(BACKPRESSURE_ROWS):
            ax = axes[i, j]
            _lines(ax, part, "rho", metric, "queue_capacity", colors)
            ax.axvline(1.0, color="grey", ls="--", lw=1)
            ax.set_ylabel(label if j == 0 else "")
            if i == 0 and policy is not None:
                ax.set_title(f"overflow: {policy}")
    for i, (_, _, log) in enumerate(BACKPRESSURE_ROWS):  # once every column is drawn: the row shares its scale
        axes[i, 0].set_yscale("log") if log else axes[i, 0].set_ylim(bottom=0)
    fig.supxlabel("offered load ρ = publish rate × service time ÷ group size")
    _legend_outside(fig, axes[0, 0], "queue capacity")
    fig.suptitle(
        "A bounded queue caps the tail by dropping copies (drop) or by holding the publisher back (block,\n"
        f"latency counted from the actual publish). Bands: 95% intervals over replications{_held_note(held)}",
        fontsize=12,
    )
    return save(fig, folder, "backpressure")


def poison_figure(runs: pd.DataFrame, varied: list[str], folder: Path) -> Path | None:
    """Capacity lost to poison messages (deliveries that processed nothing), dead letters and p99, a line per limit."""
    if "poison_prob" not in varied:
        return None
    hue = "max_deliveries" if "max_deliveries" in varied else None
    data = runs.assign(
        wasted=100 * (1 - runs["processed"] / runs["delivered"]),
        dead_lettered_share=100 * runs["dead_lettered"] / (runs["published"] * runs["subscribers"]),
    )
    if hue:  # None (no dead-letter limit) as a label of its own, after the limits
        limits = sorted(int(v) for v in data[hue].dropna().unique())
        order = [*map(str, limits), "no limit"]
        data = data.assign(**{hue: data[hue].map(lambda v: "no limit" if pd.isna(v) else str(int(v)))})
    keys = ["poison_prob", *([hue] if hue else [])]
    data, held = _held_fixed(data, varied, tuple(keys))
    note = _held_note(held)
    summary = _intervals(data, keys, [m for m, _, _ in POISON_ROWS], sort=False)
    colors: dict = dict(zip(order, sns.color_palette("rocket_r", len(order)))) if hue else {None: "C0"}
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.4), squeeze=False, layout="constrained")
    for ax, (metric, label, log) in zip(axes[0], POISON_ROWS):
        for value in order if hue else [None]:
            part = summary if hue is None else summary[summary[hue] == value]
            _lines(ax, part, "poison_prob", metric, None, {None: colors[value]})
            ax.lines[-1].set_label(str(value))
        ax.set_yscale("log") if log else ax.set_ylim(bottom=0)
        ax.set_xlabel("probability that a message is poison")
        ax.set_ylabel(label)
    if hue:
        _legend_outside(fig, axes[0, 0], "max deliveries")
    fig.suptitle(
        "With a dead-letter limit a poison message costs max deliveries attempts; without one it cycles for ever\n"
        f"and takes the group's capacity with it. Bands: 95% intervals over replications{note}",
        fontsize=12,
    )
    return save(fig, folder, "poison")


def _short(policy: str) -> str:
    """ "scaled 3–10, target 2, down delay 600 s" as "3–10 · 2 · 600 s", for labels beside points."""
    if not policy.startswith("scaled "):
        return policy
    sizes, target, delay, *rebalance = policy.removeprefix("scaled ").split(", ")
    short = f"{sizes} · {target.removeprefix('target ')} · {delay.removeprefix('down delay ')}"
    return short + "".join(f" · {r.split(' ')[0]}" for r in rebalance)


def cost_against_p99(costs: pd.DataFrame, folder: Path) -> Path | None:
    """Every cell's p99 against its cost, fixed groups and autoscalers, the Pareto front and the target."""
    if costs.empty:
        return None
    fig, ax = plt.subplots(figsize=(10, 6.2), layout="constrained")
    for scaled, marker, color, label in ((False, "s", "tab:blue", "fixed group"), (True, "o", "tab:orange",
                                                                                   "autoscaler")):  # fmt: skip
        part = costs[costs["autoscale"] == scaled]
        if part.empty:
            continue
        ax.errorbar(
            part["consumer_hours"],
            part["latency_p99"],
            xerr=[
                part["consumer_hours"] - part["consumer_hours_low"],
                part["consumer_hours_high"] - part["consumer_hours"],
            ],
            yerr=[part["latency_p99"] - part["latency_p99_low"], part["latency_p99_high"] - part["latency_p99"]],
            fmt=marker,
            ms=7,
            capsize=3,
            color=color,
            label=label,
        )
        for k, (_, row) in enumerate(part.iterrows()):
            ax.annotate(_short(row["policy"]), (row["consumer_hours"], row["latency_p99"]), textcoords="offset points",
                        xytext=(6, 5 if k % 2 else -11), fontsize=7.5, color="#333")  # fmt: skip
    front = costs[costs["pareto"]].sort_values("consumer_hours")
    ax.step(front["consumer_hours"], front["latency_p99"], where="post", color="grey", lw=1, ls=":",
            label="Pareto front (nothing cheaper and faster)")  # fmt: skip
    target = costs["target"].iloc[0]
    ax.axhline(target, color="crimson", lw=1, ls="--", label=f"p99 target {target:g} s")
    meeting = costs[costs["meets"]]
    if not meeting.empty:
        best = meeting.iloc[0]
        ax.scatter([best["consumer_hours"]], [best["latency_p99"]], s=400, facecolors="none", edgecolors="green",
                   linewidths=2, label=f"cheapest meeting the target: {best['policy']}", zorder=5)  # fmt: skip
    ax.set_yscale("log")
    ax.set_xlabel("cost: consumer-hours over the measured window")
    ax.set_ylabel("p99 latency (s, log scale)")
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title(
        "What each policy costs and what its tail is\nautoscalers labelled min–max consumers · target backlog · "
        "scale-down delay (· rebalance mode); bars: 95% intervals over replications",
        fontsize=11,
    )
    return save(fig, folder, "cost_vs_p99")


def scaling_over_time(costs: pd.DataFrame, backlog: pd.DataFrame, folder: Path) -> Path | None:
    """Consumers running and copies waiting over time, for the cheapest cells that meet the target and the
    busiest scaler."""
    if costs.empty or backlog.empty or "consumers_running" not in backlog:
        return None
    picks: dict[int, str] = {}
    meeting = costs[costs["meets"]]
    for scaled in (True, False):
        part = meeting[meeting["autoscale"] == scaled]
        if not part.empty:
            picks.setdefault(int(part.iloc[0]["cell"]), "cheapest meeting the target")
    scalers = costs[costs["autoscale"]]
    if not scalers.empty:
        picks.setdefault(int(scalers.sort_values("scale_actions").iloc[-1]["cell"]), "most scaling actions")
    if not picks:
        return None
    totals = backlog.groupby(["cell", "replication", "time"], as_index=False).agg(
        depth=("depth", "sum"), running=("consumers_running", "first")
    )
    fig, axes = plt.subplots(2, len(picks), figsize=(5.2 * len(picks), 6.4), sharex=True, squeeze=False,
                             layout="constrained")  # fmt: skip
    labels = costs.set_index("cell")["policy"]
    for j, (cell, why) in enumerate(picks.items()):
        series = totals[totals["cell"] == cell]
        for i, (column, ylabel) in enumerate((("running", "consumers running"), ("depth", "copies waiting"))):
            ax = axes[i, j]
            for _, run in series.groupby("replication"):
                ax.step(run["time"], run[column], where="post", color="steelblue", alpha=0.3, lw=0.8)
            mean = series.groupby("time")[column].mean()
            ax.step(mean.index, mean.values, where="post", color="navy", lw=1.5)
            ax.set_ylabel(ylabel if j == 0 else "")
            ax.set_ylim(bottom=0)
        axes[0, j].set_title(f"{labels[cell]}\n({why})", fontsize=10)
        axes[1, j].set_xlabel("simulated time (s)")
    fig.suptitle("How the group follows the load: thin lines replications, thick their mean", fontsize=12)
    return save(fig, folder, "scaling_over_time")


def over_time(windows: pd.DataFrame, labels: dict[int, str], folder: Path, of: int) -> Path | None:
    """The load, p99 latency and group size window by window (`pubsub.windows`) for the cells in `labels` (cell ->
    legend label; `of` cells in the sweep), a line per cell with its 95% interval over replications: what a
    time-varying load does at its peak, which the whole run's p99 averages away."""
    windows = windows[windows["cell"].isin(labels)] if not windows.empty else windows
    if windows.empty:
        return None
    hours = windows["end"].max() > 3 * 3600
    scale, unit = (3600.0, "h") if hours else (1.0, "s")
    data = windows.assign(middle=(windows["start"] + windows["end"]) / 2 / scale)
    panels = [
        ("throughput", "first successes per second\n(copies/s)"),
        ("latency_p99", "p99 latency of the copies\npublished in the window (s)"),
        ("group_size_mean", "consumers running\n(mean over the window)"),
    ]
    shown = _intervals(data, ["cell", "middle"], [metric for metric, _ in panels])
    fig, axes = plt.subplots(3, 1, figsize=(9.5, 8.0), sharex=True, layout="constrained",
                             gridspec_kw={"height_ratios": [1, 2, 1]})  # fmt: skip
    palette = sns.color_palette("tab10", len(labels))
    for color, (cell, label) in zip(palette, labels.items()):
        line = shown[shown["cell"] == cell]
        for ax, (metric, _) in zip(axes, panels):
            ax.plot(line["middle"], line[f"{metric}_mean"], color=color, lw=1.4, label=label)
            ax.fill_between(line["middle"], line[f"{metric}_ci_low"], line[f"{metric}_ci_high"], color=color,
                            alpha=0.15, lw=0)  # fmt: skip
    for ax, (_, ylabel) in zip(axes, panels):
        ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=0)
    axes[-1].set_xlabel(f"simulated time, middle of the window ({unit})")
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=2 if len(names) > 3 else len(names), fontsize=9)
    which = f"{len(labels)} of the {of} cells" if len(labels) < of else "every cell"
    fig.suptitle(f"Over time, {which}: lines are means over replications, bands their 95% intervals", fontsize=12)
    return save(fig, folder, "over_time")


def plain(value) -> str:
    """A field's value for a legend: numbers in their shortest form."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def draw_all(
    runs: pd.DataFrame, summary: pd.DataFrame, backlog: pd.DataFrame, varied: list[str], folder: Path
) -> dict[str, Path]:
    """Every figure that applies to this sweep, by name."""
    drawn = {
        "latency_vs_load": latency_against_load(summary, varied, folder),
        "backlog_over_time": backlog_over_time(summary, backlog, folder),
        "ack_costs": acknowledgment_costs(runs, varied, folder),
        "throughput_utilization": throughput_and_utilization(summary, varied, folder),
        "theory": simulated_against_theory(summary, folder),
        "partitions": partitions_figure(summary, varied, folder),
        "prefetch": prefetch_figure(summary, varied, folder),
        "hot_keys": hot_keys_figure(summary, varied, folder),
        "batching": batching_figure(summary, varied, folder),
        "poison": poison_figure(runs, varied, folder),
        "backpressure": backpressure_figure(runs, varied, folder),
    }
    return {name: path for name, path in drawn.items() if path is not None}
