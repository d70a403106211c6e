"""Aggregation, paired differences, capacity and closed forms, against independent computations."""

import math

import numpy as np
import pandas as pd
import pytest

from analysis import stats
from analysis.results import load
from pubsub import Scenario, theory

# Student-t quantiles from tables, by degrees of freedom
T_975 = {2: 4.3026527297, 3: 3.1824463053, 4: 2.7764451052, 9: 2.2621571628}


def test_interval_matches_the_textbook_formula():
    x = np.array([3.1, 2.7, 3.8, 3.3, 2.9])
    mean, std, n, low, high = stats.interval(x)
    s = math.sqrt(sum((v - x.mean()) ** 2 for v in x) / 4)
    assert (mean, std, n) == (pytest.approx(x.mean()), pytest.approx(s), 5)
    assert high - mean == pytest.approx(T_975[4] * s / math.sqrt(5), rel=1e-6)
    assert mean - low == pytest.approx(high - mean)


def test_interval_ignores_missing_values_and_needs_two():
    assert stats.interval([1.0, math.nan, 3.0])[2] == 2
    assert stats.interval(pd.Series([1, None, 3], dtype=object)) == stats.interval([1.0, 3.0])  # a column of objects
    mean, std, n, low, high = stats.interval([5.0])
    assert (mean, n) == (5.0, 1) and math.isnan(low) and math.isnan(high) and math.isnan(std)
    for nothing in ([], [math.nan, math.nan]):
        mean, std, n, low, high = stats.interval(nothing)
        assert n == 0 and all(math.isnan(v) for v in (mean, std, low, high))


def runs_frame(cells: dict[int, dict], values: dict[int, list[float]], metric="latency_p99") -> pd.DataFrame:
    """A runs table with given fields per cell and one metric's values per replication."""
    base = Scenario().model_dump()
    rows = []
    for cell, fields in cells.items():
        for r, v in enumerate(values[cell]):
            row = {**base, **fields, "cell": cell, "replication": r, "seed": 100 + r}
            row.update(dict.fromkeys(stats.METRICS, 0.0))
            row[metric] = v
            rows.append(row)
    return pd.DataFrame(rows)


def test_summary_columns_and_values():
    values = {1: [2.0, 2.5, 2.0, 3.5, 9.0], 0: [1.0, 2.0, 3.0, 4.0, 5.0]}  # cell 1's runs come first
    fixed = {"publishers": 2, "publish_rate": 0.3, "service_time": 1.25}
    runs = runs_frame({1: {**fixed, "group_size": 2}, 0: {**fixed, "group_size": 1}}, values)
    summary = stats.summarize(runs, ["group_size"])
    assert list(summary["cell"]) == [0, 1]
    assert list(summary.columns[:4]) == ["cell", "group_size", "rho", "replications"]
    assert "seed" not in summary and (summary["service_time"] == 1.25).all() and (summary["publishers"] == 2).all()
    for metric in stats.METRICS:
        for suffix in ("mean", "std", "n", "ci_low", "ci_high"):
            assert f"{metric}_{suffix}" in summary
    row = summary.set_index("group_size").loc[2]
    assert row["rho"] == pytest.approx(2 * 0.3 * 1.25 / 2) and row["replications"] == 5
    assert (summary["model"].tolist(), row["latency_theory"]) == (
        ["M/M/1", "E_2/M/1"],  # round-robin, the default dispatch
        pytest.approx(theory.ecm1_latency(0.6, 0.8, 2)),
    )
    x = np.array(values[1])
    half = T_975[4] * x.std(ddof=1) / math.sqrt(5)
    assert row["latency_p99_mean"] == pytest.approx(x.mean()) and row["latency_p99_std"] == pytest.approx(x.std(ddof=1))
    assert (row["latency_p99_ci_low"], row["latency_p99_ci_high"]) == pytest.approx((x.mean() - half, x.mean() + half))
    assert row["latency_p99_n"] == 5


