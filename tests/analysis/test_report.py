"""Figures are written and not blank; the report is self-contained and names failed runs."""

import json
import re
import shutil
import subprocess
import sys

import matplotlib.image
import pandas as pd
import pytest

from analysis import report
from analysis.results import load

FIGURES = {
    "answer",
    "one_more_consumer",
    "dispatch",
    "latency_vs_load",
    "backlog_over_time",
    "ack_costs",
    "throughput_utilization",
    "theory",
}


@pytest.fixture(scope="module")
def built(mini_results):
    return report.build(load(mini_results))


def test_every_applicable_figure_is_written_and_not_blank(built, mini_results):
    written = {p.stem for p in (mini_results / "figures").glob("*.png")}
    assert written == FIGURES
    for name in FIGURES:
        path = mini_results / "figures" / f"{name}.png"
        assert path.stat().st_size > 20_000
        pixels = matplotlib.image.imread(path)[..., :3]
        assert pixels.std() > 0.05, f"{name} is nearly uniform"
        assert (pixels.mean(axis=2) < 0.5).mean() > 0.005, f"{name} has almost nothing drawn"


def test_summary_tables_are_written(built, mini_results):
    summary = pd.read_csv(mini_results / "summary.csv")
    assert len(summary) == 24 and "latency_p99_ci_high" in summary
    stored = pd.read_parquet(mini_results / "summary.parquet")
    assert stored["queue_capacity"].dtype == "Int64" and stored["dispatch"].dtype == "string"
    assert stored["latency_p99_ci_high"].to_numpy() == pytest.approx(summary["latency_p99_ci_high"].to_numpy())
    paired = pd.read_csv(mini_results / "paired.csv")
    assert set(paired["field"]) == {"group_size", "dispatch"}
    capacity = pd.read_csv(mini_results / "capacity.csv")
    assert len(capacity) == 3 * 2 * 2  # publish_rate × dispatch × failure_prob
    assert set(capacity["answer"]) <= {"1", "2", "none in the sweep"}


def test_report_is_self_contained_and_references_only_existing_files(built, mini_results):
    page = built.read_text()
    references = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert references
    for ref in references:
        if ref.startswith("data:"):
            continue
        assert not re.match(r"[a-z]+://", ref), f"external reference {ref}"
        assert (mini_results / ref).exists(), f"{ref} does not exist"
    assert "<script" not in page and "@import" not in page and "url(" not in page
    for section in ("How many consumers", "Paired comparisons", "Every cell", "The spec", "Environment"):
        assert section in page
    assert page.count("<figure>") == len(FIGURES)


def test_a_folder_with_failed_runs_still_reports_and_says_which(mini_results, tmp_path):
    folder = tmp_path / "mini"
    shutil.copytree(mini_results, folder)
    runs = pd.read_parquet(folder / "runs.parquet")
    dropped = runs[(runs["cell"] == 5) & (runs["replication"] == 1)]
    runs.drop(dropped.index).to_parquet(folder / "runs.parquet", index=False)
    failure = {"cell": 5, "replication": 1, "seed": int(dropped["seed"].iloc[0]), "error": "RuntimeError: boom"}
    (folder / "failures.json").write_text(json.dumps([failure]))
    page = report.build(load(folder)).read_text()
    assert "1 runs failed" in page and "cell 5, replication 1: RuntimeError: boom" in page


def test_cli_writes_the_report_and_refuses_a_missing_folder(mini_results, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "analysis", "report", str(mini_results), "--slo-p99", "5"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and "report.html" in done.stdout
    assert "5 s" in (mini_results / "report.html").read_text()
    missing = subprocess.run(
        [sys.executable, "-m", "analysis", "report", str(tmp_path / "nothing")], capture_output=True, text=True
    )
    assert missing.returncode == 2 and "run the sweep first" in missing.stderr


def test_a_folder_where_every_run_failed_still_reports(mini_results, tmp_path):
    folder = tmp_path / "mini"
    shutil.copytree(mini_results, folder)
    runs = pd.read_parquet(folder / "runs.parquet")
    runs.iloc[0:0].to_parquet(folder / "runs.parquet", index=False)
    failures = [
        {"cell": int(c), "replication": int(r), "seed": 1, "error": "RuntimeError: boom"}
        for c, r in runs[["cell", "replication"]].itertuples(index=False)
    ]
    (folder / "failures.json").write_text(json.dumps(failures))
    page = report.build(load(folder)).read_text()
    assert f"{len(failures)} runs failed" in page
    assert not list((folder / "figures").glob("*.png"))


def test_results_from_an_older_model_are_refused_with_what_to_do(mini_results, tmp_path, capsys):
    from analysis.__main__ import main

    old = tmp_path / "old"
    shutil.copytree(mini_results, old)
    runs = pd.read_parquet(old / "runs.parquet").drop(columns=["consumer_seconds"])
    runs.to_parquet(old / "runs.parquet", index=False)
    assert main(["report", str(old)]) == 2
    err = capsys.readouterr().err
    assert "consumer_seconds" in err and "run the sweep again" in err
