"""Does cost per delivery stay flat as runs grow, and how much memory does a long run take?

Each size runs in a fresh process so that its peak resident memory is its own.

    python -m benchmarks.scale
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

from pubsub import Scenario, simulate

SIZES = (100_000, 1_000_000)  # deliveries, approximately
RHO = 0.8


def one(deliveries: int) -> dict:
    scenario = Scenario(publish_rate=RHO, duration=deliveries / RHO, warmup=0.0, seed=1)
    start = time.process_time()
    summary = simulate(scenario).summary
    cpu = time.process_time() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "deliveries": summary["delivered"],
        "cpu_seconds": cpu,
        "us_per_delivery": 1e6 * cpu / summary["delivered"],
        "peak_rss_mb": peak_mb,
    }


def main() -> None:
    rows = []
    for size in SIZES:
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.scale", "--one", str(size)], capture_output=True, text=True, check=True
        ).stdout
        rows.append(json.loads(out))
    print(f"{'deliveries':>11} {'CPU s':>7} {'µs/delivery':>12} {'peak RSS MB':>12}")
    for r in rows:
        print(f"{r['deliveries']:>11} {r['cpu_seconds']:>7.2f} {r['us_per_delivery']:>12.2f} {r['peak_rss_mb']:>12.0f}")
    growth = rows[-1]["us_per_delivery"] / rows[0]["us_per_delivery"]
    print(f"cost per delivery, {SIZES[-1]:,} vs {SIZES[0]:,}: {growth:.2f}x")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(one(int(sys.argv[2]))))
    else:
        main()
