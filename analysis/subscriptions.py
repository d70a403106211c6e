"""Each subscription as a system of its own: its runs shaped like a uniform sweep's, its intervals, and how
many consumers it needs. A pooled answer would hide the slow subscription behind the fast ones."""

from __future__ import annotations

import json
import math

import pandas as pd

from pubsub import METRICS, Scenario
from pubsub.scenario import TOPIC_FIELDS
from pubsub.topology import Topology

from . import stats
from .answers import _label


def scenario_of(row: pd.Series) -> Scenario:
    """The Scenario a row of runs.parquet ran (a named topology's parts read back from their JSON text)."""
    fields = {}
    for name in Scenario.model_fields:
        value = row[name]
        if name in ("topics", "subscriptions") and isinstance(value, str):
            value = json.loads(value)
        elif value is pd.NA or (isinstance(value, float) and math.isnan(value)):
            value = None
        elif hasattr(value, "item"):  # a numpy scalar
            value = value.item()
        fields[name] = value
    return Scenario.model_validate(fields)


def settings_rows(scenario: Scenario) -> dict[str, dict]:
    """Per subscription, its fields as one uniform subscription's: its own settings, its topic's (the first one's
    if it reads several, with `arrivals` "mixed" where they differ), and `arrival_rate`, its topics' total."""
    topology = Topology.of(scenario)
    topics = {t.name: t.settings for t in topology.topics}
    rows = {}
    for part in topology.subscriptions:
        read = [topics[t] for t in part.topics]
        topic = read[0].model_dump()
        for name in TOPIC_FIELDS:
            if any(getattr(t, name) != topic[name] for t in read):
                topic[name] = "mixed" if isinstance(topic[name], str) else math.nan
        rate = sum(t.publishers * t.publish_rate for t in read)
        rows[part.name] = {**topic, **part.settings.model_dump(), "arrival_rate": rate}
    return rows


def subscription_runs(runs: pd.DataFrame, parts: pd.DataFrame, varied: list[str]) -> pd.DataFrame:
    """One row per run and subscription: the run's cell, varied fields and seed, the subscription's settings in
    place of the flat fields (`settings_rows`), and its own metrics."""
    if runs.empty or parts.empty:
        return pd.DataFrame()
    firsts = {cell: group.iloc[0] for cell, group in runs.groupby("cell")}
    settings = {cell: settings_rows(scenario_of(first)) for cell, first in firsts.items()}
    rows = []
    for _, part in parts.iterrows():
        cell, name = part["cell"], part["subscription"]
        run = {f: firsts[cell][f] for f in Scenario.model_fields}  # the run's fields (its shape, its length)
        owner = {f: part[f] for f in ["cell", "replication", "seed", *varied]}
        rows.append(
            {
                **run,
                **settings[cell][name],
                **owner,
                "subscription": name,
                **{m: part.get(m, math.nan) for m in METRICS},
            }
        )
    return pd.DataFrame(rows)


def size_driver(name: str, varied: list[str], scenario: Scenario) -> str | None:
    """The varied field that sets subscription `name`'s group size, if one does: its own path, or the flat
    `group_size` where the subscription does not set its own."""
    own = f"subscriptions.{name}.group_size"
    if own in varied:
        return own
    named = scenario.subscriptions or {}
    sets_own = name in named and "group_size" in named[name].model_fields_set
    return "group_size" if "group_size" in varied and not sets_own else None


def per_subscription(
    runs: pd.DataFrame, parts: pd.DataFrame, varied: list[str], slo_p99: float | None = None
) -> dict[str, tuple[pd.DataFrame, pd.DataFrame, list[str]]]:
    """Per subscription, in the run's order: its summary (one row per cell, `stats.summarize`'s columns), its
    capacity answer (`stats.capacity`, or, where its group size was not varied, whether its one size meets the
    target), and the other varied fields the answer depends on.

    A field of another subscription's part changes nothing of this one's (its streams are its own), unless a
    blocking queue couples them through the publishers: then every varied field counts."""
    frame = subscription_runs(runs, parts, varied)
    if frame.empty:
        return {}
    base = scenario_of(runs.iloc[0])
    groups = [part.settings for part in Topology.of(base).subscriptions]
    coupled = any(s.overflow == "block" and s.queue_capacity is not None for s in groups)
    out = {}
    for name in dict.fromkeys(parts["subscription"]):
        mine = frame[frame["subscription"] == name]
        theirs = [f for f in varied if f.startswith("subscriptions.") and f.split(".")[1] != name]
        if theirs and not coupled:
            mine = mine[(mine[theirs] == mine[theirs].iloc[0]).all(axis=1)].drop(columns=theirs)
        driver = size_driver(name, varied, base)
        others = [f for f in varied if f != driver and (coupled or f not in theirs)]
        own_varied = [*others, "group_size"] if driver else others
        summary = stats.summarize(mine.drop(columns=[driver] if driver and driver != "group_size" else []), own_varied)
        if driver:
            answer = stats.capacity(summary, own_varied, slo_p99)
        else:
            answer = fixed_size_answer(summary, others, slo_p99)
        out[name] = (summary, answer, others)
    return out


def fixed_size_answer(summary: pd.DataFrame, others: list[str], slo_p99: float | None) -> pd.DataFrame:
    """For a subscription whose group size the sweep did not vary: per setting, whether that one size meets the
    target (its p99 interval wholly below it)."""
    rows = []
    for _, cell in summary.iterrows():
        target = stats.p99_target(slo_p99, cell["service_time"])
        size = int(cell["group_size"])
        meets = cell["latency_p99_ci_high"] < target
        rows.append(
            {
                **{f: cell[f] for f in others},
                "slo_p99": target,
                "answer": f"its {size} (not varied) {'meets' if meets else 'misses'} it",
                "latency_p99_mean": cell["latency_p99_mean"],
                "latency_p99_ci_high": cell["latency_p99_ci_high"],
            }
        )
    return pd.DataFrame(rows)


def sentence(answers: dict[str, tuple[pd.DataFrame, pd.DataFrame, list[str]]]) -> str:
    """The answer in words, subscription by subscription: how many consumers each needs for its p99 target,
    per setting of the other varied fields (settings with the same answer together)."""
    parts = []
    for name, (_, answer, others) in answers.items():
        if answer.empty:
            continue
        targets = " or ".join(f"{t:g} s" for t in sorted(set(answer["slo_p99"])))
        by_answer: dict[str, list[str]] = {}
        for _, row in answer.iterrows():
            where = ", ".join(f"{_short(f)} {_label(row[f])}" for f in others)
            by_answer.setdefault(str(row["answer"]), []).append(where)
        said = []
        for text, settings in by_answer.items():
            needs = text if not text.isdigit() else f"{text} consumer{'s' if text != '1' else ''}"
            if len(by_answer) == 1 or not any(settings):
                said.append(needs + (" at every setting" if len(settings) > 1 else ""))
            else:
                said.append(f"{needs} at {'; '.join(settings)}")
        parts.append(f"{name} (p99 below {targets}): {'; '.join(said)}")
    return "Consumers needed per subscription — " + ". ".join(parts) + "." if parts else ""


def _short(path: str) -> str:
    """A varied field as the sentence names it: `orders publish_rate` for `topics.orders.publish_rate`."""
    pieces = path.split(".")
    return " ".join(pieces[1:]) if len(pieces) == 3 else path
