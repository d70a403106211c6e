"""Running sweeps: end to end, resumable, isolated failures, identical on every backend."""

import json
import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pandas as pd

import sweeps.__main__ as cli
import sweeps.driver as driver
from pubsub import METRICS, WALL_CLOCK_METRICS, Scenario
from pubsub.engines import uncovered
from sweeps import load, run_sweep
from tests.sweeps import failing

WALL = list(WALL_CLOCK_METRICS)


def sweep_of(path: Path, results: Path, **options):
    return run_sweep(load(path), path, results, progress=False, **options)


def test_small_sweep_end_to_end(write_spec, results):
    spec = write_spec()
    outcome = sweep_of(spec, results, workers=2)
    folder = results / "small"
    runs = pd.read_parquet(folder / "runs.parquet")
    assert len(runs) == 8 * 3 and outcome.computed == 24 and not outcome.failed
    assert list(runs.columns) == ["cell", "replication", *Scenario.model_fields, *METRICS, "engine"]
    manifest = json.loads((folder / "manifest.json").read_text())
    engines = {cell.index: "asimpy" if uncovered(cell.scenario) else "compiled" for cell in load(spec).cells()}
    assert list(runs["engine"]) == [engines[cell] for cell in runs["cell"]] and manifest["engine"] == "auto"
    assert sum(manifest["engines_ran"].values()) == len(runs)
    pd.testing.assert_frame_equal(runs, outcome.runs)  # dtypes survive the round trip
    assert runs["queue_capacity"].dtype == "Int64" and runs["queue_capacity"].isna().all()
    assert runs.groupby("replication")["seed"].nunique().eq(1).all()  # common random numbers
    assert runs.groupby("cell")["seed"].nunique().eq(3).all()
    assert (runs["published"] > 0).all()

    backlog = pd.read_parquet(folder / "backlog.parquet")
    assert list(backlog.columns[:6]) == ["cell", "group_size", "dispatch", "publish_rate", "replication", "seed"]
    assert set(backlog["cell"]) == set(range(8))

    parts = pd.read_parquet(folder / "subscriptions.parquet")
    owners = ["cell", "group_size", "dispatch", "publish_rate", "replication", "seed", "subscription"]
    assert list(parts.columns) == [*owners, *(m for m in METRICS if m not in WALL)]
    assert len(parts) == len(runs) and set(parts["subscription"]) == {"t0/s0"}  # one subscription per run
    pd.testing.assert_series_equal(parts["latency_p99"], runs["latency_p99"])  # ...which is the whole run

    manifest = json.loads((folder / "manifest.json").read_text())
    for key in ("python", "asimpy", "git_commit", "backend", "started", "finished"):
        assert manifest[key]
    assert manifest["runs_done"] == 24 and manifest["interrupted"] is False
    assert (folder / "spec.toml").read_text() == spec.read_text()
    cells = pd.read_csv(folder / "cells.csv")
    assert cells["done"].eq(3).all()


NAMED = """
name = "named"
replications = 2
seed = 3

[scenario]
duration = 200.0
warmup = 20.0
dispatch = "shared"
topics.orders.publish_rate = 0.5
topics.users.publish_rate = 0.8
subscriptions.email = { topics = ["orders"], service_time = 3.0 }
subscriptions.analytics = { topics = ["orders", "users"], service_time = 0.5 }

[grid]
group_size = [1, 2]
"""


def test_a_named_topology_sweeps_and_stores_each_subscriptions_metrics(write_spec, results):
    """A flat field varied in the grid is every part's default; each run stores a row per subscription."""
    outcome = sweep_of(write_spec(NAMED), results, workers=1)
    runs = outcome.runs
    assert runs["topics"].dtype == "string" and runs["topics"].str.contains('"orders"').all()
    parts = pd.read_parquet(results / "named" / "subscriptions.parquet")
    assert len(parts) == 2 * len(runs)
    assert list(parts["subscription"][:2]) == ["email", "analytics"]
    by_run = parts.groupby(["cell", "replication"])
    totals = by_run[["processed", "dropped", "delivered"]].sum().reset_index()
    pd.testing.assert_frame_equal(
        totals, runs[["cell", "replication", "processed", "dropped", "delivered"]], check_names=False
    )
    email = parts[parts["subscription"] == "email"].set_index("group_size")["latency_mean"]
    assert email.groupby(level=0).mean()[2] < email.groupby(level=0).mean()[1]  # a second consumer helps


