"""Statistics over replications: intervals per cell, paired differences, the capacity answer."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from pubsub import METRICS, Scenario, theory
from pubsub.intervals import interval

SCENARIO_FIELDS = list(Scenario.model_fields)


def summarize(runs: pd.DataFrame, varied: list[str]) -> pd.DataFrame:
    """One row per cell: its varied fields, offered load, and for every metric
    `<metric>_mean`, `_std`, `_n`, `_ci_low`, `_ci_high`; plus `latency_theory` where a closed form applies."""
    if runs.empty:
        return pd.DataFrame()
    rows = []
    for cell, group in runs.groupby("cell", sort=True):
        first = group.iloc[0]
        fixed = {f: first[f] for f in SCENARIO_FIELDS if f not in varied and f != "seed"}
        row = {
            "cell": cell,
            **{f: first[f] for f in varied},
            "rho": offered_load(first),
            "replications": len(group),
            **fixed,
        }
        for metric in METRICS:
            mean, std, n, low, high = interval(group[metric])
            row.update(
                {
                    f"{metric}_mean": mean,
                    f"{metric}_std": std,
                    f"{metric}_n": n,
                    f"{metric}_ci_low": low,
                    f"{metric}_ci_high": high,
                }
            )
        row["latency_theory"] = closed_form(first)
        row["model"] = closed_form_name(first)
        rows.append(row)
    frame = pd.DataFrame(rows)
    return frame.astype({f: runs[f].dtype for f in SCENARIO_FIELDS if f in frame})


def arrival_rate(row) -> float:
    """Copies per second reaching one subscription: its topic's publishers, or (one subscription of a named
    topology, `analysis.subscriptions`) all its topics' together."""
    if "arrival_rate" in row:
        return row["arrival_rate"]
    return row["publishers"] * row["publish_rate"]


def offered_load(row) -> float:
    """ρ: work arriving per unit of a subscription's consumer capacity."""
    return arrival_rate(row) * row["service_time"] / row["group_size"]


def _never_redelivered(row) -> bool:
    """No failures, and a timeout that processing outlasts with probability below 1e-6."""
    if row["failure_prob"] > 0:
        return False
    if not row["ack"]:
        return True
    limit = 1.0 if row["service"] == "fixed" else -math.log(1e-6)
    return row["service"] in ("fixed", "exponential") and row["ack_timeout"] > limit * row["service_time"]


def closed_form_name(row) -> str | None:
    """Which of docs/model.md's closed forms describes this cell, if any."""
    plain = (
        row["arrivals"] == "poisson"
        and row["rate_profile"] == "constant"
        and pd.isna(row["queue_capacity"])
        and _never_redelivered(row)
        and row["outage_duration"] == 0
        and not row["autoscale"]
        and row["crash_rate"] == 0
        and row["prefetch"] == 1
        and row["batch_size"] == 1
        and row["service_overhead"] == 0
        and row["delivery_delay"] == 0
        and row["poison_prob"] == 0
        and offered_load(row) < 1
    )
    if not plain:
        return None
    c = int(row["group_size"])
    if row["service"] == "fixed":
        return "M/D/1" if c == 1 else None
    if row["service"] != "exponential":
        return None
    if c == 1:
        return "M/M/1"
    return {"shared": f"M/M/{c}", "round-robin": f"E_{c}/M/1"}.get(row["dispatch"])


def closed_form(row) -> float:
    """The closed-form mean latency of this cell, or NaN where none applies."""
    name = closed_form_name(row)
    if name is None:
        return math.nan
    lam, mu, c = arrival_rate(row), 1.0 / row["service_time"], int(row["group_size"])
    if name == "M/D/1":
        return theory.md1_latency(lam, mu)
    if name.startswith("M/M/"):  # M/M/1 included: Erlang's C for one server is ρ
        return theory.mmc_latency(lam, mu, c)
    return theory.ecm1_latency(lam, mu, c)


