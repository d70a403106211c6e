"""The compiled engine: a Scenario's draws made into arrays, run by `pubsub.kernel`, reduced by `pubsub.metrics`.

The draws come from the same streams as the asimpy model's (`pubsub.randomness`),
taken in the same order: each publisher's gaps, keys and poison flags, each
subscription's first-attempt service times and failures in admission order, and
its retries' in the order redeliveries are taken. The parts are numbered in the
order `simulation.build` builds them, so that the kernel's ties fall as the
model's do and its logs are the model's, row for row.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from . import kernel
from . import randomness as rnd
from .dispatch import make_dispatch
from .recorder import COUNTS
from .scenario import Scenario
from .topology import SubscriptionPart, TopicPart, Topology

ROUTING = {"shared": kernel.SHARED, "round-robin": kernel.ROUND_ROBIN, "least-loaded": kernel.LEAST_LOADED}


# The run's logs as `pubsub.metrics` reads them (its `MailboxLog`, `ConsumerLog`, `SubscriptionLog` and `RunLog`).


@dataclass
class Mailbox:
    """One queue's log: when copies entered and left it, and how many wait at the end."""

    consumer: int
    entered: np.ndarray
    left: np.ndarray
    waiting: int

    def __len__(self) -> int:
        return self.waiting


@dataclass
class Consumer:
    """One consumer's time: busy in the window, and its attempt running at the end, if any (the group is fixed)."""

    busy: int
    busy_since: float
    busy_time: float
    started_at: float = 0.0
    stopped_at: float = math.inf


@dataclass
class Counts:
    values: dict[str, int]

    def counts(self) -> dict[str, int]:
        return self.values


@dataclass
class Subscription:
    """One subscription's counts, queues and consumers."""

    name: str
    recorder: Counts
    mailboxes: list[Mailbox]
    consumers: list[Consumer]
    in_flight: range  # as many as its copies taken and not settled: only their number is read
    sizes: list[tuple[float, int]]
    rebalancer: None = None


@dataclass
class Log:
    """Every first success in the order they happened (publish, start, end, subscription, the delivery it was on),
    and the run's counts."""

    published_at: np.ndarray
    started_at: np.ndarray
    finished_at: np.ndarray
    owner: np.ndarray
    delivery: np.ndarray
    totals: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return self.totals


def build_order(topology: Topology) -> list[SubscriptionPart]:
    """Subscriptions in the order `simulation.build` builds them: topic by topic, each with its first topic."""
    order: list[SubscriptionPart] = []
    for topic in topology.topics:
        order.extend(part for part in topology.readers(topic.name) if part not in order)
    return order


def _first(values: Iterator, count: int, dtype) -> np.ndarray:
    return np.fromiter(itertools.islice(values, count), dtype=dtype, count=count)


def _gaps_until(topic: TopicPart, publisher: int, until: float) -> np.ndarray:
    """The gaps of every message that publisher publishes by `until`, summed as the model's clock sums them (in
    order); drawn in numpy's batches where the arrivals allow, else one at a time from their iterator."""
    draw = rnd.arrival_gap_draw(topic, publisher)
    if draw is None:
        gaps = rnd.arrival_gaps(topic, publisher)

        def draw(count: int) -> np.ndarray:
            return _first(gaps, count, float)

    chunks, now = [], 0.0
    while True:
        chunk = draw(rnd.BATCH)
        times = np.cumsum(np.concatenate(([now], chunk)))[1:]  # sequential: now + g1, then + g2, ...
        inside = int(np.searchsorted(times, until, side="right"))
        chunks.append(chunk[:inside])
        if inside < chunk.size:
            return np.concatenate(chunks)
        now = float(times[-1])


def _routes(part: SubscriptionPart, keys: int) -> np.ndarray:
    """Under a keyed dispatch, the consumer each key goes to, as the model's dispatch routes it."""
    s = part.settings
    return _key_routes(s.dispatch, s.group_size, keys, s.partition_count)


@functools.lru_cache(maxsize=64)
def _key_routes(policy: str, group_size: int, keys: int, partitions: int) -> np.ndarray:
    # A hash per key, in Python: worth keeping for the replications of a cell (a sweep worker runs many).
    dispatch = make_dispatch(policy, None, [None] * group_size, None, keys, partitions)  # type: ignore[arg-type, list-item]
    routes = np.array([dispatch.route(key).consumer for key in range(keys)], dtype=np.int64)
    routes.flags.writeable = False
    return routes


