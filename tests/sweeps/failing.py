"""A task that fails in one kind of cell, importable by worker processes."""

from sweeps.task import run_scenario


def crash_one_cell_kind(fields, engine="auto"):
    """Like run_scenario, but group_size=2 shared cells raise inside the worker."""
    if fields["group_size"] == 2 and fields["dispatch"] == "shared":
        fields = {**fields, "publish_rate": -1.0}  # Scenario raises; run_scenario must catch it
    return run_scenario(fields, engine)


def die_in_one_cell_kind(fields, engine="auto"):
    """Like run_scenario, but the worker process is killed under group_size=2 shared cells."""
    import os
    import signal

    if fields["group_size"] == 2 and fields["dispatch"] == "shared":
        os.kill(os.getpid(), signal.SIGKILL)
    return run_scenario(fields, engine)
