"""report.html: one self-contained page (figures embedded) from a sweep's results folder."""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path

import pandas as pd

from sweeps.layout import write_atomically as _write

from . import answers as answering
from . import figures, live, stats, subscriptions
from .results import Results

SHOWN = [
    ("latency_mean", "mean latency (s)"),
    ("latency_p99", "p99 latency (s)"),
    ("backlog_mean", "mean backlog"),
    ("throughput", "throughput (msg/s)"),
    ("utilization", "utilization"),
    ("redelivered", "redelivered"),
    ("duplicates", "duplicates"),
    ("dropped", "dropped"),
    ("drain_time", "drain time (s)"),
]

CAPTIONS = {
    "over_time": "Window by window (windows.parquet): the load served (top), the p99 latency of the copies published"
    " in each window (middle) and the consumers running (bottom), a line per cell, bands 95% intervals over"
    " replications. The whole run's p99 mixes the quiet hours into the peak's; the answers above judge the worst"
    " window.",
    "latency_vs_load": "Mean (top) and p99 (bottom) latency against offered load per consumer, one line per group "
    "size; bands are 95% intervals over replications. Past ρ = 1 the queue grows for the whole "
    "run, so those latencies measure the run's length as much as the system.",
    "backlog_over_time": "Copies waiting, summed over the cell's queues, over simulated time for representative "
    "cells: each replication thin, their mean thick.",
    "ack_costs": "Redeliveries, duplicates and dead letters per published copy; bands are 95% intervals. "
    "Non-idempotent consumers shown: idempotent ones turn exactly these duplicates into suppressions.",
    "throughput_utilization": "First-time successful processings per second, and the fraction of time consumers "
    "are busy, against group size; bands are 95% intervals.",
    "simulated_vs_real": "Relative error of the simulated mean and p99 latency against the real broker's, per "
    "cell, paired by seed, with 95% intervals over replications; orange as the spec says, blue with the broker's "
    "measured costs added. The shaded band is the live check's bound.",
    "partitions": "Mean and p99 latency (log scales) against group size, one line per partition count; bands "
    "are 95% intervals. Past the partition count extra consumers own nothing; where the count does not divide "
    "evenly, the consumers owning one partition more carry more load and set the tail.",
    "hot_keys": "p99 latency, the busiest consumer's utilization and the group's mean utilization against the key "
    "skew, one line per number of keys; bands are 95% intervals. With key-hash dispatch a key always goes to the "
    "same consumer, so a hot key's owner saturates (utilization 1) while the others idle.",
    "prefetch": "Mean and p99 latency against the prefetch limit (RabbitMQ basic.qos), one line per service-time "
    "variability; bands are 95% intervals. Prefetch 1 is plain competing consumers.",
    "batching": "Throughput, mean and p99 latency against the largest batch a consumer takes, one line per fixed "
    "cost of a batch; bands are 95% intervals. A consumer never waits to fill a batch.",
    "backpressure": "p99 latency, the share of copies dropped and throughput against offered load, one line per "
    "queue capacity, one column per overflow policy; bands are 95% intervals. Past ρ = 1 a dropping queue sheds "
    "the excess, a blocking one slows the publishers to what the consumers take.",
    "poison": "Share of deliveries that processed nothing (capacity lost to failed attempts), dead-lettered share "
    "of copies and p99 latency against the poison-message rate, one line per delivery limit; bands are 95% "
    "intervals.",
    "cost_vs_p99": "Every cell's p99 latency against what its consumers cost (consumer-hours: consumers running, "
    "busy or not, over the measured window), fixed groups as squares and autoscalers as circles, with 95% "
    "intervals. The dotted line joins the cells that nothing beats on both; the ring marks the cheapest cell whose "
    "p99 interval lies wholly below the target.",
    "scaling_over_time": "Consumers running and copies waiting over simulated time for representative cells "
    "(replications thin, their mean thick).",
    "answer": "The p99 latency of each group size, one line per setting of the main other field, one panel per "
    "setting of the rest; bars are 95% intervals over replications. The dashed line is the target; the ring marks "
    "the smallest group whose whole interval lies below it.",
    "one_more_consumer": "How much the p99 falls when one consumer is added, computed replication by replication "
    "(every cell shares its seeds), with 95% paired intervals, for groups that already keep up with the load. "
    "Near zero, a consumer more buys nothing.",
    "dispatch": "One dispatch policy's p99 over the other's for the same group, load and seeds, with 95% intervals "
    "of the per-replication ratio; only groups that keep up with the load.",
    "answer_subscription": "One subscription's p99 latency against its group size, one line per setting of the "
    "main other field; bars are 95% intervals over replications. The dashed line is its target; the ring marks the "
    "smallest group whose whole interval lies below it.",
    "fixed_subscriptions": "The p99 latency of each subscription whose group size the sweep did not vary, against "
    "the main varied field; bars are 95% intervals over replications, the dashed line its target.",
    "theory": "Each cell with a closed form (M/M/1, M/M/c for shared groups, M/D/1, E_c/M/1 for round-robin "
    "groups): simulated mean latency with its 95% interval against theory. About one interval in twenty "
    "misses by chance, and cells that share seeds tend to miss on the same side together.",
}


