"""Independent, reproducible random streams: one per source of randomness.

Every stream is spawned from the run's seed and a fixed key naming its source
(kind, then the topic or subscription it belongs to, and the publisher or
consumer: `pubsub.topology.Part.rng`), so adding consumers or changing
dispatch never changes another source's draws: replications with the same seed
are common random numbers across scenarios. Work is drawn per copy, not per
consumer: the same copy does the same work whoever takes it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np

from .load import LoadProfile

if TYPE_CHECKING:
    from .topology import SubscriptionPart, TopicPart

ARRIVALS, SERVICE, FAILURES, KEYS, RETRY_SERVICE, RETRY_FAILURES, POISON, THINNING, CRASHES = range(9)

BATCH = 2048


def rng_for(seed: int, kind: int, *index: int) -> np.random.Generator:
    """The generator for one source, identified by `kind` and its indices."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(kind, *index)))


def batched(draw: Callable[[int], np.ndarray]) -> Iterator:
    """Values of `draw(n)` one at a time, drawn from numpy in batches."""
    while True:
        yield from draw(BATCH).tolist()


def drawn(draw: Callable[[int], np.ndarray], count: int) -> np.ndarray:
    """The first `count` values that `batched(draw)` yields, as one array (drawn in the same batches)."""
    chunks = [draw(BATCH) for _ in range(-(-count // BATCH))]
    return np.concatenate(chunks)[:count] if chunks else draw(0)


def interarrival_times(
    arrivals: str,
    rate: float,
    rng: np.random.Generator,
    phase: float = 1.0,
    burst_factor: float = 4.0,
    burst_length: float = 10.0,
) -> Iterator[float]:
    """Gaps between one publisher's messages, in seconds, with mean 1/rate.

    `phase` (in (0, 1]) shifts the first of `fixed` arrivals so that several
    fixed-rate publishers interleave instead of publishing in lockstep.
    """
    if arrivals == "poisson":
        return batched(lambda n: rng.exponential(1.0 / rate, n))
    if arrivals == "fixed":
        return itertools.chain([phase / rate], itertools.repeat(1.0 / rate))
    if arrivals == "bursty":
        return _bursty(rate, burst_factor, burst_length, rng)
    raise ValueError(f"arrivals: unknown process {arrivals!r}")


def _bursty(rate: float, factor: float, on_mean: float, rng: np.random.Generator) -> Iterator[float]:
    """On/off Markov-modulated Poisson gaps.

    On periods (mean `on_mean` s) publish at `rate * factor`; off periods (mean
    `on_mean * (factor - 1)` s) publish nothing, so the long-run mean is `rate`.
    """
    gap_rng, on_rng, off_rng, start_rng = rng.spawn(4)
    gaps = batched(lambda n: gap_rng.exponential(1.0 / (rate * factor), n))
    ons = batched(lambda n: on_rng.exponential(on_mean, n))
    offs = batched(lambda n: off_rng.exponential(on_mean * (factor - 1.0), n))
    # Start in the stationary state: on with probability 1/factor.
    pending = 0.0 if start_rng.random() < 1.0 / factor else next(offs)
    on_left = next(ons)
    while True:
        gap = next(gaps)
        while gap > on_left:
            # The on period ends first; by memorylessness, draw afresh after the off period.
            pending += on_left + next(offs)
            on_left = next(ons)
            gap = next(gaps)
        on_left -= gap
        yield pending + gap
        pending = 0.0


def thinned(candidates: Iterator[float], profile: LoadProfile, rng: np.random.Generator) -> Iterator[float]:
    """Gaps of the arrivals kept from `candidates` (drawn at the peak rate): one at time t is kept with
    probability f(t)/peak, which makes a Poisson process non-homogeneous with rate ∝ f exactly (Lewis–Shedler)."""
    keep = batched(lambda n: rng.random(n))
    peak, t, last = profile.peak, 0.0, 0.0
    for gap in candidates:
        t += gap
        if next(keep) * peak < profile.at(t):
            yield t - last
            last = t


def time_changed(profile: LoadProfile, rate: float, phase: float) -> Iterator[float]:
    """Fixed arrivals under a profile: the k-th (from 0) at the t where rate × ∫₀ᵗ f = phase + k."""
    from scipy.optimize import brentq  # here, not at the top: `import pubsub` stays light

    t, k = 0.0, 0
    while True:
        target = (phase + k) / rate
        # f ≥ trough, so the cumulative reaches the target within this bound.
        high = t + (target - profile.cumulative(t)) / profile.trough
        high += 1e-9 * (1.0 + high)
        arrival = brentq(lambda x, target=target: profile.cumulative(x) - target, t, high, xtol=1e-12, rtol=1e-15)
        yield arrival - t
        t, k = arrival, k + 1


def service_times(service: str, mean: float, cv: float, rng: np.random.Generator) -> Iterator[float]:
    """Processing times in seconds with the given mean (and, for lognormal, coefficient of variation)."""
    if service == "fixed":
        return itertools.repeat(mean)
    return batched(_service_draw(service, mean, cv, rng))


def _service_draw(service: str, mean: float, cv: float, rng: np.random.Generator) -> Callable[[int], np.ndarray]:
    if service == "exponential":
        return lambda n: rng.exponential(mean, n)
    if service == "fixed":
        return lambda n: np.full(n, mean)
    if service == "lognormal":
        sigma2 = math.log1p(cv * cv)
        mu = math.log(mean) - sigma2 / 2.0
        sigma = math.sqrt(sigma2)
        return lambda n: rng.lognormal(mu, sigma, n)
    raise ValueError(f"service: unknown distribution {service!r}")


def failures(probability: float, rng: np.random.Generator) -> Iterator[bool]:
    """Whether each processing attempt fails."""
    return batched(_failure_draw(probability, rng))


def _failure_draw(probability: float, rng: np.random.Generator) -> Callable[[int], np.ndarray]:
    return lambda n: rng.random(n) < probability


def keys(count: int, skew: float, rng: np.random.Generator) -> Iterator[int]:
    """Message keys in [0, count): uniform, or Zipf-skewed with exponent `skew` > 0."""
    return batched(_key_draw(count, skew, rng))


def _key_draw(count: int, skew: float, rng: np.random.Generator) -> Callable[[int], np.ndarray]:
    if skew == 0:
        return lambda n: rng.integers(0, count, n)
    weights = np.arange(1, count + 1, dtype=float) ** -skew
    weights /= weights.sum()
    return lambda n: rng.choice(count, size=n, p=weights)


# One function per source of a Scenario's randomness: `simulate` and the live
# runner both draw through these, so a seed means the same draws in both. Each
# takes the part (`pubsub.topology`) whose stream it is.


def arrival_gaps(topic: TopicPart, publisher: int) -> Iterator[float]:
    """Publisher `publisher` of `topic`: its gaps between messages, s, following the load profile.

    Under a profile, Poisson and bursty candidates are drawn at the peak rate
    and thinned with their own stream, so arrivals stay common random numbers
    across cells that differ in anything but the load.
    """
    t = topic.settings
    profile, phase = LoadProfile.of(t, topic.duration), (publisher + 1) / t.publishers
    if profile.constant:
        rate = t.publish_rate
    elif t.arrivals == "fixed":
        return time_changed(profile, t.publish_rate, phase)
    else:
        rate = t.publish_rate * profile.peak
    gaps = interarrival_times(
        t.arrivals,
        rate,
        topic.rng(ARRIVALS, publisher),
        phase=phase,
        burst_factor=t.burst_factor,
        burst_length=t.burst_length,
    )
    return gaps if profile.constant else thinned(gaps, profile, topic.rng(THINNING, publisher))


def message_keys(topic: TopicPart, publisher: int) -> Iterator[int]:
    """That publisher's message keys."""
    return keys(topic.settings.keys, topic.settings.key_skew, topic.rng(KEYS, publisher))


def poison_messages(topic: TopicPart, publisher: int) -> Iterator[bool] | None:
    """Whether each of that publisher's messages is poison; None if none can be."""
    if topic.settings.poison_prob == 0:
        return None
    return failures(topic.settings.poison_prob, topic.rng(POISON, publisher))


def crash_gaps(subscription: SubscriptionPart, consumer: int) -> Iterator[float]:
    """Running time between one consumer's crashes, s (exponential with mean 1/`crash_rate`)."""
    rng = subscription.rng(CRASHES, consumer)
    rate = subscription.settings.crash_rate
    return batched(lambda n: rng.exponential(1.0 / rate, n))


def copy_service_times(subscription: SubscriptionPart) -> Iterator[float]:
    """First attempts' processing times of a subscription's copies, in admission order, s."""
    s = subscription.settings
    return service_times(s.service, s.service_time, s.service_cv, subscription.rng(SERVICE))


def copy_failures(subscription: SubscriptionPart) -> Iterator[bool] | None:
    """Whether each copy's first attempt fails, in admission order; None if no attempt can fail."""
    if subscription.settings.failure_prob == 0:
        return None
    return failures(subscription.settings.failure_prob, subscription.rng(FAILURES))


def retry_service_times(subscription: SubscriptionPart) -> Iterator[float]:
    """Processing times of a subscription's later attempts (redeliveries), in the order they happen, s."""
    s = subscription.settings
    return service_times(s.service, s.service_time, s.service_cv, subscription.rng(RETRY_SERVICE))


def retry_failures(subscription: SubscriptionPart) -> Iterator[bool] | None:
    """Whether each later attempt fails; None if no attempt can fail."""
    if subscription.settings.failure_prob == 0:
        return None
    return failures(subscription.settings.failure_prob, subscription.rng(RETRY_FAILURES))


# The same draws as arrays, for the compiled engine: each the first `count` values of its iterator above.


def arrival_gap_draw(topic: TopicPart, publisher: int) -> Callable[[int], np.ndarray] | None:
    """Under constant Poisson arrivals, the batches of that publisher's gaps (as `arrival_gaps` draws them); None
    for the other arrival processes, whose gaps come one at a time."""
    t = topic.settings
    if t.arrivals != "poisson" or not LoadProfile.of(t, topic.duration).constant:
        return None
    rng, rate = topic.rng(ARRIVALS, publisher), t.publish_rate
    return lambda n: rng.exponential(1.0 / rate, n)


def message_key_array(topic: TopicPart, publisher: int, count: int) -> np.ndarray:
    return drawn(_key_draw(topic.settings.keys, topic.settings.key_skew, topic.rng(KEYS, publisher)), count)


def poison_array(topic: TopicPart, publisher: int, count: int) -> np.ndarray:
    p = topic.settings.poison_prob
    return np.zeros(count, bool) if p == 0 else drawn(_failure_draw(p, topic.rng(POISON, publisher)), count)


def _service_array(subscription: SubscriptionPart, kind: int, count: int) -> np.ndarray:
    s = subscription.settings
    return drawn(_service_draw(s.service, s.service_time, s.service_cv, subscription.rng(kind)), count)


def _failure_array(subscription: SubscriptionPart, kind: int, count: int) -> np.ndarray:
    p = subscription.settings.failure_prob
    return np.zeros(count, bool) if p == 0 else drawn(_failure_draw(p, subscription.rng(kind)), count)


def copy_service_array(subscription: SubscriptionPart, count: int) -> np.ndarray:
    return _service_array(subscription, SERVICE, count)


def copy_failure_array(subscription: SubscriptionPart, count: int) -> np.ndarray:
    return _failure_array(subscription, FAILURES, count)


def retry_service_array(subscription: SubscriptionPart, count: int) -> np.ndarray:
    return _service_array(subscription, RETRY_SERVICE, count)


def retry_failure_array(subscription: SubscriptionPart, count: int) -> np.ndarray:
    return _failure_array(subscription, RETRY_FAILURES, count)