PAIRED_METRICS = ["latency_mean", "latency_p99", "backlog_mean"]


def paired(runs: pd.DataFrame, varied: list[str], field: str, metrics=PAIRED_METRICS) -> pd.DataFrame:
    """Differences between neighbouring values of `field` with everything else equal.

    Replication r of every cell shares a seed, so each difference is taken per
    replication and its interval comes from those differences: sharper than two
    separate intervals, whose widths are shown beside it for comparison.
    """
    if field not in varied or runs.empty:
        return pd.DataFrame()
    others = [f for f in varied if f != field]
    values = sorted(runs[field].dropna().unique())  # a column holds one type: numbers, strings or flags
    rows = []
    for key, group in runs.groupby(others, sort=True, dropna=False) if others else [((), runs)]:
        by_value = {v: g.set_index("replication") for v, g in group.groupby(field)}
        for a, b in itertools.pairwise(values):
            if a not in by_value or b not in by_value:
                continue
            for metric in metrics:
                left, right = by_value[a][metric], by_value[b][metric]
                both = left.index.intersection(right.index)  # replications that ran in both cells
                diff = right[both] - left[both]
                mean, _, n, low, high = interval(diff)
                *_, la, ha = interval(left[both])
                *_, lb, hb = interval(right[both])
                rows.append(
                    {
                        **dict(zip(others, key)),
                        "field": field,
                        "from": a,
                        "to": b,
                        "metric": metric,
                        "difference": mean,
                        "ci_low": low,
                        "ci_high": high,
                        "n": n,
                        "paired_half_width": (high - low) / 2,
                        "unpaired_half_width": math.sqrt(((ha - la) / 2) ** 2 + ((hb - lb) / 2) ** 2),
                    }
                )
    return pd.DataFrame(rows)


def p99_target(slo_p99: float | None, service_time: float) -> float:
    """The p99 target: the one asked for, or by default ten mean service times."""
    return slo_p99 if slo_p99 is not None else 10 * float(service_time)


def judged_metric(runs: pd.DataFrame) -> str:
    """The p99 an answer judges: the worst window's (`latency_p99_peak`) where the runs have windows (a load that
    varies, or a spec's `window`), else the whole run's."""
    peak = runs.get("latency_p99_peak")
    return "latency_p99_peak" if peak is not None and peak.notna().any() else "latency_p99"


def capacity(
    summary: pd.DataFrame,
    varied: list[str],
    slo_p99: float | None = None,
    sizes: list[int] | None = None,
    metric: str = "latency_p99",
) -> pd.DataFrame:
    """For each combination of the other varied fields, the smallest group size whose
    `metric` (a p99: the whole run's, or the worst window's) interval lies wholly below the target.

    `answer` is that size, "none in the sweep", or "unknown" when a smaller size
    has no interval to judge (its runs failed, or it has a single replication).
    `sizes` are the group sizes the sweep planned (default: those in `summary`).
    Without `slo_p99` the target is ten mean service times of the cell. The
    answer's p99 columns hold `metric`'s values, and `metric` says which it was.
    """
    if "group_size" not in varied or summary.empty:
        return pd.DataFrame()
    sizes = sorted(sizes if sizes is not None else summary["group_size"].unique())
    others = [f for f in varied if f != "group_size"]
    rows = []
    for key, group in summary.groupby(others, sort=True, dropna=False) if others else [((), summary)]:
        cells = group.set_index("group_size")
        target = p99_target(slo_p99, group["service_time"].iloc[0])
        answer, best = "none in the sweep", None
        for size in sizes:
            high = cells[f"{metric}_ci_high"].get(size, math.nan)
            if math.isnan(high):
                answer = f"unknown: group size {size} has no interval"
                break
            if high < target:
                answer, best = str(size), cells.loc[size]
                break
        rows.append(
            {
                **dict(zip(others, key)),
                "slo_p99": target,
                "answer": answer,
                "latency_p99_mean": best[f"{metric}_mean"] if best is not None else math.nan,
                "latency_p99_ci_high": best[f"{metric}_ci_high"] if best is not None else math.nan,
                "metric": metric,
            }
        )
    return pd.DataFrame(rows)