def _fmt(value) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        return f"{value:.4g}"
    return html.escape(str(value))


def _table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "<p><em>Nothing to show for this sweep.</em></p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in row) + "</tr>" for row in frame.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _with_interval(summary: pd.DataFrame, varied: list[str]) -> pd.DataFrame:
    if summary.empty:
        return summary
    shown = summary[["cell", *varied, "rho", "replications"]].copy()
    for metric, label in SHOWN:
        if summary[f"{metric}_mean"].abs().sum() == 0:
            continue
        shown[label] = [
            "–" if math.isnan(m) else (f"{m:.4g}" if math.isnan(lo) else f"{m:.4g} [{lo:.4g}, {hi:.4g}]")
            for m, lo, hi in zip(summary[f"{metric}_mean"], summary[f"{metric}_ci_low"], summary[f"{metric}_ci_high"])
        ]
    if summary["latency_theory"].notna().any():
        shown["closed form"] = summary["model"].fillna("–")
        shown["theory latency (s)"] = summary["latency_theory"]
    return shown


def _scaling_section(
    summary: pd.DataFrame, backlog: pd.DataFrame, layout, slo_p99: float | None, judged: str = "latency_p99"
) -> str:
    """Which consumer policy, fixed or autoscaled, meets the p99 target at the lowest cost (sweeps that vary
    `autoscale`), by the whole run's p99 or, where the load varies, the worst window's."""
    costs = stats.scaling_costs(summary, slo_p99, judged)
    if costs.empty:
        return ""
    _write(layout.folder / "scaling.csv", lambda p: costs.to_csv(p, index=False))
    drawn = {
        name: path
        for name, path in (
            ("cost_vs_p99", figures.cost_against_p99(costs, layout.figures)),
            ("scaling_over_time", figures.scaling_over_time(costs, backlog, layout.figures)),
        )
        if path is not None
    }
    shown = costs[["policy", "consumer_hours", "latency_p99", "latency_p99_low", "latency_p99_high", "meets",
                   "pareto", "scale_actions"]]  # fmt: skip
    return f"""<h2>Which policy meets the target at the lowest cost?</h2>
<p class="answer">{html.escape(stats.scaling_answer(costs))}</p>
{"<p>" + _WORST_WINDOW.strip() + "</p>" if judged == "latency_p99_peak" else ""}
{"".join(_figure(name, path) for name, path in drawn.items())}
<details><summary>Every policy: cost, p99 and its interval, scaling actions per run</summary>
{_table(shown)}</details>
"""


def _answer_grid(answer: pd.DataFrame, others: list[str]) -> str:
    """The answers as a small table: one row per value of the first other field, and a column per value of the
    second if there is one (more fields: the sentence and the folded table say it)."""
    if not others or len(others) > 2 or len(answer) < 3:
        return ""
    first = others[0]
    if len(others) == 1:
        grid = answer[[first, "answer"]].rename(columns={"answer": "consumers needed"})
    else:
        second = others[1]
        grid = answer.pivot(index=first, columns=second, values="answer").reset_index()
        grid.columns = [first, *(f"{second} = {_fmt(c)}" for c in grid.columns[1:])]
    return f'<div class="answers">{_table(grid)}</div>'