def test_paired_difference_is_sharper_than_separate_intervals():
    rng = np.random.default_rng(1)
    shared = rng.normal(10, 3, 10)  # what the common seed does to both cells
    values = {0: list(shared + rng.normal(0, 0.1, 10)), 1: list(shared - 2 + rng.normal(0, 0.1, 10))}
    runs = runs_frame({0: {"group_size": 1}, 1: {"group_size": 2}}, values)
    table = stats.paired(runs, ["group_size"], "group_size", metrics=["latency_p99"])
    row = table.iloc[0]
    d = np.array(values[1]) - np.array(values[0])
    half = T_975[9] * d.std(ddof=1) / math.sqrt(10)
    assert (row["from"], row["to"], row["n"]) == (1, 2, 10)
    assert row["difference"] == pytest.approx(d.mean())
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((d.mean() - half, d.mean() + half))
    assert row["ci_high"] < 0
    assert row["paired_half_width"] < row["unpaired_half_width"] / 10


def test_paired_differences_step_through_sorted_values_within_each_setting_of_the_other_fields():
    rng = np.random.default_rng(3)
    cells, values = {}, {}
    # (dispatch, max_deliveries, group size): "none" (NaN) is a setting too; the shared cells (listed first)
    # have no group size 1, so their first step is skipped and the next one kept; replication 4 of cell 4 failed
    layout = [("shared", 3, 2), ("shared", 3, 4), ("round-robin", None, 1), ("round-robin", None, 2),
              ("round-robin", None, 4)]  # fmt: skip
    for i, (dispatch, limit, size) in enumerate(layout):
        cells[i] = {"dispatch": dispatch, "max_deliveries": limit, "group_size": size}
        values[i] = list(10.0 / size + np.arange(5.0) ** 2 + rng.normal(0, 0.3, 5))
    runs = runs_frame(cells, values)
    runs = runs[~((runs["cell"] == 4) & (runs["replication"] == 4))]
    varied = ["dispatch", "max_deliveries", "group_size"]
    table = stats.paired(runs, varied, "group_size", metrics=["latency_p99"])
    assert list(table.columns) == ["dispatch", "max_deliveries", "field", "from", "to", "metric", "difference",
                                   "ci_low", "ci_high", "n", "paired_half_width", "unpaired_half_width"]  # fmt: skip
    steps = [(r.dispatch, r.max_deliveries, r.field, r["from"], r.to, r.metric, r.n) for _, r in table.iterrows()]
    assert steps[0][1] != steps[0][1] and steps[1][1] != steps[1][1]  # NaN: the round-robin cells have no limit
    assert [s[:1] + s[2:] for s in steps] == [
        ("round-robin", "group_size", 1, 2, "latency_p99", 5),
        ("round-robin", "group_size", 2, 4, "latency_p99", 4),
        ("shared", "group_size", 2, 4, "latency_p99", 5),
    ]
    row = table.iloc[1]
    left, right = np.array(values[3][:4]), np.array(values[4][:4])
    d = right - left
    half = T_975[3] * d.std(ddof=1) / 2  # n = 4
    assert (row["difference"], row["ci_low"], row["ci_high"]) == pytest.approx((d.mean(), d.mean() - half,
                                                                                d.mean() + half))  # fmt: skip
    assert row["paired_half_width"] == pytest.approx(half)
    alone = [T_975[3] * x.std(ddof=1) / 2 for x in (left, right)]
    assert row["unpaired_half_width"] == pytest.approx(math.hypot(*alone))
    assert stats.paired(runs, ["dispatch"], "group_size").empty
    assert stats.paired(runs.iloc[0:0], ["group_size"], "group_size").empty


