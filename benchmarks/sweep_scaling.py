"""Do two workers finish a sweep at least 1.6x faster than one? Per-run overhead decides it for small cells.

python -m benchmarks.sweep_scaling [SPEC ...]   (default: a sweep of small cells)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from sweeps import load, run_sweep

SMALL_CELLS = """
name = "small-cells"
replications = 4
seed = 1
[scenario]
duration = 300.0
warmup = 30.0
ack = true
failure_prob = 0.01
[grid]
group_size = [1, 2, 3, 4, 6]
publish_rate = [0.4, 0.8, 1.2, 1.6, 2.0, 2.4]
dispatch = ["round-robin", "shared"]
"""


def wall(spec: Path, workers: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as results:
        start = time.perf_counter()
        outcome = run_sweep(load(spec), spec, Path(results), workers=workers, progress=False)
        return time.perf_counter() - start, len(outcome.runs)


def main(specs: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        if not specs:
            path = Path(tmp) / "small-cells.toml"
            path.write_text(SMALL_CELLS)
            specs = [str(path)]
        for spec in specs:
            one, runs = wall(Path(spec), 1)
            two, _ = wall(Path(spec), 2)
            print(
                f"{load(spec).name}: {runs} runs, 1 worker {one:.1f} s, 2 workers {two:.1f} s, "
                f"speed-up {one / two:.2f}x ({1e3 * two / runs:.1f} ms per run with 2)"
            )


if __name__ == "__main__":
    main(sys.argv[1:])
