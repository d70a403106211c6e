"""The generators draw what the contract says: moments checked with intervals over many draws.

Every seed is fixed, so each check is deterministic; the intervals (99.9%) say how
far from the truth a correct generator could land, and are narrow enough that a
wrong rate, mean, spread or weight lands outside them.
"""

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from pubsub import Scenario, simulate
from pubsub import randomness as rnd
from tests.pubsub.helpers import subscription_of, topic_of

LEVEL = 0.999


def t_interval(values) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    half = stats.t.ppf((1 + LEVEL) / 2, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return values.mean() - half, values.mean() + half


def arrivals_within(gaps, horizon: float) -> int:
    """How many arrivals a stream of gaps puts in [0, horizon]."""
    times = itertools.accumulate(gaps)
    return sum(1 for _ in itertools.takewhile(lambda t: t <= horizon, times))


@pytest.mark.parametrize(("factor", "length"), [(4.0, 10.0), (8.0, 2.0)])
def test_bursty_arrivals_have_the_long_run_rate(factor, length):
    """On/off arrivals: the count over a long horizon, over independent seeds, averages rate × horizon."""
    rate, horizon = 0.5, 20_000.0
    fields = dict(arrivals="bursty", publish_rate=rate, burst_factor=factor, burst_length=length)
    counts = [
        arrivals_within(rnd.arrival_gaps(topic_of(Scenario(seed=seed, **fields)), 0), horizon) for seed in range(40)
    ]
    low, high = t_interval(np.array(counts) / horizon)
    assert low <= rate <= high
    assert high - low < 0.05 * rate  # narrow enough to see a rate 5% off
    # Bursty, not Poisson: the counts vary far more than a Poisson count's √(rate × horizon).
    assert np.std(counts) > 3 * math.sqrt(rate * horizon)


def test_bursty_arrivals_start_in_the_stationary_state():
    """Started on with probability 1/factor, the count in the first on-period's length already averages rate × t;
    starting always on (or always off, or on with twice the odds) would not."""
    rate, window = 0.5, 2.0
    fields = dict(arrivals="bursty", publish_rate=rate, burst_factor=8.0, burst_length=2.0)
    counts = [
        arrivals_within(rnd.arrival_gaps(topic_of(Scenario(seed=seed, **fields)), 0), window) for seed in range(3000)
    ]
    low, high = t_interval(counts)
    assert low <= rate * window <= high
    assert high - low < 0.3 * rate * window


def test_lognormal_service_has_its_mean_and_coefficient_of_variation():
    mean, cv, n = 2.0, 1.5, 200_000
    draws = np.fromiter(itertools.islice(rnd.service_times("lognormal", mean, cv, np.random.default_rng(1)), n), float)
    low, high = t_interval(draws)
    assert low <= mean <= high
    # The log of a lognormal draw is exactly normal: a chi-square interval for its variance σ², and CV² = e^σ² − 1.
    logs = np.log(draws)
    var = logs.var(ddof=1)
    var_low = (n - 1) * var / stats.chi2.ppf((1 + LEVEL) / 2, n - 1)
    var_high = (n - 1) * var / stats.chi2.ppf((1 - LEVEL) / 2, n - 1)
    assert math.sqrt(math.expm1(var_low)) <= cv <= math.sqrt(math.expm1(var_high))
    assert draws.std() / draws.mean() == pytest.approx(cv, rel=0.1)  # the plain sample CV agrees, roughly


def test_exponential_service_has_its_mean():
    draws = np.fromiter(itertools.islice(rnd.service_times("exponential", 0.7, 1.0, np.random.default_rng(2)), 100_000),
                        float)  # fmt: skip
    low, high = t_interval(draws)
    assert low <= 0.7 <= high


def test_crash_gaps_have_the_mean_the_crash_rate_gives():
    mean = 20.0  # running seconds between one consumer's crashes
    gaps = np.fromiter(
        itertools.islice(rnd.crash_gaps(subscription_of(Scenario(crash_rate=1 / mean)), 0), 50_000), float
    )
    low, high = t_interval(gaps)
    assert low <= mean <= high and high - low < 0.05 * mean


@pytest.mark.parametrize("skew", [0.0, 0.3, 1.0, 1.2])
def test_keys_follow_zipf_weights(skew):
    """Key k has weight (k + 1)^−skew: a chi-square test of the counts, and each key's share inside its interval."""
    count, n = 12, 60_000
    scenario = Scenario(dispatch="key-hash", keys=count, key_skew=skew, seed=3)
    keys = rnd.message_keys(topic_of(scenario), 0)
    assert keys is not None
    counts = np.bincount(np.fromiter(itertools.islice(keys, n), int), minlength=count)
    assert len(counts) == count
    weights = np.arange(1, count + 1, dtype=float) ** -skew
    weights /= weights.sum()
    assert stats.chisquare(counts, n * weights).pvalue > 1 - LEVEL
    low, high = stats.binom.interval(LEVEL, n, weights)
    assert ((low <= counts) & (counts <= high)).all()


@pytest.mark.parametrize("publishers", [1, 3])
def test_fixed_arrivals_interleave_by_their_phase(publishers):
    """Publisher p of P first publishes at (p + 1)/(P × rate), then every 1/rate: together, evenly spaced."""
    rate = 0.4
    scenario = Scenario(arrivals="fixed", publish_rate=rate, publishers=publishers)
    times = []
    for p in range(publishers):
        mine = np.cumsum(list(itertools.islice(rnd.arrival_gaps(topic_of(scenario), p), 50)))
        assert mine == pytest.approx((p + 1) / (publishers * rate) + np.arange(50) / rate, abs=1e-9)
        times.extend(mine)
    assert np.diff(sorted(times)) == pytest.approx(np.full(50 * publishers - 1, 1 / (publishers * rate)), abs=1e-9)


def test_every_source_of_randomness_draws_from_a_stream_of_its_own(monkeypatch):
    """Each stream (kind of source, topic, publisher or subscription, consumer) is made once, under a key of its
    own: a shared key would make, say, crashes replay the arrival draws, or two topics publish the same poison."""
    keys = []
    original = rnd.rng_for

    def spy(seed, kind, *index):
        keys.append((seed, kind, *index))
        return original(seed, kind, *index)

    monkeypatch.setattr(rnd, "rng_for", spy)
    s = Scenario(topics=2, publishers=2, subscribers=2, group_size=3, keys=5, dispatch="key-hash",
                 rate_profile="step", rate_factor=2.0, rate_change_at=100.0, ack=True, failure_prob=0.1,
                 poison_prob=0.05, max_deliveries=3, crash_rate=0.01, duration=200.0, warmup=0.0, seed=7)  # fmt: skip
    simulate(s)
    assert len(keys) == len(set(keys))
    assert {seed for seed, *_ in keys} == {7}
    # (seed, kind, topic, publisher or subscription), and the consumer for crashes: no index left out.
    assert all(len(key) == (5 if key[1] == rnd.CRASHES else 4) for key in keys)
    assert {kind for _, kind, *_ in keys} == set(range(9))  # every kind of source was drawn from
    # Per topic, each publisher has arrivals, thinning, keys and poison; each subscription service, failures and
    # their retry streams; each consumer crashes.
    assert len(keys) == 2 * (2 * 4 + 2 * 4 + 2 * 3)


def test_an_unknown_arrival_process_or_service_distribution_is_named_in_the_error():
    with pytest.raises(ValueError, match="arrivals: unknown process 'weibull'"):
        rnd.interarrival_times("weibull", 1.0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="service: unknown distribution 'gamma'"):
        rnd.service_times("gamma", 1.0, 1.0, np.random.default_rng(0))
