"""Consumer crashes: each consumer dies after exponential running times and comes back after a restart."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from asimpy import Process, Timeout

if TYPE_CHECKING:
    from .consumer import Consumer
    from .recorder import Tally


class Crasher(Process):
    """Crashes `consumer` after each running time drawn from `gaps`; it is down for `restart` seconds."""

    def init(
        self,
        consumer: Consumer,
        gaps: Iterator[float],
        restart: float,
        recorder: Tally,
        on_crash: Callable[[float], None] | None = None,
    ):
        self.on_crash = on_crash
        self.consumer = consumer
        self.gaps = gaps
        self.restart = restart
        self.recorder = recorder

    async def run(self):
        env, consumer = self._env, self.consumer
        while True:
            await Timeout(env, next(self.gaps))
            if consumer.stopped_at <= env.now or consumer.retiring:
                return
            self.recorder.crashes += 1
            consumer.crash(self.restart)
            if self.on_crash is not None:
                self.on_crash(env.now)
            await Timeout(env, self.restart)
