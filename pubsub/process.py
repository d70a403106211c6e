"""A process woken once per event or interrupt, never twice."""

from __future__ import annotations

from typing import Any

import asimpy
from asimpy import Interrupt


class Process(asimpy.Process):
    """`asimpy.Process` (0.20) with its interrupt race mended.

    asimpy wakes a process by scheduling its loop, once for the event it awaits
    and once for an interrupt. When both happen in one instant (a copy handed to
    a waiting consumer as it crashes, in either order), the loop runs twice: the
    first run delivers the interrupt, the second is stale and ends whatever the
    process awaits next at once (a restart, a service time), and the wake-up of
    that await then hands None to the one after. Here a second wake-up is never
    scheduled: the first delivers the interrupt and cancels the event, which
    gives back what it carried (a mailbox's copy goes back to its queue).
    """

    def interrupt(self, cause: Any = None) -> None:
        event = self._current_event
        if event is not None and event.triggered:  # its wake-up is scheduled and will deliver this
            self._interrupt = Interrupt(cause)
        else:
            super().interrupt(cause)

    def resume(self, value: Any = None) -> None:
        # asimpy's own resume, inlined rather than called through super() (a consumer wakes once or twice per
        # copy), but not when an interrupt's wake-up is scheduled: that one cancels this event, which gives its
        # value back.
        if self._interrupt is None and not self._done:
            self._resume_value = value
            self._env.immediate(self._loop)