def test_running_again_computes_nothing_and_fresh_starts_over(write_spec, results):
    spec = write_spec()
    first = sweep_of(spec, results, workers=2)
    again = sweep_of(spec, results, workers=2)
    assert again.computed == 0
    pd.testing.assert_frame_equal(first.runs.drop(columns=WALL), again.runs.drop(columns=WALL))
    assert sweep_of(spec, results, workers=2, fresh=True).computed == 24


def test_dask_gives_the_local_pools_table(write_spec, tmp_path):
    """On a new LocalCluster, and on an existing scheduler given by its address."""
    from dask.distributed import LocalCluster

    spec = write_spec()
    local = sweep_of(spec, tmp_path / "local", workers=2)
    dask = sweep_of(spec, tmp_path / "dask", workers=2, dask="local")
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        remote = sweep_of(spec, tmp_path / "remote", dask=cluster.scheduler_address)
    assert json.loads((tmp_path / "remote/small/manifest.json").read_text())["backend"].startswith(
        "dask scheduler tcp://"
    )
    for other, folder in [(dask, "dask"), (remote, "remote")]:
        pd.testing.assert_frame_equal(local.runs.drop(columns=WALL), other.runs.drop(columns=WALL))
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / "local/small/backlog.parquet"),
            pd.read_parquet(tmp_path / f"{folder}/small/backlog.parquet"),
        )


def test_a_failing_cell_is_recorded_and_the_others_finish(write_spec, results):
    outcome = sweep_of(write_spec(), results, workers=2, task=failing.crash_one_cell_kind)
    assert len(outcome.failed) == 2 * 3  # the two group_size=2 shared cells (one per rate), 3 runs each
    assert {(f["group_size"], f["dispatch"]) for f in outcome.failed} == {(2, "shared")}
    assert all("ValidationError" in f["error"] and "publish_rate" in f["error"] for f in outcome.failed)
    assert len(outcome.runs) == 24 - 6
    recorded = json.loads((results / "small" / "failures.json").read_text())
    assert len(recorded) == 6
    # Fixed, the same sweep computes only the failed runs.
    assert sweep_of(write_spec(), results, workers=2).computed == 6


# Runs of 2000 copies travel three to a batch, so each cell is one batch, and the cell that kills its worker
# (group_size=2, shared) is the last one sent.
ONE_BATCH_PER_CELL = """
name = "deaths"
replications = 3
seed = 7
[scenario]
publish_rate = 1.0
duration = 2000.0
warmup = 100.0
[grid]
group_size = [1, 2]
dispatch = ["round-robin", "shared"]
"""


def test_a_worker_that_dies_loses_no_finished_run_and_the_sweep_ends_cleanly(write_spec, results):
    spec = write_spec(ONE_BATCH_PER_CELL)
    # One worker takes the batches in order: the three cells before the deadly one finish first.
    outcome = sweep_of(spec, results, workers=1, task=failing.die_in_one_cell_kind)
    assert outcome.crashed
    assert sorted(outcome.runs["cell"]) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert {(f["group_size"], f["dispatch"]) for f in outcome.failed} == {(2, "shared")}
    assert sorted(f["replication"] for f in outcome.failed) == [0, 1, 2]
    assert all("worker process died" in f["error"] for f in outcome.failed)
    folder = results / "deaths"
    stored = pd.read_parquet(folder / "runs.parquet")
    pd.testing.assert_frame_equal(stored, outcome.runs)
    cells = pd.read_csv(folder / "cells.csv")
    assert list(cells["done"]) == [3, 3, 3, 0] and list(cells["failed"]) == [0, 0, 0, 3]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["runs_done"] == 9 and manifest["runs_failed"] == 3
    assert len(json.loads((folder / "failures.json").read_text())) == 3
    # Once the cause is gone, the same sweep computes only the missing runs and keeps the others as they were
    # (their wall-clock times too: they were not run again).
    again = sweep_of(spec, results, workers=2)
    assert again.computed == 3 and not again.failed and len(again.runs) == 12
    pd.testing.assert_frame_equal(again.runs[again.runs["cell"] < 3].reset_index(drop=True), outcome.runs)


def test_an_old_error_never_outlives_a_success(write_spec, results):
    spec = write_spec()
    sweep_of(spec, results, workers=2)
    part = next((results / "small" / "parts" / "runs").glob("*.arrow"))
    (results / "small" / "parts" / "errors" / f"{part.stem}.json").write_text('{"cell": 0, "error": "stale"}')
    again = sweep_of(spec, results, workers=2)
    assert again.computed == 0 and not again.failed