def _setting(row, others: list[str]) -> str:
    """`publish_rate=40, ack_timeout=30: ` for a row of a table per setting (nothing for a single setting)."""
    return ", ".join(f"{f}={row[f]:g}" if isinstance(row[f], float) else f"{f}={row[f]}" for f in others) + (
        ": " if others else ""
    )


_WORST_WINDOW = (
    " The load varies over the run, so each run is judged by its worst window: the largest p99 of the copies"
    " published within one window (windows.parquet; the figure of p99 over time shows them), not by the p99 of"
    " the whole run, which averages the peak away."
)


def _capacity_section(
    results: Results,
    runs: pd.DataFrame,
    summary: pd.DataFrame,
    comparisons: pd.DataFrame,
    answer: pd.DataFrame,
    layout,
    slo_p99: float | None,
    source: str,
) -> str:
    """The answer first: a sentence, the metric against group size with the answer marked, what one more
    consumer buys, and dispatch against dispatch; the table behind them folded."""
    if answer.empty or (summary["outage_duration"] > 0).any():
        return ""  # (a p99 taken across an outage measures the outage: its backlog figure tells the story)
    others = [f for f in results.varied if f != "group_size"]
    if others:
        sizes = int(summary.groupby(others, dropna=False)["group_size"].nunique().max())
    else:
        sizes = summary["group_size"].nunique()
    if sizes < 2:
        return ""  # every setting has a single group size: nothing to choose from
    target = float(answer["slo_p99"].iloc[0])
    same_target = answer["slo_p99"].nunique() == 1
    judged = str(answer["metric"].iloc[0]) if "metric" in answer else "latency_p99"
    drawn = {}
    if same_target:
        drawn["answer"] = answering.answer_figure(summary, answer, others, target, layout.figures, metric=judged)
        sentence = answering.answer_sentence(answer, others, target, metric=judged)
    else:
        sentence = "The target differs between cells (ten mean service times each): see the table."
    drawn["one_more_consumer"] = answering.one_more_consumer_figure(comparisons, summary, others, layout.figures)
    ratios = answering.dispatch_ratios(runs, results.varied)
    not_dispatch = [f for f in results.varied if f != "dispatch"]
    drawn["dispatch"] = answering.dispatch_figure(ratios, summary, not_dispatch, layout.figures)
    shown = answer.rename(columns={"answer": "smallest group meeting the target"})
    how = "searched" if "search" in results.spec else "swept"
    wanted = f"{slo_p99:g} s" if slo_p99 is not None else "ten mean service times"
    if "search" in results.spec:
        wanted = f"{target:g} s"
    wanted += f", {source}"
    explained = stats.floors(summary, answer, others)
    why = "".join(
        f"<li>{html.escape(_setting(row, others))}{html.escape(row['why'])}. It is set by "
        f"<code>{html.escape(row['floor'])}</code>; what would move it: {html.escape(row['what_would_move_it'])}.</li>"
        for _, row in explained.iterrows()
    )
    floors = f'<p>Where no group size meets the target, why:</p><ul class="floors">{why}</ul>' if why else ""
    return f"""<h2>How many consumers are enough?</h2>
<p>For each setting of the other varied fields, the smallest group whose p99 latency interval lies wholly below
the target ({wanted}).{_WORST_WINDOW if judged == "latency_p99_peak" else ""}</p>
<p class="answer">{html.escape(sentence)}</p>
{_answer_grid(answer, others)}
{floors}
{"".join(_figure(name, path) for name, path in drawn.items() if path is not None)}
<details><summary>The answer per setting ({how}), with the p99 interval at it</summary>
{_table(shown)}</details>
"""


