"""The scenario: every knob of a run, validated strictly at construction."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Arrivals = Literal["poisson", "fixed", "bursty"]
Service = Literal["exponential", "fixed", "lognormal"]
DispatchPolicy = Literal["round-robin", "shared", "least-loaded", "key-hash", "partitioned"]
KEYED: tuple[DispatchPolicy, ...] = ("key-hash", "partitioned")  # the policies that route by message key
Overflow = Literal["drop", "block"]
Backoff = Literal["fixed", "exponential"]
RateProfile = Literal["constant", "step", "ramp", "sine"]
RebalanceMode = Literal["none", "eager", "cooperative"]


class Scenario(BaseModel):
    """A run of the publish-subscribe model. Times are seconds, rates messages per second.

    Unknown fields, wrong types, out-of-range values and NaN or infinite numbers
    raise a `ValueError` (pydantic's `ValidationError`) naming the field.
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)

    # Topology
    topics: int = Field(1, ge=1, description="number of topics")
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
    subscribers: int = Field(1, ge=1, description="subscriptions (consumer groups) per topic")
    group_size: int = Field(1, ge=1, description="consumers per subscription")
    dispatch: DispatchPolicy = "round-robin"
    keys: int = Field(100, ge=1, description="key-hash, partitioned: distinct keys")
    key_skew: float = Field(0.0, ge=0, description="key-hash, partitioned: Zipf exponent, 0 = uniform keys")
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
    poison_prob: float = Field(0.0, ge=0, lt=1, description="probability a message fails every attempt")

    # Costs of a real broker and client that the ideal model lacks (measured by `python -m live calibrate`)
    delivery_delay: float = Field(0.0, ge=0, description="time from publish until a copy can be taken, s")
    service_overhead: float = Field(0.0, ge=0, description="fixed time added to every attempt, s")

    # Autoscaling (shared groups): KEDA's rule on the backlog, Kubernetes' scale-down stabilization
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

    # Outage of the first subscription's consumers
    outage_start: float = Field(0.0, ge=0, description="s")
    outage_duration: float = Field(0.0, ge=0, description="s; 0 = no outage")

    # The run
    duration: float = Field(1000.0, gt=0, description="simulated seconds")
    warmup: float = Field(100.0, ge=0, description="seconds excluded from statistics")
    seed: int = Field(0, ge=0)
    sample_interval: float | None = Field(None, gt=0, description="backlog sampling, s; None = duration/200")

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        if self.warmup >= self.duration:
            raise ValueError(f"warmup ({self.warmup}) must be less than duration ({self.duration})")
        if self.failure_prob > 0 and not self.ack:
            raise ValueError(
                f"failure_prob ({self.failure_prob}) needs ack=True: without acknowledgments "
                "a failed copy would vanish uncounted"
            )
        if self.partitions is not None and self.dispatch != "partitioned":
            raise ValueError(f"partitions ({self.partitions}) needs dispatch='partitioned', not {self.dispatch!r}")
        if self.prefetch > 1 and self.dispatch != "shared":
            raise ValueError(f"prefetch ({self.prefetch}) needs dispatch='shared', not {self.dispatch!r}")
        self._consistent_retries()
        self._consistent_profile()
        self._consistent_scaling()
        if self.rebalance_time > 0 and self.rebalance == "none":
            raise ValueError(f"rebalance_time ({self.rebalance_time}) needs rebalance='eager' or 'cooperative'")
        if self.rebalance != "none" and self.outage_duration > 0:
            raise ValueError(
                f"rebalance ({self.rebalance!r}) with an outage (outage_duration={self.outage_duration}): "
                "both would pause the same queue"
            )
        if self.restart_time > 0 and self.crash_rate == 0:
            raise ValueError(f"restart_time ({self.restart_time}) needs crash_rate > 0")
        if self.outage_duration > 0 and self.outage_start >= self.duration:
            raise ValueError(f"outage_start ({self.outage_start}) must be less than duration ({self.duration})")
        return self

    def _consistent_scaling(self) -> None:
        if not self.autoscale:
            defaults = {"min_consumers": 1, "max_consumers": None, "target_backlog": None, "scale_interval": 30.0,
                        "scale_down_delay": 300.0, "startup_time": 0.0}  # fmt: skip
            for name, default in defaults.items():
                if getattr(self, name) != default:
                    raise ValueError(f"{name} ({getattr(self, name)!r}) needs autoscale=True")
            return
        if self.max_consumers is None or self.target_backlog is None:
            missing = [n for n in ("max_consumers", "target_backlog") if getattr(self, n) is None]
            raise ValueError(f"autoscale needs {' and '.join(missing)} (None)")
        if not self.min_consumers <= self.group_size <= self.max_consumers:
            raise ValueError(
                f"group_size ({self.group_size}) is where scaling starts: it must lie in "
                f"[min_consumers ({self.min_consumers}), max_consumers ({self.max_consumers})]"
            )

    def _consistent_profile(self) -> None:
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
                raise ValueError(f"{name} ({value!r}) needs rate_profile in {profiles}, not {self.rate_profile!r}")
        if self.rate_profile == "step" and not 0 < self.rate_change_at < self.duration:
            raise ValueError(
                f"rate_change_at ({self.rate_change_at}) must be inside the run (0, {self.duration}) for a step"
            )
        if self.rate_profile == "sine" and self.rate_period is None:
            raise ValueError("rate_period (None) must be set for a sine profile")

    def _consistent_retries(self) -> None:
        if self.nack and not self.ack:
            raise ValueError("nack (True) needs ack=True: only an acknowledged copy can be returned")
        if self.poison_prob > 0 and not self.ack:
            raise ValueError(
                f"poison_prob ({self.poison_prob}) needs ack=True: without acknowledgments "
                "a poison copy would vanish uncounted"
            )
        if not self.nack:
            for name, value, default in (
                ("retry_delay", self.retry_delay, 0.0),
                ("retry_backoff", self.retry_backoff, "fixed"),
                ("retry_delay_max", self.retry_delay_max, None),
            ):
                if value != default:
                    raise ValueError(f"{name} ({value!r}) needs nack=True: only returned copies wait a retry delay")
        if self.retry_delay_max is not None:
            if self.retry_backoff != "exponential":
                raise ValueError(
                    f"retry_delay_max ({self.retry_delay_max}) needs retry_backoff='exponential': "
                    "a fixed delay has nothing to cap"
                )
            if self.retry_delay_max < self.retry_delay:
                raise ValueError(
                    f"retry_delay_max ({self.retry_delay_max}) must be at least retry_delay ({self.retry_delay})"
                )

    @property
    def partition_count(self) -> int:
        """Partitions per topic under `partitioned`: `partitions`, or one per consumer."""
        return self.partitions if self.partitions is not None else self.group_size

    @property
    def backlog_interval(self) -> float:
        return self.sample_interval if self.sample_interval is not None else self.duration / 200