def policy_label(row) -> str:
    """A cell's consumer policy in a few words: a fixed group, or an autoscaler's settings."""
    if not row["autoscale"]:
        return f"fixed {int(row['group_size'])}"
    label = (
        f"scaled {int(row['min_consumers'])}–{int(row['max_consumers'])}, target {row['target_backlog']:g}, "
        f"down delay {row['scale_down_delay']:g} s"
    )
    if row.get("rebalance", "none") != "none":
        label += f", {row['rebalance']} rebalances of {row['rebalance_time']:g} s"
    return label


def scaling_costs(summary: pd.DataFrame, slo_p99: float | None = None, metric: str = "latency_p99") -> pd.DataFrame:
    """Per cell: its policy, cost (consumer-hours) and p99 with intervals (`metric`'s: the whole run's, or the
    worst window's), whether its p99 interval lies wholly below the target (`meets`), and whether no other cell
    is both cheaper and faster (`pareto`)."""
    if summary.empty or "autoscale" not in summary:
        return pd.DataFrame()
    target = p99_target(slo_p99, summary["service_time"].iloc[0])
    frame = pd.DataFrame(
        {
            "cell": summary["cell"],
            "policy": [policy_label(row) for _, row in summary.iterrows()],
            "autoscale": summary["autoscale"].astype(bool),
            "consumer_hours": summary["consumer_seconds_mean"] / 3600,
            "consumer_hours_low": summary["consumer_seconds_ci_low"] / 3600,
            "consumer_hours_high": summary["consumer_seconds_ci_high"] / 3600,
            "latency_p99": summary[f"{metric}_mean"],
            "latency_p99_low": summary[f"{metric}_ci_low"],
            "latency_p99_high": summary[f"{metric}_ci_high"],
            "scale_actions": summary["scale_ups_mean"] + summary["scale_downs_mean"],
        }
    )
    frame["target"] = target
    frame["meets"] = frame["latency_p99_high"] < target
    cost, p99 = frame["consumer_hours"].to_numpy(), frame["latency_p99"].to_numpy()
    frame["pareto"] = [not np.any((cost <= c) & (p99 <= p) & ((cost < c) | (p99 < p))) for c, p in zip(cost, p99)]
    return frame.sort_values("consumer_hours").reset_index(drop=True)


def scaling_answer(costs: pd.DataFrame) -> str:
    """One sentence: the cheapest policy that meets the target, and what it saves against the cheapest fixed group
    that does."""
    if costs.empty:
        return ""
    target = costs["target"].iloc[0]
    meeting = costs[costs["meets"]]
    if meeting.empty:
        return f"No policy in this sweep keeps p99 wholly below {target:g} s."
    best = meeting.iloc[0]
    text = (
        f"The cheapest policy whose p99 stays wholly below {target:g} s is {best['policy']}: "
        f"{best['consumer_hours']:.3g} consumer-hours, p99 {best['latency_p99']:.3g} s "
        f"[{best['latency_p99_low']:.3g}, {best['latency_p99_high']:.3g}]."
    )
    fixed = meeting[~meeting["autoscale"]]
    scaled = meeting[meeting["autoscale"]]
    if best["autoscale"] and not fixed.empty:
        saving = 1 - best["consumer_hours"] / fixed.iloc[0]["consumer_hours"]
        text += (
            f" It saves {saving:.0%} against the smallest fixed group that meets the target, "
            f"{fixed.iloc[0]['policy']} ({fixed.iloc[0]['consumer_hours']:.3g} consumer-hours)."
        )
    elif best["autoscale"]:
        text += " No fixed group in the sweep meets the target."
    elif not scaled.empty:
        extra = scaled.iloc[0]["consumer_hours"] / best["consumer_hours"] - 1
        text += (
            f" On this load no autoscaler beats it: the cheapest that meets the target, {scaled.iloc[0]['policy']}, "
            f"costs {extra:.0%} more ({scaled.iloc[0]['consumer_hours']:.3g} consumer-hours)."
        )
    else:
        text += " No autoscaler in the sweep meets the target."
    return text


