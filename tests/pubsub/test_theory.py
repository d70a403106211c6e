"""The simulator against queueing theory: intervals over replications must contain the closed form.

There are CASES checks. Each at 95% would, with a correct simulator, fail by
chance in 1 − 0.95^CASES (about half) of seed choices, so the intervals are
simultaneous: Bonferroni-adjusted to 95% for the family. Each case has its own
seeds, so the checks are independent.
"""

import numpy as np
import pytest

from pubsub import Scenario, simulate
from pubsub.intervals import interval
from pubsub.theory import (
    ecm1_latency,
    ecm1_latency_quantile,
    md1_latency,
    mg1_latency,
    mm1_latency,
    mmc_latency,
    mmc_latency_quantile,
    retry_latency,
)
from tests.conftest import replicate, replicate_parts, report, seeds_for

REPLICATIONS = 12
LOADS = [0.5, 0.85]
CASES = 24
CONFIDENCE = 1 - 0.05 / CASES


def run_length(rho: float) -> dict:
    """Longer runs near saturation, where the queue forgets its empty start slowly."""
    duration = 20_000.0 if rho <= 0.5 else 40_000.0
    return {"duration": duration, "warmup": duration / 10}


def check(case: str, expected: float, metric: str = "latency_mean", **fields) -> None:
    values = replicate(metric, seeds_for(case, REPLICATIONS), **fields)
    mean, _, _, low, high = interval(values, CONFIDENCE)
    report(case, values, CONFIDENCE, expected)
    assert low <= expected <= high, f"{case}: {mean:.4f} [{low:.4f}, {high:.4f}] vs {expected:.4f}"


@pytest.mark.parametrize("rho", LOADS)
def test_mm1(rho):
    check(f"M/M/1 rho={rho}", mm1_latency(rho, 1.0), publish_rate=rho, **run_length(rho))


@pytest.mark.parametrize("rho", LOADS)
@pytest.mark.parametrize("c", [2, 4])
def test_mmc_shared_group(rho, c):
    check(
        f"M/M/{c} shared rho={rho}",
        mmc_latency(rho * c, 1.0, c),
        publish_rate=rho * c,
        group_size=c,
        dispatch="shared",
        **run_length(rho),
    )


@pytest.mark.parametrize("rho", LOADS)
def test_md1(rho):
    check(f"M/D/1 rho={rho}", md1_latency(rho, 1.0), publish_rate=rho, service="fixed", **run_length(rho))


def test_calibration_costs_make_an_mg1_shifted_by_the_delay():
    """Exponential service plus a fixed overhead is an M/G/1; a constant delivery delay shifts
    every arrival at the consumer by the same amount, so it adds exactly itself to the latency."""
    mean, overhead, delay, lam = 0.8, 0.2, 0.3, 0.8
    second_moment = 2 * mean**2 + 2 * mean * overhead + overhead**2
    check(
        "M/G/1 exp+overhead, delay rho=0.8",
        delay + mg1_latency(lam, mean + overhead, second_moment),
        publish_rate=lam,
        service_time=mean,
        service_overhead=overhead,
        delivery_delay=delay,
        **run_length(0.8),
    )


def test_delivery_delay_shifts_a_shared_group():
    check(
        "M/M/2 shared, delay rho=0.7",
        0.5 + mmc_latency(1.4, 1.0, 2),
        publish_rate=1.4,
        group_size=2,
        dispatch="shared",
        delivery_delay=0.5,
        **run_length(0.7),
    )


@pytest.mark.parametrize("rho", LOADS)
@pytest.mark.parametrize("c", [2, 3])
def test_ecm1_round_robin_group(rho, c):
    check(
        f"E_{c}/M/1 round-robin rho={rho}",
        ecm1_latency(rho * c, 1.0, c),
        publish_rate=rho * c,
        group_size=c,
        dispatch="round-robin",
        **run_length(rho),
    )


@pytest.mark.parametrize("dispatch", ["shared", "round-robin"])
def test_the_p99_of_a_group_of_three_at_rho_0_7(dispatch):
    """The whole sojourn distribution, not just its mean: M/M/3's mixture, and E_3/M/1's exponential."""
    quantile = mmc_latency_quantile if dispatch == "shared" else ecm1_latency_quantile
    check(
        f"p99 {'M/M/3 shared' if dispatch == 'shared' else 'E_3/M/1 round-robin'} rho=0.7",
        quantile(2.1, 1.0, 3, 0.99),
        metric="latency_p99",
        publish_rate=2.1,
        group_size=3,
        dispatch=dispatch,
        duration=10_000.0,
        warmup=1000.0,
    )


