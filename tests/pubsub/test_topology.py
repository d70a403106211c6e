"""Named topologies: topics and subscriptions each with their own settings, refused by full path when wrong,
with streams of their own and metrics per subscription."""

import itertools
import math
import re

import pytest
from asimpy import Environment

from pubsub import Scenario, simulate
from pubsub.metrics import by_subscription, summarize
from pubsub.outage import Outage
from pubsub.simulation import build
from pubsub.topology import Topology
from tests.pubsub.helpers import Recording, nan_safe

CHAPTER = dict(
    topics={"orders": {"publish_rate": 0.5}, "user-activity": {"publish_rate": 0.8}},
    subscriptions={
        "inventory": {"topics": ["orders"], "service_time": 0.2},
        "email": {"topics": ["orders"], "service_time": 3.0},
        "analytics": {"topics": ["orders", "user-activity"], "service_time": 0.5},
    },
)


def test_each_part_has_its_own_settings_and_the_flat_fields_are_every_parts_default():
    s = Scenario(**CHAPTER, dispatch="shared", group_size=2)
    topology = Topology.of(s)
    assert [t.name for t in topology.topics] == ["orders", "user-activity"]
    assert [t.settings.publish_rate for t in topology.topics] == [0.5, 0.8]
    parts = {p.name: p for p in topology.subscriptions}
    assert {n: p.settings.service_time for n, p in parts.items()} == {"inventory": 0.2, "email": 3.0, "analytics": 0.5}
    assert parts["analytics"].topics == ("orders", "user-activity")
    assert {p.settings.group_size for p in parts.values()} == {2}  # the flat default
    assert {p.settings.dispatch for p in parts.values()} == {"shared"}


def test_a_round_trip_keeps_only_what_each_part_set_so_the_flat_default_still_reaches_it():
    s = Scenario(**CHAPTER, group_size=2)
    dumped = s.model_dump()
    assert dumped["subscriptions"]["email"] == {"topics": ["orders"], "service_time": 3.0}
    again = Scenario.model_validate({**dumped, "group_size": 3})
    assert {p.settings.group_size for p in Topology.of(again).subscriptions} == {3}
    summary = simulate(Scenario(**CHAPTER, duration=50.0, warmup=5.0)).summary
    assert isinstance(summary["subscriptions"], str) and '"email"' in summary["subscriptions"]


def test_the_uniform_shorthand_names_its_parts_by_index_and_only_its_first_subscription_has_the_outage():
    s = Scenario(topics=2, subscribers=2, outage_start=10.0, outage_duration=5.0)
    topology = Topology.of(s)
    assert [t.name for t in topology.topics] == ["t0", "t1"]
    assert [p.name for p in topology.subscriptions] == ["t0/s0", "t0/s1", "t1/s0", "t1/s1"]
    assert [p.key for p in topology.subscriptions] == [(0, 0), (0, 1), (1, 0), (1, 1)]  # the streams of old
    assert [p.settings.outage_duration for p in topology.subscriptions] == [5.0, 0.0, 0.0, 0.0]


def path_error(**fields) -> str:
    with pytest.raises(ValueError) as raised:
        Scenario(**fields)
    return str(raised.value)


def test_a_bad_value_in_a_part_is_refused_at_its_full_path():
    error = path_error(topics={"orders": {}}, subscriptions={"email": {"topics": ["orders"], "group_size": 0}})
    assert "subscriptions.email.group_size" in error and "input_value=0" in error
    error = path_error(topics={"orders": {"publish_rate": -1.0}}, subscriptions={"email": {"topics": ["orders"]}})
    assert "topics.orders.publish_rate" in error


