"""Figures are written and not blank; the report is self-contained and names failed runs."""

import json
import math
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser

import matplotlib.image
import pandas as pd
import pytest

from analysis import reporting
from analysis.results import load
from sweeps.layout import Layout

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


def test_a_folder_with_failed_runs_still_reports_and_says_which(mini_results, tmp_path, without_figures):
    folder = tmp_path / "mini"
    shutil.copytree(mini_results, folder)
    runs = pd.read_parquet(folder / "runs.parquet")
    dropped = runs[(runs["cell"] == 5) & (runs["replication"] == 1)]
    runs.drop(dropped.index).to_parquet(folder / "runs.parquet", index=False)
    failure = {"cell": 5, "replication": 1, "seed": int(dropped["seed"].iloc[0]), "error": "RuntimeError: boom"}
    (folder / "failures.json").write_text(json.dumps([failure]))
    page = reporting.build(load(folder)).read_text()
    assert "1 runs failed" in page and "cell 5, replication 1: RuntimeError: boom" in page


def test_cli_writes_the_report_with_the_slo_it_is_given(mini_results, tmp_path, without_figures, capsys):
    from analysis.__main__ import main

    folder = tmp_path / "mini"
    shutil.copytree(mini_results, folder)
    assert main(["report", str(folder), "--slo-p99", "5"]) == 0
    assert "report.html" in capsys.readouterr().out
    assert re.search(
        r"lies wholly below\s+the target \(5 s, asked for with --slo-p99\)", (folder / "report.html").read_text()
    )
    capacity = pd.read_csv(folder / "capacity.csv", dtype={"answer": str})
    assert (capacity["slo_p99"] == 5.0).all()
    summary = pd.read_csv(folder / "summary.csv")
    assert {(r.publish_rate, r.dispatch, r.failure_prob): r.answer for r in capacity.itertuples()} == (
        expected_capacity(summary, 5.0)
    )


def test_python_m_analysis_refuses_a_missing_folder(tmp_path):
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
    page = reporting.build(load(folder)).read_text()
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


class Tables(HTMLParser):
    """Every table of a page, as rows of cell texts, under the heading (h2, or a fold's summary) it follows."""

    def __init__(self, page: str):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._heading: str | None = None
        self._text: list[str] | None = None
        self._row: list[str] | None = None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        if tag in ("h2", "summary", "td", "th"):
            self._text = []
        elif tag == "tr":
            self._row = []
        elif tag == "table":
            self.tables[self._heading or ""] = []

    def handle_endtag(self, tag):
        if tag in ("h2", "summary"):
            self._heading = " ".join("".join(self._text or []).split())
        elif tag in ("td", "th") and self._row is not None:
            self._row.append("".join(self._text or []))
        elif tag == "tr" and self._row is not None:
            self.tables[self._heading or ""].append(self._row)
            self._row = None
        if tag in ("h2", "summary", "td", "th"):
            self._text = None

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)


def shown(value) -> str:
    """A number as the report prints it: four significant digits, NaN as a dash."""
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def table_of(page: str, heading: str) -> pd.DataFrame:
    """The table under the heading that starts with `heading`."""
    (rows,) = [rows for name, rows in Tables(page).tables.items() if name.startswith(heading)]
    return pd.DataFrame(rows[1:], columns=rows[0])


def test_every_cell_table_shows_the_numbers_of_summary_csv(built, mini_results):
    page = built.read_text()
    table = table_of(page, "Every cell").set_index("cell")
    summary = pd.read_csv(mini_results / "summary.csv").set_index("cell")
    assert sorted(table.index.astype(int)) == sorted(summary.index)
    checked = 0
    for cell, row in summary.iterrows():
        html_row = table.loc[str(cell)]
        assert html_row["rho"] == shown(row["rho"]) and html_row["replications"] == str(row["replications"])
        for metric, label in reporting.SHOWN:
            if label not in table:
                continue
            mean, low, high = (row[f"{metric}_{part}"] for part in ("mean", "ci_low", "ci_high"))
            expected = shown(mean) if math.isnan(low) else f"{shown(mean)} [{shown(low)}, {shown(high)}]"
            assert html_row[label] == expected, (cell, metric)
            checked += 1
    assert {"mean latency (s)", "p99 latency (s)", "throughput (msg/s)", "utilization"} <= set(table.columns)
    assert checked >= 24 * 4


def expected_capacity(summary: pd.DataFrame, target: float) -> dict[tuple, str]:
    """The smallest group size whose p99 interval lies wholly below `target`, from summary.csv directly."""
    answers = {}
    for key, group in summary.groupby(["publish_rate", "dispatch", "failure_prob"]):
        highs = group.set_index("group_size")["latency_p99_ci_high"].sort_index()
        meeting = highs[highs < target]
        answers[key] = str(meeting.index[0]) if len(meeting) else "none in the sweep"
    return answers


@pytest.mark.parametrize("slo", [None, 60.0])
def test_capacity_table_shows_capacity_csv_and_the_answer_follows_the_slo(mini_results, tmp_path, without_figures, slo):
    folder = tmp_path / "mini"
    shutil.copytree(mini_results, folder)
    page = reporting.build(load(folder), slo).read_text()
    target = 10.0 if slo is None else slo  # default: ten mean service times of 1 s
    sentence = re.search(r"lies wholly below\s+the target \(([^)]*)\)", page).group(1)
    assert sentence == (
        "ten mean service times, the default" if slo is None else f"{slo:g} s, asked for with --slo-p99"
    )

    capacity = pd.read_csv(Layout(folder).capacity, dtype={"answer": str})
    summary = pd.read_csv(folder / "summary.csv")
    expected = expected_capacity(summary, target)
    got = {(r.publish_rate, r.dispatch, r.failure_prob): r.answer for r in capacity.itertuples()}
    assert got == expected
    assert (capacity["slo_p99"] == target).all()

    table = table_of(page, "The answer per setting")
    columns = ["publish_rate", "dispatch", "failure_prob", "slo_p99", "answer", "latency_p99_mean",
               "latency_p99_ci_high", "metric"]  # fmt: skip
    assert list(table.columns) == [c if c != "answer" else "smallest group meeting the target" for c in columns]
    assert table.values.tolist() == [[shown(v) for v in row] for row in capacity[columns].itertuples(index=False)]


def test_the_slo_makes_a_difference_to_the_capacity_answer(mini_results):
    """The sweep's cells meet a loose target and miss a tight one, so the tests above see the answer move."""
    summary = pd.read_csv(mini_results / "summary.csv")
    loose, default, tight = (expected_capacity(summary, target) for target in (60.0, 10.0, 5.0))
    assert len({loose[k] for k in loose}) > 1 and loose != default != tight
