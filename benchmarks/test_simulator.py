"""pytest-benchmark suite: `make bench`. Never part of `make test`."""

import pytest

from benchmarks.conftest import record
from benchmarks.models import CUSTOMERS, WORKLOADS, compiled_covers, minimal_asimpy, minimal_simpy, run_workload

ROUNDS = 7


def test_asimpy_minimal_mm1(benchmark):
    served = benchmark.pedantic(minimal_asimpy, rounds=ROUNDS, iterations=1)
    assert served == CUSTOMERS
    record(benchmark, "asimpy_minimal_mm1", served)


def test_simpy_minimal_mm1(benchmark):
    served = benchmark.pedantic(minimal_simpy, rounds=ROUNDS, iterations=1)
    assert served == CUSTOMERS
    record(benchmark, "simpy_minimal_mm1", served)


@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_simulate(benchmark, workload):
    deliveries = benchmark.pedantic(run_workload, args=(workload,), rounds=ROUNDS, iterations=1)
    assert deliveries > 0.8 * CUSTOMERS
    record(benchmark, f"simulate_{workload}", deliveries)


@pytest.mark.parametrize("workload", [w for w in WORKLOADS if compiled_covers(w)])
def test_simulate_compiled(benchmark, workload):
    run_workload(workload, "compiled")  # compiled (or loaded from the cache) before the rounds are timed
    deliveries = benchmark.pedantic(run_workload, args=(workload, "compiled"), rounds=ROUNDS, iterations=1)
    assert deliveries == run_workload(workload)  # the same run as the asimpy engine's
    record(benchmark, f"compiled_{workload}", deliveries)
