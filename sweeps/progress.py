"""A sweep's progress, wherever it runs: a bar on a terminal or in a notebook, else a line every few seconds."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _in_notebook() -> bool:
    return "ipykernel" in sys.modules


class Progress:
    """Runs done out of a total that may grow (a precision or search round adds runs).

    `show=None` picks by where it runs: a tqdm bar on a terminal or in a
    notebook, else (a pipe, `make sweep` in a log) one line every `every`
    seconds and one at the end: runs done, their rate and the time left.
    `show=False` prints nothing, `show=True` always draws the bar.
    """

    def __init__(self, name: str, show: bool | None = None, every: float = 10.0, stream: TextIO | None = None):
        self.name = name
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self.total = 0
        self.every = every
        self.started = self.last = time.monotonic()
        self.bar = None
        self.lines = False
        if show or (show is None and (self.stream.isatty() or _in_notebook())):
            from tqdm.auto import tqdm  # a widget in a notebook, a text bar on a terminal

            self.bar = tqdm(total=0, unit="run", desc=name, file=self.stream)
        elif show is None:
            self.lines = True

    def add(self, runs: int) -> None:
        self.total += runs
        if self.bar is not None:
            self.bar.total = self.total
            self.bar.refresh()

    def update(self) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update()
        elif self.lines and time.monotonic() - self.last >= self.every:
            self._line()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.lines and self.done:
            self._line()

    def _line(self) -> None:
        now = time.monotonic()
        self.last = now
        rate = self.done / max(now - self.started, 1e-9)
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        share = f" ({self.done / self.total:.0%})" if self.total else ""
        print(
            f"{self.name}: {self.done}/{self.total} runs{share}, {rate:.1f} runs/s, about {_duration(left)} left",
            file=self.stream,
            flush=True,
        )


def _duration(seconds: float) -> str:
    if seconds == float("inf"):
        return "an unknown time"
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"