def test_capacity_is_the_smallest_group_whose_p99_interval_is_below_target():
    cells, values = {}, {}
    # rate 1: group 1 too slow, group 2 mean below target but interval straddles it, group 4 clear
    # rate 2: nothing clears the 10 s target
    for i, (rate, size, samples) in enumerate(
        [
            (1.0, 1, [20, 22, 21]),
            (1.0, 2, [6, 14, 9]),
            (1.0, 4, [3, 3.2, 3.1]),
            (2.0, 1, [90, 95, 99]),
            (2.0, 2, [30, 35, 33]),
            (2.0, 4, [12, 11, 13]),
        ]
    ):
        cells[i] = {"publish_rate": rate, "group_size": size}
        values[i] = samples
    summary = stats.summarize(runs_frame(cells, values), ["publish_rate", "group_size"])
    answer = stats.capacity(summary, ["publish_rate", "group_size"], slo_p99=10.0).set_index("publish_rate")
    assert answer.loc[1.0, "answer"] == "4"
    assert answer.loc[2.0, "answer"] == "none in the sweep"
    default = stats.capacity(summary, ["publish_rate", "group_size"])  # 10 × service_time = 10 s here
    assert default["slo_p99"].eq(10.0).all()


def test_capacity_is_unknown_when_a_smaller_group_has_no_interval():
    # rate 1: group 2's runs all failed (no cell), group 3 clears the target; rate 2: group 1 ran once
    cells = {
        0: {"publish_rate": 1.0, "group_size": 1},
        1: {"publish_rate": 1.0, "group_size": 3},
        2: {"publish_rate": 2.0, "group_size": 1},
        3: {"publish_rate": 2.0, "group_size": 3},
    }
    values = {0: [20, 22, 21], 1: [3, 3.2, 3.1], 2: [4.0], 3: [3, 3.1, 3.2]}
    summary = stats.summarize(runs_frame(cells, values), ["publish_rate", "group_size"])
    answer = stats.capacity(summary, ["publish_rate", "group_size"], 10.0, sizes=[1, 2, 3]).set_index("publish_rate")
    assert answer.loc[1.0, "answer"] == "unknown: group size 2 has no interval"
    assert answer.loc[2.0, "answer"] == "unknown: group size 1 has no interval"


def test_capacity_judges_each_setting_of_the_other_fields_in_order_and_a_high_end_at_the_target_misses_it():
    columns = ["cell", "publish_rate", "max_deliveries", "group_size", "latency_p99_mean", "latency_p99_ci_high"]
    summary = pd.DataFrame(
        [
            (0, 2.0, math.nan, 1, 40.0, 50.0),
            (1, 2.0, math.nan, 2, 4.0, 5.0),  # the interval reaches the target (ten service times of 0.5 s)
            (2, 2.0, math.nan, 4, 2.5, 3.0),
            (3, 1.0, 3.0, 2, 4.0, 4.9),  # size 1 did not run here
            (4, 1.0, math.nan, 1, 3.5, 4.0),
        ],
        columns=columns,
    ).assign(service_time=0.5)
    answer = stats.capacity(summary, ["publish_rate", "max_deliveries", "group_size"])
    assert list(answer.columns) == ["publish_rate", "max_deliveries", "slo_p99", "answer", "latency_p99_mean",
                                    "latency_p99_ci_high", "metric"]  # fmt: skip
    expected = [
        (1.0, 3.0, 5.0, "unknown: group size 1 has no interval", math.nan, math.nan, "latency_p99"),
        (1.0, math.nan, 5.0, "1", 3.5, 4.0, "latency_p99"),
        (2.0, math.nan, 5.0, "4", 2.5, 3.0, "latency_p99"),
    ]
    got = list(answer.itertuples(index=False, name=None))
    assert [tuple("nan" if v != v else v for v in row) for row in got] == [
        tuple("nan" if v != v else v for v in row) for row in expected
    ]
    one_setting = stats.capacity(summary[summary["publish_rate"] == 2.0], ["group_size"], slo_p99=60.0)
    assert list(one_setting.itertuples(index=False, name=None)) == [(60.0, "1", 40.0, 50.0, "latency_p99")]
    assert stats.capacity(summary, ["publish_rate"]).empty and stats.capacity(summary.iloc[0:0], ["group_size"]).empty


