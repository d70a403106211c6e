"""Every copy is accounted for, exactly, at the end of every run (property-based)."""

import math
from collections import Counter, defaultdict

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from pubsub import Scenario, simulate
from pubsub.recorder import COUNTS
from pubsub.topology import Topology
from pubsub.trace import Trace


@st.composite
def profiles(draw, duration: float) -> dict:
    kind = draw(st.sampled_from(["constant", "step", "ramp", "sine"]))
    if kind == "step":
        return dict(rate_profile=kind, rate_factor=draw(st.floats(0.1, 4.0)),
                    rate_change_at=draw(st.floats(duration * 0.05, duration * 0.95)))  # fmt: skip
    if kind == "ramp":
        return dict(rate_profile=kind, rate_factor=draw(st.floats(0.1, 4.0)))
    if kind == "sine":
        return dict(rate_profile=kind, rate_amplitude=draw(st.floats(0.0, 0.95)),
                    rate_period=draw(st.floats(1.0, duration)))  # fmt: skip
    return {}


@st.composite
def scaling(draw, group_size: int) -> dict:
    if not draw(st.booleans()):
        return {}
    return dict(
        autoscale=True,
        min_consumers=draw(st.integers(1, group_size)),
        max_consumers=draw(st.integers(group_size, 6)),
        target_backlog=draw(st.floats(0.5, 5.0)),
        scale_interval=draw(st.floats(0.5, 20.0)),
        scale_down_delay=draw(st.sampled_from([0.0, 5.0, 60.0])),
        startup_time=draw(st.sampled_from([0.0, 0.5, 10.0])),
    )


@st.composite
def subscription_fields(draw, duration: float, ack: bool | None = None) -> dict:
    """A subscription's fields: every knob, in combination."""
    ack = draw(st.booleans()) if ack is None else ack
    capacity = draw(st.none() | st.integers(1, 6))
    outage = draw(st.booleans())
    group_size = draw(st.integers(1, 4))
    dispatch = draw(st.sampled_from(["round-robin", "shared", "least-loaded", "key-hash", "partitioned"]))
    prefetch = draw(st.sampled_from([1, 2, 6])) if dispatch == "shared" else 1
    crash = draw(st.sampled_from([0.0, 0.0, 0.05]))
    rebalance = draw(st.sampled_from(["none", "eager", "cooperative"]))
    nack = ack and draw(st.booleans())
    service_time = draw(st.floats(0.05, 3.0))
    backoff = draw(st.sampled_from(["fixed", "exponential"])) if nack else "fixed"
    return dict(
        group_size=group_size,
        dispatch=dispatch,
        partitions=draw(st.none() | st.integers(1, 6)) if dispatch == "partitioned" else None,
        service=draw(st.sampled_from(["exponential", "fixed", "lognormal"])),
        service_time=service_time,
        service_cv=draw(st.floats(0.2, 3.0)),
        batch_size=draw(st.sampled_from([1, 1, 2, 5])),
        prefetch=prefetch,
        **draw(scaling(group_size)),
        batch_overhead=draw(st.sampled_from([0.0, 0.0, 0.2])),
        queue_capacity=capacity,
        overflow=draw(st.sampled_from(["drop", "block"])),
        ack=ack,
        # Timeouts near the service time make the rare paths common: redeliveries of copies still being worked
        # on, so duplicates (or, idempotent, suppressions); failures would hide them, so some draws have none.
        ack_timeout=max(0.1, service_time * draw(st.floats(0.3, 1.5) | st.floats(0.3, 5.0))),
        failure_prob=draw(st.just(0.0) | st.floats(0.0, 0.9)) if ack else 0.0,
        max_deliveries=draw(st.none() | st.integers(1, 4)),
        idempotent=draw(st.booleans()),
        nack=nack,
        retry_delay=draw(st.sampled_from([0.0, 0.3, 2.0])) if nack else 0.0,
        retry_backoff=backoff,
        retry_delay_max=draw(st.none() | st.floats(2.0, 8.0)) if backoff == "exponential" else None,
        delivery_delay=draw(st.sampled_from([0.0, 0.01, 0.5])),
        service_overhead=draw(st.sampled_from([0.0, 0.02, 0.3])),
        redelivery_overhead=draw(st.sampled_from([0.0, 0.02, 0.3])) if ack else 0.0,
        crash_rate=crash,
        rebalance=rebalance,
        rebalance_time=draw(st.sampled_from([0.0, 2.0])) if rebalance != "none" else 0.0,
        restart_time=draw(st.sampled_from([0.0, 1.0, 20.0])) if crash else 0.0,
        outage_start=draw(st.floats(0.0, duration * 0.9)),
        outage_duration=draw(st.floats(1.0, duration * 0.6)) if outage and rebalance == "none" else 0.0,
    )