def _subscriptions_section(results: Results, layout, slo_p99: float | None, source: str) -> tuple[str, str]:
    """A named topology's answer, subscription by subscription (a pooled one would hide the slow one): the
    sentence, a figure per subscription, the answers and every subscription's cells with intervals. Returns the
    section and the cells table."""
    per = subscriptions.per_subscription(results.runs, results.subscriptions(), results.varied, slo_p99)
    if not per:
        return "", ""
    answers = pd.concat([a.assign(subscription=name) for name, (_, a, _) in per.items()], ignore_index=True)
    cells = pd.concat([c.copy().assign(subscription=name) for name, (c, _, _) in per.items()], ignore_index=True)
    _write(layout.capacity, lambda p: answers.to_csv(p, index=False))
    _write(layout.subscriptions_summary, lambda p: cells.to_csv(p, index=False))
    drawn = []
    for name, (summary, answer, others) in per.items():
        if "group_size" in summary and summary["group_size"].nunique() > 1 and not answer.empty:
            target = float(answer["slo_p99"].iloc[0])
            path = answering.answer_figure(summary, answer, others, target, layout.figures, name=f"answer_{name}",
                                           heading=name)  # fmt: skip
            if path is not None:
                drawn.append(("answer_subscription", path))
    fixed = answering.fixed_groups_figure(per, layout.figures)
    if fixed is not None:
        drawn.append(("fixed_subscriptions", fixed))
    varied_of = {name: others for name, (_, _, others) in per.items()}
    shown = []
    for name, (summary, _, _) in per.items():
        table = _with_interval(summary, [*varied_of[name], *(["group_size"] if "group_size" not in varied_of[name]
                                                               else [])])  # fmt: skip
        shown.append(f"<h3>{html.escape(name)}</h3>{_table(table.drop(columns=['cell']))}")
    sentence = subscriptions.sentence(per)
    section = f"""<h2>How many consumers does each subscription need?</h2>
<p>Each subscription is its own consumer group with its own copies, so each gets its own answer: the smallest
group whose p99 latency interval lies wholly below its target ({
        f"{slo_p99:g} s" if slo_p99 is not None else "ten of its mean service times"
    }, {source}). The run's pooled latency is not shown: it would hide the slow subscription
behind the fast ones.</p>
<p class="answer">{html.escape(sentence)}</p>
{"".join(_figure(kind, path) for kind, path in drawn)}
<details><summary>The answer per subscription and setting, with the p99 interval at it (also capacity.csv)</summary>
{_table(answers)}</details>
"""
    return section, "".join(shown)


OVER_TIME_CELLS = 6  # lines the figure over time can hold and stay readable


def _over_time_cells(
    summary: pd.DataFrame, varied: list[str], answer: pd.DataFrame, slo_p99: float | None, judged: str
) -> dict[int, str]:
    """The cells the figure over time draws, with their legend labels: every cell if few; else the policies on
    the cost-p99 front (an autoscaling sweep), or each setting's answer and the size below it (a capacity
    sweep), or the first cells."""
    if "autoscale" in varied:
        costs = stats.scaling_costs(summary, slo_p99, judged)
        front = costs[costs["pareto"]] if len(costs) > OVER_TIME_CELLS else costs
        front = front.head(OVER_TIME_CELLS)
        return dict(zip(front["cell"].astype(int), front["policy"].astype(str)))
    cells = summary
    if len(summary) > OVER_TIME_CELLS and not answer.empty and "group_size" in varied:
        others = [f for f in varied if f != "group_size"]
        picked = []
        for _, row in answer.iterrows():
            if not str(row["answer"]).isdigit():
                continue
            same = summary
            for field in others:
                same = same[same[field] == row[field]]
            sizes = sorted(same["group_size"].unique())
            at = sizes.index(int(row["answer"]))
            picked += list(same[same["group_size"].isin(sizes[max(0, at - 1) : at + 1])]["cell"])
        cells = summary[summary["cell"].isin(picked)] if picked else summary
    cells = cells.head(OVER_TIME_CELLS)
    differing = [f for f in varied if cells[f].nunique() > 1] or varied
    return {
        int(row["cell"]): ", ".join(f"{f.split('.')[-1]} {figures.plain(row[f])}" for f in differing) or "every run"
        for _, row in cells.iterrows()
    }


def _pairs_that_matter(comparisons: pd.DataFrame, summary: pd.DataFrame, varied: list[str]) -> pd.DataFrame:
    """p99 comparisons only, and between group sizes only from a group that keeps up with its load."""
    if comparisons.empty:
        return comparisons
    shown = comparisons[comparisons["metric"] == "latency_p99"]
    if "group_size" in varied and "rho" in summary:
        others = [f for f in varied if f != "group_size"]
        load = summary.set_index([*others, "group_size"])["rho"]
        sizes = shown["field"] == "group_size"
        keeps_up = [
            not size or load.get((*row[others], row["from"]), 0.0) < 1.0
            for size, (_, row) in zip(sizes, shown.iterrows())
        ]
        shown = shown[keeps_up]
    return shown


