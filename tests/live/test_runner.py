"""A Scenario on a real server: the same draws as the simulator, conservation on the server, the mapping."""

import itertools
import statistics
from collections import Counter, defaultdict

import pytest

from live import measure, runner
from live.runner import LiveRun
from pubsub import Scenario, simulate
from pubsub.dispatch import partition
from tests.pubsub.helpers import Recording

SCALE = 0.02  # 20 ms per mean service


@pytest.mark.parametrize(
    "load", [{}, {"rate_profile": "sine", "rate_amplitude": 0.7, "rate_period": 120.0}], ids=["constant", "sine"]
)
def test_publish_schedule_is_the_simulators(load):
    s = Scenario(publishers=2, publish_rate=0.8, arrivals="bursty", dispatch="key-hash", duration=300.0, seed=5, **load)
    trace = Recording()
    simulate(s, trace=trace)
    simulated = defaultdict(list)
    for _, at, publisher, _ in trace.of("published"):
        simulated[int(publisher.rsplit("p", 1)[1])].append(at)
    for p in range(2):
        assert [at for at, _ in runner.schedule(s, 0, p)] == simulated[p]


def test_a_run_uses_the_simulators_service_draws_and_conserves_copies_on_the_server(server):
    s = Scenario(
        dispatch="shared",
        group_size=2,
        publish_rate=1.2,
        ack=True,
        ack_timeout=3.0,
        failure_prob=0.2,
        max_deliveries=2,
        duration=150.0,
        warmup=10.0,
        seed=3,
    )
    log = runner.run(s, server.url, SCALE)
    assert log.server["holds"], log.server
    (group,) = log.server["groups"]
    assert group["published"] == len(log.published) and group["dead_lettered"] == len(log.dead) > 0
    # Each copy's first attempt slept its copy's draw, and failed as drawn. A sleep is never short; it may run
    # long when the machine is busy, so only the typical overshoot is bounded (a few ms for the acknowledgment).
    first = {at: fields for entries in LiveRun(s, server.url, SCALE).entries()[0] for at, _, fields in entries}
    overshoots = []
    for attempt in log.attempts:
        if attempt.delivery == 1 and attempt.ended == attempt.ended:
            fields = first[attempt.published]
            overshoots.append(attempt.ended - attempt.taken - float(fields["w0"]) * SCALE)
            assert (attempt.outcome == "failed") == (fields["x0"] == 1)
    assert len(overshoots) > 100
    assert min(overshoots) >= 0 and statistics.median(overshoots) < 0.01, sorted(overshoots)[-5:]
    simulated = {at: (fields["w0"], fields["x0"]) for at, fields in first.items()}
    assert len(simulated) == len(log.published)
    m = measure.summarize(log)
    assert m["published"] == group["published"]
    accounted = m["processed"] + m["backlog_final"] + m["in_flight_final"] + m["dropped"] + m["dead_lettered"]
    assert m["published"] * s.subscribers == accounted
    assert m["redelivered"] > 0 and m["dead_lettered"] > 0


def test_key_hash_gives_each_consumer_its_partition_in_publish_order(server):
    s = Scenario(
        dispatch="key-hash", group_size=2, keys=10, key_skew=1.0, publish_rate=0.8, duration=100.0, warmup=5.0, seed=2
    )
    log = runner.run(s, server.url, SCALE)
    assert log.server["holds"]
    keys = {copy: int(stream_key) for copy, stream_key in _keys(log)}
    per_key = defaultdict(list)
    for a in sorted(log.attempts, key=lambda a: a.taken):
        assert a.copy.split()[0].endswith(f":p{a.consumer}")
        assert partition(keys[a.copy], 2) == a.consumer
        per_key[keys[a.copy]].append(a.published)
    assert len(per_key) > 3 and all(times == sorted(times) for times in per_key.values())


def _keys(log):
    s = log.scenario
    plans = {p: runner.schedule(s, 0, p) for p in range(s.publishers)}
    by_time = {at: key for plan in plans.values() for at, key in plan}
    for _, copy, scheduled, _ in log.published:
        yield copy, by_time[scheduled]


def test_idempotent_consumers_suppress_what_would_be_duplicates(server):
    base = dict(
        dispatch="shared", group_size=2, publish_rate=0.5, ack=True, ack_timeout=1.0, duration=120.0, warmup=5.0, seed=4
    )
    plain = measure.summarize(runner.run(Scenario(**base), server.url, SCALE))
    idempotent = measure.summarize(runner.run(Scenario(**base, idempotent=True), server.url, SCALE))
    assert plain["duplicates"] > 0 and plain["suppressed"] == 0
    assert idempotent["suppressed"] > 0 and idempotent["duplicates"] == 0


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"dispatch": "round-robin"}, "dispatch='round-robin'"),
        ({"dispatch": "least-loaded"}, "dispatch='least-loaded'"),
        ({"dispatch": "shared", "queue_capacity": 5}, "queue_capacity=5"),
        ({"dispatch": "shared", "outage_duration": 10.0}, "outage_duration=10"),
        ({"dispatch": "shared", "ack": True, "nack": True}, "nack=True"),
        ({"dispatch": "shared", "crash_rate": 0.01}, "crash_rate=0.01"),
        ({"dispatch": "shared", "autoscale": True, "max_consumers": 3, "target_backlog": 2.0}, "autoscale=True"),
        ({"dispatch": "shared", "ack": True, "poison_prob": 0.1}, "poison_prob=0.1"),
    ],
)
def test_unsupported_fields_are_refused_before_anything_runs(fields, named):
    with pytest.raises(ValueError, match="not supported on a real broker") as refused:
        LiveRun(Scenario(**fields), "redis://127.0.0.1:1/0", SCALE)  # nothing listens there: nothing may connect
    assert named in str(refused.value)