@st.composite
def topic_fields(draw, duration: float, rate: float, poison: bool) -> dict:
    """A topic's fields, its publishers sharing about `rate` messages/s; poison only where every reader acks."""
    publishers = draw(st.integers(1, 3))
    return dict(
        publishers=publishers,
        publish_rate=rate / publishers,
        arrivals=draw(st.sampled_from(["poisson", "fixed", "bursty"])),
        burst_factor=draw(st.floats(1.0, 8.0)),
        **draw(profiles(duration)),
        keys=draw(st.integers(1, 20)),
        key_skew=draw(st.sampled_from([0.0, 0.8, 2.0])),
        poison_prob=draw(st.sampled_from([0.0, 0.05, 0.5])) if poison else 0.0,
    )


def run_fields(draw, duration: float) -> dict:
    return dict(
        duration=duration,
        warmup=draw(st.floats(0.0, duration * 0.5)),
        seed=draw(st.integers(0, 2**32)),
        window=draw(st.none() | st.floats(duration * 0.02, duration)),
    )


def load(draw, fields: dict) -> float:
    """A topic's total rate: offered load per consumer from light to overloaded (capped, to keep runs short)."""
    return min(3.0, draw(st.floats(0.05, 1.5)) * fields["group_size"] / fields["service_time"])


@st.composite
def scenarios(draw) -> Scenario:
    """The uniform shorthand: topics alike, each read by subscriptions alike."""
    duration = draw(st.floats(20.0, 300.0))
    subscription = draw(subscription_fields(duration))
    topic = draw(topic_fields(duration, load(draw, subscription), poison=subscription["ack"]))
    shape = dict(topics=draw(st.integers(1, 3)), subscribers=draw(st.integers(1, 3)))
    return Scenario(**shape, **topic, **subscription, **run_fields(draw, duration))


@st.composite
def named_scenarios(draw) -> Scenario:
    """A named topology: topics and subscriptions each with their own fields; a subscription may read several
    topics, and a topic be read by several subscriptions."""
    duration = draw(st.floats(20.0, 300.0))
    names = [f"topic{i}" for i in range(draw(st.integers(1, 3)))]
    subscriptions = {}
    for i in range(draw(st.integers(1, 3))):
        read = draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True))
        subscriptions[f"sub{i}"] = {"topics": read, **draw(subscription_fields(duration))}
    read_by_any = {t for part in subscriptions.values() for t in part["topics"]}
    topics = {}
    for name in names:
        if name not in read_by_any:
            continue
        readers = [part for part in subscriptions.values() if name in part["topics"]]
        rate = min(load(draw, part) / len(part["topics"]) for part in readers)
        topics[name] = draw(topic_fields(duration, rate, poison=all(part["ack"] for part in readers)))
    return Scenario(topics=topics, subscriptions=subscriptions, **run_fields(draw, duration))


class Fates(Trace):
    """The copies consumers took (or the broker requeued or dead-lettered), per subscription, to see where each
    one ended up; and what each topic published."""

    def __init__(self):
        self.per_topic: Counter[str] = Counter()
        self.subscriptions: dict = {}
        self.copies: dict[str, dict] = defaultdict(dict)
        self.dead: Counter[str] = Counter()

    def published(self, now, publisher, message):
        self.per_topic[message.topic] += 1

    def taken(self, now, consumer, subscription, copy):
        self.subscriptions[subscription.name] = subscription
        self.copies[subscription.name][copy.message.id] = copy

    def requeued(self, now, subscription, copy):  # (a prefetched copy can expire in its buffer, untaken)
        self.copies[subscription.name][copy.message.id] = copy

    def dead_lettered(self, now, subscription, copy):
        self.copies[subscription.name][copy.message.id] = copy
        self.dead[subscription.name] += 1

    def lost(self, now, subscription, copy):  # (a crash loses a prefetch buffer's copies, untaken)
        self.copies[subscription.name][copy.message.id] = copy


def check_each_subscription(fates: Fates, backlog, parts, s: dict, topology: Topology) -> None:
    """Each copy seen is in exactly one place; published = processed + dead + lost + in flight +
    waiting + dropped per subscription, the drops (which no trace sees) being what remains: never negative,
    and adding up to the run's count and to the subscription's own."""
    waiting = backlog[backlog["time"] == backlog["time"].max()].groupby("subscription")["depth"].sum()
    totals: Counter[str] = Counter()
    reads = {part.name: part.topics for part in topology.subscriptions}
    for name, depth in waiting.items():
        # A subscription no consumer took from has nothing in flight (a push to an idle consumer is a take).
        in_flight = fates.subscriptions[name].in_flight if name in fates.subscriptions else set()
        copies = fates.copies[name].values()
        for copy in copies:
            in_queue = copy.mailbox is not None and copy.mailbox.delivers  # (not a consumer's prefetch buffer)
            assert [copy.settled is not None, copy in in_flight, in_queue].count(True) == 1, (name, copy)
        settled = Counter(copy.settled for copy in copies)
        assert settled["dead"] == fates.dead[name]
        offered = sum(fates.per_topic[topic] for topic in reads[name])
        assert parts.loc[name, "published"] == offered, name
        dropped = offered - (settled["processed"] + settled["dead"] + settled["lost"] + len(in_flight) + depth)
        assert dropped >= 0, name
        assert dropped == parts.loc[name, "dropped"], name
        totals.update(settled)
        totals["in flight"] += len(in_flight)
        totals["dropped"] += dropped
    assert totals["dropped"] == s["dropped"]
    assert totals["processed"] == s["processed"] and totals["in flight"] == s["in_flight_final"]
    assert totals["dead"] == s["dead_lettered"] and totals["lost"] == s["lost"]


