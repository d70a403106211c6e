"""Which engine runs a Scenario: the asimpy model (the reference), or the compiled one where it covers it.

The rule lives here and only here: `uncovered` names every field that keeps a
Scenario off the compiled engine.
"""

from __future__ import annotations

from typing import Literal

from .scenario import Scenario, SubscriptionSettings

Engine = Literal["auto", "asimpy", "compiled"]
ENGINES: tuple[Engine, ...] = ("auto", "asimpy", "compiled")

# Subscription fields the compiled engine does not model yet, with the values it does model.
_SUBSCRIPTION: dict[str, object] = {
    "prefetch": 1,
    "autoscale": False,
    "rebalance": "none",
    "crash_rate": 0.0,
    "outage_duration": 0.0,
}


def _off(settings: SubscriptionSettings, at: str) -> list[str]:
    found = [
        f"{at}{name}={value!r}"
        for name, covered in _SUBSCRIPTION.items()
        if (value := getattr(settings, name)) != covered
    ]
    # A publisher blocked by a full queue publishes when there is room: its times cannot be drawn ahead.
    if settings.queue_capacity and settings.overflow == "block":
        found.append(f"{at}overflow='block'")
    return found


def uncovered(scenario: Scenario) -> list[str]:
    """The fields (as `name=value`, a named part's by its path) that the compiled engine does not cover; empty
    if it covers the Scenario. (It covers every topic field.)"""
    found: list[str] = []
    for name, (_, subscription) in scenario.subscription_settings().items():
        found += _off(subscription, f"subscriptions.{name}." if scenario.named else "")
    return list(dict.fromkeys(found))  # a uniform system's parts repeat the flat fields


def choose(scenario: Scenario, engine: Engine, traced: bool = False) -> Literal["asimpy", "compiled"]:
    """The engine that runs `scenario`: `auto` takes the compiled one where it covers it (and nothing traces)."""
    if engine not in ENGINES:
        raise ValueError(f"engine ({engine!r}) must be one of {', '.join(ENGINES)}")
    if engine == "asimpy":
        return "asimpy"
    missing = uncovered(scenario) + (["trace (the compiled engine has no trace)"] if traced else [])
    if engine == "compiled" and missing:
        raise ValueError(f"engine='compiled' does not cover this scenario: {', '.join(missing)}")
    return "asimpy" if missing else "compiled"
