"""`sweeps.run` from Python: a spec as a dict, stored as its TOML; runs, summary, answers and the report."""

import tomllib

import pytest

import analysis
import sweeps
from sweeps.layout import Layout

TABLES = {
    "name": "api",
    "replications": 2,
    "scenario": {"duration": 300.0, "warmup": 30.0, "dispatch": "shared", "queue_capacity": None},
    "grid": {"group_size": [1, 2]},
}


def test_a_dict_spec_runs_and_reports(tmp_path):
    done = sweeps.run(TABLES, tmp_path, workers=1, progress=False)
    assert len(done.runs) == 4 and not done.failed
    assert set(done.summary["group_size"]) == {1, 2}
    assert "answer" in done.answers.columns
    assert done.report == tmp_path / "api" / "report.html" and done.report.exists()
    stored = tomllib.loads(Layout(done.folder).spec.read_text())
    assert stored["scenario"]["queue_capacity"] == "none"  # None as a spec writes it
    again = sweeps.run(TABLES, tmp_path, workers=1, progress=False, report=False)
    assert again.summary is None and again.report is None and len(again.runs) == 4  # reused, not rerun
    assert analysis.report(done.folder, slo_p99=3.0) == done.report


def test_a_bad_dict_spec_is_refused_naming_the_key(tmp_path):
    with pytest.raises(sweeps.SpecError, match="group_sze"):
        sweeps.run({**TABLES, "grid": {"group_sze": [1]}}, tmp_path)
    assert not (tmp_path / "api").exists()
