"""Benchmark workloads: the full simulator's, and minimal M/M/1 baselines in asimpy and SimPy."""

from __future__ import annotations

import random

from asimpy import Environment, Process, Queue

from pubsub import Scenario, simulate
from pubsub.engines import Engine, uncovered

CUSTOMERS = 50_000
RHO = 0.8


def variant(scenario: Scenario, **changes) -> Scenario:
    """`scenario` with some fields changed, validated like any Scenario."""
    return Scenario(**{**scenario.model_dump(), **changes})


# Each workload runs about CUSTOMERS deliveries.
WORKLOADS = {
    "mm1": Scenario(publish_rate=RHO, duration=CUSTOMERS / RHO, warmup=0.0, seed=1),
    "fanout": Scenario(
        topics=2,
        publishers=2,
        subscribers=3,
        group_size=3,
        dispatch="shared",
        publish_rate=0.7,
        duration=CUSTOMERS / (2 * 2 * 3 * 0.7),
        warmup=0.0,
        seed=1,
    ),
    "acks": Scenario(
        publish_rate=1.2,
        group_size=2,
        dispatch="shared",
        service="lognormal",
        service_cv=1.5,
        ack=True,
        ack_timeout=3.0,
        failure_prob=0.1,
        max_deliveries=5,
        duration=CUSTOMERS / (1.2 / 0.9),
        warmup=0.0,
        seed=1,
    ),
    "keyhash": Scenario(
        publish_rate=20.0,
        group_size=32,
        dispatch="key-hash",
        keys=10_000,
        key_skew=1.0,
        duration=CUSTOMERS / 20.0,
        warmup=0.0,
        seed=1,
    ),
    # The broker knobs on workloads of their own.
    "prefetch": Scenario(
        publish_rate=2.8,
        group_size=4,
        dispatch="shared",
        prefetch=5,
        service="lognormal",
        service_cv=1.5,
        duration=CUSTOMERS / 2.8,
        warmup=0.0,
        seed=1,
    ),
    "batches": Scenario(
        publish_rate=2.4,
        group_size=2,
        dispatch="shared",
        service="fixed",
        service_time=0.25,
        batch_size=5,
        batch_overhead=0.25,
        duration=CUSTOMERS / 2.4,
        warmup=0.0,
        seed=1,
    ),
}
# The same workloads with one knob turned: what it costs is the difference.
WORKLOADS["partitioned"] = variant(WORKLOADS["keyhash"], dispatch="partitioned", partitions=48)
WORKLOADS["nack"] = variant(
    WORKLOADS["acks"], nack=True, retry_delay=0.5, retry_backoff="exponential", poison_prob=0.01
)


def run_workload(name: str, engine: Engine = "asimpy") -> int:
    """Simulate a workload on `engine`; return its deliveries."""
    return simulate(WORKLOADS[name], engine=engine).summary["delivered"]


def compiled_covers(name: str) -> bool:
    return not uncovered(WORKLOADS[name])


class _Source(Process):
    def init(self, queue, rate, customers, rng):
        self.queue, self.rate, self.customers, self.rng = queue, rate, customers, rng

    async def run(self):
        for _ in range(self.customers):
            await self.timeout(self.rng.expovariate(self.rate))
            await self.queue.put(self.now)


class _Server(Process):
    def init(self, queue, rate, rng, latencies):
        self.queue, self.rate, self.rng, self.latencies = queue, rate, rng, latencies

    async def run(self):
        while True:
            arrived = await self.queue.get()
            await self.timeout(self.rng.expovariate(self.rate))
            self.latencies.append(self.now - arrived)


def minimal_asimpy(customers: int = CUSTOMERS, rho: float = RHO, seed: int = 1) -> int:
    """The smallest asimpy M/M/1: one source, one server, one Queue, random.expovariate."""
    env = Environment()
    rng = random.Random(seed)
    queue = Queue(env)
    latencies: list[float] = []
    _Source(env, queue, rho, customers, rng)
    _Server(env, queue, 1.0, rng, latencies)
    env.run()
    return len(latencies)


def minimal_simpy(customers: int = CUSTOMERS, rho: float = RHO, seed: int = 1) -> int:
    """The same M/M/1 in SimPy, with a Store."""
    import simpy

    env = simpy.Environment()
    rng = random.Random(seed)
    store = simpy.Store(env)
    latencies: list[float] = []

    def source():
        for _ in range(customers):
            yield env.timeout(rng.expovariate(rho))
            yield store.put(env.now)

    def server():
        while True:
            arrived = yield store.get()
            yield env.timeout(rng.expovariate(1.0))
            latencies.append(env.now - arrived)

    env.process(source())
    env.process(server())
    env.run()
    return len(latencies)
