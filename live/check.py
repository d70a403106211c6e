"""`python -m live check`: calibrate, run a fixed validation suite on the real broker, hold the simulator to it.

Every case runs a few replications on the real broker and, with the same seeds
(the same draws), in the simulator twice: calibrated (the measured
`delivery_delay`, `service_overhead` and `redelivery_overhead`) and not. The
machine's speed moves the per-message cost by up to a factor of two within
tens of seconds (0.5 to 1.0 ms under asyncio, measured every 2 s), more than
one calibration is uncertain; so a case is calibrated before its first
replication and after each, and each replication's twin runs with the median
of the calibrations on either side of it and their neighbours (`around`).
Near saturation the cases run with longer services, where the same drift
moves latency less. The bounds apply to the mean over replications of the
calibrated simulation against the real runs: of the whole run, or for a named
topology of each subscription alone (its rows are `<case>/<subscription>`).
"""

from __future__ import annotations

import functools
import itertools
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
from pubsub.topology import Topology
from sweeps.layout import Layout, write_atomically, write_json

from . import measure, runner
from .calibrate import Calibration, calibrate
from .server import Server

SERVICE_TIME = 1.0  # model s: every case's mean service; the time scale makes it 20 ms of real time
TIME_SCALE = 0.02
# Near saturation, latency moves by ~2.5% per 0.1 ms of per-message cost at 20 ms services (measured), and the
# machine's speed moves the cost by that much within seconds: these cases run with 50 ms services (~1%).
SLOWER = 0.05
# A per-message cost that moved by more than this across one replication (real ms) means the machine's speed
# changed during the check by enough to move a case by several percent: judge such a check on a quieter machine.
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
    # Runs this many times the suite's replications: where the machine's drift within a run moves the error of
    # one replication by a few percent, more and shorter runs (calibrated between) average it out.
    repeats: int = 1

    @property
    def acknowledging(self) -> bool | None:
        """Whether its consumers acknowledge: the calibration measures only their costs (None: some of each)."""
        modes = {part.settings.ack for part in Topology.of(Scenario(**self.fields)).subscriptions}
        return modes.pop() if len(modes) == 1 else None


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
            # Near saturation: slower services, and twice as many runs half as long (see `SLOWER` and `repeats`).
            time_scale=SLOWER if rho > 0.5 else TIME_SCALE,
            length=0.5 if rho > 0.5 else 1.0,
            repeats=2 if rho > 0.5 else 1,
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
        "30% failed attempts, dead-lettered after 2 deliveries, timeout 4 service times",
        # After 2 deliveries, not 3: every copy that fails its first attempt takes exactly one retry draw, so the
        # real run and its twin dead-letter the copies that met the same draws. After 3, one copy's fate that
        # differs shifts every later redelivery's draws (the group's retry stream is taken in order), and the
        # dead-letter count of 4 replications wandered by ±3% (sd over seven checks) from that alone.
        {
            **_SHARED,
            "group_size": 2,
            "publish_rate": 1.0,
            "ack": True,
            "ack_timeout": 4.0,
            "failure_prob": 0.3,
            "max_deliveries": 2,
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
    calibration_rounds: int  # of each calibration: before a case, and after each of its replications


FULL = Suite(CASES, replications=4, duration=600.0, warmup=50.0, calibration_rounds=1)
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
    calibrations: dict[str, list[Calibration]]  # case -> before its first replication and after each
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
    calibrations: dict[str, list[Calibration]] = {}
    rows = []
    bar = tqdm(
        total=sum(suite.replications * case.repeats for case in suite.cases),
        unit="run",
        desc="live check",
        disable=(None if progress is None else not progress),
    )
    for case in suite.cases:
        bar.set_postfix_str(case.name)
        measure_costs = functools.partial(
            calibrate, server.url, TIME_SCALE, rounds=suite.calibration_rounds, ack=case.acknowledging
        )
        brackets = calibrations[case.name] = [measure_costs()]
        replications = suite.replications * case.repeats
        ran = []
        for replication, seed in enumerate(seeds(replications)):
            if bar.disable:  # no terminal for a bar: a line per run, so that long work still shows progress
                print(f"live check: {case.name}, replication {replication + 1} of {replications}", file=sys.stderr)
            scenario = Scenario(**case.fields, duration=suite.duration * case.length, warmup=suite.warmup, seed=seed)
            ran.append((scenario, runner.run(scenario, server.url, case.time_scale)))
            brackets.append(measure_costs())
            bar.update()
        for replication, (scenario, log) in enumerate(ran):
            rows += _rows(case, replication, scenario, log, around(brackets, replication))
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


def around(brackets: list[Calibration], replication: int) -> Calibration:
    """The costs a replication ran with: the median of the calibrations just before and after it and one more
    on each side. Under a steady drift that is the midpoint of the two around it; a calibration caught in a
    spell of the machine that the runs beside it did not see (measured: 2.19 ms between two of 0.77) is
    outvoted, where a midpoint moved two replications' latency by 5%."""
    return Calibration.median(brackets[max(0, replication - 1) : replication + 3])


def _rows(case: Case, replication: int, scenario: Scenario, log: runner.Log, calibration: Calibration) -> list[dict]:
    """A real run's rows (one, or one per subscription of a named case) beside its simulated twins."""
    as_simulated = calibration.applied(scenario, case.time_scale)
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
    if not scenario.named:
        return [
            {
                "case": case.name,
                "subscription": "",
                **run,
                **measure.summarize(log),
                **_twins(calibrated.summary, uncalibrated.summary),
            }
        ]
    real = measure.by_subscription(log)  # each subscription held to its own twin
    return [
        {
            "case": f"{case.name}/{name}",
            "subscription": name,
            **run,
            **real.loc[name].to_dict(),
            **_twins(calibrated.by_subscription.loc[name], uncalibrated.by_subscription.loc[name]),
        }
        for name in real.index
    ]


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
    calibrations: dict[str, list[Calibration]],
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
        "calibrations_real_seconds": {case: [c.as_dict() for c in found] for case, found in calibrations.items()},
        "calibration_rounds": suite.calibration_rounds,
        "calibration_drift_ms": drift(calibrations),
        "quick": quick,
        "replications": suite.replications,
        "duration": suite.duration,
        "warmup": suite.warmup,
        "cases": {c.name: c.what for c in suite.cases},
        "lengths": {c.name: c.length for c in suite.cases if c.length != 1.0},
        "repeats": {c.name: c.repeats for c in suite.cases if c.repeats != 1},
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


def drift(calibrations: dict[str, list[Calibration]]) -> dict[str, float]:
    """Per measured cost, the most it changed across one replication (between the calibrations before and
    after it), in real ms."""
    found = [[c.as_dict() for c in case] for case in calibrations.values()]
    names = [name for name in found[0][0] if name not in ("samples", "publish_to_receive")]
    changes: dict[str, list[float]] = {name: [] for name in names}
    for case in found:
        for a, b in itertools.pairwise(case):
            for name in names:
                before, after = a[name], b[name]
                if before is not None and after is not None:  # else not measured for this case
                    changes[name].append(abs(after - before))
    return {name: 1e3 * max(measured) for name, measured in changes.items() if measured}


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
