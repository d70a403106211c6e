"""A consumer of a subscription of two topics (the chapter's Analytics), one copy or a batch at a time."""

import pytest
from asimpy import Environment

from pubsub.batches import Batches
from pubsub.broker import Broker
from pubsub.consumer import Consumer
from pubsub.publisher import Publisher
from pubsub.recorder import Recorder
from pubsub.subscription import Subscription
from tests.pubsub.helpers import Recording


class BySubscription(Recording):
    """Records the subscription each copy was taken and finished for, and its message's topic (and each
    message's publisher and key)."""

    def published(self, now, publisher, message):
        self.events.append(("published", now, publisher, message.id, message.key))

    def taken(self, now, consumer, subscription, copy):
        self.events.append(("taken", now, subscription.name, copy.message.topic, copy.message.id))

    def finished(self, now, consumer, subscription, copy, ok):
        self.events.append(("finished", now, subscription.name, copy.message.topic, copy.message.id))


# Message ids count across publishers: 0, 2, 3 on topic a at 1.0, 1.2, 1.4; 1, 4 on b at 1.1, 5.1. Every attempt
# takes 1 s. Idle at 1.0, the consumer takes 0 alone. At 2.0, 1 waits from b and 2, 3 from a: one queue, oldest
# first, whichever topic. One at a time, it takes 1, then 2, then 3; a batch of 3 takes them together. Then 4 on
# arrival.
EXPECTED = {
    "one at a time": (
        [(1.0, "a", 0), (2.0, "b", 1), (3.0, "a", 2), (4.0, "a", 3), (5.1, "b", 4)],
        [(2.0, "a", 0), (3.0, "b", 1), (4.0, "a", 2), (5.0, "a", 3), (6.1, "b", 4)],
    ),
    "batches of 3": (
        [(1.0, "a", 0), (2.0, "b", 1), (2.0, "a", 2), (2.0, "a", 3), (5.1, "b", 4)],
        [(2.0, "a", 0), (5.0, "b", 1), (5.0, "a", 2), (5.0, "a", 3), (6.1, "b", 4)],
    ),
}


@pytest.mark.parametrize("mode", sorted(EXPECTED))
def test_a_consumer_of_a_subscription_of_two_topics_takes_the_oldest_copy_of_either_alone_or_in_a_batch(mode):
    env, trace, recorder = Environment(), BySubscription(), Recorder()
    broker = Broker(recorder)
    consumer = Consumer(env, "c0", trace=trace, batches=Batches(3, 0.0) if mode == "batches of 3" else None)
    broker.subscribe(Subscription(env, "s", ["a", "b"], [consumer], recorder, dispatch="shared", trace=trace))
    Publisher(env, "pa", broker, "a", iter([1.0, 0.2, 0.2, 1e12]), trace=trace)
    Publisher(env, "pb", broker, "b", iter([1.1, 4.0, 1e12]), trace=trace)
    env.run(until=20.0)
    taken, finished = EXPECTED[mode]
    for kind, expected in (("taken", taken), ("finished", finished)):
        events = trace.of(kind)
        assert all(e[2] == "s" for e in events)
        assert [(e[1], e[3], e[4]) for e in events] == expected
    assert recorder.processed == 5
    published = [e[1:] for e in trace.of("published")]
    assert published == [(1.0, "pa", 0, 0), (1.1, "pb", 1, 0), (1.2, "pa", 2, 0), (1.4, "pa", 3, 0), (5.1, "pb", 4, 0)]
