"""`live.check`: each replication is held to the calibrations measured around it."""

import json

import pandas as pd
import pytest

from live import check
from live.calibrate import Calibration


def _calibration(overhead: float) -> Calibration:
    return Calibration(3e-4, overhead + 3e-4, overhead, 4e-4, 1e-3, 100)


def test_drift_is_the_largest_change_of_each_cost_across_one_replication_in_ms():
    spread = check.drift(
        {
            "a": [_calibration(9e-4), _calibration(1.0e-3), _calibration(9.5e-4)],
            "b": [_calibration(1.2e-3), _calibration(1.4e-3)],  # the cases' own levels differ by more: not drift
        }
    )
    assert spread["service_overhead_noack"] == pytest.approx(0.2) and spread["service_overhead_ack"] == pytest.approx(
        0.2
    )
    assert spread["delivery_delay"] == 0.0 and "samples" not in spread


def test_a_replication_takes_the_median_of_the_calibrations_around_it():
    levels = [0.9e-3, 1.0e-3, 1.1e-3, 1.2e-3, 1.3e-3]  # a steady drift: the midpoint of the two around it
    drifting = [_calibration(level) for level in levels]
    assert check.around(drifting, 1).service_overhead_noack == pytest.approx(1.05e-3)
    spiked = [_calibration(level) for level in (0.77e-3, 0.74e-3, 0.77e-3, 2.19e-3, 0.77e-3)]  # as measured
    assert check.around(spiked, 2).service_overhead_noack == pytest.approx(0.77e-3)
    assert check.around(spiked, 3).service_overhead_noack == pytest.approx(0.77e-3)
    assert check.around(spiked, 0).samples == 300


def test_every_replication_runs_with_the_calibrations_around_it(server, tmp_path, monkeypatch):
    cases = [c for c in check.CASES if c.name in ("shared-1-rho0.5", "fan-out")]
    tiny = check.Suite(cases, replications=2, duration=40.0, warmup=5.0, calibration_rounds=1)
    monkeypatch.setattr(check, "QUICK_SUITE", tiny)
    outcome = check.run_check(server, tmp_path, quick=True, progress=False)
    assert list(outcome.calibrations) == ["shared-1-rho0.5", "fan-out"]
    assert all(len(found) == 3 for found in outcome.calibrations.values())  # before, and after each replication
    live = pd.read_parquet(outcome.folder / "live.parquet")
    for case, found in outcome.calibrations.items():
        for replication in (0, 1):
            row = live[(live["case"] == case) & (live["replication"] == replication)].iloc[0]
            used = check.around(found, replication)
            assert row["calibration_service_overhead_noack"] == used.service_overhead_noack
            # the calibrated twin ran with these costs, in model seconds
            assert row["service_overhead"] == pytest.approx(used.service_overhead_noack / check.TIME_SCALE)
            assert row["delivery_delay"] == pytest.approx(used.delivery_delay / check.TIME_SCALE)
    manifest = json.loads((outcome.folder / "manifest.json").read_text())
    assert [len(found) for found in manifest["calibrations_real_seconds"].values()] == [3, 3]
    assert manifest["calibration_drift_ms"] == check.drift(outcome.calibrations)


def test_each_case_is_calibrated_for_the_consumers_it_has():
    by_name = {case.name: case for case in check.CASES}
    assert by_name["shared-2-rho0.8"].acknowledging is False
    assert by_name["dead-letters"].acknowledging is True and by_name["acks"].acknowledging is True
    assert by_name["chapter"].acknowledging is False