def _search_answer(results: Results) -> pd.DataFrame:
    """A search's answers (search.csv) in the capacity table's form."""
    found = pd.read_csv(results.layout.search)
    others = [c for c in results.varied if c in found and c != found["field"].iloc[0]]
    shown = [*others, "slo_p99", "answer", "at_mean", "at_ci_low", "at_ci_high", "beside_value", "beside_ci_low"]
    return found.assign(slo_p99=found["below"])[[*shown, "runs", "note"]]


def _figure(name: str, path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return (
        f'<figure><a href="figures/{path.name}"><img src="data:image/png;base64,{data}" alt="{name}"></a>'
        f"<figcaption>{html.escape(CAPTIONS[name])}</figcaption></figure>"
    )


STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; }
th { background: #f3f3f3; }
pre { background: #f7f7f7; padding: 1em; overflow-x: auto; }
figure { margin: 1.5em 0; } img { max-width: 100%; }
figcaption { font-size: 0.9em; color: #444; }
.warning { background: #fff3cd; padding: 0.5em 1em; border-left: 4px solid #e0a800; }
.answer { font-size: 1.1em; font-weight: 600; }
details { margin: 0.5em 0; } summary { cursor: pointer; color: #235; }
"""


def _simulated_vs_real(results: Results) -> str:
    """The section comparing real runs (`python -m live run`) with their simulated twins, if there are any."""
    layout = results.layout
    if not layout.live.exists() or results.runs.empty:
        return ""
    per_subscription = results.named and layout.live_subscriptions.exists()
    if per_subscription:  # each subscription against its own twin: pooled, the fast ones would hide the slow one
        real = pd.read_parquet(layout.live_subscriptions)
        comparison = live.compare(results.subscriptions(), real, results.varied, subscriptions=True)
    else:
        comparison = live.compare(results.runs, pd.read_parquet(layout.live), results.varied)
    _write(layout.live_comparison, lambda p: comparison.to_csv(p, index=False))
    path = live.comparison_figure(comparison, layout.figures)
    if path is None:
        return ""
    shown = comparison[
        ["label", "metric", "replications", "real", "simulated", "simulated_error", "calibrated", "calibrated_error"]
    ]
    return f"""<h2>Simulated vs real</h2>
<p>Every real run (<code>python -m live run</code>) used the seed of its simulated twin, so the two are compared
replication by replication{", each subscription against its own twin" if per_subscription else ""}. "As
specified" is the sweep's own simulation; "with calibration" adds the broker's measured costs
(<code>delivery_delay</code>, <code>service_overhead</code>).</p>
{_figure("simulated_vs_real", path)}
<details><summary>The comparison, per cell and metric (relative errors of the simulated means)</summary>
{_table(shown)}</details>
"""


def answer_target(results: Results, asked: float | None = None) -> tuple[float | None, str]:
    """The p99 target of the answers, and where it came from: asked for, the spec's `[answer]` table, its
    search's own, or none (each cell's default, ten mean service times). A search's answer was found for its own
    target, so asking another is refused."""
    search = results.spec.get("search", {})
    if asked is not None:
        if search:
            raise ValueError(
                f"--slo-p99 ({asked:g}) cannot change a search's answer: its target chose the sizes it probed; "
                "set [answer] below = ... in the spec and run it again"
            )
        return asked, "asked for with --slo-p99"
    if "below" in results.spec.get("answer", {}):
        return float(results.spec["answer"]["below"]), "from the spec's [answer] table"
    if "below" in search:
        return float(search["below"]), "the search's own"
    return None, "the default"


def build(results: Results, slo_p99: float | None = None) -> Path:
    """Write summary.csv, summary.parquet, paired.csv, capacity.csv, figures/ and report.html; return the report.
    `slo_p99` overrides the spec's target (`answer_target`)."""
    slo_p99, source = answer_target(results, slo_p99)
    layout, runs, varied = results.layout, results.runs, results.varied
    for stale in layout.figures.glob("*.png"):  # from an earlier sweep of this name
        stale.unlink()
    summary = stats.summarize(runs, varied)
    judged = stats.judged_metric(runs)
    comparisons = pd.concat([stats.paired(runs, varied, f) for f in ("group_size", "dispatch")], ignore_index=True)
    searched = results.layout.search.exists() and results.spec.get("search", {}).get("field") == "group_size"
    if searched:
        answer = _search_answer(results)
    else:
        answer = stats.capacity(summary, varied, slo_p99, results.planned("group_size"), judged)
    _write(layout.summary_csv, lambda p: summary.to_csv(p, index=False))
    _write(layout.summary_parquet, lambda p: summary.to_parquet(p, index=False))
    _write(layout.paired, lambda p: comparisons.to_csv(p, index=False))
    _write(layout.capacity, lambda p: answer.to_csv(p, index=False))
    # A search's cells are scattered where it probed: its answer figures show them; the grid's figures would
    # draw lines through whatever sizes each setting happened to need.
    grid = len(runs) and not searched and not results.named  # (pooled figures would hide a subscription)
    drawn = figures.draw_all(runs, summary, results.backlog(), varied, layout.figures) if grid else {}
    real = _simulated_vs_real(results)
    scaling = _scaling_section(summary, results.backlog(), layout, slo_p99, judged) if "autoscale" in varied else ""
    windows = results.windows()
    if not windows.empty:
        labels = _over_time_cells(summary, varied, answer, slo_p99, judged)
        over_time = figures.over_time(windows, labels, layout.figures, of=len(summary))
        if over_time is not None:
            drawn["over_time"] = over_time
    per_subscription, subscription_cells = (
        _subscriptions_section(results, layout, slo_p99, source) if results.named else ("", "")
    )
    capacity = (
        _capacity_section(results, runs, summary, comparisons, answer, layout, slo_p99, source)
        if len(runs) and not scaling and not per_subscription
        else ""
    )
    shown_pairs = _pairs_that_matter(comparisons, summary, varied)

    failed = ""
    if results.failures:
        lines = "".join(
            f"<li>cell {f['cell']}, replication {f['replication']}: {html.escape(f['error'].splitlines()[0])}</li>"
            for f in results.failures
        )
        failed = (
            f'<div class="warning"><p>{len(results.failures)} runs failed and are left out:</p><ul>{lines}</ul></div>'
        )
    manifest = pd.DataFrame(
        [(k, v) for k, v in results.manifest.items() if not isinstance(v, dict)], columns=["", "value"]
    )
    spec_text = layout.spec.read_text() if layout.spec.exists() else "(no spec.toml)"
    figures_section = ""
    if drawn:
        figures_section = "<h2>Figures</h2>" + "".join(_figure(name, path) for name, path in drawn.items())
    cells_table = (
        f"<details><summary>Every cell of every subscription (also subscriptions_summary.csv)</summary>"
        f"{subscription_cells}</details>"
        if subscription_cells
        else f"<details><summary>Every cell ({summary.shape[0]} rows; also summary.csv)</summary>"
        f"{_table(_with_interval(summary, varied))}</details>"
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(results.name)}: sweep report</title>
<style>{STYLE}</style></head><body>
<h1>Sweep <code>{html.escape(results.name)}</code></h1>
<p>{html.escape(results.spec.get("description", ""))}. {len(runs)} runs over {summary.shape[0]} cells;
intervals are two-sided 95% Student-t intervals over replications.</p>
{failed}
{scaling or per_subscription or capacity}
{figures_section}
{real}
<h2>Tables</h2>
<details><summary>Paired comparisons of p99 between neighbouring group sizes and dispatch policies
({len(shown_pairs)} rows; every metric in paired.csv)</summary>
<p>Replication r of every cell shares its seed, so neighbours are compared run by run: the paired interval is
usually much narrower than combining the two cells' own intervals (last two columns: half-widths).</p>
{_table(shown_pairs)}</details>
{cells_table}
<details><summary>The spec</summary>
<pre>{html.escape(spec_text)}</pre></details>
<details><summary>Environment</summary>
{_table(manifest)}</details>
</body></html>
"""
    path = layout.report
    _write(path, lambda p: p.write_text(page))
    return path
