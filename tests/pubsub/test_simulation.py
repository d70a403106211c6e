"""Building a topology from a Scenario: who is who, and when they start."""

from pubsub import Scenario, simulate
from tests.pubsub.helpers import Recording


def test_publishers_and_consumers_are_named_by_topic_subscription_and_index():
    trace = Recording()
    s = Scenario(topics=2, publishers=2, subscribers=2, group_size=3, publish_rate=2.0, duration=200.0, warmup=0.0)
    simulate(s, trace=trace)
    assert {e[2] for e in trace.of("published")} == {f"t{t}/p{p}" for t in range(2) for p in range(2)}
    assert {e[2] for e in trace.of("taken")} == {
        f"t{t}/s{g}/c{i}" for t in range(2) for g in range(2) for i in range(3)
    }


def test_the_first_consumers_take_copies_from_the_start():
    """(Only consumers that a scaler adds take a while to start.)"""
    trace = Recording()
    s = Scenario(publish_rate=10.0, arrivals="fixed", service="fixed", service_time=0.01, duration=5.0, warmup=0.0)
    simulate(s, trace=trace)
    published = {e[3]: e[1] for e in trace.of("published")}
    early = [(published[e[3]], e[1]) for e in trace.of("taken") if published[e[3]] < 1.0]
    assert len(early) == 10 and all(taken == at for at, taken in early)
