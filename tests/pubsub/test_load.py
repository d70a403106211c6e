"""Load over time: arrivals follow the rate profile exactly, and keep common random numbers."""

import itertools
import math

import numpy as np
import pytest
from scipy.stats import chisquare, poisson

from pubsub import Scenario, simulate
from pubsub import randomness as rnd
from pubsub.load import LoadProfile
from tests.pubsub.helpers import Recording, topic_of

PROFILES = {
    "step": dict(rate_profile="step", rate_factor=3.0, rate_change_at=400.0),
    "ramp": dict(rate_profile="ramp", rate_factor=0.25),
    "sine": dict(rate_profile="sine", rate_amplitude=0.8, rate_period=300.0),
}
RATE, DURATION = 2.0, 1000.0


def profile_of(s: Scenario) -> tuple[Scenario, float]:
    """A uniform scenario's topic settings (the Scenario's own flat fields) and its run's length."""
    return s, s.duration


def published_times(**fields) -> np.ndarray:
    trace = Recording()
    simulate(Scenario(publish_rate=RATE, duration=DURATION, warmup=0.0, **fields), trace=trace)
    return np.array([e[1] for e in trace.of("published")])


@pytest.mark.parametrize("name", PROFILES)
def test_poisson_arrivals_follow_the_profile_in_total_and_over_time(name):
    fields = PROFILES[name]
    profile = LoadProfile.of(*profile_of(Scenario(duration=DURATION, **fields)))
    times = [published_times(seed=seed, **fields) for seed in range(10)]
    expected = 10 * RATE * profile.cumulative(DURATION)
    low, high = poisson.interval(0.999, expected)
    assert low <= sum(len(t) for t in times) <= high
    # Over ten equal bins, the counts follow the integral of the rate over each bin.
    edges = np.linspace(0.0, DURATION, 11)
    counts = np.histogram(np.concatenate(times), edges)[0]
    shares = np.diff([profile.cumulative(e) for e in edges])
    assert chisquare(counts, counts.sum() * shares / shares.sum()).pvalue > 0.001


@pytest.mark.parametrize("name", PROFILES)
def test_fixed_arrivals_come_where_the_integral_of_the_rate_reaches_each_whole_number(name):
    fields = PROFILES[name]
    profile = LoadProfile.of(*profile_of(Scenario(duration=DURATION, **fields)))
    times = published_times(arrivals="fixed", seed=0, **fields)
    reached = np.array([RATE * profile.cumulative(t) for t in times])
    assert np.allclose(reached, np.arange(len(times)) + 1.0, atol=1e-6)  # phase 1 for a single publisher
    assert len(times) == math.floor(RATE * profile.cumulative(DURATION) + 1e-6)


def test_bursty_arrivals_follow_the_profile_on_average():
    fields = PROFILES["sine"]
    profile = LoadProfile.of(*profile_of(Scenario(duration=5000.0, **fields)))
    counts = [
        simulate(
            Scenario(publish_rate=RATE, arrivals="bursty", duration=5000.0, warmup=0.0, seed=seed, **fields)
        ).summary["published"]
        for seed in range(12)
    ]
    assert np.mean(counts) == pytest.approx(RATE * profile.cumulative(5000.0), rel=0.06)


def test_thinned_arrivals_are_the_same_whatever_the_consumers():
    fields = dict(dispatch="shared", seed=5, **PROFILES["sine"])
    one = published_times(group_size=1, **fields)
    four = published_times(group_size=4, ack=True, failure_prob=0.2, **fields)
    assert len(one) > 1000 and np.array_equal(one, four)


def test_a_profile_changes_the_load_not_the_draws_behind_it():
    """Thinning keeps a subset of the peak-rate candidates: a step to a higher rate keeps every earlier arrival."""
    before = published_times(seed=2, rate_profile="step", rate_factor=2.0, rate_change_at=600.0)
    other = published_times(seed=2, rate_profile="step", rate_factor=2.0, rate_change_at=300.0)
    assert np.array_equal(before[before < 300.0], other[other < 300.0])


def test_thinned_arrivals_follow_the_profile_second_by_second_from_time_zero():
    """Thinning reads the profile at each candidate's own time, from 0: the first second, the second before the
    step and the second after it each hold their own rate's Poisson count (over 500 seeds)."""
    fields = dict(
        publish_rate=RATE, rate_profile="step", rate_factor=4.0, rate_change_at=10.0, duration=20.0, warmup=0.0
    )
    seconds = {0.0: RATE, 9.0: RATE, 10.0: 4.0 * RATE}
    counts = dict.fromkeys(seconds, 0)
    for seed in range(500):
        times = np.cumsum(list(itertools.islice(rnd.arrival_gaps(topic_of(Scenario(seed=seed, **fields)), 0), 200)))
        for start in seconds:
            counts[start] += np.count_nonzero((times >= start) & (times < start + 1.0))
    for start, rate in seconds.items():
        low, high = poisson.interval(0.999, 500 * rate)
        assert low <= counts[start] <= high, (start, counts[start], rate)


def test_a_scenarios_profile_has_its_shape_at_chosen_instants():
    sine = LoadProfile.of(*profile_of(Scenario(rate_profile="sine", rate_period=300.0, rate_amplitude=0.5)))
    assert [sine.at(t) for t in (0.0, 75.0, 225.0)] == pytest.approx([1.0, 1.5, 0.5])
    assert sine.cumulative(300.0) == pytest.approx(300.0)  # a whole period adds nothing
    step = LoadProfile.of(*profile_of(Scenario(rate_profile="step", rate_factor=3.0, rate_change_at=100.0)))
    assert [step.at(t) for t in (99.0, 100.0, 200.0)] == [1.0, 3.0, 3.0] and step.cumulative(200.0) == 400.0
    ramp = LoadProfile.of(*profile_of(Scenario(rate_profile="ramp", rate_factor=3.0, duration=1000.0)))
    assert [ramp.at(t) for t in (0.0, 500.0, 1000.0, 2000.0)] == [1.0, 2.0, 3.0, 3.0]
    assert ramp.cumulative(1000.0) == 2000.0 and ramp.cumulative(1100.0) == 2300.0
    constant = LoadProfile.of(*profile_of(Scenario()))
    assert constant.constant and constant.at(50.0) == 1.0 and constant.cumulative(50.0) == 50.0
