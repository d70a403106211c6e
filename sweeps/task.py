"""The unit of work sent to a worker: one seeded simulation, errors caught and returned."""

from __future__ import annotations

import json
import traceback
from typing import Any

import pandas as pd
import pyarrow as pa

from pubsub import Scenario, simulate
from pubsub.engines import Engine


def run_scenario(fields: dict[str, Any], engine: Engine = "auto") -> dict[str, Any]:
    """Simulate on `engine`; return {"part"} (the encoded run, the engine that ran it in its summary) or
    {"error", "traceback"}.

    The run comes back as one file's bytes (see `encode_part`), encoded by the
    worker so that the driver, alone and serial, only has to write them.
    """
    try:
        result = simulate(Scenario(**fields), engine=engine)
    except Exception as error:  # a failing cell is recorded, and the sweep goes on
        lines = traceback.format_exception(error)
        return {"error": f"{type(error).__name__}: {error}", "traceback": "".join(lines[-6:])}
    summary = {**result.summary, "engine": result.engine}
    return {"part": encode_part(summary, result.backlog, result.by_subscription, result.windows)}


def run_batch(task, batch: list[dict[str, Any]], engine: Engine = "auto") -> list[dict[str, Any]]:
    """Several small runs in one trip to a worker."""
    return [task(fields, engine) for fields in batch]


SUMMARY_KEY = b"pubsub.summary"
SUBSCRIPTIONS_KEY = b"pubsub.subscriptions"
WINDOWS_KEY = b"pubsub.windows"


def encode_part(
    summary: dict[str, Any],
    backlog: pd.DataFrame,
    by_subscription: pd.DataFrame,
    windows: pd.DataFrame | None = None,
) -> bytes:
    """A run as one Arrow IPC file: its backlog series, with its summary, its metrics per subscription (a
    record per subscription) and over time (a record per window, none without) as JSON in the schema's
    metadata.

    Arrow IPC rather than Parquet because the driver reads every part back when it
    consolidates, and small IPC files read several times faster.
    """
    table = pa.Table.from_pandas(backlog, preserve_index=False)
    parts = by_subscription.reset_index().to_dict(orient="records")
    over_time = [] if windows is None else windows.to_dict(orient="records")
    metadata = {
        SUMMARY_KEY: json.dumps(summary).encode(),
        SUBSCRIPTIONS_KEY: json.dumps(parts).encode(),
        WINDOWS_KEY: json.dumps(over_time).encode(),
    }
    table = table.replace_schema_metadata(metadata)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema, options=pa.ipc.IpcWriteOptions(compression="zstd")) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def decode_part(path) -> pa.Table:
    """The table `encode_part` wrote, read from `path`."""
    with pa.memory_map(str(path)) as source:
        return pa.ipc.open_file(source).read_all()
