"""Where no group size meets the target, the report says why: the retry trap, and a saturated group."""

import re

from analysis import reporting
from analysis.results import load as load_results
from sweeps import load, run_sweep

# The new user: attempts that sometimes fail, retried after the default 30 s visibility timeout.
RETRY_TRAP = """
name = "retry-trap"
replications = 3
seed = 5
[scenario]
duration = 3000.0
warmup = 300.0
dispatch = "shared"
publish_rate = 0.5
ack = true
failure_prob = 0.05
[grid]
group_size = [1, 2, 4]
"""

SATURATED = """
name = "saturated"
replications = 3
seed = 5
[scenario]
duration = 1000.0
warmup = 100.0
dispatch = "shared"
publish_rate = 6.0
[grid]
group_size = [1, 2, 4]
"""


def _floors(tmp_path, text: str) -> str:
    """The report's list of floors, after running the spec `text`."""
    spec = tmp_path / "spec.toml"
    spec.write_text(text)
    sweep = load(spec)
    run_sweep(sweep, spec, tmp_path / "results", workers=1, progress=False)
    page = reporting.build(load_results(tmp_path / "results" / sweep.name)).read_text()
    assert "none in the sweep" in page
    floors = re.search(r'<ul class="floors">(.*?)</ul>', page, re.S)
    assert floors, "no explanation of why no group size meets the target"
    return floors.group(1)


def test_the_retry_trap_is_explained_by_the_timeout_that_sets_the_floor(tmp_path, without_figures):
    floors = _floors(tmp_path, RETRY_TRAP)
    assert "of copies were redelivered" in floors and "<code>ack_timeout = 30 s</code>" in floors
    assert "nack = true with a short retry_delay" in floors


def test_a_saturated_group_is_named_as_the_floor(tmp_path, without_figures):
    floors = _floors(tmp_path, SATURATED)
    assert "the group is saturated" in floors and "<code>the group size</code>" in floors