def test_closed_forms_are_matched_only_where_they_apply():
    row = {**Scenario().model_dump(), "publish_rate": 1.5, "group_size": 2}
    assert stats.closed_form_name({**row, "dispatch": "shared"}) == "M/M/2"
    assert stats.closed_form_name({**row, "dispatch": "round-robin"}) == "E_2/M/1"
    assert stats.closed_form_name({**row, "dispatch": "least-loaded"}) is None
    assert stats.closed_form_name({**row, "group_size": 1, "publish_rate": 0.5, "service": "fixed"}) == "M/D/1"
    assert stats.closed_form_name({**row, "arrivals": "bursty"}) is None
    assert stats.closed_form_name({**row, "publish_rate": 2.5}) is None  # unstable
    assert stats.closed_form_name({**row, "ack": True, "ack_timeout": 30.0, "dispatch": "shared"}) == "M/M/2"
    assert stats.closed_form_name({**row, "ack": True, "ack_timeout": 2.0, "dispatch": "shared"}) is None
    # No closed form holds for a time-varying load, a changing group, buffers, batches or extra costs.
    shared = {**row, "dispatch": "shared"}
    for change in [
        {"rate_profile": "sine", "rate_period": 100.0, "rate_amplitude": 0.5},
        {"autoscale": True, "max_consumers": 4, "target_backlog": 1.0},
        {"crash_rate": 0.01},
        {"prefetch": 3},
        {"batch_size": 2},
        {"service_overhead": 0.1},
        {"delivery_delay": 0.1},
        {"poison_prob": 0.01, "ack": True, "ack_timeout": 30.0},
        {"queue_capacity": 10},
        {"outage_duration": 50.0, "outage_start": 100.0},
    ]:
        assert stats.closed_form_name({**shared, **change}) is None, change
    assert stats.closed_form({**row, "dispatch": "shared"}) == pytest.approx(1 / (1 - (0.75**2)) * 1.0, rel=1e-9)


def test_each_closed_form_is_computed_from_the_cells_total_arrival_rate():
    row = {**Scenario().model_dump(), "publishers": 2, "publish_rate": 0.3, "service_time": 1.25}
    lam, mu = 0.6, 0.8
    assert stats.closed_form({**row, "group_size": 1}) == pytest.approx(theory.mm1_latency(lam, mu), rel=1e-12)
    assert stats.closed_form({**row, "group_size": 1, "service": "fixed"}) == pytest.approx(
        theory.md1_latency(lam, mu), rel=1e-12
    )
    for c in (2, 3):
        shared, round_robin = ({**row, "group_size": c, "dispatch": d} for d in ("shared", "round-robin"))
        assert stats.closed_form(shared) == pytest.approx(theory.mmc_latency(lam, mu, c), rel=1e-12)
        assert stats.closed_form(round_robin) == pytest.approx(theory.ecm1_latency(lam, mu, c), rel=1e-12)
    assert math.isnan(stats.closed_form({**row, "group_size": 2, "service": "fixed"}))  # no M/D/c here
    assert stats.closed_form_name({**row, "group_size": 2, "service": "lognormal"}) is None


def test_a_closed_form_needs_a_timeout_that_processing_outlasts_with_probability_below_one_in_a_million():
    row = {**Scenario().model_dump(), "publish_rate": 0.2, "service_time": 2.0, "ack": True}
    # exponential: P(S > t) = exp(-t/2) < 1e-6 once t > 2 ln(1e6) = 27.63 s
    assert stats.closed_form_name({**row, "ack_timeout": 27.6}) is None
    assert stats.closed_form_name({**row, "ack_timeout": 27.7}) == "M/M/1"
    # fixed: a timeout longer than the service time never fires; one equal to it might
    assert stats.closed_form_name({**row, "service": "fixed", "ack_timeout": 2.0}) is None
    assert stats.closed_form_name({**row, "service": "fixed", "ack_timeout": 2.01}) == "M/D/1"
    assert stats.closed_form_name({**row, "service": "lognormal", "ack_timeout": 1000.0}) is None
    assert stats.closed_form_name({**row, "ack_timeout": 1000.0, "failure_prob": 0.01}) is None
    assert stats.closed_form_name({**row, "ack": False, "ack_timeout": 1.0}) == "M/M/1"
    assert stats.closed_form_name({**row, "ack": False, "failure_prob": 0.01}) is None


