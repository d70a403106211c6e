"""`python -m sweeps list | where | status`: what they print."""

import re
import subprocess
import sys

import sweeps.__main__ as cli
from sweeps import load, run_sweep
from sweeps.spec import SHIPPED
from tests.sweeps import failing


def output(capsys, *argv: str) -> str:
    assert cli.main(list(argv)) == 0
    return capsys.readouterr().out


def test_list_names_every_shipped_spec_with_its_cells_and_replications(capsys):
    lines = output(capsys, "list").splitlines()
    specs = sorted(SHIPPED.glob("*.toml"))
    assert len(lines) == len(specs) >= 10
    for line, path in zip(lines, specs):
        sweep = load(path)
        match = re.match(r"(\S+)\s+(\d+) (?:cells|searches) × (\d+) reps  (.*)$", line)
        assert match, line
        assert match.groups() == (path.stem, str(len(sweep.cells())), str(sweep.replications), sweep.description)


def test_where_prints_the_results_folder_of_a_shipped_spec_or_a_file(capsys, write_spec, tmp_path):
    assert output(capsys, "where", "outage").strip() == "results/outage"
    spec = write_spec()
    assert output(capsys, "where", str(spec), "--results", str(tmp_path / "r")).strip() == str(tmp_path / "r/small")


def test_where_runs_as_a_module_as_make_sweep_calls_it():
    done = subprocess.run([sys.executable, "-m", "sweeps", "where", "outage"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == "results/outage\n"


def test_an_unknown_spec_is_refused_cleanly(capsys):
    assert cli.main(["where", "no-such-spec"]) == 2
    assert "error:" in capsys.readouterr().err


def test_status_counts_done_failed_and_pending_runs_per_cell(capsys, write_spec, results):
    spec = write_spec()
    before = output(capsys, "status", str(spec), "--results", str(results)).splitlines()
    assert before[0] == f"small in {results / 'small'}"
    assert len(before) == 1 + 8 + 1 and all(line.endswith(" 0/3 done") for line in before[1:-1])
    assert before[-1] == "total: 0 done, 0 failed, 24 pending"

    run_sweep(load(spec), spec, results, workers=2, progress=False, task=failing.crash_one_cell_kind)
    after = output(capsys, "status", str(spec), "--results", str(results)).splitlines()
    cells = {int(re.match(r"\s+cell\s+(\d+) ", line).group(1)): line for line in after[1:-1]}
    for index, cell in enumerate(load(spec).cells()):
        failing_cell = cell.varied["group_size"] == 2 and cell.varied["dispatch"] == "shared"
        assert cells[index].endswith(" 0/3 done, 3 failed" if failing_cell else " 3/3 done"), cells[index]
        assert "group_size=" in cells[index] and "publish_rate=" in cells[index]
    assert after[-1] == "total: 18 done, 6 failed, 0 pending"