P99_SHARE = 0.01  # the share of copies above a p99: more redelivered than this and the redelivery wait is in it


def floors(summary: pd.DataFrame, answer: pd.DataFrame, others: list[str]) -> pd.DataFrame:
    """Why a setting's p99 stays above its target whatever the group size, from its largest group's runs.

    One row per setting whose answer is not a size: the share of copies served only after a redelivery, p99
    apart for the copies served on their first delivery and the redelivered ones, the share dead-lettered, the
    group's utilization, the setting that sets the floor and what would move it.
    The floors: a redelivered copy waits `ack_timeout` (failed attempts without `nack`) or its retry delay
    (`nack`) before it can be taken again, so once more than 1% of copies are redelivered, p99 includes that
    wait, and more consumers cannot remove it; a saturated group (utilization near 1 at its largest size)
    needs more consumers than the sweep tried.
    """
    rows = []
    if answer.empty or "answer" not in answer:
        return pd.DataFrame()
    for _, setting in answer.iterrows():
        if str(setting["answer"]).isdigit():
            continue
        cells = summary
        for field in others:
            cells = cells[cells[field] == setting[field]]
        if cells.empty:
            continue
        largest = cells.sort_values("group_size").iloc[-1]
        processed = max(float(largest["processed_mean"]), 1.0)
        redelivered = float(largest["redelivered_share_mean"])
        dead = float(largest["dead_lettered_mean"]) / processed
        busy = float(largest["utilization_mean"])
        p99 = float(largest["latency_p99_mean"])
        if bool(largest["ack"]) and redelivered > P99_SHARE:
            if bool(largest["nack"]):
                wait = float(largest["retry_delay"])
                setting_name = f"retry_delay = {wait:g} s"
                moves = "a shorter retry_delay (or fewer failed attempts)"
            else:
                wait = float(largest["ack_timeout"])
                setting_name = f"ack_timeout = {wait:g} s"
                moves = "nack = true with a short retry_delay, a shorter ack_timeout, or fewer failed attempts"
            why = (
                f"{redelivered:.1%} of copies were redelivered (more than the 1% a p99 leaves out), and each "
                f"waited out {setting_name} before it could be taken again: p99 ({p99:.3g} s at "
                f"{int(largest['group_size'])} consumers) includes that wait whatever the group size"
                f" (p99 of the copies served on their first delivery: {largest['latency_p99_first_mean']:.3g} s;"
                f" of the redelivered ones: {largest['latency_p99_redelivered_mean']:.3g} s)"
            )
        elif busy > 0.95:
            setting_name = "the group size"
            moves = "more consumers than the sweep tried, or faster service"
            why = (
                f"even {int(largest['group_size'])} consumers are busy {busy:.0%} of the time: the group is "
                "saturated and its backlog grows"
            )
        else:
            setting_name = "none found"
            moves = "a longer run or more replications (the interval may be too wide to judge)"
            why = f"p99 is {p99:.3g} s at {int(largest['group_size'])} consumers, with no redelivery or saturation"
        rows.append(
            {
                **{f: setting[f] for f in others},
                "redelivered_share": redelivered,
                "latency_p99_first": float(largest["latency_p99_first_mean"]),
                "latency_p99_redelivered": float(largest["latency_p99_redelivered_mean"]),
                "dead_lettered_share": dead,
                "utilization": busy,
                "floor": setting_name,
                "why": why,
                "what_would_move_it": moves,
            }
        )
    return pd.DataFrame(rows)
