"""`python -m live check`: calibrate, run a fixed validation suite on the real broker, hold the simulator to it.

Every case runs a few replications on the real broker and, with the same seeds
(the same draws), in the simulator twice: calibrated (the measured
`delivery_delay`, `service_overhead` and `redelivery_overhead`) and not. Each
case is calibrated just before it runs: the machine's speed drifts by more
over a check's quarter hour (about ±0.15 ms per message, measured) than one
calibration is uncertain, and at ρ = 0.8 a drift of 0.15 ms moves a 20 ms
service's latency by about 4%. The bounds apply to the mean
over replications of the calibrated simulation against the real runs: of the
whole run, or for a named topology of each subscription alone (its rows are
`<case>/<subscription>`).
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm import tqdm

from pubsub import MODEL_VERSION, Scenario, simulate
from pubsub.demo import chapter
from sweeps.layout import Layout, write_atomically, write_json

from . import measure, runner
from .calibrate import Calibration, calibrate
from .server import Server

SERVICE_TIME = 1.0  # model s: every case's mean service; the time scale makes it 20 ms of real time
TIME_SCALE = 0.02
# A per-message cost that moved by more than this between cases (real ms) means the machine's speed changed
# during the check by enough to move a case at ρ = 0.8 by several percent: judge such a check on a quieter machine.
DRIFT_WARNING_MS = 0.2


@dataclass(frozen=True)
class Case:
    name: str
    what: str
    fields: dict[str, Any]
    time_scale: float = TIME_SCALE  # real s per model s
    # Runs this many times the suite's: where redeliveries make real and simulated paths part more from run
    # to run, a longer run averages it (the paired error's interval over 4 replications was ±7% at 1×).
    length: float = 1.0


def _chapter() -> dict[str, Any]:
    """The seed chapter's system (the shipped spec's), Email with the two consumers that keep up (ρ = 0.75)."""
    fields = chapter()  # read afresh from the spec: ours to change
    fields["subscriptions"]["email"]["group_size"] = 2
    return fields


_SHARED = {"dispatch": "shared", "service_time": SERVICE_TIME}
CASES = [
    *[
        Case(
            f"shared-{c}-rho{rho}",
            f"a shared group of {c} at ρ = {rho}",
            {**_SHARED, "group_size": c, "publish_rate": rho * c},
        )
        for c in (1, 2, 4)
        for rho in (0.5, 0.8)
    ],
    Case(
        "fan-out",
        "two subscriptions (groups of 2) on one topic, ρ = 0.7",
        {**_SHARED, "group_size": 2, "subscribers": 2, "publish_rate": 1.4},
    ),
    Case(
        "acks",
        "acknowledgments, 5% failed attempts, visibility timeout 4 service times, ρ = 0.7",
        {**_SHARED, "group_size": 2, "publish_rate": 1.4, "ack": True, "ack_timeout": 4.0, "failure_prob": 0.05},
        length=4.0,
    ),
    Case(
        "dead-letters",
        "30% failed attempts, dead-lettered after 3 deliveries, timeout 4 service times",
        {
            **_SHARED,
            "group_size": 2,
            "publish_rate": 1.0,
            "ack": True,
            "ack_timeout": 4.0,
            "failure_prob": 0.3,
            "max_deliveries": 3,
        },
        length=4.0,
    ),
    Case(
        "chapter",
        "the chapter's topology: inventory (1 consumer, ρ = 0.1), email (2, ρ = 0.75), analytics of both topics"
        " (1, ρ = 0.65); 1 model s = 100 ms, so that inventory's mean service is 20 ms as in the other cases",
        _chapter(),
        # At 50 ms, inventory's latency was ~12 ms of which the calibrated costs were ~1.5 ms: a drift of the
        # machine's speed of 0.2 ms between calibration and runs moved its p50 by 6% (a failed check).
        time_scale=0.1,
    ),
]
QUICK = ["shared-1-rho0.5", "shared-2-rho0.8", "fan-out", "acks", "chapter"]


@dataclass(frozen=True)
class Suite:
    cases: list[Case]
    replications: int
    duration: float  # model s per run
    warmup: float
    calibration_rounds: int  # before each case


FULL = Suite(CASES, replications=4, duration=600.0, warmup=50.0, calibration_rounds=2)
QUICK_SUITE = Suite(
    [c for c in CASES if c.name in QUICK], replications=3, duration=300.0, warmup=25.0, calibration_rounds=1
)


@dataclass(frozen=True)
class Bound:
    """How close the calibrated simulation must come to the real runs, on the mean over replications."""

    relative: float
    copies: float = 0.0  # counts: or within this many copies

    def holds(self, real: float, simulated: float) -> bool:
        return abs(simulated - real) <= max(self.relative * abs(real), self.copies)

    def describe(self) -> str:
        text = f"±{self.relative:.0%}"
        return text + (f" or {self.copies:g} copies" if self.copies else "")


# Kept for each real run beside its own metrics: the simulated twins' values.
SIMULATED = (
    "latency_mean",
    "latency_p50",
    "latency_p95",
    "latency_p99",
    "redelivered",
    "dead_lettered",
    "duplicates",
    "throughput",
    "utilization",
)

BOUNDS = {
    "latency_mean": Bound(0.05),
    "latency_p50": Bound(0.05),
    "latency_p99": Bound(0.10),
    "redelivered": Bound(0.05, 3),
    "dead_lettered": Bound(0.05, 3),
}


@dataclass
class Outcome:
    validation: pd.DataFrame
    calibrations: dict[str, Calibration]  # case -> the calibration measured just before it ran
    passed: bool
    wall_seconds: float
    conserved: bool
    folder: Path


def _lateness(log: runner.Log):
    """How late each message was published, in model s."""
    return (log.model_time(at) - scheduled for _, _, scheduled, at in log.published)


def seeds(replications: int) -> list[int]:
    return list(range(1, replications + 1))


def relative_error(simulated: float, real: float) -> float:
    return (simulated - real) / real if real else (0.0 if simulated == real else math.nan)


def run_check(server: Server, results: Path, quick: bool = False, progress: bool | None = None) -> Outcome:
    started = time.perf_counter()
    suite = QUICK_SUITE if quick else FULL
    layout = Layout(Path(results) / "live-check")
    layout.folder.mkdir(parents=True, exist_ok=True)
    calibrations: dict[str, Calibration] = {}
    rows = []
    runs = [(case, r, seed) for case in suite.cases for r, seed in enumerate(seeds(suite.replications))]
    bar = tqdm(runs, unit="run", desc="live check", disable=(None if progress is None else not progress))
    for case, replication, seed in bar:
        bar.set_postfix_str(case.name)
        if bar.disable:  # no terminal for a bar: a line per run, so that long work still shows progress
            print(f"live check: {case.name}, replication {replication + 1} of {suite.replications}", file=sys.stderr)
        if case.name not in calibrations:
            calibrations[case.name] = calibrate(server.url, TIME_SCALE, rounds=suite.calibration_rounds)
        calibration = calibrations[case.name]
        duration = suite.duration * case.length
        scenario = Scenario(**case.fields, duration=duration, warmup=suite.warmup, seed=seed)
        as_simulated = calibration.applied(scenario, case.time_scale)
        log = runner.run(scenario, server.url, case.time_scale)
        calibrated, uncalibrated = simulate(as_simulated), simulate(scenario)
        run = {
            "replication": replication,
            **as_simulated.summary_fields(),
            "time_scale": case.time_scale,
            "load_average": os.getloadavg()[0],  # the machine's, over the last minute, as the run ended
            **{f"calibration_{name}": value for name, value in calibration.as_dict().items()},
            "conserved": log.server["holds"],
            "publish_lateness_max": max((late for late in _lateness(log)), default=0.0),
            "server_calls": json.dumps(dict(log.calls)),
            "server_conservation": json.dumps(log.server["groups"]),
        }
        if scenario.named:  # each subscription held to its own twin
            real = measure.by_subscription(log)
            for name in real.index:
                rows.append(
                    {
                        "case": f"{case.name}/{name}",
                        "subscription": name,
                        **run,
                        **real.loc[name].to_dict(),
                        **_twins(calibrated.by_subscription.loc[name], uncalibrated.by_subscription.loc[name]),
                    }
                )
        else:
            rows.append(
                {
                    "case": case.name,
                    "subscription": "",
                    **run,
                    **measure.summarize(log),
                    **_twins(calibrated.summary, uncalibrated.summary),
                }
            )
    bar.close()
    live = pd.DataFrame(rows)
    # A uniform case's topics and subscriptions are counts, a named one's JSON text: one type for the column.
    for column in ("topics", "subscriptions"):
        live[column] = [json.dumps(value) if not isinstance(value, str) else value for value in live[column]]
    validation = _validate(live)
    conserved = bool(live["conserved"].all())
    passed = bool(validation["pass"].all()) and conserved
    wall = time.perf_counter() - started
    write_atomically(layout.live, lambda p: live.to_parquet(p, index=False))
    write_atomically(layout.validation, lambda p: validation.to_csv(p, index=False))
    write_json(layout.manifest, _manifest(server, calibrations, suite, quick, passed, wall))
    from analysis.live import errors_figure, validation_figure  # drawn from the tables just written

    validation_figure(layout)
    errors_figure(layout, {metric: bound.relative for metric, bound in BOUNDS.items()})
    return Outcome(validation, calibrations, passed, wall, conserved, layout.folder)


def _twins(calibrated, uncalibrated) -> dict[str, float]:
    """The simulator on the same seed, with and without the measured costs."""
    return {
        **{f"calibrated_{m}": calibrated[m] for m in SIMULATED},
        **{f"uncalibrated_{m}": uncalibrated[m] for m in SIMULATED},
    }


def _validate(live: pd.DataFrame) -> pd.DataFrame:
    """Per case (or subscription of a named case) and bounded metric: the means over replications, both errors,
    the verdict."""
    rows = []
    for case in dict.fromkeys(live["case"]):
        runs = live[live["case"] == case]
        for metric, bound in BOUNDS.items():
            r, c, u = (
                float(runs[column].mean()) for column in (metric, f"calibrated_{metric}", f"uncalibrated_{metric}")
            )
            rows.append(
                {
                    "case": case,
                    "metric": metric,
                    "real": r,
                    "calibrated": c,
                    "uncalibrated": u,
                    "calibrated_error": relative_error(c, r),
                    "uncalibrated_error": relative_error(u, r),
                    "bound": bound.describe(),
                    "pass": bound.holds(r, c),
                }
            )
    return pd.DataFrame(rows)


def _manifest(
    server: Server,
    calibrations: dict[str, Calibration],
    suite: Suite,
    quick: bool,
    passed: bool,
    wall: float,
) -> dict:
    return {
        "command": " ".join(sys.argv),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "broker": server.name,
        "broker_version": server.version,
        "broker_binary": server.binary,
        "started_here": server.started_here,
        "time_scale": TIME_SCALE,
        "time_scales": {c.name: c.time_scale for c in suite.cases if c.time_scale != TIME_SCALE},
        "calibrations_real_seconds": {case: c.as_dict() for case, c in calibrations.items()},
        "calibration_rounds": suite.calibration_rounds,
        "calibration_drift_ms": drift(calibrations),
        "quick": quick,
        "replications": suite.replications,
        "duration": suite.duration,
        "warmup": suite.warmup,
        "cases": {c.name: c.what for c in suite.cases},
        "lengths": {c.name: c.length for c in suite.cases if c.length != 1.0},
        "bounds": {m: b.describe() for m, b in BOUNDS.items()},
        "passed": passed,
        "wall_seconds": wall,
        "model_version": MODEL_VERSION,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "redis-py": version("redis"),
        "asimpy": version("asimpy"),
        "pubsub-sweeps": version("pubsub-sweeps"),
    }


def drift(calibrations: dict[str, Calibration]) -> dict[str, float]:
    """Per measured cost, how far its calibrations before the cases spread (max - min), in real ms."""
    found = [c.as_dict() for c in calibrations.values()]
    return {
        name: 1e3 * (max(c[name] for c in found) - min(c[name] for c in found))
        for name in found[0]
        if name not in ("samples", "publish_to_receive")
    }


def table(outcome: Outcome) -> str:
    """The validation table as text: calibrated and uncalibrated errors side by side."""
    lines = [f"{'case':<19} {'metric':<14} {'real':>9} {'calibrated':>11} {'uncalibrated':>13}  {'bound':<18} result"]
    for row in outcome.validation.to_dict("records"):
        lines.append(
            f"{row['case']:<19} {row['metric']:<14} {row['real']:>9.4g} {_err(row['calibrated_error']):>11} "
            f"{_err(row['uncalibrated_error']):>13}  {row['bound']:<18} {'pass' if row['pass'] else 'FAIL'}"
        )
    return "\n".join(lines)


def _err(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:+.1%}"
