"""`python -m live`: bad input exits 2 with one line, before anything runs or is written; SIGTERM stops cleanly."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def live(*args, cwd=None, **kw):
    return subprocess.run([sys.executable, "-m", "live", *args], capture_output=True, text=True, cwd=cwd, **kw)


def test_a_spec_with_an_unsupported_cell_is_refused_and_nothing_is_written(tmp_path):
    spec = tmp_path / "rr.toml"
    spec.write_text('name = "rr"\nreplications = 1\n[grid]\ndispatch = ["shared", "round-robin"]\n')
    done = live("run", str(spec), "--results", str(tmp_path / "results"))
    assert done.returncode == 2
    assert "dispatch='round-robin'" in done.stderr and "cell dispatch='round-robin'" in done.stderr
    assert not (tmp_path / "results").exists()


def test_an_unreachable_redis_url_exits_2_naming_it(tmp_path):
    done = live("calibrate", "--redis", "redis://127.0.0.1:1/0")
    assert done.returncode == 2 and "redis://127.0.0.1:1/0" in done.stderr


def test_sigterm_during_a_check_leaves_no_server_running(tmp_path):
    before = _servers()
    child = subprocess.Popen(
        [sys.executable, "-m", "live", "check", "--quick", "--results", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while _servers() == before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _servers() != before, "the check did not start a server"
    time.sleep(1.0)
    os.kill(child.pid, signal.SIGTERM)
    child.wait(timeout=30)
    assert child.returncode != 0
    deadline = time.monotonic() + 5
    while _servers() != before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _servers() == before


def _servers() -> set[int]:
    """Process ids of servers started by the live runner (their working folder is pubsub-live-*)."""
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:  # not a process, or it ended meanwhile
            continue
        if b"pubsub-live-" in command and b"--dir" in command:
            found.add(int(entry.name))
    return found