BAD_TOPOLOGIES = [
    # a combination within a part: both fields by their full path, and the value
    (
        dict(topics={"o": {}}, subscriptions={"email": {"topics": ["o"], "failure_prob": 0.1}}),
        r"subscriptions\.email\.failure_prob \(0\.1\) needs subscriptions\.email\.ack=True",
    ),
    (
        dict(topics={"o": {"rate_factor": 2.0}}, subscriptions={"e": {"topics": ["o"]}}),
        r"topics\.o\.rate_factor \(2\.0\) needs topics\.o\.rate_profile",
    ),
    # across levels: a topic's poison needs acknowledgments in each subscription that reads it
    (
        dict(
            topics={"o": {"poison_prob": 0.1}},
            subscriptions={"a": {"topics": ["o"], "ack": True}, "b": {"topics": ["o"]}},
        ),
        r"topics\.o\.poison_prob \(0\.1\) needs subscriptions\.b\.ack=True",
    ),
    (
        dict(topics={"o": {}}, subscriptions={"email": {"topics": ["orders"]}}),
        r"subscriptions\.email\.topics \(\['orders'\]\) names 'orders', which is not a topic",
    ),
    (dict(topics={"o": {}}, subscriptions={"email": {"topics": []}}), r"subscriptions\.email\.topics"),
    (dict(topics={"o": {}}, subscriptions={"email": {"topics": ["o", "o"]}}), r"listed twice"),
    (dict(topics={"o": {}}, subscriptions={"email": {}}), r"subscriptions\.email\.topics"),  # missing
    # a field at the wrong level
    (
        dict(topics={"o": {"group_size": 2}}, subscriptions={"e": {"topics": ["o"]}}),
        r"topics\.o\.group_size \(2\) is a subscription's field, not a topic's",
    ),
    (
        dict(topics={"o": {}}, subscriptions={"e": {"topics": ["o"], "publish_rate": 2.0}}),
        r"subscriptions\.e\.publish_rate \(2\.0\) is a topic's field, not a subscription's",
    ),
    (
        dict(topics={"o": {}}, subscriptions={"e": {"topics": ["o"], "duration": 10.0}}),
        r"subscriptions\.e\.duration \(10\.0\) is the run's field",
    ),
    (dict(topics={"o": {"colour": "red"}}, subscriptions={"e": {"topics": ["o"]}}), r"topics\.o\.colour"),
    # the shape
    (dict(topics={"o": {}}), r"subscriptions \(None\)"),
    (dict(subscriptions={"e": {"topics": ["t0"]}}), r"topics \(1\) is a count"),
    (dict(topics={"o": {}}, subscribers=2, subscriptions={"e": {"topics": ["o"]}}), r"subscribers \(2\)"),
    (dict(topics={"o": {}, "p": {}}, subscriptions={"e": {"topics": ["o"]}}), r"topics\.p .*read by no subscription"),
    (dict(topics={"a.b": {}}, subscriptions={"e": {"topics": ["a.b"]}}), r"topics\.`a\.b`"),  # no dots in names
    (dict(topics={}, subscriptions={}), r"topics \(\{\}\) names no topic"),
    (dict(topics={"o": {}}, subscriptions={}), r"subscriptions \(\{\}\)"),
]


@pytest.mark.parametrize("fields, message", BAD_TOPOLOGIES, ids=[m[:40] for _, m in BAD_TOPOLOGIES])
def test_a_bad_topology_is_refused_naming_the_path_and_the_value(fields, message):
    assert re.search(message, path_error(**fields)), path_error(**fields)


def test_flat_fields_are_not_checked_on_their_own_in_a_named_topology():
    """A flat field is only a default: what counts is each part's settings once resolved."""
    s = Scenario(
        failure_prob=0.1,
        topics={"o": {}},
        subscriptions={"a": {"topics": ["o"], "ack": True}, "b": {"topics": ["o"], "ack": True, "failure_prob": 0.0}},
    )
    assert [p.settings.failure_prob for p in Topology.of(s).subscriptions] == [0.1, 0.0]


def test_results_per_subscription_are_named_and_add_up_to_the_run():
    result = simulate(Scenario(**CHAPTER, duration=400.0, warmup=40.0, seed=3))
    parts, s = result.by_subscription, result.summary
    assert list(parts.index) == ["inventory", "email", "analytics"]
    assert parts.loc["analytics", "published"] == s["published"]  # it reads both topics
    assert parts.loc["email", "published"] == parts.loc["inventory", "published"] < s["published"]
    assert parts["processed"].sum() == s["processed"]
    # Email is slow (ρ = 1.5): its backlog grows and its latency dwarfs the others'; the pooled p99 hides it.
    assert parts.loc["email", "backlog_final"] > 20
    assert parts.loc["email", "latency_mean"] > 10 * parts.loc["analytics", "latency_mean"]
    assert parts.loc["inventory", "utilization"] == pytest.approx(0.5 * 0.2, rel=0.2)
    assert set(result.backlog["subscription"]) == {"inventory", "email", "analytics"}
    assert "wall_seconds" not in parts.columns


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"autoscale": True, "max_consumers": 4, "target_backlog": 2.0, "scale_interval": 10.0, "startup_time": 3.0},
        {"ack": True, "ack_timeout": 2.0, "failure_prob": 0.2, "crash_rate": 0.01, "restart_time": 5.0,
         "rebalance": "eager", "rebalance_time": 1.0},
        {"outage_start": 100.0, "outage_duration": 30.0},
    ],
    ids=["plain", "autoscaled", "acks, crashes, rebalances", "outage"],
)  # fmt: skip
def test_a_single_subscription_measured_alone_is_the_whole_run(changes):
    """`simulate` takes a lone subscription's row from the run's summary: measured on its own, it is the same."""
    s = Scenario(publish_rate=0.8, group_size=2, dispatch="shared", duration=300.0, warmup=20.0, seed=4, **changes)
    env = Environment()
    model = build(env, s, None)
    outages = [Outage(env, model.subscriptions[0], s.outage_start, s.outage_duration)] if s.outage_duration else []
    env.run(until=s.duration)
    whole = summarize(model.recorder, model.subscriptions, model.consumers, s.warmup, s.duration, outages,
                      model.scalers, model.rebalancers)  # fmt: skip
    (alone,) = by_subscription(model.recorder, model.subscriptions, s.warmup, s.duration, outages, model.scalers)
    assert nan_safe(alone) == nan_safe(whole)
    result = simulate(s)
    assert list(result.by_subscription.index) == ["t0/s0"]
    assert nan_safe(result.by_subscription.iloc[0].to_dict()) == nan_safe(
        {m: result.summary[m] for m in result.by_subscription.columns}
    )


