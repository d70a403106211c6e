"""The closed forms themselves, against textbook values and independent computations (fast; test_theory.py checks
the simulator against them)."""

import math

import pytest
from scipy import integrate

from pubsub import theory


def test_mm1_and_md1_against_textbook_values():
    assert theory.mm1_latency(0.5, 1.0) == pytest.approx(2.0)  # 1/(μ − λ)
    assert theory.mm1_latency(3.0, 4.0) == pytest.approx(1.0)
    # M/D/1 at ρ = 0.5: a wait of ρ/(2μ(1 − ρ)) = 0.5 s, plus the service
    assert theory.md1_latency(0.5, 1.0) == pytest.approx(1.5)
    assert theory.md1_latency(1.6, 2.0) == pytest.approx(0.5 + 0.8 / (2 * 2.0 * 0.2))


def test_erlang_c_against_textbook_values():
    assert theory.erlang_c(1, 0.7) == pytest.approx(0.7)  # one server: the utilization
    # Two servers, offered load 1: C = (1²/2! · 2/(2 − 1)) / (1 + 1 + 1) = 1/3
    assert theory.erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert theory.erlang_c(3, 2.0) == pytest.approx(4 / 9)  # (8/6 · 3) / (1 + 2 + 2 + 4)
    assert theory.mmc_latency(1.0, 1.0, 2) == pytest.approx(1 / 3 / (2 - 1) + 1)
    # μ = 0.5, so that λ/μ, cμ and 1/μ differ from λμ, c/μ and μ: C(2, 1) = 1/3 again, over cμ − λ = 0.5
    assert theory.mmc_latency(0.5, 0.5, 2) == pytest.approx(1 / 3 / 0.5 + 2.0)


def test_ecm1_has_the_golden_ratio_where_its_root_is_known():
    """Erlang-2 gaps of rate λ = 1 per stage, μ = 1: σ = (1/(2 − σ))² has the root (3 − √5)/2 in (0, 1), so the
    sojourn 1/(1 − σ) is the golden ratio."""
    golden = (1 + math.sqrt(5)) / 2
    assert theory.ecm1_latency(1.0, 1.0, 2) == pytest.approx(golden, rel=1e-9)
    assert theory.ecm1_latency_quantile(1.0, 1.0, 2, 0.99) == pytest.approx(math.log(100) * golden, rel=1e-9)
    assert theory.ecm1_latency(0.7, 1.0, 1) == pytest.approx(theory.mm1_latency(0.7, 1.0))


def test_closed_forms_agree_where_they_coincide():
    assert theory.mmc_latency(0.7, 1.0, 1) == pytest.approx(theory.mm1_latency(0.7, 1.0))
    assert theory.md1_latency(0.7, 1.0) < theory.mm1_latency(0.7, 1.0)
    assert theory.mg1_latency(0.7, 1.0, 2.0) == pytest.approx(theory.mm1_latency(0.7, 1.0))  # E[S²] = 2 E[S]²
    assert theory.mg1_latency(0.7, 1.0, 1.0) == pytest.approx(theory.md1_latency(0.7, 1.0))
    assert theory.mg1_latency(0.4, 2.0, 6.0) == pytest.approx(2.0 + 0.4 * 6.0 / (2 * (1 - 0.8)))


def sojourn_beyond(lam: float, mu: float, c: int, t: float) -> float:
    """P(T > t) for M/M/c by integrating the wait's density against the service's tail (independent of the
    closed form in `theory`)."""
    waits, a = theory.erlang_c(c, lam / mu), c * mu - lam
    delayed, _ = integrate.quad(lambda w: a * math.exp(-a * w) * math.exp(-mu * max(0.0, t - w)), 0.0, t)
    delayed += math.exp(-a * t)  # waits longer than t
    return (1 - waits) * math.exp(-mu * t) + waits * delayed


@pytest.mark.parametrize(("lam", "mu", "c"), [(0.5, 1.0, 1), (2.1, 1.0, 3), (1.0, 1.0, 2), (0.25, 0.25, 2)])
@pytest.mark.parametrize("q", [0.5, 0.99])
def test_mmc_quantiles_leave_the_right_tail(lam, mu, c, q):
    """(1.0, 1.0, 2) and (0.25, 0.25, 2) have cμ − λ = μ, the closed form's special case."""
    t = theory.mmc_latency_quantile(lam, mu, c, q)
    assert sojourn_beyond(lam, mu, c, t) == pytest.approx(1 - q, rel=1e-6)
    if c == 1:
        assert t == pytest.approx(-math.log(1 - q) / (mu - lam), rel=1e-9)


def test_retry_latency_sums_the_attempts_and_waits():
    # fixed delay d: s + Σ p^k (s + d) = s + (s + d) p/(1 − p)
    assert theory.retry_latency(1.0, 0.5, lambda k: 2.0) == pytest.approx(1.0 + 3.0, rel=1e-12)
    # doubling delays d·2^(k−1) at p = 1/4: s + s·(1/3) + (d/2)·Σ (1/2)^k = s + s/3 + d/2
    assert theory.retry_latency(1.0, 0.25, lambda k: 2.0 * 2 ** (k - 1)) == pytest.approx(1 + 1 / 3 + 1, rel=1e-12)
    assert theory.retry_latency(1.5, 0.0, lambda k: 9.0) == 1.5


UNSTABLE = [(0.0, 1.0, 1), (1.0, 1.0, 1), (2.5, 1.0, 2), (-1.0, 1.0, 3), (1.5, 0.5, 2), (0.6, 0.5, 1)]


@pytest.mark.parametrize(("lam", "mu", "c"), UNSTABLE)
def test_an_unstable_or_empty_queue_is_refused(lam, mu, c):
    with pytest.raises(ValueError, match=f"unstable or empty queue: λ={lam}, c·μ={c * mu}"):
        theory.mmc_latency(lam, mu, c)
    if c == 1:
        for formula in (theory.mm1_latency, theory.md1_latency):
            with pytest.raises(ValueError, match="unstable"):
                formula(lam, mu)
        with pytest.raises(ValueError, match="unstable"):
            theory.mg1_latency(lam, 1.0 / mu, 2.0 / mu**2)
    with pytest.raises(ValueError, match="unstable"):
        theory.ecm1_latency(lam, mu, c)
    with pytest.raises(ValueError, match="unstable"):
        theory.mmc_latency_quantile(lam, mu, c, 0.9)
