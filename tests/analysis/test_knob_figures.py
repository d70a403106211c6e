"""The shipped specs for broker knobs run, and the report draws what each one studies."""

import html
import re

import matplotlib.image
import pandas as pd
import pytest

from analysis import reporting
from analysis.results import load as load_results
from sweeps import load, run_sweep
from sweeps.spec import SHIPPED

KNOBS = {
    "partitions": "partitions",
    "prefetch": "prefetch",
    "batching": "batching",
    "poison": "poison",
}  # autoscaling's figures are checked with its answer, below


def shortened(spec: str) -> str:
    """The shipped spec's question over a short run (400 s), with two replications."""
    text = (SHIPPED / f"{spec}.toml").read_text()
    for field, value in (("replications", "2"), ("duration", "400.0"), ("warmup", "40.0")):
        text, count = re.subn(rf"^{field} = .*$", f"{field} = {value}", text, flags=re.M)
        assert count == 1, f"{spec}.toml: no single {field} line"
    return text


@pytest.mark.parametrize("spec", sorted(KNOBS))
def test_a_knob_spec_runs_and_its_report_draws_its_figure(spec, tmp_path):
    path = tmp_path / f"{spec}.toml"
    path.write_text(shortened(spec))
    folder = tmp_path / "results" / load(path).name
    run_sweep(load(path), path, tmp_path / "results", workers=2, progress=False)
    page = reporting.build(load_results(folder)).read_text()
    figure = folder / "figures" / f"{KNOBS[spec]}.png"
    pixels = matplotlib.image.imread(figure)[..., :3]
    assert pixels.std() > 0.05 and (pixels.mean(axis=2) < 0.5).mean() > 0.005
    assert f'alt="{KNOBS[spec]}"' in page
    runs = pd.read_parquet(folder / "runs.parquet")
    assert len(runs) == 2 * len(load(path).cells())


def test_no_dead_letter_limit_is_a_cell_of_its_own(tmp_path):
    text = shortened("poison").split("[grid]")[0] + '[grid]\npoison_prob = [0.0, 0.02]\nmax_deliveries = [3, "none"]\n'
    path = tmp_path / "poison.toml"
    path.write_text(text)
    run_sweep(load(path), path, tmp_path / "results", workers=1, progress=False)
    runs = pd.read_parquet(tmp_path / "results" / "poison" / "runs.parquet")
    unlimited = runs[runs["max_deliveries"].isna()]
    assert len(unlimited) == 4 and (unlimited["dead_lettered"] == 0).all()
    poisoned = runs[(runs["poison_prob"] > 0) & runs["max_deliveries"].notna()]
    assert (poisoned["dead_lettered"] > 0).all()


def test_the_autoscaling_report_leads_with_the_cheapest_policy_that_meets_the_target(tmp_path):
    path = tmp_path / "autoscaling.toml"
    path.write_text(shortened("autoscaling"))
    run_sweep(load(path), path, tmp_path / "results", workers=2, progress=False)
    folder = tmp_path / "results" / "autoscaling"
    page = reporting.build(load_results(folder), slo_p99=20.0).read_text()
    costs = pd.read_csv(folder / "scaling.csv")
    meeting = costs[costs["meets"]].sort_values("consumer_hours")
    answer = re.search(r'<p class="answer">(.*?)</p>', page, re.S).group(1)
    assert "below 20 s" in answer
    if meeting.empty:
        assert answer.startswith("No policy")
    else:
        assert f"is {meeting.iloc[0]['policy']}:" in html.unescape(answer)
        assert (meeting["latency_p99_high"] < 20.0).all()
    for figure in ("cost_vs_p99", "scaling_over_time"):
        pixels = matplotlib.image.imread(folder / "figures" / f"{figure}.png")[..., :3]
        assert pixels.std() > 0.05 and f'alt="{figure}"' in page