def test_summary_of_a_real_sweep(mini_results):
    results = load(mini_results)
    summary = stats.summarize(results.runs, results.varied)
    assert len(summary) == 24 and summary["replications"].eq(3).all()
    theory_cells = summary.dropna(subset=["latency_theory"])
    assert set(theory_cells["failure_prob"]) == {0.0}
    assert len(theory_cells) == 12 - 2  # group size 1 at 1.2 msg/s is unstable


def test_a_policy_is_labelled_by_its_group_or_its_autoscaler_settings():
    fixed = {"autoscale": False, "group_size": 3.0}
    scaled = {"autoscale": True, "min_consumers": 2, "max_consumers": 8.0, "target_backlog": 1.5,
              "scale_down_delay": 60.0}  # fmt: skip
    assert stats.policy_label(fixed) == "fixed 3"
    assert stats.policy_label(scaled) == "scaled 2–8, target 1.5, down delay 60 s"
    assert stats.policy_label({**scaled, "rebalance": "none", "rebalance_time": 0.0}) == stats.policy_label(scaled)
    assert stats.policy_label({**scaled, "rebalance": "eager", "rebalance_time": 2.5}) == (
        "scaled 2–8, target 1.5, down delay 60 s, eager rebalances of 2.5 s"
    )


def costs_summary(cells: list[tuple[str, float, float, float]], service_time=1.0) -> pd.DataFrame:
    """A summary of policies given as (policy, consumer-hours, p99 mean, p99 interval's high end)."""
    rows = []
    for cell, (policy, hours, p99, high) in enumerate(cells):
        scaled = policy.startswith("scaled")
        rows.append(
            {
                "cell": cell, "autoscale": scaled, "group_size": 1 if scaled else int(policy.split()[1]),
                "min_consumers": 1, "max_consumers": 8, "target_backlog": 2.0, "scale_down_delay": 30.0 * cell,
                "service_time": service_time,
                "consumer_seconds_mean": hours * 3600, "consumer_seconds_ci_low": hours * 3600 - 360,
                "consumer_seconds_ci_high": hours * 3600 + 720,
                "latency_p99_mean": p99, "latency_p99_ci_low": p99 - (high - p99), "latency_p99_ci_high": high,
                "scale_ups_mean": 3.0 * scaled, "scale_downs_mean": 2.0 * scaled,
            }
        )  # fmt: skip
    return pd.DataFrame(rows)


