"""python -m analysis report <results>/<name> [--slo-p99 SECONDS]

The report's modules (pandas, matplotlib, seaborn) are imported once a report is asked
for, so that `--help` and argument errors come at once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def seconds(text: str) -> float:
    """A target in seconds: a positive number (argparse exits 2 naming the value otherwise)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m analysis", description="Statistics, figures and a report.")
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="write summary tables, figures and report.html into a results folder")
    rep.add_argument("folder", type=Path, help="a sweep's results folder, e.g. results/default")
    rep.add_argument(
        "--slo-p99",
        type=seconds,
        help="p99 latency target, s (default: the spec's [answer], else ten mean service times)",
    )
    cmp = sub.add_parser("compare", help="what changed between two results folders (paired by seed where it can)")
    cmp.add_argument("a", type=Path, help="the first results folder (before)")
    cmp.add_argument("b", type=Path, help="the second (after)")
    cmp.add_argument("--out", type=Path, help="where compare.html goes (default: B/compare-<A's name>)")
    args = parser.parse_args(argv)
    if args.command == "compare":
        return _compare(args)

    from . import reporting
    from .results import StaleResults, load

    try:
        results = load(args.folder)
    except (FileNotFoundError, StaleResults) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        path = reporting.build(results, args.slo_p99)
    except ValueError as error:  # a target that cannot apply
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path} and {len(list(results.layout.figures.glob('*.png')))} figures")
    return 0


def _compare(args) -> int:
    from . import compare
    from .results import StaleResults, load

    try:
        a, b = load(args.a), load(args.b)
    except (FileNotFoundError, StaleResults) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    found = compare.compare(a, b)
    print(compare.text(found))
    path = compare.page(found, args.out or args.b / f"compare-{a.name}")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