def run(scenario: Scenario):
    """The kernel's run of `scenario`: (run log, subscriptions in build order, their consumers)."""
    topology = Topology.of(scenario)
    order = build_order(topology)
    until = scenario.duration

    topic_index = {topic.name: t for t, topic in enumerate(topology.topics)}
    publisher_topic, gap_chunks, key_chunks, poison_chunks = [], [], [], []
    for topic in topology.topics:
        for p in range(topic.settings.publishers):
            gaps = _gaps_until(topic, p, until)
            keyed = topology.keyed(topic.name)
            keys = rnd.message_key_array(topic, p, gaps.size) if keyed else np.zeros(gaps.size, np.int64)
            publisher_topic.append(topic_index[topic.name])
            gap_chunks.append(gaps)
            key_chunks.append(keys)
            poison_chunks.append(rnd.poison_array(topic, p, gaps.size))
    published = np.zeros(len(topology.topics), np.int64)
    for t, gaps in zip(publisher_topic, gap_chunks):
        published[t] += gaps.size

    topic_subs = [[s for s, part in enumerate(order) if topic.name in part.topics] for topic in topology.topics]
    offered = [int(sum(published[topic_index[name]] for name in part.topics)) for part in order]
    services = [rnd.copy_service_array(part, n) for part, n in zip(order, offered)]
    fails = [rnd.copy_failure_array(part, n) for part, n in zip(order, offered)]
    routes = [
        _routes(part, topology.keys(part)) if part.settings.dispatch not in ROUTING else np.zeros(0, np.int64)
        for part in order
    ]
    groups = [part.settings.group_size for part in order]
    boxes = [1 if part.settings.dispatch == "shared" else part.settings.group_size for part in order]

    def starts(sizes) -> np.ndarray:
        return np.concatenate(([0], np.cumsum(sizes, dtype=np.int64))).astype(np.int64)

    settings = [part.settings for part in order]

    def column(values, dtype) -> np.ndarray:
        return np.array(values, dtype)

    # Redeliveries draw as they happen: as many as copies offered to begin with, more if a run needs them.
    retries = [n + 64 if s.ack else 0 for s, n in zip(settings, offered)]
    while True:
        retry_services = [rnd.retry_service_array(part, n) for part, n in zip(order, retries)]
        retry_fails = [rnd.retry_failure_array(part, n) for part, n in zip(order, retries)]
        out = kernel.run(
            float(until),
            float(scenario.warmup),
            column(publisher_topic, np.int64),
            starts([g.size for g in gap_chunks]),
            np.concatenate(gap_chunks),
            np.concatenate(key_chunks),
            np.concatenate(poison_chunks),
            starts([len(subs) for subs in topic_subs]),
            column([s for subs in topic_subs for s in subs], np.int64),
            column([ROUTING.get(s.dispatch, kernel.BY_KEY) for s in settings], np.int64),
            starts(groups),
            starts(boxes),
            column([-1 if s.queue_capacity is None else s.queue_capacity for s in settings], np.int64),
            column([s.delivery_delay for s in settings], np.float64),
            column([s.service_overhead for s in settings], np.float64),
            column([s.redelivery_overhead for s in settings], np.float64),
            column([s.batch_size for s in settings], np.int64),
            column([s.batch_overhead for s in settings], np.float64),
            column([s.ack for s in settings], np.bool_),
            column([s.ack_timeout for s in settings], np.float64),
            column([-1 if s.max_deliveries is None else s.max_deliveries for s in settings], np.int64),
            column([s.idempotent for s in settings], np.bool_),
            column([s.nack for s in settings], np.bool_),
            column([s.retry_delay for s in settings], np.float64),
            column([s.retry_backoff == "exponential" for s in settings], np.bool_),
            column([-1.0 if s.retry_delay_max is None else s.retry_delay_max for s in settings], np.float64),
            starts([r.size for r in routes]),
            np.concatenate(routes),
            starts(offered),
            np.concatenate(services),
            np.concatenate(fails),
            starts(retries),
            np.concatenate(retry_services),
            np.concatenate(retry_fails),
            int(sum(offered)),
        )
        if out[-1]:
            break
        retries = [2 * n for n in retries]
    (messages, delivered, processed, redelivered, duplicates, suppressed, dropped, dead_lettered, in_flight, length,
     busy, busy_since, busy_time, success_published, success_started, success_finished, success_owner,
     success_delivery, entered_box, entered_at, left_box, left_at, _) = out  # fmt: skip

    entered_sorted, left_sorted = np.argsort(entered_box, kind="stable"), np.argsort(left_box, kind="stable")
    entered_split = np.searchsorted(entered_box[entered_sorted], np.arange(sum(boxes) + 1))
    left_split = np.searchsorted(left_box[left_sorted], np.arange(sum(boxes) + 1))
    box_starts, consumer_starts = starts(boxes), starts(groups)
    subscriptions, consumers = [], []
    for s, part in enumerate(order):
        mailboxes = []
        for b in range(box_starts[s], box_starts[s + 1]):
            mine_in = entered_sorted[entered_split[b] : entered_split[b + 1]]
            mine_out = left_sorted[left_split[b] : left_split[b + 1]]
            local = -1 if part.settings.dispatch == "shared" else b - box_starts[s]
            mailboxes.append(Mailbox(local, entered_at[mine_in], left_at[mine_out], int(length[b])))
        group = [
            Consumer(int(busy[c]), float(busy_since[c]), float(busy_time[c]))
            for c in range(consumer_starts[s], consumer_starts[s + 1])
        ]
        counted = {
            "published": sum(messages[topic_index[name]] for name in part.topics),
            "delivered": delivered[s],
            "processed": processed[s],
            "redelivered": redelivered[s],
            "duplicates": duplicates[s],
            "suppressed": suppressed[s],
            "dropped": dropped[s],
            "dead_lettered": dead_lettered[s],
        }
        counts = {name: int(counted.get(name, 0)) for name in COUNTS}  # lost and crashes: none without crashes
        flying = range(int(in_flight[s]))
        subscriptions.append(
            Subscription(part.name, Counts(counts), mailboxes, group, flying, [(0.0, part.settings.group_size)])
        )
        consumers.extend(group)
    totals = {name: sum(s.recorder.values[name] for s in subscriptions) for name in subscriptions[0].recorder.values}
    totals["published"] = int(messages.sum())
    log = Log(success_published, success_started, success_finished, success_owner, success_delivery, totals)
    return log, subscriptions, consumers