def test_scaling_costs_judge_each_policy_against_the_target_and_find_the_pareto_front():
    summary = costs_summary(
        [
            ("fixed 2", 2.0, 30.0, 35.0),  # cheapest: on the front, misses the target
            ("fixed 4", 4.0, 5.0, 6.0),  # fastest: on the front
            ("scaled", 3.0, 8.0, 9.0),  # on the front, meets the target
            ("scaled", 3.5, 9.0, 12.0),  # dearer and slower than cell 2
            ("scaled", 3.0, 10.0, 11.0),  # as cheap as cell 2 but slower
            ("scaled", 3.0, 8.0, 10.0),  # ties cell 2 on both: neither beats the other; its high end is the target
            ("fixed 3", 2.5, 30.0, 36.0),  # as slow as cell 0 but dearer
        ],
        service_time=0.5,
    )
    costs = stats.scaling_costs(summary, slo_p99=10.0)
    assert list(costs.columns) == ["cell", "policy", "autoscale", "consumer_hours", "consumer_hours_low",
                                   "consumer_hours_high", "latency_p99", "latency_p99_low", "latency_p99_high",
                                   "scale_actions", "target", "meets", "pareto"]  # fmt: skip
    assert list(costs["consumer_hours"]) == sorted(costs["consumer_hours"])
    costs = costs.set_index("cell")
    assert costs["pareto"].to_dict() == {0: True, 1: True, 2: True, 3: False, 4: False, 5: True, 6: False}
    assert costs["meets"].to_dict() == {0: False, 1: True, 2: True, 3: False, 4: False, 5: False, 6: False}
    row = costs.loc[3]
    assert (row["consumer_hours"], row["consumer_hours_low"], row["consumer_hours_high"]) == (3.5, 3.4, 3.7)
    assert (row["latency_p99"], row["latency_p99_low"], row["latency_p99_high"]) == (9.0, 6.0, 12.0)
    assert (row["scale_actions"], costs.loc[1, "scale_actions"]) == (5.0, 0.0)
    assert (row["policy"], costs.loc[1, "policy"]) == ("scaled 1–8, target 2, down delay 90 s", "fixed 4")
    assert row["autoscale"] and not costs.loc[1, "autoscale"]
    assert costs["target"].eq(10.0).all()
    assert stats.scaling_costs(summary)["target"].eq(5.0).all()  # without a target: ten mean service times
    assert list(stats.scaling_costs(summary.iloc[2:3])["target"]) == [5.0]  # a table of one policy
    assert stats.scaling_costs(summary.iloc[0:0]).empty and stats.scaling_costs(summary.drop(columns="autoscale")).empty


def test_the_answer_names_the_saving_against_the_smallest_fixed_group_that_meets_the_target():
    costs = stats.scaling_costs(costs_summary([("scaled", 8.0, 7.0, 8.0), ("fixed 5", 10.0, 9.0, 9.5),
                                               ("fixed 6", 12.0, 5.0, 6.0)]), slo_p99=10.0)  # fmt: skip
    assert stats.scaling_answer(costs) == (
        "The cheapest policy whose p99 stays wholly below 10 s is scaled 1–8, target 2, down delay 0 s: "
        "8 consumer-hours, p99 7 s [6, 8]. It saves 20% against the smallest fixed group that meets the target, "
        "fixed 5 (10 consumer-hours)."
    )
    fixed_wins = stats.scaling_costs(costs_summary([("scaled", 11.0, 7.0, 8.0), ("fixed 5", 10.0, 9.0, 9.5),
                                                    ("fixed 6", 12.0, 5.0, 6.0)]), slo_p99=10.0)  # fmt: skip
    assert stats.scaling_answer(fixed_wins).endswith(
        "is fixed 5: 10 consumer-hours, p99 9 s [8.5, 9.5]. On this load no autoscaler beats it: the cheapest that "
        "meets the target, scaled 1–8, target 2, down delay 0 s, costs 10% more (11 consumer-hours)."
    )


def test_the_answer_says_when_no_policy_or_no_policy_of_one_kind_meets_the_target():
    only_scaled = stats.scaling_costs(costs_summary([("scaled", 3.0, 7.0, 8.0), ("fixed 2", 2.0, 30.0, 35.0)]), 10.0)
    assert stats.scaling_answer(only_scaled).endswith("[6, 8]. No fixed group in the sweep meets the target.")
    only_fixed = stats.scaling_costs(costs_summary([("fixed 4", 4.0, 7.0, 8.0), ("scaled", 3.0, 30.0, 35.0)]), 10.0)
    assert stats.scaling_answer(only_fixed).endswith("[6, 8]. No autoscaler in the sweep meets the target.")
    none = stats.scaling_costs(costs_summary([("fixed 4", 4.0, 17.0, 18.0), ("scaled", 3.0, 30.0, 35.0)]), 10.0)
    assert stats.scaling_answer(none) == "No policy in this sweep keeps p99 wholly below 10 s."
    assert stats.scaling_answer(none.iloc[:1]) == "No policy in this sweep keeps p99 wholly below 10 s."
    assert stats.scaling_answer(none.iloc[0:0]) == ""