def test_all_keys_of_a_run_are_removed(server):
    import redis

    runner.run(
        Scenario(
            dispatch="shared",
            ack=True,
            failure_prob=0.5,
            max_deliveries=1,
            idempotent=True,
            duration=40.0,
            warmup=1.0,
            seed=1,
        ),
        server.url,
        SCALE,
    )
    client = redis.Redis.from_url(server.url)
    assert list(itertools.islice(client.scan_iter(match="pubsub-live:*"), 1)) == []


# The chapter's shape at a load that queues: analytics (one consumer) reads both topics and falls behind.
NAMED = Scenario(
    topics={"orders": {"publish_rate": 0.5}, "users": {"publish_rate": 0.6}},
    subscriptions={
        "email": {"topics": ["orders"], "group_size": 2, "ack": True, "ack_timeout": 6.0, "failure_prob": 0.1},
        "analytics": {"topics": ["orders", "users"], "service_time": 0.85},
    },
    dispatch="shared",
    duration=200.0,
    warmup=10.0,
    seed=8,
)


class FirstWork(Recording):
    """Each copy's first-attempt service time, by (subscription, scheduled publish time)."""

    def taken(self, now, consumer, subscription, copy):
        if copy.deliveries == 1:
            self.events.append(("work", subscription.name, copy.message.published_at, copy.service))


def test_a_named_topology_runs_each_subscription_as_its_own_group_with_the_simulators_draws(server):
    log = runner.run(NAMED, server.url, SCALE)
    assert log.server["holds"], log.server
    assert [g["subscription"] for g in log.server["groups"]] == ["email", "analytics"]
    # Each copy's first attempt does the simulator's work: analytics draws across both topics in arrival order.
    trace = FirstWork()
    simulate(NAMED, trace=trace)
    simulated = {(name, at): service for _, name, at, service in trace.of("work")}
    entries = LiveRun(NAMED, server.url, SCALE).entries()
    drawn = {}
    for by_publisher in entries:
        for at, _, fields in (e for plan in by_publisher for e in plan):
            for g, name in enumerate(["email", "analytics"]):
                if f"w{g}" in fields:
                    drawn[name, at] = float(fields[f"w{g}"])
    common = simulated.keys() & drawn.keys()
    assert len(common) > 150 and {name for name, _ in common} == {"email", "analytics"}
    assert all(drawn[k] == simulated[k] for k in common)
    # Analytics' one consumer takes the oldest waiting copy of either topic: its takes are in publish order.
    analytics = sorted((a for a in log.attempts if a.subscription == 1), key=lambda a: a.taken)
    assert {a.topic for a in analytics} == {0, 1} and log.calls["read oldest"] > 20
    assert [a.published for a in analytics] == sorted(a.published for a in analytics)
    # Per subscription: copies offered are its topics' messages; the parts add up to the whole.
    parts, whole = measure.by_subscription(log), measure.summarize(log)
    published = Counter(topic for topic, *_ in log.published)
    assert parts.loc["email", "published"] == published[0]
    assert parts.loc["analytics", "published"] == published[0] + published[1]
    for metric in ("delivered", "processed", "redelivered", "consumer_seconds"):
        assert parts[metric].sum() == pytest.approx(whole[metric]), metric
    assert parts.loc["email", "redelivered"] > 0 and parts.loc["analytics", "redelivered"] == 0


def test_a_named_topologys_refusals_name_the_parts_field():
    bad = Scenario(
        topics={"orders": {}, "users": {}},
        subscriptions={
            "email": {"topics": ["orders"], "dispatch": "round-robin"},
            "audit": {"topics": ["orders", "users"], "dispatch": "key-hash"},
            "billing": {"topics": ["orders"], "prefetch": 4},
        },
        dispatch="shared",
    )
    with pytest.raises(ValueError, match="not supported on a real broker") as refused:
        LiveRun(bad, "redis://127.0.0.1:1/0", SCALE)  # nothing listens there: nothing may connect
    message = str(refused.value)
    assert "subscriptions.email.dispatch='round-robin'" in message
    assert "subscriptions.audit.dispatch='key-hash' on several topics" in message
    assert "subscriptions.billing.prefetch=4" in message


def test_the_next_expiry_names_its_stream_and_none_once_another_consumer_settled_it():
    state = runner.StreamState(timeout=1.0)
    state.delivered("s:a 1-0", 1, at=5.0)
    state.delivered("s:b 1-0", 1, at=4.0)
    assert (state.next(), state.next_stream()) == (5.0, "s:b")
    state.settled("s:b 1-0")
    assert state.next_stream() == "s:a"
    state.settled("s:a 1-0")  # by another consumer of the group, while this one slept until the expiry
    assert state.next_stream() is None