def check_counters(row, settings) -> None:
    """What a subscription's counters must satisfy, given its settings."""
    copies = row["published"]
    assert row["redelivered"] <= row["delivered"]
    first_deliveries = row["delivered"] - row["redelivered"]
    assert row["processed"] <= first_deliveries <= copies - row["dropped"]
    # Only a redelivery can give a copy a second success.
    assert row["duplicates"] + row["suppressed"] <= row["redelivered"]
    if settings.max_deliveries is not None:
        assert row["delivered"] <= settings.max_deliveries * copies
    if not settings.ack:
        assert row["redelivered"] == row["duplicates"] == row["suppressed"] == row["dead_lettered"] == 0
    if settings.idempotent:
        assert row["duplicates"] == 0
    else:
        assert row["suppressed"] == 0
    if settings.queue_capacity is None or settings.overflow == "block":
        assert row["dropped"] == 0
    if settings.max_deliveries is None:
        assert row["dead_lettered"] == 0
    assert 0.0 <= row["utilization"] <= 1.0 + 1e-9


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # examples: the profile's (tests/conftest.py)
@given(scenarios() | named_scenarios())
# Found by this test in CI: a copy handed to a waiting consumer in the instant it crashed (pubsub.process).
@example(
    Scenario(topics=3, publishers=2, publish_rate=0.7865168539325843, arrivals="bursty", burst_factor=4.25,
             rate_profile="step", rate_factor=0.5, rate_change_at=32.0, group_size=2, dispatch="round-robin",
             service="fixed", service_time=0.6953125, ack=True, ack_timeout=1.04296875, nack=True, autoscale=True,
             max_consumers=3, target_backlog=3.0, scale_interval=17.0, scale_down_delay=0.0, rebalance="cooperative",
             rebalance_time=2.0, crash_rate=0.05, restart_time=1.0, duration=176.0, warmup=0.0, seed=112472)
)  # fmt: skip
def test_conservation_and_counter_invariants(scenario):
    fates = Fates()
    result = simulate(scenario, trace=fates)
    s = result.summary
    parts = result.by_subscription
    copies = parts["published"].sum()  # each subscription's copies: its topics' messages
    if not scenario.named:
        assert copies == s["published"] * s["subscribers"]  # published counts every topic's messages
    accounted = (
        s["processed"] + s["backlog_final"] + s["in_flight_final"] + s["dropped"] + s["dead_lettered"] + s["lost"]
    )
    assert copies == accounted, s
    check_each_subscription(fates, result.backlog, parts, s, Topology.of(scenario))
    for name, row in parts.iterrows():
        kept = row["processed"] + row["backlog_final"] + row["in_flight_final"] + row["dropped"]
        assert row["published"] == kept + row["dead_lettered"] + row["lost"], name
    for counter in (*COUNTS, "backlog_final", "in_flight_final"):  # the run's are its subscriptions' summed...
        if counter != "published":  # ...but for its messages, each counted once before fan-out
            assert parts[counter].sum() == s[counter], counter
    event("named" if scenario.named else "uniform")
    event(f"a subscription of {max(len(p.topics) for p in Topology.of(scenario).subscriptions)} topics")
    last = result.backlog[result.backlog["time"] == result.backlog["time"].max()]
    assert last["time"].iloc[0] == scenario.duration or math.isclose(last["time"].iloc[0], scenario.duration)
    assert last["depth"].sum() == s["backlog_final"]

    for part in Topology.of(scenario).subscriptions:
        check_counters(parts.loc[part.name], part.settings)
    assert 0.0 <= s["utilization"] <= 1.0 + 1e-9
    assert -1e-9 <= s["backlog_mean"] <= s["backlog_max"] * (1 + 1e-9)
    if not math.isnan(s["latency_mean"]):
        assert 0.0 <= s["wait_mean"] <= s["latency_mean"] * (1 + 1e-12) + 1e-12
        quantiles = [s[k] for k in ("latency_p50", "latency_p95", "latency_p99", "latency_p999", "latency_max")]
        assert quantiles[0] >= 0.0 and quantiles == sorted(quantiles)
        assert s["latency_mean"] <= s["latency_max"] * (1 + 1e-12)
    for counter in ("redelivered", "duplicates", "suppressed", "dropped", "dead_lettered", "lost", "crashes"):
        if s[counter]:
            event(f"some {counter}")
    if not math.isnan(s["drain_time"]):
        event("an outage that drains")
    if s["scale_ups"] or s["scale_downs"]:
        event("scaled")
