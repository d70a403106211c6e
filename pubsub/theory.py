"""Closed-form mean latencies (publish to completion, s) that the simulator must match.

λ is the arrival rate a subscription sees, μ = 1/service_time each consumer's
service rate, c the group size. All require λ < cμ.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from scipy.optimize import brentq


def _stable(lam: float, mu: float, c: int = 1) -> None:
    if not 0 < lam < c * mu:
        raise ValueError(f"unstable or empty queue: λ={lam}, c·μ={c * mu}")


def mm1_latency(lam: float, mu: float) -> float:
    """M/M/1: 1/(μ − λ)."""
    _stable(lam, mu)
    return 1.0 / (mu - lam)


def erlang_c(c: int, offered: float) -> float:
    """Probability that an arrival waits in M/M/c with offered load λ/μ."""
    rho = offered / c
    head = sum(offered**k / math.factorial(k) for k in range(c))
    tail = offered**c / (math.factorial(c) * (1.0 - rho))
    return tail / (head + tail)


def mmc_latency(lam: float, mu: float, c: int) -> float:
    """M/M/c (a `shared` group): C(c, λ/μ)/(cμ − λ) + 1/μ."""
    _stable(lam, mu, c)
    return erlang_c(c, lam / mu) / (c * mu - lam) + 1.0 / mu


def md1_latency(lam: float, mu: float) -> float:
    """M/D/1 by Pollaczek–Khinchine: 1/μ + ρ/(2μ(1 − ρ))."""
    _stable(lam, mu)
    rho = lam / mu
    return 1.0 / mu + rho / (2.0 * mu * (1.0 - rho))


def mg1_latency(lam: float, mean: float, second_moment: float) -> float:
    """M/G/1 by Pollaczek–Khinchine: E[S] + λE[S²]/(2(1 − ρ)), ρ = λE[S]."""
    _stable(lam, 1.0 / mean)
    return mean + lam * second_moment / (2.0 * (1.0 - lam * mean))


def ecm1_latency(lam: float, mu: float, c: int) -> float:
    """E_c/M/1: one consumer of a `round-robin` group of c fed by Poisson(λ).

    Every c-th arrival reaches the consumer, so its gaps are Erlang(c, λ). For
    GI/M/1 the sojourn is 1/(μ(1 − σ)), σ the root in (0, 1) of σ = A*(μ(1 − σ)),
    with A*(s) = (λ/(λ + s))^c the gaps' Laplace transform.
    """
    _stable(lam, mu, c)
    sigma = brentq(lambda x: (lam / (lam + mu * (1.0 - x))) ** c - x, 0.0, 1.0 - 1e-12)
    return 1.0 / (mu * (1.0 - sigma))


def ecm1_latency_quantile(lam: float, mu: float, c: int, q: float) -> float:
    """E_c/M/1: the q-quantile of the sojourn, which is exponential with the mean `ecm1_latency`."""
    return -math.log(1.0 - q) * ecm1_latency(lam, mu, c)


def mmc_latency_quantile(lam: float, mu: float, c: int, q: float) -> float:
    """M/M/c: the q-quantile of the sojourn T = W + S.

    W is 0 with probability 1 − C and else exponential with rate a = cμ − λ (C: Erlang C);
    S is exponential(μ). So P(T > t) = (1 − C)e^(−μt) + C·(a·e^(−μt) − μ·e^(−at))/(a − μ),
    the second term (a sum of two exponentials) being (1 + μt)e^(−μt) when a = μ.
    """
    _stable(lam, mu, c)
    waits, a = erlang_c(c, lam / mu), c * mu - lam

    def beyond(t: float) -> float:
        if math.isclose(a, mu):
            both = (1.0 + mu * t) * math.exp(-mu * t)
        else:
            both = (a * math.exp(-mu * t) - mu * math.exp(-a * t)) / (a - mu)
        return (1.0 - waits) * math.exp(-mu * t) + waits * both - (1.0 - q)

    high = 1.0 / mu
    while beyond(high) > 0:
        high *= 2.0
    return brentq(beyond, 0.0, high)


def retry_latency(service: float, failure_prob: float, delay: Callable[[int], float]) -> float:
    """Mean latency of a copy that no one waits for (light load) when failed attempts are nacked.

    Every attempt takes `service` and fails with `failure_prob`; after the k-th
    failure the copy waits `delay(k)`. At least k attempts fail with probability
    p^k, so the mean is s + Σ_k p^k (s + delay(k)).
    """
    total, k, weight = service, 1, failure_prob
    while weight * (service + delay(k)) > 1e-15 * total:
        total += weight * (service + delay(k))
        k, weight = k + 1, weight * failure_prob
    return total
