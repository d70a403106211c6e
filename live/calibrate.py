"""Calibration: the costs a real broker and client add to every copy, measured on an idle server.

Three micro-measurements, run with the live runner's own publisher and consumer
code, never fitted to any validation result:

- **per-message overhead**: one consumer works through a backlog published in
  advance; the time between one take and the next, minus the service time it
  slept, is what each message costs beyond its sleep (fetch and acknowledgment
  round trips, the sleep's overshoot, the client's own work). Measured with and
  without acknowledgments, whose consumers make different calls.
- **delivery delay**: messages published apart to one idle consumer (short
  fixed attempts, so that a round has many); the time from a message's
  scheduled publish to the end of its attempt, minus its sleep and the
  per-message overhead, is how much later than the simulator's ideal broker an
  idle consumer can start on a copy (the publisher's lateness, the push to the
  blocked reader): its mean without the lowest and highest tenth.
- **redelivery overhead**: one consumer works through a backlog of which half
  the attempts fail, so that expired deliveries come back while it is busy;
  the time from the end of one attempt to the take of the next is what the
  consumer spends fetching it. A redelivered copy is fetched by a claim
  (`XAUTOCLAIM` with this consumer's pending entries from `XPENDING`, in one
  round trip) where a new one is read (`XREADGROUP`); the difference of the
  two mean fetches, in the same run, is what a redelivered attempt costs beyond
  `service_overhead`, which was measured on reads.

The simulator takes them as `delivery_delay`, `service_overhead` and
`redelivery_overhead`, in model seconds (real seconds divided by the time scale).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import trim_mean

from pubsub import Scenario
from pubsub import randomness as rnd
from pubsub.topology import Topology

from .runner import LiveRun

BACKLOG = 100  # messages worked through for the overhead, per round
SPACED = 120  # messages published to an idle consumer for the delay, per round
SPACING = 1.0  # mean service times between those messages...
SPACED_SERVICE = 0.25  # ...each a fixed quarter of a mean service: idle ~3/4 of the time, three times the samples
# Of the delays, the lowest and highest tenth are left out of the mean: an idle client now and then wakes
# milliseconds late (a machine that sits idle is descheduled), which moved one round's mean by up to 0.5 ms
# between cases a minute apart (measured), more than the delay itself.
TRIM = 0.1
REDELIVERED = 0.5  # failure probability of the redelivery probe's attempts: half of them come back
# Independent rounds, pooled: from one short run to the next the machine's speed varies more
# (about ±0.07 ms per message, measured) than the mean of one run is uncertain.
ROUNDS = 6
QUICK_ROUNDS = 2


@dataclass(frozen=True)
class Calibration:
    """Measured costs, in real seconds; None for those of a mode that was not measured (`calibrate`'s `ack`)."""

    delivery_delay: float
    service_overhead_ack: float | None
    service_overhead_noack: float | None
    redelivery_overhead: float | None  # beyond service_overhead, for an attempt on a redelivered copy
    publish_to_receive: float  # raw: scheduled publish to the idle consumer's receipt
    samples: int

    def fields(self, ack: bool, time_scale: float) -> dict[str, float]:
        """The subscription fields that carry these costs into the simulator, with or without acknowledgments,
        at `time_scale`."""
        overhead = self.service_overhead_ack if ack else self.service_overhead_noack
        redelivery = self.redelivery_overhead if ack else 0.0  # without acknowledgments nothing comes back
        if overhead is None or redelivery is None:
            raise ValueError(f"this calibration did not measure the costs of a consumer with ack={ack}")
        return {
            "delivery_delay": self.delivery_delay / time_scale,
            "service_overhead": overhead / time_scale,
            "redelivery_overhead": redelivery / time_scale,
        }

    def applied(self, scenario: Scenario, time_scale: float) -> Scenario:
        """`scenario` as the simulator should run it to stand for the real broker: every subscription with
        these costs (its own, by whether it acknowledges)."""
        if not scenario.named:
            return scenario.model_copy(update=self.fields(scenario.ack, time_scale))
        dumped = scenario.model_dump()
        parts = {part.name: part.settings for part in Topology.of(scenario).subscriptions}
        dumped["subscriptions"] = {
            name: {**fields, **self.fields(parts[name].ack, time_scale)}
            for name, fields in dumped["subscriptions"].items()
        }
        return Scenario(**dumped)

    def as_dict(self) -> dict[str, float | None]:
        return asdict(self)

    @classmethod
    def median(cls, found: list[Calibration]) -> Calibration:
        """Each cost's median over several calibrations (a costs not measured stays None)."""
        return cls(
            delivery_delay=float(np.median([c.delivery_delay for c in found])),
            service_overhead_ack=_median([c.service_overhead_ack for c in found]),
            service_overhead_noack=_median([c.service_overhead_noack for c in found]),
            redelivery_overhead=_median([c.redelivery_overhead for c in found]),
            publish_to_receive=float(np.median([c.publish_to_receive for c in found])),
            samples=sum(c.samples for c in found),
        )


def _median(values: list[float | None]) -> float | None:
    """The median of a cost measured in every calibration; None if some did not measure it."""
    measured = [v for v in values if v is not None]
    return float(np.median(measured)) if len(measured) == len(values) else None


def _probe(ack: bool, duration: float, service: str = "exponential", service_time: float = 1.0) -> Scenario:
    """One publisher, one consumer of exponential service of mean 1 model s (time_scale real s), or as given."""
    return Scenario(
        dispatch="shared", ack=ack, ack_timeout=1e6, service=service, service_time=service_time, duration=duration,
        warmup=0.0, seed=20261128,
    )  # fmt: skip


def _draws(scenario: Scenario, count: int) -> np.ndarray:
    """The first `count` copies' service times, model s (the probes publish in order to one consumer)."""
    services = rnd.copy_service_times(Topology.of(scenario).subscriptions[0])
    return np.array([next(services) for _ in range(count)])


def per_message_overhead(url: str, time_scale: float, ack: bool, count: int = BACKLOG) -> tuple[float, int]:
    """Mean real time a busy consumer spends per message beyond its sleep, and the number of cycles measured."""
    scenario = _probe(ack, duration=0.8 * count)
    plan = [(1e-4 * (k + 1), 0) for k in range(count)]  # all published within a few milliseconds
    log = LiveRun(scenario, url, time_scale, plans={(0, 0): plan}).run()
    published_by = max(at for *_, at in log.published)
    takes = np.array([a.taken for a in log.attempts])
    sleeps = _draws(scenario, len(takes)) * time_scale
    cycles = np.diff(takes) - sleeps[:-1]
    busy = takes[:-1] > published_by  # after the publisher stopped sharing the loop
    return float(cycles[busy].mean()), int(busy.sum())


def delivery_delay(
    url: str, time_scale: float, overhead: float, ack: bool = True, count: int = SPACED
) -> tuple[float, float, int]:
    """(delay, raw publish-to-receive) in real s for copies reaching an idle consumer, and their count; `overhead`
    is the per-message overhead measured with the same `ack`."""
    scenario = _probe(ack, duration=SPACING * (count + 1), service="fixed", service_time=SPACED_SERVICE)
    plan = [(SPACING * (k + 1), 0) for k in range(count)]
    log = LiveRun(scenario, url, time_scale, plans={(0, 0): plan}).run()
    sleeps = _draws(scenario, len(log.attempts)) * time_scale
    scheduled = np.array([log.start + a.published * time_scale for a in log.attempts])
    taken = np.array([a.taken for a in log.attempts])
    ended = np.array([a.ended for a in log.attempts])
    idle = np.concatenate(([True], ended[:-1] < scheduled[1:]))  # the consumer was idle when it was published
    idle &= ~np.isnan(ended)
    delay = ended[idle] - scheduled[idle] - sleeps[idle] - overhead
    receive = taken[idle] - scheduled[idle]
    return float(trim_mean(delay, TRIM)), float(trim_mean(receive, TRIM)), int(idle.sum())


def redelivery_overhead(url: str, time_scale: float, count: int = BACKLOG) -> tuple[float, int]:
    """Mean real time a busy consumer spends fetching a redelivered copy beyond fetching a new one, and the
    number of redelivered attempts measured.

    Every message is published at once; half the attempts fail, and their copies expire after `ack_timeout`
    while the consumer is still working through the backlog, so it claims them between reads. Only fetches of
    a copy that was already waiting when the previous attempt ended count.
    """
    scenario = _probe(True, duration=1.6 * count).model_copy(update={"failure_prob": REDELIVERED, "ack_timeout": 4.0})
    plan = [(1e-4 * (k + 1), 0) for k in range(count)]
    run = LiveRun(scenario, url, time_scale, plans={(0, 0): plan})
    log = run.run()
    timeout = run.timeout_ms[0] / 1000  # as the consumer counts it, from its receipt
    published = {copy: at for _, copy, _, at in log.published}
    previous_take: dict[str, float] = {}
    ready = []  # when each attempt's copy could be fetched: published, or its previous delivery expired
    for a in log.attempts:
        ready.append(published[a.copy] if a.delivery == 1 else previous_take[a.copy] + timeout)
        previous_take[a.copy] = a.taken
    fetches: dict[bool, list[float]] = {False: [], True: []}  # redelivered -> fetch times
    for k in range(1, len(log.attempts)):
        before, after = log.attempts[k - 1], log.attempts[k]
        if not np.isnan(before.ended) and ready[k] < before.ended:
            fetches[after.delivery > 1].append(after.taken - before.ended)
    claimed, read = fetches[True], fetches[False]
    return float(np.mean(claimed) - np.mean(read)), len(claimed)


def calibrate(
    url: str, time_scale: float, quick: bool = False, rounds: int | None = None, ack: bool | None = None
) -> Calibration:
    """The measurements on the server at `url`, with a mean service of `time_scale` real seconds, each the mean of
    several independent rounds (weighted by the samples each gave). With `ack` True or False, only the costs of
    consumers that do or do not acknowledge (the others are None): in about half the time without."""
    rounds = rounds or (QUICK_ROUNDS if quick else ROUNDS)
    modes = (True, False) if ack is None else (ack,)
    overheads: dict[bool, list[tuple[float, int]]] = {mode: [] for mode in modes}
    for _ in range(rounds):  # interleaved, so that both modes see the same spells of the machine
        for mode in modes:
            overheads[mode].append(per_message_overhead(url, time_scale, ack=mode))
    overhead = {mode: _pooled(measured) for mode, measured in overheads.items()}
    probe = modes[0]  # the delay probe's consumer acknowledges where any does
    delays = [delivery_delay(url, time_scale, overhead[probe], ack=probe) for _ in range(max(1, rounds // 2))]
    delay = _pooled([(d, n) for d, _, n in delays])
    receive = _pooled([(r, n) for _, r, n in delays])
    measured = [*overheads.values(), [(d, n) for d, _, n in delays]]
    redelivery = None
    if True in modes:
        claims = [redelivery_overhead(url, time_scale) for _ in range(max(1, rounds // 2))]
        redelivery = max(_pooled(claims), 0.0)
        measured.append(claims)
    samples = min(sum(n for _, n in found) for found in measured)
    return Calibration(max(delay, 0.0), overhead.get(True), overhead.get(False), redelivery, receive, samples)


def _pooled(measured: list[tuple[float, int]]) -> float:
    total = sum(n for _, n in measured)
    return sum(value * n for value, n in measured) / total
