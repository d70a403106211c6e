"""`live.check`: each case is held to a calibration measured just before it, and the check records them."""

import json

import pandas as pd

from live import check
from live.calibrate import Calibration


def _calibration(overhead: float) -> Calibration:
    return Calibration(3e-4, overhead + 3e-4, overhead, 4e-4, 1e-3, 100)


def test_drift_is_the_spread_of_each_cost_across_cases_in_ms():
    spread = check.drift({"a": _calibration(9e-4), "b": _calibration(1.2e-3), "c": _calibration(1.0e-3)})
    assert abs(spread["service_overhead_noack"] - 0.3) < 1e-9 and abs(spread["service_overhead_ack"] - 0.3) < 1e-9
    assert spread["delivery_delay"] == 0.0 and "samples" not in spread


def test_every_case_runs_with_its_own_calibration(server, tmp_path, monkeypatch):
    cases = [c for c in check.CASES if c.name in ("shared-1-rho0.5", "fan-out")]
    tiny = check.Suite(cases, replications=1, duration=60.0, warmup=5.0, calibration_rounds=1)
    monkeypatch.setattr(check, "QUICK_SUITE", tiny)
    outcome = check.run_check(server, tmp_path, quick=True, progress=False)
    assert list(outcome.calibrations) == ["shared-1-rho0.5", "fan-out"]
    live = pd.read_parquet(outcome.folder / "live.parquet")
    for case, calibration in outcome.calibrations.items():
        row = live[live["case"] == case].iloc[0]
        assert row["calibration_service_overhead_noack"] == calibration.service_overhead_noack
        # the calibrated twin ran with this case's own costs, in model seconds
        assert row["service_overhead"] == calibration.service_overhead_noack / check.TIME_SCALE
        assert row["delivery_delay"] == calibration.delivery_delay / check.TIME_SCALE
    manifest = json.loads((outcome.folder / "manifest.json").read_text())
    assert set(manifest["calibrations_real_seconds"]) == {"shared-1-rho0.5", "fan-out"}
    assert manifest["calibration_drift_ms"] == check.drift(outcome.calibrations)
