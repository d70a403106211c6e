"""The quick CLI commands, and `import pubsub`, start without the heavy libraries.

Each runs in a fresh interpreter under `-X importtime`, which logs every module it
imports; pandas and the rest belong to the commands that use them (`run`, `report`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = {"pandas", "scipy", "pyarrow", "matplotlib", "seaborn", "dask", "distributed"}

QUICK = [
    ["-m", "sweeps", "list"],
    ["-m", "sweeps", "where", "default"],
    ["-m", "sweeps", "status", "default"],
    ["-m", "sweeps", "--help"],
    ["-m", "analysis", "--help"],
    ["-c", "import pubsub"],
]


def imported(args: list[str], cwd: Path) -> set[str]:
    """The top-level packages that `python -X importtime ARGS` imports, run in `cwd`."""
    # This checkout's packages first, whatever the environment's install points at.
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": path},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    # Lines read "import time: self | cumulative | <indent>package.module".
    logged = [line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")]
    return {name.split(".")[0] for name in logged}


@pytest.mark.parametrize("args", QUICK, ids=" ".join)
def test_quick_commands_import_no_heavy_library(args, tmp_path):
    # In an empty folder: a fresh checkout has no results/ either.
    packages = imported(args, tmp_path)
    assert ("pubsub" if args[0] == "-c" else args[1]) in packages  # the log was read
    assert packages & HEAVY == set()
