"""The scenario: every knob of a run, validated strictly at construction.

A run's system is made of topics and subscriptions. `TopicSettings` holds what
a topic's publishers do, `SubscriptionSettings` what a subscription's consumer
group does; each field belongs to exactly one of them, and a model part reads
only its own. A `Scenario` describes either

- a uniform system, with the flat fields as today's shorthand: `topics` topics
  alike, each read by `subscribers` subscriptions alike; or
- a named topology: `topics` and `subscriptions` as tables of named parts,
  each setting its own fields, the flat fields serving as the default of every
  part that does not set one.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidatorFunctionWrapHandler,
    field_serializer,
    field_validator,
    model_validator,
)

from .suggest import did_you_mean

Arrivals = Literal["poisson", "fixed", "bursty"]
Service = Literal["exponential", "fixed", "lognormal"]
DispatchPolicy = Literal["round-robin", "shared", "least-loaded", "key-hash", "partitioned"]
KEYED: tuple[DispatchPolicy, ...] = ("key-hash", "partitioned")  # the policies that route by message key
Overflow = Literal["drop", "block"]
Backoff = Literal["fixed", "exponential"]
RateProfile = Literal["constant", "step", "ramp", "sine"]
RebalanceMode = Literal["none", "eager", "cooperative"]

# A part's name: it names consumers (`email/c0`), random streams and a spec's dotted paths, so no dots or slashes.
PartName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$", max_length=64)]

STRICT = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class TopicSettings(BaseModel):
    """What one topic's publishers do."""

    model_config = STRICT

    publishers: int = Field(1, ge=1, description="publishers per topic")
    publish_rate: float = Field(0.5, gt=0, description="messages/s per publisher")
    arrivals: Arrivals = "poisson"
    burst_factor: float = Field(4.0, ge=1, description="bursty: peak rate / mean rate")
    burst_length: float = Field(10.0, gt=0, description="bursty: mean length of an on period, s")
    rate_profile: RateProfile = "constant"
    rate_factor: float = Field(1.0, gt=0, description="step, ramp: the rate becomes publish_rate × this")
    rate_change_at: float = Field(0.0, ge=0, description="step: when the rate changes, s")
    rate_amplitude: float = Field(0.0, ge=0, lt=1, description="sine: relative amplitude")
    rate_period: float | None = Field(None, gt=0, description="sine: period, s")
    keys: int = Field(100, ge=1, description="key-hash, partitioned: distinct keys")
    key_skew: float = Field(0.0, ge=0, description="key-hash, partitioned: Zipf exponent, 0 = uniform keys")
    poison_prob: float = Field(0.0, ge=0, lt=1, description="probability a message fails every attempt")

    def check_topic(self, duration: float, at: str = "") -> None:
        """Refuse combinations of this topic's fields; `at` prefixes every field named (a named part's path)."""
        uses = {
            "rate_factor": ("step", "ramp"),
            "rate_change_at": ("step",),
            "rate_amplitude": ("sine",),
            "rate_period": ("sine",),
        }
        defaults = {"rate_factor": 1.0, "rate_change_at": 0.0, "rate_amplitude": 0.0, "rate_period": None}
        for name, profiles in uses.items():
            value = getattr(self, name)
            if value != defaults[name] and self.rate_profile not in profiles:
                raise ValueError(
                    f"{at}{name} ({value!r}) needs {at}rate_profile in {profiles}, not {self.rate_profile!r}"
                )
        if self.rate_profile == "step" and not 0 < self.rate_change_at < duration:
            raise ValueError(
                f"{at}rate_change_at ({self.rate_change_at}) must be inside the run (0, {duration}) for a step"
            )
        if self.rate_profile == "sine" and self.rate_period is None:
            raise ValueError(f"{at}rate_period (None) must be set for a sine profile")


