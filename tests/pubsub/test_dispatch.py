"""Consumer-group dispatch policies."""

from collections import defaultdict
from typing import get_args

import numpy as np
import pytest
from asimpy import Environment

from pubsub import Scenario, simulate
from pubsub.dispatch import POLICIES, LeastLoaded, partition, range_assignment
from pubsub.mailbox import Mailbox
from pubsub.scenario import DispatchPolicy
from tests.pubsub.helpers import Recording, nan_safe


def test_every_dispatch_choice_has_exactly_one_policy():
    assert set(POLICIES) == set(get_args(DispatchPolicy))


def takes(**fields) -> list[tuple]:
    trace = Recording()
    simulate(Scenario(duration=300.0, warmup=10.0, seed=4, **fields), trace=trace)
    return trace.of("taken")


def consumer_index(name: str) -> int:
    return int(name.rsplit("c", 1)[1])


def test_round_robin_sends_message_k_to_consumer_k_mod_c():
    taken = takes(publish_rate=1.5, group_size=3, dispatch="round-robin")
    assert len(taken) > 100
    assert all(consumer_index(name) == msg % 3 for _, _, name, msg in taken)


class KeyedTakes(Recording):
    def taken(self, now, consumer, subscription, copy):
        self.events.append(("taken", now, consumer.name, copy.message.id, copy.message.key))


def test_key_hash_keeps_each_key_on_its_partition_in_order():
    trace = KeyedTakes()
    simulate(
        Scenario(
            publish_rate=2.0,
            group_size=4,
            dispatch="key-hash",
            keys=10,
            key_skew=1.2,
            duration=300.0,
            warmup=10.0,
            seed=4,
        ),
        trace=trace,
    )
    per_key = defaultdict(list)
    for _, _, name, msg, key in trace.of("taken"):
        assert consumer_index(name) == partition(key, 4)
        per_key[key].append(msg)
    assert len(per_key) == 10
    for key, msgs in per_key.items():
        assert msgs == sorted(msgs), f"key {key} taken out of publish order"


def test_hot_keys_make_a_hot_consumer():
    def busiest_share(skew):
        taken = takes(publish_rate=1.0, group_size=4, dispatch="key-hash", keys=50, key_skew=skew)
        counts = defaultdict(int)
        for _, _, name, _ in taken:
            counts[name] += 1
        return max(counts.values()) / sum(counts.values())

    assert busiest_share(1.5) > busiest_share(0.0) + 0.15


class FakeConsumer:
    def __init__(self, busy):
        self.busy = busy


def test_least_loaded_counts_waiting_plus_in_service_lowest_index_on_ties():
    env = Environment()
    boxes = [Mailbox(env, consumer=i) for i in range(3)]
    consumers = [FakeConsumer(1), FakeConsumer(0), FakeConsumer(1)]
    policy = LeastLoaded(lambda i: boxes[i], consumers)
    assert policy.route(0) is boxes[1]
    boxes[1].items.extend(["x"])  # consumer 1: load 1, ties with 0 and 2
    assert policy.route(0) is boxes[0]
    boxes[0].items.extend(["y"])
    assert policy.route(0) is boxes[1]


def test_least_loaded_beats_round_robin_on_tail_latency():
    base = dict(
        publish_rate=2.4, group_size=3, service="lognormal", service_cv=2.0, duration=20_000.0, warmup=2000.0, seed=8
    )
    rr = simulate(Scenario(dispatch="round-robin", **base)).summary
    ll = simulate(Scenario(dispatch="least-loaded", **base)).summary
    shared = simulate(Scenario(dispatch="shared", **base)).summary
    assert shared["latency_p99"] < ll["latency_p99"] < rr["latency_p99"]


@pytest.mark.parametrize("dispatch", ["round-robin", "shared", "least-loaded", "key-hash", "partitioned"])
def test_every_policy_keeps_up_below_saturation(dispatch):
    s = simulate(
        Scenario(publish_rate=1.0, group_size=4, dispatch=dispatch, keys=1000, duration=5000.0, warmup=500.0, seed=2)
    ).summary
    assert s["throughput"] == pytest.approx(1.0, rel=0.1)
    assert s["utilization"] == pytest.approx(0.25, rel=0.1)


