"""Publishers: processes that publish to one topic at intervals drawn from an arrival process."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from asimpy import Environment, Process, Timeout

from .broker import Broker
from .trace import Trace


class Publisher(Process):
    """Publishes to `topic` after each gap from `gaps`, waiting while a blocking queue is full.

    `poisons`, if given, says of each message whether it is poison (fails every attempt).
    """

    def init(
        self,
        name: str,
        broker: Broker,
        topic: str,
        gaps: Iterator[float],
        keys: Iterator[int] | None = None,
        trace: Trace | None = None,
        poisons: Iterator[bool] | None = None,
    ):
        self.name = name
        self.broker = broker
        self.topic = topic
        self.gaps = gaps
        self.keys = keys if keys is not None else itertools.repeat(0)
        self.trace = trace
        self.poisons = poisons

    async def run(self):
        env: Environment = self._env
        broker, topic, gaps, keys, trace, poisons = (
            self.broker,
            self.topic,
            self.gaps,
            self.keys,
            self.trace,
            self.poisons,
        )
        # Subscriptions are all in place once the run starts.
        can_block = any(s.blocks for s in broker.subscriptions[topic])
        while True:
            await Timeout(env, next(gaps))
            key = next(keys)
            while can_block and (full := broker.full_mailbox(topic, key)) is not None:
                await full.room()
            message = broker.publish(env.now, topic, key, poisons is not None and next(poisons))
            if trace is not None:
                trace.published(env.now, self.name, message)