class SubscriptionSettings(BaseModel):
    """What one subscription's consumer group does with its copies."""

    model_config = STRICT

    group_size: int = Field(1, ge=1, description="consumers per subscription")
    dispatch: DispatchPolicy = "round-robin"
    partitions: int | None = Field(None, ge=1, description="partitioned: partitions per topic; None = group_size")
    prefetch: int = Field(1, ge=1, description="shared: unfinished copies the broker lets each consumer hold")

    # Processing
    service: Service = "exponential"
    service_time: float = Field(1.0, gt=0, description="mean processing time, s")
    service_cv: float = Field(1.0, gt=0, description="lognormal: coefficient of variation")
    batch_size: int = Field(1, ge=1, description="copies a consumer takes at once, at most")
    batch_overhead: float = Field(0.0, ge=0, description="time a batch costs beyond its copies' attempts, s")

    # Bounded queues
    queue_capacity: int | None = Field(None, ge=1, description="copies per queue; None = unbounded")
    overflow: Overflow = "drop"

    # At-least-once delivery
    ack: bool = False
    ack_timeout: float = Field(30.0, gt=0, description="visibility timeout from take, s")
    failure_prob: float = Field(0.0, ge=0, lt=1, description="probability an attempt fails")
    max_deliveries: int | None = Field(None, ge=1, description="deliveries before dead-lettering")
    idempotent: bool = False
    nack: bool = Field(False, description="a failed attempt returns its copy at once instead of timing out")
    retry_delay: float = Field(0.0, ge=0, description="nack: wait before a returned copy can be taken again, s")
    retry_backoff: Backoff = "fixed"
    retry_delay_max: float | None = Field(None, gt=0, description="exponential backoff: longest wait, s")

    # Costs of a real broker and client that the ideal model lacks (measured by `python -m live calibrate`)
    delivery_delay: float = Field(0.0, ge=0, description="time from publish until a copy can be taken, s")
    service_overhead: float = Field(0.0, ge=0, description="fixed time added to every attempt, s")
    redelivery_overhead: float = Field(0.0, ge=0, description="further time added to every redelivered attempt, s")

    # Autoscaling: KEDA's rule on the backlog, Kubernetes' scale-down stabilization
    autoscale: bool = False
    min_consumers: int = Field(1, ge=1, description="autoscale: smallest group")
    max_consumers: int | None = Field(None, ge=1, description="autoscale: largest group")
    target_backlog: float | None = Field(None, gt=0, description="autoscale: copies waiting per consumer")
    scale_interval: float = Field(30.0, gt=0, description="autoscale: how often the scaler looks, s")
    scale_down_delay: float = Field(300.0, ge=0, description="autoscale: a smaller size must hold this long, s")
    startup_time: float = Field(0.0, ge=0, description="autoscale: a new consumer takes copies after this, s")

    # Rebalances on every membership change (scaling, crashes, restarts)
    rebalance: RebalanceMode = "none"
    rebalance_time: float = Field(0.0, ge=0, description="how long a rebalance stops consumers, s")

    # Consumer crashes
    crash_rate: float = Field(0.0, ge=0, description="crashes per consumer per second (exponential)")
    restart_time: float = Field(0.0, ge=0, description="a crashed consumer takes nothing for this long, s")

    # An outage of the subscription's consumers (under the uniform shorthand, of the first subscription's only)
    outage_start: float = Field(0.0, ge=0, description="s")
    outage_duration: float = Field(0.0, ge=0, description="s; 0 = no outage")

    @property
    def partition_count(self) -> int:
        """Partitions per topic under `partitioned`: `partitions`, or one per consumer."""
        return self.partitions if self.partitions is not None else self.group_size

    def check_subscription(self, duration: float, at: str = "") -> None:
        """Refuse combinations of this subscription's fields; `at` prefixes every field named."""
        if self.failure_prob > 0 and not self.ack:
            raise ValueError(
                f"{at}failure_prob ({self.failure_prob}) needs {at}ack=True: without acknowledgments "
                "a failed copy would vanish uncounted"
            )
        if self.partitions is not None and self.dispatch != "partitioned":
            raise ValueError(
                f"{at}partitions ({self.partitions}) needs {at}dispatch='partitioned', not {self.dispatch!r}"
            )
        if self.prefetch > 1 and self.dispatch != "shared":
            raise ValueError(f"{at}prefetch ({self.prefetch}) needs {at}dispatch='shared', not {self.dispatch!r}")
        self._check_retries(at)
        self._check_scaling(at)
        if self.rebalance_time > 0 and self.rebalance == "none":
            raise ValueError(f"{at}rebalance_time ({self.rebalance_time}) needs {at}rebalance='eager' or 'cooperative'")
        if self.rebalance != "none" and self.outage_duration > 0:
            raise ValueError(
                f"{at}rebalance ({self.rebalance!r}) with an outage ({at}outage_duration={self.outage_duration}): "
                "both would pause the same queue"
            )
        if self.restart_time > 0 and self.crash_rate == 0:
            raise ValueError(f"{at}restart_time ({self.restart_time}) needs {at}crash_rate > 0")
        if self.outage_duration > 0 and self.outage_start >= duration:
            raise ValueError(f"{at}outage_start ({self.outage_start}) must be less than duration ({duration})")

    def _check_retries(self, at: str) -> None:
        if self.nack and not self.ack:
            raise ValueError(f"{at}nack (True) needs {at}ack=True: only an acknowledged copy can be returned")
        if not self.nack:
            for name, value, default in (
                ("retry_delay", self.retry_delay, 0.0),
                ("retry_backoff", self.retry_backoff, "fixed"),
                ("retry_delay_max", self.retry_delay_max, None),
            ):
                if value != default:
                    raise ValueError(
                        f"{at}{name} ({value!r}) needs {at}nack=True: only returned copies wait a retry delay"
                    )
        if self.retry_delay_max is not None:
            if self.retry_backoff != "exponential":
                raise ValueError(
                    f"{at}retry_delay_max ({self.retry_delay_max}) needs {at}retry_backoff='exponential': "
                    "a fixed delay has nothing to cap"
                )
            if self.retry_delay_max < self.retry_delay:
                raise ValueError(
                    f"{at}retry_delay_max ({self.retry_delay_max}) must be at least {at}retry_delay "
                    f"({self.retry_delay})"
                )

    def _check_scaling(self, at: str) -> None:
        if not self.autoscale:
            defaults = {"min_consumers": 1, "max_consumers": None, "target_backlog": None, "scale_interval": 30.0,
                        "scale_down_delay": 300.0, "startup_time": 0.0}  # fmt: skip
            for name, default in defaults.items():
                if getattr(self, name) != default:
                    raise ValueError(f"{at}{name} ({getattr(self, name)!r}) needs {at}autoscale=True")
            return
        if self.max_consumers is None or self.target_backlog is None:
            missing = [at + n for n in ("max_consumers", "target_backlog") if getattr(self, n) is None]
            raise ValueError(f"{at}autoscale needs {' and '.join(missing)} (None)")
        if not self.min_consumers <= self.group_size <= self.max_consumers:
            raise ValueError(
                f"{at}group_size ({self.group_size}) is where scaling starts: it must lie in "
                f"[{at}min_consumers ({self.min_consumers}), {at}max_consumers ({self.max_consumers})]"
            )


