"""Scenario validation: every bad input fails at once, naming the field and its value; the documented table."""

import math
import re
import typing
from pathlib import Path

import pytest

from pubsub import METRICS, Scenario, simulate


def test_defaults_are_a_small_valid_scenario():
    s = Scenario()
    assert (s.topics, s.publishers, s.subscribers, s.group_size) == (1, 1, 1, 1)
    assert (s.arrivals, s.service, s.dispatch, s.ack) == ("poisson", "exponential", "round-robin", False)
    summary = simulate(s).summary
    assert summary["published"] > 0


def test_summary_is_fields_then_every_metric():
    summary = simulate(Scenario(duration=50.0, warmup=5.0)).summary
    fields = list(Scenario.model_fields)
    assert list(summary)[: len(fields)] == fields
    assert list(summary)[len(fields) :] == list(METRICS)
    assert all(isinstance(v, (int, float, str, bool, type(None))) for v in summary.values())


def documented_fields() -> dict[str, list[str]]:
    """docs/model.md's field table: each field's default, range and meaning cells, in the table's order."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "model.md").read_text()
    section = text.split("## The fields of a `Scenario`")[1].split("\n## ")[0]
    rows = re.findall(r"^\| `(\w+)` \|(.*)\|$", section, re.M)
    return {name: [cell.strip() for cell in cells.split("|")] for name, cells in rows}


def documented_default(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return f"`{value}`" if isinstance(value, str) else repr(value)


def documented_bound(field) -> str:
    """How the table writes the range a field's type and constraints allow, before any cross-field rule."""
    if typing.get_origin(field.annotation) is typing.Literal:
        return ", ".join(f"`{choice}`" for choice in typing.get_args(field.annotation))
    bounds = {kind: getattr(m, kind) for m in field.metadata for kind in ("ge", "gt", "lt") if hasattr(m, kind)}
    if "lt" in bounds:
        return f"[{bounds['ge']}, {bounds['lt']})"
    if "ge" in bounds:
        return f"≥ {bounds['ge']}"
    return f"> {bounds['gt']}" if "gt" in bounds else ""


def test_the_documented_field_table_gives_every_fields_default_and_range():
    table = documented_fields()
    assert list(table) == list(Scenario.model_fields)
    for name, field in Scenario.model_fields.items():
        default, allowed, meaning = table[name]
        assert default == documented_default(field.default), name
        assert allowed.startswith(documented_bound(field)), name
        assert meaning, name


def test_integers_are_accepted_for_float_fields():
    assert Scenario(duration=5000, warmup=500).duration == 5000.0


