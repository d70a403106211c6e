"""Cost per delivery, measured as issue 5 asks: interleaved rounds, best CPU time per delivery.

Interleaving runs every model once per round, so drift on a shared machine hits
all of them alike; the best of the rounds is the least disturbed.

    python -m benchmarks.interleaved [--rounds 7]
"""

from __future__ import annotations

import argparse
import gc
import time

from benchmarks.models import minimal_asimpy, minimal_simpy, run_workload

MODELS = {
    "minimal asimpy M/M/1": minimal_asimpy,
    "minimal SimPy M/M/1": minimal_simpy,
    "simulate M/M/1": lambda: run_workload("mm1"),
}


def measure(rounds: int) -> dict[str, float]:
    """Best CPU seconds per delivery of each model over interleaved rounds."""
    best = dict.fromkeys(MODELS, float("inf"))
    for _ in range(rounds):
        for name, model in MODELS.items():
            gc.collect()
            start = time.process_time()
            deliveries = model()
            best[name] = min(best[name], (time.process_time() - start) / deliveries)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=7)
    best = measure(parser.parse_args().rounds)
    asimpy_cost, simpy_cost = best["minimal asimpy M/M/1"], best["minimal SimPy M/M/1"]
    print(f"{'model':<22} {'µs/delivery':>12} {'vs asimpy':>10} {'vs SimPy':>9}")
    for name, cost in best.items():
        print(f"{name:<22} {cost * 1e6:>12.2f} {cost / asimpy_cost:>10.2f} {cost / simpy_cost:>9.2f}")


if __name__ == "__main__":
    main()
