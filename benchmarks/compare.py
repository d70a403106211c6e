"""Compare the newest saved benchmark run with the one before; exit 1 on a large regression.

Absolute times drift on a shared machine, so each simulator benchmark is judged by
its cost per delivery relative to the minimal asimpy baseline measured in the same
run. A ratio more than THRESHOLD worse than before is a regression.

    python -m benchmarks.compare [--threshold 0.25]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

BASELINE = "test_asimpy_minimal_mm1"
STORE = Path(".benchmarks")


def ratios(path: Path) -> dict[str, float]:
    """Each benchmark's cost per delivery over the baseline's, in one saved run."""
    runs = json.loads(path.read_text())["benchmarks"]
    cost = {b["name"]: b["stats"]["min"] / b["extra_info"]["deliveries"] for b in runs}
    if BASELINE not in cost:
        raise SystemExit(f"{path} has no {BASELINE} baseline")
    return {name: c / cost[BASELINE] for name, c in cost.items() if name != BASELINE}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threshold", type=float, default=0.25, help="allowed worsening of a ratio (default 0.25)")
    args = parser.parse_args()
    saved = sorted(STORE.glob("*/*.json"), key=lambda p: p.name)
    if len(saved) < 2:
        print(f"need two saved runs under {STORE}/ (run `make bench` twice); found {len(saved)}", file=sys.stderr)
        return 2
    before, after = ratios(saved[-2]), ratios(saved[-1])
    print(f"{saved[-2].name} -> {saved[-1].name} (cost per delivery / minimal asimpy's, same run)")
    worse = []
    for name in sorted(after):
        if name not in before:
            print(f"  {name:<32} new: {after[name]:.3f}")
            continue
        change = after[name] / before[name] - 1
        flag = "  REGRESSION" if change > args.threshold else ""
        print(f"  {name:<32} {before[name]:.3f} -> {after[name]:.3f} ({change:+.0%}){flag}")
        if flag:
            worse.append(name)
    if worse:
        print(f"{len(worse)} benchmarks regressed by more than {args.threshold:.0%}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
