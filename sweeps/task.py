"""The unit of work sent to a worker: one seeded simulation, errors caught and returned."""

from __future__ import annotations

import traceback
from typing import Any

from pubsub import Scenario, simulate


def run_scenario(fields: dict[str, Any]) -> dict[str, Any]:
    """Simulate; return {"summary", "backlog"} or {"error"} with the traceback's last lines."""
    try:
        result = simulate(Scenario(**fields))
    except Exception as error:  # a failing cell is recorded, and the sweep goes on
        lines = traceback.format_exception(error)
        return {"error": f"{type(error).__name__}: {error}", "traceback": "".join(lines[-6:])}
    return {"summary": result.summary, "backlog": result.backlog}
