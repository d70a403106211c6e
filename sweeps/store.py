"""A sweep's stored runs: one file per finished run, consolidated into Parquet tables.

Which runs are stored is a matter of file names (all `python -m sweeps status` asks);
pyarrow and pandas are imported only by the methods that read the files.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pubsub import METRIC_INFO, WALL_CLOCK_METRICS, Scenario

from .layout import Layout, write_atomically
from .spec import Run

if TYPE_CHECKING:
    import pandas as pd


def scenario_dtypes(named: bool = False) -> dict[str, str]:
    """Pandas dtypes for the scenario's fields that survive a Parquet round trip (None as NA). A named
    topology's `topics` and `subscriptions` are JSON text (`Scenario.summary_fields`)."""
    shape = {"topics": "string" if named else "int64", "subscriptions": "string"}
    dtypes = {}
    for name, info in Scenario.model_fields.items():
        kind = info.annotation
        text = str(kind)
        if name in shape:
            dtypes[name] = shape[name]
        elif kind is bool:
            dtypes[name] = "bool"
        elif kind is int:
            dtypes[name] = "int64"
        elif kind is float:
            dtypes[name] = "float64"
        elif "int" in text:  # int | None
            dtypes[name] = "Int64"
        elif "float" in text:  # float | None
            dtypes[name] = "Float64"
        else:  # the Literal choices
            dtypes[name] = "string"
    return dtypes


def metric_dtypes() -> dict[str, str]:
    return {name: ("int64" if info.kind == "count" else "float64") for name, info in METRIC_INFO.items()}


