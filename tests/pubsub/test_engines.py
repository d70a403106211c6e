"""The compiled engine equals the asimpy model on every scenario it covers; the rule that picks an engine."""

import math

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pubsub import Scenario, simulate
from pubsub.engines import uncovered
from pubsub.metric_info import WALL_CLOCK_METRICS
from pubsub.trace import Trace

from .golden_scenarios import SCENARIOS
from .test_conservation import run_fields, subscription_fields, topic_fields

# What the compiled engine does not model: drawn, then set back to what it does.
_NOT_COVERED = dict(
    prefetch=1, rebalance="none", rebalance_time=0.0, crash_rate=0.0,
    restart_time=0.0, outage_duration=0.0, overflow="drop",
)  # fmt: skip
_SCALING = ("autoscale", "min_consumers", "max_consumers", "target_backlog", "scale_interval", "scale_down_delay",
            "startup_time")  # fmt: skip


def _covered(fields: dict) -> dict:
    return {**{k: v for k, v in fields.items() if k not in _SCALING}, **_NOT_COVERED}


@st.composite
def covered_subscription(draw, duration: float) -> dict:
    return _covered(draw(subscription_fields(duration)))


def _rate(draw, fields: dict) -> float:
    return min(3.0, draw(st.floats(0.05, 1.5)) * fields["group_size"] / fields["service_time"])


@st.composite
def covered_scenarios(draw) -> Scenario:
    """The uniform shorthand or a named topology, with every field the compiled engine covers, in combination."""
    duration = draw(st.floats(20.0, 300.0))
    if draw(st.booleans()):
        subscription = draw(covered_subscription(duration))
        topic = draw(topic_fields(duration, _rate(draw, subscription), poison=subscription["ack"]))
        shape = dict(topics=draw(st.integers(1, 3)), subscribers=draw(st.integers(1, 3)))
        return Scenario(**shape, **topic, **subscription, **run_fields(draw, duration))
    names = [f"topic{i}" for i in range(draw(st.integers(1, 3)))]
    subscriptions = {}
    for i in range(draw(st.integers(1, 3))):
        read = draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True))
        subscriptions[f"sub{i}"] = {"topics": read, **draw(covered_subscription(duration))}
    topics = {}
    for name in dict.fromkeys(t for part in subscriptions.values() for t in part["topics"]):
        readers = [part for part in subscriptions.values() if name in part["topics"]]
        rate = min(_rate(draw, part) / len(part["topics"]) for part in readers)
        topics[name] = draw(topic_fields(duration, rate, poison=all(part["ack"] for part in readers)))
    return Scenario(topics=topics, subscriptions=subscriptions, **run_fields(draw, duration))


def assert_same_run(scenario: Scenario) -> dict:
    """Every count equal, every time and rate to 1e-9 relative; per subscription and the backlog series alike.
    Returns the summary."""
    reference = simulate(scenario, engine="asimpy")
    compiled = simulate(scenario, engine="compiled")
    assert (reference.engine, compiled.engine) == ("asimpy", "compiled")
    for name, expected in reference.summary.items():
        if name not in WALL_CLOCK_METRICS:
            assert _same(expected, compiled.summary[name]), (name, expected, compiled.summary[name])
    assert list(reference.by_subscription.index) == list(compiled.by_subscription.index)
    for name in reference.by_subscription.index:
        for metric, expected in reference.by_subscription.loc[name].items():
            got = compiled.by_subscription.loc[name, metric]
            assert _same(expected, got), (name, metric, expected, got)
    assert reference.backlog.equals(compiled.backlog)
    if reference.windows is None:
        assert compiled.windows is None
    else:
        pd.testing.assert_frame_equal(reference.windows, compiled.windows, rtol=1e-9)
    return reference.summary


def _same(expected, got) -> bool:
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(got, float) and math.isnan(got)
    if isinstance(expected, float):
        return math.isclose(expected, got, rel_tol=1e-9, abs_tol=1e-12)
    return bool(expected == got)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(covered_scenarios())
def test_the_compiled_engine_runs_every_covered_scenario_as_the_model_does(scenario):
    assert not uncovered(scenario)
    summary = assert_same_run(scenario)
    for count in ("redelivered", "duplicates", "suppressed", "dead_lettered", "dropped"):
        event(f"{count} > 0: {summary[count] > 0}")


@pytest.mark.parametrize("fields", [f for f in SCENARIOS if not uncovered(Scenario(**f))], ids=str)
def test_golden_scenarios_it_covers_run_alike_on_both_engines(fields):
    assert_same_run(Scenario(**fields))


def test_simultaneous_events_fall_in_the_same_order():
    """Fixed arrivals from phased publishers and fixed services collide constantly: ties decide who takes what."""
    for dispatch in ("shared", "round-robin", "least-loaded"):
        assert_same_run(
            Scenario(
                arrivals="fixed",
                service="fixed",
                publishers=3,
                publish_rate=0.5,
                service_time=2.0,
                group_size=3,
                dispatch=dispatch,
                topics=2,
                subscribers=2,
                duration=300.0,
                warmup=10.0,
                delivery_delay=0.5,
            )
        )


def test_a_consumer_freeing_room_as_a_copy_arrives_goes_first_as_in_the_model():
    """One consumer, room for one copy, a copy every second taking two: at every odd second the consumer ends
    (scheduled first) and takes the waiting copy before the publish finds the queue full."""
    scenario = Scenario(
        arrivals="fixed", service="fixed", publish_rate=1.0, service_time=2.0, queue_capacity=1, dispatch="shared",
        duration=100.0, warmup=0.0,
    )  # fmt: skip
    assert_same_run(scenario)
    # Published at 1..100 s; the consumer finishes one copy per 2 s, so about half are dropped, not all but two.
    assert simulate(scenario, engine="compiled").summary["dropped"] == 49


def test_auto_takes_the_compiled_engine_where_it_covers_the_scenario():
    assert simulate(Scenario(duration=50.0, warmup=5.0)).engine == "compiled"
    assert simulate(Scenario(duration=50.0, warmup=5.0, crash_rate=0.01)).engine == "asimpy"
    assert simulate(Scenario(duration=50.0, warmup=5.0), trace=Trace()).engine == "asimpy"


def test_the_compiled_engine_refuses_what_it_does_not_cover_naming_the_fields():
    with pytest.raises(ValueError, match=r"prefetch=2.*crash_rate=0\.1"):
        simulate(Scenario(duration=50.0, warmup=5.0, dispatch="shared", prefetch=2, crash_rate=0.1), engine="compiled")
    named = Scenario(
        topics={"orders": {"poison_prob": 0.1}},
        subscriptions={
            "email": {"topics": ["orders"], "ack": True, "rebalance": "eager"},
            "audit": {"topics": ["orders"], "ack": True},
        },
        duration=50.0,
        warmup=5.0,
    )
    assert uncovered(named) == ["subscriptions.email.rebalance='eager'"]
    with pytest.raises(ValueError, match="engine"):
        simulate(named, engine="fast")  # type: ignore[arg-type]