BAD = [
    ({"delivery_delay": -0.1}, "delivery_delay"),
    ({"service_overhead": math.nan}, "service_overhead"),
    ({"publish_rate": 0}, "publish_rate"),
    ({"publish_rate": -1.0}, "publish_rate"),
    ({"publish_rate": math.inf}, "publish_rate"),
    ({"service_time": math.nan}, "service_time"),
    ({"duration": math.inf}, "duration"),
    ({"ack_timeout": 0.0}, "ack_timeout"),
    ({"group_size": 0}, "group_size"),
    ({"group_size": 2.5}, "group_size"),
    ({"group_size": "2"}, "group_size"),
    ({"group_size": True}, "group_size"),
    ({"topics": 0}, "topics"),
    ({"subscribers": -1}, "subscribers"),
    ({"publishers": 0}, "publishers"),
    ({"keys": 0}, "keys"),
    ({"key_skew": -0.5}, "key_skew"),
    ({"failure_prob": 1.0, "ack": True}, "failure_prob"),
    ({"failure_prob": -0.1, "ack": True}, "failure_prob"),
    ({"failure_prob": 0.1}, "failure_prob"),  # needs ack
    ({"queue_capacity": 0}, "queue_capacity"),
    ({"max_deliveries": 0}, "max_deliveries"),
    ({"warmup": 100.0, "duration": 100.0}, "warmup"),
    ({"warmup": -1.0}, "warmup"),
    ({"seed": -3}, "seed"),
    ({"seed": 1.5}, "seed"),
    ({"sample_interval": 0.0}, "sample_interval"),
    ({"outage_duration": -1.0}, "outage_duration"),
    ({"outage_start": 2000.0, "outage_duration": 10.0}, "outage_start"),
    ({"burst_factor": 0.5}, "burst_factor"),
    ({"service_cv": 0.0}, "service_cv"),
    ({"arrivals": "uniform"}, "arrivals"),
    ({"service": "gamma"}, "service"),
    ({"dispatch": "random"}, "dispatch"),
    ({"overflow": "reject"}, "overflow"),
    ({"ack": "yes"}, "ack"),
    ({"partitions": 4, "dispatch": "key-hash"}, "partitions"),  # needs partitioned
    ({"partitions": 0, "dispatch": "partitioned"}, "partitions"),
    ({"prefetch": 2}, "prefetch"),  # needs shared (the default dispatch is round-robin)
    ({"prefetch": 0, "dispatch": "shared"}, "prefetch"),
    ({"rate_factor": 2.0}, "rate_factor"),  # needs step or ramp
    ({"rate_profile": "step", "rate_factor": 2.0, "rate_change_at": 0.0}, "rate_change_at"),  # a step at 0 is none
    ({"rate_profile": "step", "rate_factor": 2.0, "rate_change_at": 5000.0}, "rate_change_at"),
    ({"rate_profile": "step", "rate_factor": 2.0, "rate_change_at": 1000.0}, "rate_change_at"),  # the run's end
    ({"rate_profile": "ramp", "rate_factor": 0.0}, "rate_factor"),
    ({"rate_profile": "sine", "rate_amplitude": 0.5, "rate_period": None}, "rate_period"),
    ({"rate_profile": "sine", "rate_amplitude": 1.0, "rate_period": 100.0}, "rate_amplitude"),
    ({"rate_amplitude": 0.5, "rate_period": 100.0}, "rate_amplitude"),  # needs sine
    ({"rate_profile": "daily"}, "rate_profile"),
    ({"autoscale": True, "dispatch": "shared", "max_consumers": 4, "target_backlog": None}, "target_backlog"),
    ({"autoscale": True, "dispatch": "shared", "max_consumers": None, "target_backlog": 2.0}, "max_consumers"),
    (
        {"autoscale": True, "dispatch": "shared", "min_consumers": 5, "max_consumers": 3, "target_backlog": 2.0},
        "min_consumers",
    ),
    ({"max_consumers": 4}, "max_consumers"),  # needs autoscale
    ({"startup_time": 5.0}, "startup_time"),  # needs autoscale
    ({"autoscale": True, "dispatch": "shared", "max_consumers": 3, "target_backlog": 0.0}, "target_backlog"),
    ({"restart_time": 5.0}, "restart_time"),  # needs crash_rate
    ({"rebalance_time": 5.0}, "rebalance_time"),  # needs a rebalance mode
    ({"rebalance": "eager", "dispatch": "shared", "outage_duration": 10.0}, "rebalance"),
    ({"rebalance": "lazy", "dispatch": "shared"}, "rebalance"),
    ({"crash_rate": -0.1}, "crash_rate"),
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": 2.0}, "batch_size"),
    ({"batch_overhead": -0.5}, "batch_overhead"),
    ({"nack": True}, "nack"),  # needs ack
    ({"poison_prob": 0.1}, "poison_prob"),  # needs ack
    ({"poison_prob": 1.0, "ack": True}, "poison_prob"),
    ({"retry_delay": 1.0, "ack": True}, "retry_delay"),  # needs nack
    ({"retry_delay": -1.0, "ack": True, "nack": True}, "retry_delay"),
    ({"retry_backoff": "exponential", "ack": True}, "retry_backoff"),  # needs nack
    ({"retry_backoff": "linear", "ack": True, "nack": True}, "retry_backoff"),
    ({"retry_delay_max": 5.0, "ack": True, "nack": True}, "retry_delay_max"),  # fixed: nothing to cap
    ({"retry_delay_max": 5.0, "ack": True}, "retry_delay_max"),  # needs nack
    (
        {"retry_delay": 2.0, "retry_delay_max": 1.0, "retry_backoff": "exponential", "ack": True, "nack": True},
        "retry_delay_max",
    ),
    ({"group_sise": 2}, "group_sise"),
    ({"publish_rates": 1.0}, "publish_rates"),
]


@pytest.mark.parametrize("fields, culprit", BAD, ids=[f"{c}={f[c]!r}" for f, c in BAD])
def test_bad_input_names_the_field_and_its_value(fields, culprit):
    """In the error itself: pydantic's message also echoes the whole input, which names every field given."""
    with pytest.raises(ValueError) as raised:
        Scenario(**fields)
    (error,) = raised.value.errors()
    value = fields[culprit]
    if error["loc"]:  # one field's type or range
        assert error["loc"] == (culprit,) and repr(error["input"]) == repr(value), error
    else:  # a combination of fields, refused by the Scenario's own checks
        assert re.search(rf"\b{culprit} \({value!r}\)", error["msg"]), error


def test_autoscale_without_its_size_limit_and_target_names_both():
    with pytest.raises(ValueError, match=r"autoscale needs max_consumers and target_backlog \(None\)"):
        Scenario(dispatch="shared", autoscale=True)


EDGES = [
    {"rate_profile": "step", "rate_factor": 2.0, "rate_change_at": 0.5},
    {"warmup": 999.5},
    {"outage_start": 999.5, "outage_duration": 10.0},
    {"ack": True, "nack": True, "retry_backoff": "exponential", "retry_delay": 2.0, "retry_delay_max": 2.0},
]


@pytest.mark.parametrize("fields", EDGES, ids=[",".join(f) for f in EDGES])
def test_values_just_inside_a_cross_field_range_are_accepted(fields):
    assert Scenario(**fields).model_dump(include=set(fields)) == fields


def test_scenarios_are_immutable():
    with pytest.raises(ValueError):
        Scenario().publish_rate = 2.0


def test_a_misspelt_field_is_refused_with_the_closest_name():
    with pytest.raises(
        ValueError, match=r"servce_time \(2\.0\) is not a scenario field \(did you mean 'service_time'\?\)"
    ):
        Scenario(servce_time=2.0)
    with pytest.raises(
        ValueError, match=r"subscriptions\.a\.grup_size \(2\) is not a field \(did you mean 'group_size'"
    ):
        Scenario(topics={"t": {}}, subscriptions={"a": {"topics": ["t"], "grup_size": 2}})
    with pytest.raises(ValueError, match="is not a scenario field") as refused:
        Scenario(zzz=1)
    assert "did you mean" not in str(refused.value)  # nothing close: no suggestion