# A mixed topology: a fast subscription at light load, a slow one near saturation, and one reading both topics,
# whose merged Poisson arrivals have the summed rate. Each is its own M/M/c queue.
MIXED = dict(
    topics={"orders": {"publish_rate": 1.2}, "users": {"publish_rate": 0.6}},
    subscriptions={
        "inventory": {"topics": ["orders"], "service_time": 0.25},
        "email": {"topics": ["orders"], "service_time": 2.0, "group_size": 3},
        "analytics": {"topics": ["orders", "users"], "service_time": 0.5, "group_size": 2},
    },
    dispatch="shared",
    duration=40_000.0,
    warmup=4_000.0,
)
MIXED_QUEUES = {"inventory": (1.2, 0.25, 1), "email": (1.2, 2.0, 3), "analytics": (1.8, 0.5, 2)}  # λ, service, c


def test_each_subscription_of_a_mixed_topology_is_its_own_mmc_queue():
    """Mean and p99 of each subscription's latency against its own closed form: a pooled figure would match
    none of them."""
    runs = replicate_parts(seeds_for("mixed topology", REPLICATIONS), **MIXED)
    failures = []
    for name, (lam, service, c) in MIXED_QUEUES.items():
        for metric, expected in (
            ("latency_mean", mmc_latency(lam, 1 / service, c)),
            ("latency_p99", mmc_latency_quantile(lam, 1 / service, c, 0.99)),
        ):
            values = np.array([run.loc[name, metric] for run in runs])
            case = f"{name} M/M/{c} rho={lam * service / c:.2g} {metric.removeprefix('latency_')}"
            mean, _, _, low, high = interval(values, CONFIDENCE)
            report(case, values, CONFIDENCE, expected)
            if not low <= expected <= high:
                failures.append(f"{case}: {mean:.4f} [{low:.4f}, {high:.4f}] vs {expected:.4f}")
    assert not failures, failures


@pytest.mark.parametrize(
    "fields",
    [
        {"publish_rate": 0.7},
        {"publish_rate": 2.4, "group_size": 3, "dispatch": "shared", "service": "lognormal", "service_cv": 2.0},
        {
            "publish_rate": 0.5,
            "topics": 2,
            "subscribers": 2,
            "group_size": 2,
            "dispatch": "least-loaded",
            "arrivals": "bursty",
        },
        {"publish_rate": 0.6, "ack": True, "ack_timeout": 30.0, "arrivals": "fixed"},
    ],
)
def test_littles_law(fields):
    """Copies waiting plus in service = throughput × mean latency, on stable scenarios.

    Not with failures: a failed copy awaiting its visibility timeout is in the
    system but neither waiting nor in service.
    """
    s = simulate(Scenario(duration=40_000.0, warmup=4_000.0, seed=7, **fields)).summary
    consumers = s["topics"] * s["subscribers"] * s["group_size"]
    in_system = s["backlog_mean"] + s["utilization"] * consumers
    assert in_system == pytest.approx(s["throughput"] * s["latency_mean"], rel=0.03)


@pytest.mark.parametrize("backoff", ["fixed", "exponential"])
def test_nacked_copies_come_back_after_their_retry_delay(backoff):
    """Light load (16 consumers for 0.14 busy on average): no copy waits for a consumer, so a copy's
    latency is its attempts plus the retry delays after its failures."""
    service, p, delay, cap = 1.0, 0.3, 2.0, 5.0
    waits = {"fixed": lambda k: delay, "exponential": lambda k: min(delay * 2 ** (k - 1), cap)}
    check(
        f"nack, {backoff} retry delay",
        retry_latency(service, p, waits[backoff]),
        publish_rate=0.1,
        group_size=16,
        dispatch="shared",
        service="fixed",
        service_time=service,
        ack=True,
        ack_timeout=1000.0,
        failure_prob=p,
        nack=True,
        retry_delay=delay,
        retry_backoff=backoff,
        retry_delay_max=cap if backoff == "exponential" else None,
        duration=20_000.0,
        warmup=1000.0,
    )
