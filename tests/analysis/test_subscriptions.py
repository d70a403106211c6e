"""A named topology's report answers per subscription, and hides the pooled answer."""

import textwrap

from analysis import reporting
from analysis.results import load as load_results
from sweeps import load, run_sweep

SPEC = """
name = "named-report"
replications = 3
seed = 5
[scenario]
duration = 1500.0
warmup = 150.0
dispatch = "shared"
topics.orders.publish_rate = 0.5
subscriptions.fast = { topics = ["orders"], service_time = 0.2 }
subscriptions.slow = { topics = ["orders"], service_time = 3.0 }
[grid]
"subscriptions.slow.group_size" = [1, 2, 3, 4]
"""


def test_the_report_says_how_many_consumers_each_subscription_needs(tmp_path):
    path = tmp_path / "spec.toml"
    path.write_text(textwrap.dedent(SPEC))
    run_sweep(load(path), path, tmp_path / "results", progress=False, workers=1)
    results = load_results(tmp_path / "results" / "named-report")
    page = reporting.build(results).read_text()
    assert "How many consumers does each subscription need?" in page
    assert "fast (p99 below 2 s): its 1 (not varied) meets it" in page
    assert "slow (p99 below 30 s): " in page and "How many consumers are enough?" not in page
    assert (results.folder / "figures" / "answer_slow.png").exists()
    assert (results.folder / "subscriptions_summary.csv").exists()
