"""The compiled engine: a Scenario's draws made into arrays, run by `pubsub.kernel`, reduced by `pubsub.metrics`.

The draws come from the same streams as the asimpy model's (`pubsub.randomness`),
taken in the same order: each publisher's gaps and keys, each subscription's
first-attempt service times in admission order. The parts are numbered in the
order `simulation.build` builds them, so that the kernel's ties fall as the
model's do and its logs are the model's, row for row.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from . import kernel
from . import randomness as rnd
from .dispatch import make_dispatch
from .scenario import Scenario
from .topology import SubscriptionPart, Topology

ROUTING = {"shared": kernel.SHARED, "round-robin": kernel.ROUND_ROBIN, "least-loaded": kernel.LEAST_LOADED}


@dataclass
class Mailbox:
    consumer: int
    entered: np.ndarray
    left: np.ndarray
    waiting: int

    def __len__(self) -> int:
        return self.waiting


@dataclass
class Consumer:
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
    name: str
    recorder: Counts
    mailboxes: list[Mailbox]
    consumers: list[Consumer]
    in_flight: range  # as many as its copies taken and not settled: only their number is read
    sizes: list[tuple[float, int]]
    rebalancer: None = None


@dataclass
class Log:
    published_at: np.ndarray
    started_at: np.ndarray
    finished_at: np.ndarray
    owner: np.ndarray
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


def _gaps_until(gaps: Iterator[float], until: float) -> np.ndarray:
    """The gaps of every message published by `until`, summed as the model's clock sums them (in order)."""
    chunks, now = [], 0.0
    while True:
        chunk = _first(gaps, rnd.BATCH, float)
        times = np.cumsum(np.concatenate(([now], chunk)))[1:]  # sequential: now + g1, then + g2, ...
        inside = int(np.searchsorted(times, until, side="right"))
        chunks.append(chunk[:inside])
        if inside < chunk.size:
            return np.concatenate(chunks)
        now = float(times[-1])


def _routes(part: SubscriptionPart, keys: int) -> np.ndarray:
    """Under a keyed dispatch, the consumer each key goes to, as the model's dispatch routes it."""
    s = part.settings
    dispatch = make_dispatch(s.dispatch, None, [None] * s.group_size, None, keys, s.partition_count)  # type: ignore[list-item]
    return np.array([dispatch.route(key).consumer for key in range(keys)], dtype=np.int64)


def run(scenario: Scenario):
    """The kernel's run of `scenario`: (run log, subscriptions in build order, their consumers)."""
    topology = Topology.of(scenario)
    order = build_order(topology)
    until = scenario.duration

    topic_index = {topic.name: t for t, topic in enumerate(topology.topics)}
    publisher_topic, gap_chunks, key_chunks = [], [], []
    for topic in topology.topics:
        for p in range(topic.settings.publishers):
            gaps = _gaps_until(rnd.arrival_gaps(topic, p), until)
            keyed = topology.keyed(topic.name)
            keys = _first(rnd.message_keys(topic, p), gaps.size, np.int64) if keyed else np.zeros(gaps.size, np.int64)
            publisher_topic.append(topic_index[topic.name])
            gap_chunks.append(gaps)
            key_chunks.append(keys)
    published = np.zeros(len(topology.topics), np.int64)
    for t, gaps in zip(publisher_topic, gap_chunks):
        published[t] += gaps.size

    topic_subs = [[s for s, part in enumerate(order) if topic.name in part.topics] for topic in topology.topics]
    offered = [int(sum(published[topic_index[name]] for name in part.topics)) for part in order]
    services = [_first(rnd.copy_service_times(part), n, float) for part, n in zip(order, offered)]
    routes = [
        _routes(part, topology.keys(part)) if part.settings.dispatch not in ROUTING else np.zeros(0, np.int64)
        for part in order
    ]
    groups = [part.settings.group_size for part in order]
    boxes = [1 if part.settings.dispatch == "shared" else part.settings.group_size for part in order]

    def starts(sizes) -> np.ndarray:
        return np.concatenate(([0], np.cumsum(sizes, dtype=np.int64))).astype(np.int64)

    out = kernel.run(
        float(until),
        float(scenario.warmup),
        np.array(publisher_topic, np.int64),
        starts([g.size for g in gap_chunks]),
        np.concatenate(gap_chunks) if gap_chunks else np.zeros(0),
        np.concatenate(key_chunks) if key_chunks else np.zeros(0, np.int64),
        starts([len(subs) for subs in topic_subs]),
        np.array([s for subs in topic_subs for s in subs], np.int64),
        np.array([ROUTING.get(part.settings.dispatch, kernel.BY_KEY) for part in order], np.int64),
        starts(groups),
        starts(boxes),
        np.array([-1 if (c := p.settings.queue_capacity) is None else c for p in order], np.int64),
        np.array([part.settings.delivery_delay for part in order], np.float64),
        np.array([part.settings.service_overhead for part in order], np.float64),
        starts([r.size for r in routes]),
        np.concatenate(routes),
        starts(offered),
        np.concatenate(services) if services else np.zeros(0),
        int(sum(offered)),
    )
    (messages, delivered, processed, dropped, length, busy, busy_since, busy_time,
     success_published, success_started, success_finished, success_owner,
     entered_box, entered_at, left_box, left_at) = out  # fmt: skip

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
        counts = {
            "published": int(sum(messages[topic_index[name]] for name in part.topics)),
            "delivered": int(delivered[s]),
            "processed": int(processed[s]),
            "redelivered": 0,
            "duplicates": 0,
            "suppressed": 0,
            "dropped": int(dropped[s]),
            "dead_lettered": 0,
            "lost": 0,
            "crashes": 0,
        }
        in_flight = range(int(delivered[s] - processed[s]))
        subscriptions.append(
            Subscription(part.name, Counts(counts), mailboxes, group, in_flight, [(0.0, part.settings.group_size)])
        )
        consumers.extend(group)
    totals = {name: sum(s.recorder.values[name] for s in subscriptions) for name in subscriptions[0].recorder.values}
    totals["published"] = int(messages.sum())
    log = Log(success_published, success_started, success_finished, success_owner, totals)
    return log, subscriptions, consumers