class NamedSubscription(SubscriptionSettings):
    """A named subscription: the topics it reads (one consumer group serves them all) and its own settings."""

    topics: list[PartName] = Field(min_length=1, description="the topics it reads")

    @field_validator("topics")
    @classmethod
    def _distinct(cls, topics: list[str]) -> list[str]:
        if len(set(topics)) < len(topics):
            raise ValueError(f"a topic is listed twice in {topics}")
        return topics


TOPIC_FIELDS = tuple(TopicSettings.model_fields)
SUBSCRIPTION_FIELDS = tuple(SubscriptionSettings.model_fields)
RUN_FIELDS = ("duration", "warmup", "seed", "sample_interval", "window")

_COUNT = TypeAdapter(Annotated[int, Field(ge=1)])
_NAMED_TOPICS = TypeAdapter(dict[PartName, TopicSettings])


class Shape(BaseModel):
    """The system's shape: the uniform shorthand's counts, or named parts."""

    model_config = STRICT

    topics: int | dict[PartName, TopicSettings] = Field(1, description="number of topics, or named topics")
    subscribers: int = Field(1, ge=1, description="uniform: subscriptions (consumer groups) per topic")
    subscriptions: dict[PartName, NamedSubscription] | None = Field(None, description="named subscriptions")


# pydantic orders fields base by base from the last: the shape, a topic's, a subscription's, then the run's.
class Scenario(SubscriptionSettings, TopicSettings, Shape):
    """A run of the publish-subscribe model. Times are seconds, rates messages per second.

    Unknown fields, wrong types, out-of-range values and NaN or infinite numbers
    raise a `ValueError` (pydantic's `ValidationError`) naming the field, by its
    full path in a named part (`subscriptions.email.group_size`).
    """

    duration: float = Field(1000.0, gt=0, description="simulated seconds")
    warmup: float = Field(100.0, ge=0, description="seconds excluded from statistics")
    seed: int = Field(0, ge=0)
    sample_interval: float | None = Field(None, gt=0, description="backlog sampling, s; None = duration/200")
    window: float | None = Field(
        None,
        gt=0,
        description="metrics over time: window width, s; None = a 24th of the measured time if the load varies",
    )

    @field_validator("topics", mode="wrap")
    @classmethod
    def _count_or_named(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        # One of two shapes, each with its own errors (a union would report both, under its members' names).
        if isinstance(value, dict):
            return _NAMED_TOPICS.validate_python(value)
        return _COUNT.validate_python(value, strict=True)

    @model_validator(mode="before")
    @classmethod
    def _parts_at_their_level(cls, data: Any) -> Any:
        """A field set in a named part that belongs to the other kind of part, or to the run, is refused by name."""
        if not isinstance(data, dict):
            return data
        for key in data:
            if key not in cls.model_fields:
                raise ValueError(f"{key} ({data[key]!r}) is not a scenario field{did_you_mean(key, cls.model_fields)}")
        levels = {"topics": (TOPIC_FIELDS, "a topic's"), "subscriptions": (SUBSCRIPTION_FIELDS, "a subscription's")}
        for table, (own, kind) in levels.items():
            parts = data.get(table)
            if not isinstance(parts, dict):
                continue
            for name, fields in parts.items():
                for key in fields if isinstance(fields, dict) else ():
                    if key in own or (table == "subscriptions" and key == "topics"):
                        continue
                    where = _whose(key)
                    if where is None:
                        raise ValueError(
                            f"{table}.{name}.{key} ({fields[key]!r}) is not a field{did_you_mean(key, own)}"
                        )
                    if where is not None:
                        raise ValueError(
                            f"{table}.{name}.{key} ({fields[key]!r}) is {where} field, not {kind}: "
                            f"set it {'at the top' if key in RUN_FIELDS else 'in that part, or at the top'}"
                        )
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        if self.warmup >= self.duration:
            raise ValueError(f"warmup ({self.warmup}) must be less than duration ({self.duration})")
        if not self.named:
            self.check_subscription(self.duration)
            if self.poison_prob > 0 and not self.ack:
                raise ValueError(
                    f"poison_prob ({self.poison_prob}) needs ack=True: without acknowledgments "
                    "a poison copy would vanish uncounted"
                )
            self.check_topic(self.duration)
            return self
        self._check_shape()
        topics = self.topic_settings()
        for name, topic in topics.items():
            topic.check_topic(self.duration, f"topics.{name}.")
        for name, (read, subscription) in self.subscription_settings().items():
            subscription.check_subscription(self.duration, f"subscriptions.{name}.")
            for topic_name in read:
                poison = topics[topic_name].poison_prob
                if poison > 0 and not subscription.ack:
                    raise ValueError(
                        f"topics.{topic_name}.poison_prob ({poison}) needs subscriptions.{name}.ack=True: "
                        "without acknowledgments a poison copy would vanish uncounted"
                    )
        return self

    def _check_shape(self) -> None:
        if not isinstance(self.topics, dict):
            raise ValueError(f"subscriptions need named topics to read: topics ({self.topics}) is a count")
        if not self.topics:
            raise ValueError("topics ({}) names no topic")
        if not self.subscriptions:
            raise ValueError(
                f"named topics need named subscriptions to read them: subscriptions ({self.subscriptions})"
            )
        if self.subscribers != 1:
            raise ValueError(
                f"subscribers ({self.subscribers}) counts uniform subscriptions: a named topology lists its own"
            )
        for name, part in self.subscriptions.items():
            for topic in part.topics:
                if topic not in self.topics:
                    raise ValueError(
                        f"subscriptions.{name}.topics ({part.topics}) names {topic!r}, which is not a topic; "
                        f"the topics are {', '.join(self.topics)}"
                    )
        read = {topic for part in self.subscriptions.values() for topic in part.topics}
        for topic in self.topics:
            if topic not in read:
                raise ValueError(f"topics.{topic} ({self.topics[topic].model_dump(exclude_unset=True)}) "
                                 "is read by no subscription")  # fmt: skip

    @field_serializer("topics", "subscriptions")
    def _as_given(self, parts: Any) -> Any:
        # A named part keeps only the fields it set, so that a flat field stays its default after a round trip.
        if isinstance(parts, dict):
            return {name: part.model_dump(exclude_unset=True) for name, part in parts.items()}
        return parts

    @property
    def named(self) -> bool:
        """Whether the Scenario names its topics and subscriptions (else it is the uniform shorthand)."""
        return isinstance(self.topics, dict) or self.subscriptions is not None

    @property
    def topic_count(self) -> int:
        return len(self.topics) if isinstance(self.topics, dict) else self.topics

    def topic_settings(self) -> dict[str, TopicSettings]:
        """Every topic by name, with its settings: a named part's own fields over the flat ones."""
        flat = {name: getattr(self, name) for name in TOPIC_FIELDS}
        if not isinstance(self.topics, dict):
            shared = TopicSettings(**flat)
            return {f"t{t}": shared for t in range(self.topics)}
        return {
            name: TopicSettings(**{**flat, **part.model_dump(exclude_unset=True)}) for name, part in self.topics.items()
        }

    def subscription_settings(self) -> dict[str, tuple[tuple[str, ...], SubscriptionSettings]]:
        """Every subscription by name: the topics it reads, and its settings. Under the uniform shorthand
        subscription g of topic t is `t{t}/s{g}`, and only the first has the outage."""
        flat = {name: getattr(self, name) for name in SUBSCRIPTION_FIELDS}
        if self.subscriptions is None:
            assert isinstance(self.topics, int)
            first = SubscriptionSettings(**flat)
            rest = first.model_copy(update={"outage_start": 0.0, "outage_duration": 0.0})
            return {
                f"t{t}/s{g}": ((f"t{t}",), first if t == g == 0 else rest)
                for t in range(self.topics)
                for g in range(self.subscribers)
            }
        return {
            name: (
                tuple(part.topics),
                SubscriptionSettings(**{**flat, **part.model_dump(exclude_unset=True, exclude={"topics"})}),
            )
            for name, part in self.subscriptions.items()
        }

    def summary_fields(self) -> dict[str, Any]:
        """The fields as a summary row carries them: scalars, a named topology's parts as JSON text."""
        fields = self.model_dump()
        for table in ("topics", "subscriptions"):
            if isinstance(fields[table], dict):
                fields[table] = json.dumps(fields[table], sort_keys=True)
        return fields

    @property
    def backlog_interval(self) -> float:
        return self.sample_interval if self.sample_interval is not None else self.duration / 200


def _whose(name: str) -> str | None:
    """Which level a field belongs to, as an error names it: "a topic's", "a subscription's", "the run's"."""
    if name in TOPIC_FIELDS:
        return "a topic's"
    if name in SUBSCRIPTION_FIELDS:
        return "a subscription's"
    return "the run's" if name in RUN_FIELDS else None


def split_path(path: str) -> tuple[str | None, str | None, str]:
    """A field's address in a Scenario: (None, None, field) for a flat field, or (table, part, field) for a named
    part's, written `subscriptions.email.group_size` or `topics.orders.publish_rate`. Raises ValueError naming
    the path if it addresses nothing a Scenario has."""
    pieces = path.split(".")
    if len(pieces) == 1:
        if path not in Scenario.model_fields:
            raise ValueError(f"{path!r} is not a scenario field{did_you_mean(path, Scenario.model_fields)}")
        return None, None, path
    if len(pieces) != 3 or pieces[0] not in ("topics", "subscriptions"):
        raise ValueError(f"{path!r}: a named part's field is topics.NAME.FIELD or subscriptions.NAME.FIELD")
    table, part, name = pieces
    own, kind = (TOPIC_FIELDS, "topic") if table == "topics" else (SUBSCRIPTION_FIELDS, "subscription")
    if name not in own:
        where = _whose(name)
        what = f"{where} field" if where else f"not a field{did_you_mean(name, own)}"
        raise ValueError(f"{path!r}: {name} is {what}, not a {kind}'s")
    return table, part, name


def with_paths(fields: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A Scenario's fields (as given to it, or dumped) with each of `values` set at its path (`split_path`);
    a named part set this way must exist in `fields` already. Nothing given is changed in place."""
    out = dict(fields)
    for path, value in values.items():
        table, part, name = split_path(path)
        if table is None:
            out[name] = value
            continue
        parts = out.get(table)
        if not isinstance(parts, dict) or part not in parts:
            named = ", ".join(parts) if isinstance(parts, dict) else "none"
            raise ValueError(f"{path!r}: there is no {table[:-1]} {part!r} (the {table}: {named})")
        out[table] = {**parts, part: {**parts[part], name: value}}
    return out


def dotted(table: dict[str, Any]) -> dict[str, Any]:
    """A table of fields with named parts' nested tables (TOML's unquoted `subscriptions.email.group_size = …`)
    flattened into paths."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if key in ("topics", "subscriptions") and isinstance(value, dict):
            for part, fields in value.items():
                for name, values in fields.items() if isinstance(fields, dict) else [("", fields)]:
                    flat[f"{key}.{part}.{name}"] = values
        else:
            flat[key] = value
    return flat
