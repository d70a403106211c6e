"""`python -m live run SPEC`: real runs paired with the sweep's simulated ones, resumable, and in the report."""

import pandas as pd

from analysis import reporting
from analysis.results import load as load_results
from live.sweep import run_spec
from sweeps import load, run_sweep

SPEC = """
name = "tiny-live"
description = "two shared groups, real and simulated"
replications = 2
seed = 5
[scenario]
dispatch = "shared"
duration = 60.0
warmup = 5.0
[grid]
group_size = [1, 2]
[together]
publish_rate = [0.6]
"""


def test_real_runs_pair_with_simulated_ones_and_the_report_compares_them(tmp_path, server):
    spec = tmp_path / "tiny.toml"
    spec.write_text(SPEC)
    results = tmp_path / "results"
    run_sweep(load(spec), spec, results, workers=1, progress=False)
    assert run_spec(str(spec), results, server.url, None, fresh=False, max_hours=1.0, calibration_rounds=1) == 0
    live = pd.read_parquet(results / "tiny-live" / "live.parquet")
    runs = pd.read_parquet(results / "tiny-live" / "runs.parquet")
    assert len(live) == 4 and live["conserved"].all()
    paired = live.merge(runs, on=["cell", "replication"], suffixes=("_real", "_sim"))
    assert (paired["seed_real"] == paired["seed_sim"]).all()
    assert (paired["published_real"] == paired["published_sim"]).all()
    assert {"calibrated_delivery_delay", "calibrated_service_overhead", "calibrated_latency_p99"} <= set(live.columns)

    # Resumable: nothing is run again.
    parts = sorted((results / "tiny-live" / "parts" / "live").iterdir())
    stamps = [p.stat().st_mtime_ns for p in parts]
    assert run_spec(str(spec), results, server.url, None, fresh=False, max_hours=1.0) == 0
    assert [p.stat().st_mtime_ns for p in parts] == stamps

    page = reporting.build(load_results(results / "tiny-live")).read_text()
    assert "<h2>Simulated vs real</h2>" in page and "simulated_vs_real" in page
    comparison = pd.read_csv(results / "tiny-live" / "simulated_vs_real.csv")
    assert set(comparison["label"]) == {"group_size=1, publish_rate=0.6", "group_size=2, publish_rate=0.6"}
    assert (results / "tiny-live" / "figures" / "simulated_vs_real.png").stat().st_size > 10_000


def test_a_spec_too_long_for_real_time_is_refused(tmp_path):
    spec = tmp_path / "long.toml"
    spec.write_text('name = "long"\nreplications = 3\n[scenario]\ndispatch = "shared"\nduration = 500000.0\n')
    try:
        run_spec(str(spec), tmp_path / "results", "redis://127.0.0.1:1/0", None, fresh=False, max_hours=2.0)
    except ValueError as error:
        assert "would take about 8.3 hours" in str(error) and "--max-hours" in str(error)
    else:
        raise AssertionError("an eight-hour live sweep ran")
    assert not (tmp_path / "results").exists()


NAMED = """
name = "tiny-named-live"
replications = 2
seed = 5
[scenario]
dispatch = "shared"
duration = 60.0
warmup = 5.0
[scenario.topics.orders]
publish_rate = 0.8
[scenario.subscriptions.fast]
topics = ["orders"]
service_time = 0.5
[scenario.subscriptions.slow]
topics = ["orders"]
[grid]
"subscriptions.slow.group_size" = [1, 2]
"""


def test_a_named_topologys_real_runs_are_compared_subscription_by_subscription(tmp_path, server):
    spec = tmp_path / "named.toml"
    spec.write_text(NAMED)
    results = tmp_path / "results"
    run_sweep(load(spec), spec, results, workers=1, progress=False)
    assert run_spec(str(spec), results, server.url, None, fresh=False, max_hours=1.0, calibration_rounds=1) == 0
    folder = results / "tiny-named-live"
    parts = pd.read_parquet(folder / "live_subscriptions.parquet")
    assert len(parts) == 2 * 2 * 2 and set(parts["subscription"]) == {"fast", "slow"}  # cells × reps × parts
    assert {"calibrated_latency_p99", "subscriptions.slow.group_size"} <= set(parts.columns)
    page = reporting.build(load_results(folder)).read_text()
    assert "each subscription against its own twin" in page
    comparison = pd.read_csv(folder / "simulated_vs_real.csv")
    assert set(comparison["subscription"]) == {"fast", "slow"}
    assert "slow: subscriptions.slow.group_size=2" in set(comparison["label"])