class ResultStore:
    """The folder `<results>/<name>/` and what is in it.

    Each finished run is one file, `parts/runs/<key>.arrow` (its backlog series,
    its summary in the file's metadata); a failed run is `parts/errors/<key>.json`.
    """

    def __init__(self, folder: Path):
        self.layout = Layout(Path(folder))
        self.folder = self.layout.folder
        self.runs_dir = self.layout.run_parts
        self.errors_dir = self.layout.error_parts

    def prepare(self, fresh: bool = False) -> None:
        if fresh:
            shutil.rmtree(self.layout.parts, ignore_errors=True)
            shutil.rmtree(self.layout.figures, ignore_errors=True)
            for path in self.layout.files():
                path.unlink(missing_ok=True)
        for d in (self.runs_dir, self.errors_dir):
            d.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.rglob(".*.tmp"):  # left by a killed writer
            stale.unlink(missing_ok=True)

    def _part(self, run: Run) -> Path:
        return self.runs_dir / f"{run.key}.arrow"

    def done(self, run: Run) -> bool:
        return self._part(run).exists()

    def save(self, run: Run, part: bytes) -> None:
        """Store a finished run, encoded by `sweeps.task.encode_part`."""
        (self.errors_dir / f"{run.key}.json").unlink(missing_ok=True)  # an earlier failure, now fixed
        write_atomically(self._part(run), lambda p: p.write_bytes(part))

    def save_error(self, run: Run, error: str) -> None:
        record = {
            "cell": run.cell.index,
            **run.cell.varied,
            "replication": run.replication,
            "seed": run.scenario.seed,
            "error": error,
        }
        write_atomically(self.errors_dir / f"{run.key}.json", lambda p: p.write_text(json.dumps(record)))

    def summary(self, run: Run) -> dict[str, Any]:
        import pyarrow as pa

        from .task import SUMMARY_KEY

        with pa.memory_map(str(self._part(run))) as source:  # the schema holds it: no need to read the data
            return json.loads(pa.ipc.open_file(source).schema.metadata[SUMMARY_KEY])

    def subscription(self, run: Run, name: str) -> dict[str, Any]:
        """One subscription's metrics in a stored run."""
        import pyarrow as pa

        from .task import SUBSCRIPTIONS_KEY

        with pa.memory_map(str(self._part(run))) as source:
            records = json.loads(pa.ipc.open_file(source).schema.metadata[SUBSCRIPTIONS_KEY])
        return next(r for r in records if r["subscription"] == name)

    def error(self, run: Run) -> dict[str, Any] | None:
        """The recorded failure of a run that has not since succeeded."""
        path = self.errors_dir / f"{run.key}.json"
        return json.loads(path.read_text()) if path.exists() and not self.done(run) else None

    def consolidate(self, runs: list[Run], varied: list[str]) -> pd.DataFrame:
        """Write runs.parquet and backlog.parquet from the stored runs among `runs`, in cell order."""
        import pandas as pd
        import pyarrow as pa

        from .task import SUBSCRIPTIONS_KEY, SUMMARY_KEY, WINDOWS_KEY, decode_part

        finished = sorted((r for r in runs if self.done(r)), key=lambda r: (r.cell.index, r.replication))
        tables = [decode_part(self._part(r)) for r in finished]
        paths = [f for f in varied if "." in f]  # a named part's field: a column of its own beside the fields
        rows = [
            {
                "cell": r.cell.index,
                "replication": r.replication,
                **json.loads(t.schema.metadata[SUMMARY_KEY]),
                **{path: r.cell.varied.get(path) for path in paths},
            }
            for r, t in zip(finished, tables)
        ]
        named = any(isinstance(row["topics"], str) for row in rows)
        fields = scenario_dtypes(named)
        at_paths = {path: fields[path.rsplit(".", 1)[-1]] for path in paths}
        columns = {"cell": "int64", "replication": "int64", **fields, **at_paths, **metric_dtypes(), "engine": "string"}
        frame = pd.DataFrame(rows, columns=list(columns)).astype(columns)
        write_atomically(self.layout.runs, lambda p: frame.to_parquet(p, index=False))

        order = [
            "cell",
            *varied,
            "replication",
            "seed",
            "time",
            "subscription",
            "consumer",
            "depth",
            "consumers_running",
        ]
        self._consolidate_subscriptions(
            frame, varied, [json.loads(t.schema.metadata[SUBSCRIPTIONS_KEY]) for t in tables]
        )
        self._consolidate_windows(frame, varied, [json.loads(t.schema.metadata[WINDOWS_KEY]) for t in tables])
        tables = [t.replace_schema_metadata(None) for t in tables]
        if tables:
            series = pa.concat_tables(tables).to_pandas()
            owners = frame[["cell", *varied, "replication", "seed"]]
            owners = owners.loc[owners.index.repeat([t.num_rows for t in tables])].reset_index(drop=True)
            backlog = pd.concat([owners, series], axis=1)[order]
        else:
            backlog = pd.DataFrame(columns=order)
        write_atomically(self.layout.backlog, lambda p: backlog.to_parquet(p, index=False))
        return frame

    def _consolidate_subscriptions(self, frame: pd.DataFrame, varied: list[str], parts: list[list[dict]]) -> None:
        """subscriptions.parquet: each run's metrics per subscription, beside its cell, varied fields and seed."""
        import pandas as pd

        owners = ["cell", *varied, "replication", "seed"]
        metrics = {n: t for n, t in metric_dtypes().items() if n not in WALL_CLOCK_METRICS}
        columns = [*owners, "subscription", *metrics]
        rows = _beside_their_runs(frame, owners, parts)
        table = pd.DataFrame(rows, columns=columns).astype({"subscription": "string", **metrics})
        write_atomically(self.layout.subscriptions, lambda p: table.to_parquet(p, index=False))

    def _consolidate_windows(self, frame: pd.DataFrame, varied: list[str], windows: list[list[dict]]) -> None:
        """windows.parquet: each run's metrics over time, beside its cell, varied fields and seed; not written
        when no run has windows."""
        import pandas as pd

        from pubsub.windows import COLUMNS

        owners = ["cell", *varied, "replication", "seed"]
        rows = _beside_their_runs(frame, owners, windows)
        if not rows:
            self.layout.windows.unlink(missing_ok=True)  # (left by an earlier run of the spec with windows)
            return
        table = pd.DataFrame(rows, columns=[*owners, *COLUMNS]).astype({"copies": "int64"})
        write_atomically(self.layout.windows, lambda p: table.to_parquet(p, index=False))


def _beside_their_runs(frame: pd.DataFrame, owners: list[str], records: list[list[dict]]) -> list[dict]:
    """Each run's records (one list per row of `frame`), each with its run's `owners` columns in front."""
    return [
        {**owner, **record} for owner, mine in zip(frame[owners].to_dict(orient="records"), records) for record in mine
    ]