def test_cli_exits_nonzero_with_a_short_summary_when_runs_fail(write_spec, results, monkeypatch, capsys):
    monkeypatch.setattr(driver, "run_sweep", partial(run_sweep, task=failing.crash_one_cell_kind, progress=False))
    code = cli.main(["run", str(write_spec()), "--results", str(results), "--workers", "2"])
    err = capsys.readouterr().err
    assert code == 1
    assert "6 runs failed" in err and "publish_rate" in err and "Traceback" not in err


def test_a_real_exception_in_the_simulation_is_caught_in_the_worker():
    from sweeps.task import run_scenario

    result = run_scenario({"publish_rate": -1.0})
    assert "error" in result and "publish_rate" in result["error"]


SLOW = """
name = "slow"
replications = 4
seed = 3
[scenario]
duration = 20000.0
warmup = 100.0
[grid]
group_size = [1, 2, 3, 4]
publish_rate = [0.5, 0.9]
"""


def start(spec: Path, results: Path) -> subprocess.Popen:
    # A job started in the background by a non-interactive shell (as CI may be) inherits
    # SIGINT ignored, and Python then installs no Ctrl-C handler: restore the default.
    return subprocess.Popen(
        [sys.executable, "-m", "sweeps", "run", str(spec), "--results", str(results), "--workers", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def wait_for_parts(folder: Path, at_least: int, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = len(list(folder.glob("parts/runs/*.arrow")))
        if done >= at_least:
            return done
        time.sleep(0.05)
    raise AssertionError(f"fewer than {at_least} runs finished in {timeout} s")


def test_sweep_killed_with_sigkill_resumes_to_the_uninterrupted_table(write_spec, tmp_path):
    spec = write_spec(SLOW)
    killed = tmp_path / "killed"
    process = start(spec, killed)
    wait_for_parts(killed / "slow", 5)
    os.killpg(process.pid, signal.SIGKILL)  # the driver and its workers, mid-write or not
    process.wait()
    survived = len(list((killed / "slow").glob("parts/runs/*.arrow")))
    assert 5 <= survived < 32

    resumed = sweep_of(spec, killed, workers=2)
    assert resumed.computed == 32 - survived
    whole = sweep_of(spec, tmp_path / "whole", workers=2)
    pd.testing.assert_frame_equal(resumed.runs.drop(columns=WALL), whole.runs.drop(columns=WALL))
    assert not list(killed.rglob("*.tmp"))


def test_ctrl_c_stops_cleanly_and_keeps_finished_runs(write_spec, tmp_path):
    spec = write_spec(SLOW)
    process = start(spec, tmp_path)
    wait_for_parts(tmp_path / "slow", 3)
    os.killpg(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "run the same command again to resume" in err and "Traceback" not in err
    runs = pd.read_parquet(tmp_path / "slow" / "runs.parquet")
    assert 3 <= len(runs) < 32


PRECISE = """
name = "precise"
replications = 3
seed = 5
[scenario]
duration = 2000.0
warmup = 200.0
[grid]
publish_rate = [0.2, 0.9]
[precision]
metric = "latency_mean"
relative_half_width = 0.10
max_replications = 24
batch = 3
"""


def test_precision_target_adds_replications_where_needed(write_spec, results):
    spec = write_spec(PRECISE)
    outcome = sweep_of(spec, results, workers=2)
    cells = pd.read_csv(results / "precise" / "cells.csv").set_index("publish_rate")
    light, heavy = cells.loc[0.2], cells.loc[0.9]
    assert light["target_met"] and light["replications"] < heavy["replications"]
    assert heavy["replications"] == 24 or heavy["target_met"]
    assert len(outcome.runs) == cells["replications"].sum()
    # The same decisions again, with nothing left to compute.
    assert sweep_of(spec, results, workers=2).computed == 0


def test_small_runs_travel_in_batches_and_big_ones_alone(write_spec):
    from sweeps.driver import BATCH_COPIES, _batches, _expected_copies

    sweep = load(
        write_spec(
            'name = "b"\nreplications = 1\n[grid]\nduration = [200.0, 200000.0]\npublish_rate = [0.5, 1.0, 1.5]\n'
        )
    )
    runs = sorted((c.run(0, 1) for c in sweep.cells()), key=_expected_copies, reverse=True)
    batches = _batches(runs)
    assert [r for b in batches for r in b] == runs
    assert all(len(b) == 1 for b in batches if _expected_copies(b[0]) >= BATCH_COPIES)
    assert len(batches[-1]) == 3  # the three short runs together


def test_an_unreachable_dask_scheduler_fails_cleanly_before_writing(write_spec, results, capsys):
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        code = cli.main(["run", str(write_spec()), "--results", str(results), "--dask", "tcp://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert code == 2 and "cannot reach the scheduler" in err and "Traceback" not in err
    assert not results.exists()
