"""Where runs execute: a local process pool (the default) or a Dask cluster."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any

# completed(fn, args) runs fn(arg) for each arg and yields (index of arg, result) as each finishes.
Completed = Callable[[Callable, list[Any]], Iterator[tuple[int, Any]]]


def worker_deaths() -> tuple[type[BaseException], ...]:
    """Exceptions that mean a worker process died under a run (killed, or out of memory)."""
    try:
        from distributed import KilledWorker
    except ImportError:
        return (BrokenProcessPool,)
    return (BrokenProcessPool, KilledWorker)


def _ignore_interrupts() -> None:
    """Workers leave Ctrl-C to the driver, which stops the sweep cleanly."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@contextmanager
def local_pool(workers: int) -> Iterator[Completed]:
    """Runs on `workers` local processes; yields a function mapping fn over items as they finish."""
    pool = ProcessPoolExecutor(max_workers=workers, initializer=_ignore_interrupts)

    def completed(fn, args):
        futures = {pool.submit(fn, arg): i for i, arg in enumerate(args)}
        for future in as_completed(futures):
            yield futures[future], future.result()

    try:
        yield completed
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def dask_cluster(address: str, workers: int) -> Iterator[Completed]:
    """Runs on Dask: a new LocalCluster for "local", else the scheduler at `address`."""
    from dask.distributed import Client, LocalCluster
    from dask.distributed import as_completed as dask_completed

    cluster = None
    if address == "local":
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    else:
        client = Client(address)

    def completed(fn, args):
        futures = client.map(fn, args, pure=False)  # pure=False: equal arguments are still separate runs
        index = {future.key: i for i, future in enumerate(futures)}
        for future in dask_completed(futures):
            yield index[future.key], future.result()

    try:
        yield completed
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def backend(dask: str | None, workers: int):
    """The context manager for the chosen backend, and its name for the manifest."""
    if dask is None:
        return local_pool(workers), f"local process pool ({workers} workers)"
    if dask == "local":
        return dask_cluster("local", workers), f"dask LocalCluster ({workers} workers)"
    return dask_cluster(dask, workers), f"dask scheduler {dask}"
