import textwrap
from pathlib import Path

import pytest

SMALL = """
name = "small"
replications = 3
seed = 7

[scenario]
duration = 300.0
warmup = 30.0
ack = true
failure_prob = 0.05

[grid]
group_size = [1, 2]
dispatch = ["round-robin", "shared"]
publish_rate = [0.5, 1.5]
"""


@pytest.fixture
def write_spec(tmp_path):
    def write(text: str = SMALL, name: str = "spec.toml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return path

    return write


@pytest.fixture
def results(tmp_path) -> Path:
    return tmp_path / "results"