def test_round_robin_redeliveries_do_not_take_new_messages_turns():
    trace = Recording()
    s = simulate(
        Scenario(
            publish_rate=1.0,
            group_size=3,
            dispatch="round-robin",
            ack=True,
            failure_prob=0.3,
            ack_timeout=1.5,
            duration=500.0,
            warmup=10.0,
            seed=4,
        ),
        trace=trace,
    ).summary
    assert s["redelivered"] > 50
    # Every take, first or redelivery, is by consumer msg mod 3: a redelivery goes back to its own consumer.
    takes = [(msg, consumer_index(name)) for _, _, name, msg in trace.of("taken")]
    assert all(consumer == msg % 3 for msg, consumer in takes)
    seen: set[int] = set()
    redelivered_to = set()
    for msg, consumer in takes:
        if msg in seen:
            redelivered_to.add(consumer)
        seen.add(msg)
    assert redelivered_to == {0, 1, 2}


@pytest.mark.parametrize(
    ("partitions", "consumers", "owned"),
    [
        (1, 1, [1]),
        (4, 2, [2, 2]),
        (3, 2, [2, 1]),
        (5, 3, [2, 2, 1]),
        (7, 3, [3, 2, 2]),
        (10, 4, [3, 3, 2, 2]),
        (2, 4, [1, 1, 0, 0]),
        (12, 5, [3, 3, 2, 2, 2]),
    ],
)
def test_range_assignment_gives_contiguous_blocks_extras_first(partitions, consumers, owned):
    blocks = range_assignment(partitions, consumers)
    assert [len(b) for b in blocks] == owned
    assert [p for b in blocks for p in b] == list(range(partitions))


def test_partitioned_routes_each_key_to_its_partitions_owner_in_publish_order():
    trace = KeyedTakes()
    simulate(
        Scenario(publish_rate=2.0, group_size=3, dispatch="partitioned", partitions=5, keys=40, duration=300.0,
                 warmup=10.0, seed=4),
        trace=trace,
    )  # fmt: skip
    owner = {p: i for i, block in enumerate(range_assignment(5, 3)) for p in block}
    per_consumer = defaultdict(list)
    for _, _, name, msg, key in trace.of("taken"):
        assert consumer_index(name) == owner[partition(key, 5)]
        per_consumer[name].append(msg)
    assert len(per_consumer) == 3
    for name, msgs in per_consumer.items():
        assert msgs == sorted(msgs), f"{name} took its partitions' copies out of publish order"


def test_consumers_beyond_the_partitions_change_nothing_but_sit_idle():
    fields = dict(dispatch="partitioned", partitions=3, publish_rate=2.0, keys=50, ack=True, ack_timeout=4.0,
                  failure_prob=0.1, duration=2000.0, warmup=200.0, seed=7)  # fmt: skip
    exact = simulate(Scenario(group_size=3, **fields)).summary
    more = simulate(Scenario(group_size=5, **fields)).summary
    assert exact["published"] > 3000
    skip = {"group_size", "utilization", "consumer_seconds", "group_size_mean", "group_size_max"}
    assert nan_safe({k: v for k, v in more.items() if k not in skip}) == nan_safe(
        {k: v for k, v in exact.items() if k not in skip}
    )
    # The same busy time, spread over 5 consumers instead of 3: two of them never work.
    assert more["utilization"] * 5 == pytest.approx(exact["utilization"] * 3, rel=1e-12)
    assert more["consumer_seconds"] / 5 == exact["consumer_seconds"] / 3  # idle consumers still cost


def test_partitioned_with_one_partition_per_consumer_is_key_hash():
    fields = dict(group_size=4, publish_rate=3.0, keys=30, key_skew=0.8, duration=1000.0, warmup=100.0, seed=3)
    keyed = simulate(Scenario(dispatch="key-hash", **fields)).summary
    partitioned = simulate(Scenario(dispatch="partitioned", **fields)).summary
    assert nan_safe(partitioned, drop={"dispatch", "wall_seconds", "sim_rate"}) == nan_safe(
        keyed, drop={"dispatch", "wall_seconds", "sim_rate"}
    )


def test_an_uneven_partition_assignment_shows_in_p99():
    """Two consumers at ρ = 0.7 on average: 4 partitions split 2 + 2, 3 partitions split 2 + 1 (one at ρ ≈ 0.93)."""
    p99 = defaultdict(list)
    for seed in range(4):
        for partitions in (2, 3, 4):
            s = Scenario(dispatch="partitioned", partitions=partitions, group_size=2, publish_rate=1.4,
                         keys=1000, duration=10_000.0, warmup=1000.0, seed=seed)  # fmt: skip
            p99[partitions].append(simulate(s).summary["latency_p99"])
    even, uneven, also_even = (np.mean(p99[p]) for p in (4, 3, 2))
    assert uneven > 2 * even and uneven > 2 * also_even
    assert even == pytest.approx(also_even, rel=0.25)
