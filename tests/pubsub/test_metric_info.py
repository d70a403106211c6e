"""The metric registry is the one source of metric names, kinds and meanings."""

import re
from pathlib import Path

from pubsub import COUNT_METRICS, METRIC_INFO, METRICS, WALL_CLOCK_METRICS, Scenario, simulate
from pubsub.metric_info import markdown_table
from pubsub.recorder import COUNTS

ROOT = Path(__file__).resolve().parents[2]
TABLE = re.compile(r"<!-- metrics:begin -->\n(.*?)\n<!-- metrics:end -->", re.S)


def documented_table(path: Path) -> str:
    found = TABLE.findall(path.read_text())
    assert len(found) == 1, f"{path.name} must hold the metric table once, between metrics:begin and metrics:end"
    return found[0]


def test_readme_table_is_the_registry():
    # Regenerate with: python -c "from pubsub.metric_info import markdown_table; print(markdown_table())"
    assert documented_table(ROOT / "README.md") == markdown_table()


def test_model_document_table_is_the_registry():
    assert documented_table(ROOT / "docs" / "model.md") == markdown_table()


def test_kinds_split_the_metrics():
    assert set(COUNT_METRICS) | set(WALL_CLOCK_METRICS) | {
        m for m, i in METRIC_INFO.items() if i.kind == "float"
    } == set(METRICS)
    assert set(COUNTS) <= set(COUNT_METRICS)


def test_summary_values_have_their_registered_kind():
    summary = simulate(Scenario(publish_rate=0.8, ack=True, failure_prob=0.1, duration=200.0, warmup=20.0)).summary
    for name, info in METRIC_INFO.items():
        value = summary[name]
        if info.kind == "count":
            assert isinstance(value, int) and not isinstance(value, bool), (name, value)
        else:
            assert isinstance(value, float), (name, value)
