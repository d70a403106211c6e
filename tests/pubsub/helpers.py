"""Small hand-built topologies and recording traces for tests."""

from __future__ import annotations

import itertools

from asimpy import Environment

from pubsub import WALL_CLOCK_METRICS
from pubsub.acks import Acknowledgments
from pubsub.broker import Broker
from pubsub.consumer import Consumer
from pubsub.publisher import Publisher
from pubsub.recorder import Recorder
from pubsub.retries import Retries
from pubsub.scenario import Scenario
from pubsub.subscription import Subscription
from pubsub.topology import SubscriptionPart, TopicPart, Topology
from pubsub.trace import Trace
from pubsub.work import Work


def topic_of(scenario: Scenario, index: int = 0) -> TopicPart:
    """A scenario's topic `index`, as the model builds it."""
    return Topology.of(scenario).topics[index]


def subscription_of(scenario: Scenario, index: int = 0) -> SubscriptionPart:
    """A scenario's subscription `index` (in the order the model builds them)."""
    return Topology.of(scenario).subscriptions[index]


class Recording(Trace):
    """Keeps every event as a tuple."""

    def __init__(self):
        self.events: list[tuple] = []

    def published(self, now, publisher, message):
        self.events.append(("published", now, publisher, message.id))

    def taken(self, now, consumer, subscription, copy):
        self.events.append(("taken", now, consumer.name, copy.message.id))

    def finished(self, now, consumer, subscription, copy, ok):
        self.events.append(("finished", now, consumer.name, copy.message.id, ok))

    def requeued(self, now, subscription, copy):
        self.events.append(("requeued", now, subscription.name, copy.message.id))

    def dead_lettered(self, now, subscription, copy):
        self.events.append(("dead_lettered", now, subscription.name, copy.message.id))

    def lost(self, now, subscription, copy):
        self.events.append(("lost", now, subscription.name, copy.message.id))

    def of(self, kind: str) -> list[tuple]:
        return [e for e in self.events if e[0] == kind]


def one_message_topology(
    *,
    service: float,
    timeout: float,
    group: int = 1,
    fails: bool = True,
    max_deliveries: int | None = None,
    publish_at: float = 2.0,
    retries: Retries | None = None,
):
    """One message published at `publish_at` to a shared group with acknowledgments (nacks with `retries`)."""
    env = Environment()
    trace = Recording()
    recorder = Recorder()
    broker = Broker(recorder)
    consumers = [Consumer(env, f"c{i}", trace=trace) for i in range(group)]
    acks = Acknowledgments(env, timeout, max_deliveries, retries=retries)
    work = Work(itertools.repeat(service), itertools.repeat(fails))
    subscription = Subscription(
        env, "s", "t", consumers, recorder, dispatch="shared", acks=acks, trace=trace, work=work
    )
    broker.subscribe(subscription)
    Publisher(env, "p", broker, "t", iter([publish_at, 1e12]), trace=trace)
    return env, trace, recorder, subscription


def nan_safe(summary: dict, drop=WALL_CLOCK_METRICS) -> dict:
    """The summary without wall-clock metrics, NaN replaced so that == compares it exactly."""
    return {k: ("NaN" if isinstance(v, float) and v != v else v) for k, v in summary.items() if k not in drop}


def watch(monkeypatch, cls, name: str, note) -> None:
    """Call `note` with the arguments of every call of `cls.name` (self first), just before the method runs."""
    method = getattr(cls, name)

    def watched(self, *args):
        note(self, *args)
        return method(self, *args)

    monkeypatch.setattr(cls, name, watched)


def times_consumers_leave(monkeypatch) -> list[float]:
    """The times at which consumers leave their groups (retire or crash), filled in as the run goes."""
    times: list[float] = []
    watch(monkeypatch, Subscription, "left", lambda subscription, now, consumer: times.append(now))
    return times
