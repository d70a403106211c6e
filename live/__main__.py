"""python -m live calibrate | check [--quick] | run SPEC"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from .server import ServerError


def positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m live", description="Run scenarios on a real Redis-compatible broker.")
    server = argparse.ArgumentParser(add_help=False)
    server.add_argument("--redis", metavar="URL", help="use this server (default: start a bundled or PATH one)")
    sub = p.add_subparsers(dest="command", required=True)
    cal = sub.add_parser("calibrate", parents=[server], help="measure the broker's costs on an idle server")
    cal.add_argument("--time-scale", type=positive, default=0.02, help="real s per model s (default 0.02)")
    check = sub.add_parser("check", parents=[server], help="calibrate, then validate the simulator on the broker")
    check.add_argument("--quick", action="store_true", help="fewer, shorter cases (under 2 minutes)")
    check.add_argument("--results", type=Path, default=Path("results"), help="results root (default: results/)")
    run = sub.add_parser("run", parents=[server], help="run a sweep spec's cells on the real broker")
    run.add_argument("spec", help="a spec file, or the name of a shipped spec")
    run.add_argument("--results", type=Path, default=Path("results"))
    run.add_argument("--time-scale", type=positive, help="real s per model s (default: 20 ms per mean service)")
    run.add_argument("--fresh", action="store_true", help="discard this spec's stored real runs first")
    run.add_argument("--max-hours", type=positive, default=2.0, help="refuse specs that would take longer (default 2)")
    return p


def cmd_calibrate(args) -> int:
    from .calibrate import calibrate
    from .server import running

    with running(args.redis) as server:
        print(f"calibrating on {server.name} {server.version} at {server.url} ...", file=sys.stderr)
        found = calibrate(server.url, args.time_scale)
    scale = args.time_scale
    print(f"{'cost':<26} {'real (ms)':>10} {'model s at time scale ' + format(scale, 'g'):>30}")
    for name, value in found.as_dict().items():
        if name != "samples" and value is not None:  # (every cost is measured here)
            print(f"{name:<26} {value * 1e3:>10.3f} {value / scale:>30.4f}")
    print(
        f"({found.samples} samples or more each) Scenario fields: delivery_delay; service_overhead = "
        "service_overhead_ack with ack, else _noack; redelivery_overhead (with ack)."
    )
    return 0


def cmd_check(args) -> int:
    from .check import DRIFT_WARNING_MS, drift, run_check, table
    from .server import running

    with running(args.redis) as server:
        print(f"live check on {server.name} {server.version} ({'quick' if args.quick else 'full'})", file=sys.stderr)
        outcome = run_check(server, args.results, quick=args.quick)
    print("calibration around each case's replications, mean of all (real ms; the model's = real / time scale):")
    for case, found in outcome.calibrations.items():
        c = {name: _mean_ms([getattr(f, name) for f in found]) for name in COSTS}
        print(
            f"  {case:<17} delivery_delay {c['delivery_delay']}, service_overhead {c['service_overhead_ack']} "
            f"(acknowledged) / {c['service_overhead_noack']} (NOACK), redelivery_overhead {c['redelivery_overhead']}"
        )
    print("error = (simulated - real) / real: positive means the model is slower (or counts more) than the broker")
    print(table(outcome))
    print(f"conservation on the server: {'held in every run' if outcome.conserved else 'VIOLATED'}")
    spread = drift(outcome.calibrations)
    if max(spread.values()) > DRIFT_WARNING_MS:
        worst = max(spread, key=lambda name: spread[name])
        print(
            f"caution: the machine's speed changed during the check ({worst} moved by {spread[worst]:.2f} ms "
            f"across one replication, more than {DRIFT_WARNING_MS} ms); errors of a few percent may be the "
            "machine's, not the model's: rerun on a quiet machine"
        )
    print(f"{'PASSED' if outcome.passed else 'FAILED'} in {outcome.wall_seconds:.0f} s; results in {outcome.folder}")
    return 0 if outcome.passed else 1


COSTS = ("delivery_delay", "service_overhead_ack", "service_overhead_noack", "redelivery_overhead")


def _mean_ms(values: list[float | None]) -> str:
    """The mean of measured costs in ms, or a dash where the case did not need them measured."""
    return "–" if values[0] is None else f"{1e3 * sum(values) / len(values):.3f}"  # type: ignore[arg-type]


def cmd_run(args) -> int:
    from .sweep import run_spec

    return run_spec(args.spec, args.results, args.redis, args.time_scale, args.fresh, args.max_hours)


def _terminate(signum, frame) -> None:
    raise SystemExit(128 + signum)  # unwinds through `finally`, which stops the server


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    commands = {"calibrate": cmd_calibrate, "check": cmd_check, "run": cmd_run}
    try:
        return commands[args.command](args)
    except (ServerError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; the server is stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
