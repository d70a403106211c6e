"""Figure branches the mini sweep does not reach: outages shaded in the backlog, idempotent cells set apart."""

import matplotlib.image
import numpy as np
import pytest

from analysis import figures, stats
from analysis.results import load as load_results
from sweeps import load, run_sweep

OUTAGE = """
name = "outage"
description = "a short outage"
replications = 2
seed = 3
[scenario]
dispatch = "shared"
group_size = 2
outage_start = 200.0
outage_duration = 100.0
duration = 600.0
warmup = 50.0
sample_interval = 5.0
[grid]
publish_rate = [0.8, 1.2, 1.6]
"""

IDEMPOTENCE = """
name = "idempotence"
description = "short timeouts, with and without idempotent consumers"
replications = 2
seed = 4
[scenario]
publish_rate = 1.0
group_size = 2
dispatch = "shared"
service = "lognormal"
service_cv = 1.5
ack = true
ack_timeout = 1.5
duration = 600.0
warmup = 50.0
[grid]
failure_prob = [0.0, 0.2]
idempotent = [false, true]
"""


def sweep(tmp_path, text: str):
    path = tmp_path / "spec.toml"
    path.write_text(text)
    spec = load(path)
    run_sweep(spec, path, tmp_path / "results", workers=2, progress=False)
    return load_results(tmp_path / "results" / spec.name)


def share_of(pixels: np.ndarray, color: tuple[float, float, float]) -> float:
    return float((np.abs(pixels - np.array(color)).max(axis=2) < 0.03).mean())


def test_the_backlog_figure_shades_the_outage(tmp_path):
    results = sweep(tmp_path, OUTAGE)
    summary = stats.summarize(results.runs, results.varied)
    path = figures.backlog_over_time(summary, results.backlog(), tmp_path / "figures")
    assert path is not None and path.exists()
    pixels = matplotlib.image.imread(path)[..., :3]
    assert pixels.std() > 0.05
    # Orange at alpha 0.25 over white: (1, 0.91, 0.75). Without an outage nothing is drawn in it.
    assert share_of(pixels, (1.0, 0.912, 0.75)) > 0.01
    plain = figures.backlog_over_time(summary.assign(outage_duration=0.0), results.backlog(), tmp_path / "plain")
    assert plain is not None
    assert share_of(matplotlib.image.imread(plain)[..., :3], (1.0, 0.912, 0.75)) == pytest.approx(0.0, abs=1e-4)


def test_the_ack_costs_figure_shows_only_non_idempotent_cells(tmp_path):
    """Idempotent consumers turn duplicates into suppressions: pooled with the others they would halve them."""
    results = sweep(tmp_path, IDEMPOTENCE)
    runs, varied = results.runs, results.varied
    assert (runs.loc[~runs["idempotent"], "duplicates"] > 0).any() and (
        runs.loc[runs["idempotent"], "duplicates"] == 0
    ).all()
    drawn = figures.acknowledgment_costs(runs, varied, tmp_path / "drawn")
    alone = figures.acknowledgment_costs(
        runs[~runs["idempotent"]], [f for f in varied if f != "idempotent"], tmp_path / "alone"
    )
    pooled = figures.acknowledgment_costs(runs, [f for f in varied if f != "idempotent"], tmp_path / "pooled")
    assert drawn is not None and alone is not None and pooled is not None
    assert matplotlib.image.imread(drawn)[..., :3].std() > 0.05
    assert drawn.read_bytes() == alone.read_bytes()
    assert drawn.read_bytes() != pooled.read_bytes()