def test_adding_a_part_leaves_the_other_parts_draws_and_results_alone():
    """Streams are keyed by names: a subscription's results do not depend on which others exist."""
    base = dict(topics={"orders": {"publish_rate": 0.6}}, subscriptions={"email": {"topics": ["orders"]}})
    alone = simulate(Scenario(**base, duration=300.0, seed=9)).by_subscription.loc["email"]
    more = Scenario(
        topics={**base["topics"], "users": {"publish_rate": 2.0}},
        subscriptions={
            "audit": {"topics": ["orders", "users"], "service_time": 0.1, "group_size": 3, "dispatch": "shared"},
            **base["subscriptions"],
            "billing": {"topics": ["orders"], "ack": True, "failure_prob": 0.3, "ack_timeout": 2.0},
        },
        duration=300.0,
        seed=9,
    )
    beside = simulate(more).by_subscription.loc["email"]
    assert nan_safe(beside.to_dict()) == nan_safe(alone.to_dict())


def test_a_renamed_part_draws_afresh():
    def email(name: str):
        fields = dict(topics={"orders": {}}, subscriptions={name: {"topics": ["orders"]}}, duration=300.0)
        return simulate(Scenario(**fields)).by_subscription.iloc[0]

    assert email("email")["published"] == email("mail")["published"]  # the same topic's arrivals
    assert email("email")["latency_mean"] != email("mail")["latency_mean"]  # other service draws


def test_a_consumer_of_several_topics_takes_the_oldest_waiting_copy_whichever_topic_it_came_from():
    """One slow consumer of two topics whose messages interleave: it takes them in publish order."""
    trace = Recording()
    s = Scenario(
        topics={"a": {"arrivals": "fixed", "publish_rate": 1.0}, "b": {"arrivals": "fixed", "publish_rate": 0.7}},
        subscriptions={"both": {"topics": ["b", "a"], "service": "fixed", "service_time": 2.5}},
        duration=60.0,
        warmup=0.0,
    )
    simulate(s, trace=trace)
    published = {message: (now, who) for _, now, who, message in trace.of("published")}
    order = {message: i for i, (_, _, _, message) in enumerate(trace.of("published"))}  # (ties: as published)
    taken = [message for _, _, _, message in trace.of("taken")]
    assert len(taken) > 20 and {published[m][1].split("/")[0] for m in taken} == {"a", "b"}
    assert any(published[m][0] == published[n][0] for m, n in itertools.pairwise(taken))  # some ties
    assert taken == sorted(taken, key=order.__getitem__)  # oldest first, across the two topics


def test_an_outage_of_one_named_subscription_drains_in_its_row_and_in_the_run():
    s = Scenario(
        topics={"o": {"publish_rate": 0.8}},
        subscriptions={
            "steady": {"topics": ["o"], "dispatch": "shared", "group_size": 2},
            "down": {
                "topics": ["o"],
                "dispatch": "shared",
                "group_size": 2,
                "outage_start": 100.0,
                "outage_duration": 50.0,
            },
        },
        duration=600.0,
        seed=2,
    )
    result = simulate(s)
    parts = result.by_subscription
    assert math.isnan(parts.loc["steady", "drain_time"])
    assert parts.loc["down", "drain_time"] > 0
    assert result.summary["drain_time"] == parts.loc["down", "drain_time"]
