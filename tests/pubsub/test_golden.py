"""Results must not change under refactoring or tuning: summaries pinned exactly.

If a change must alter results (say, a new order of random draws), regenerate
golden.json in the same commit, say why (see golden_scenarios.py), and bump
pubsub.MODEL_VERSION so that stored sweep results are not mixed with new ones.
"""

import json

from pubsub import Scenario
from tests.pubsub.golden_scenarios import GOLDEN, SCENARIOS, summaries


def test_summaries_match_the_golden_file():
    expected = json.loads(GOLDEN.read_text())
    assert len(expected) == len(SCENARIOS)
    defaults = Scenario().model_dump()
    for i, (got, want) in enumerate(zip(summaries(), expected)):
        # A Scenario field added since the file was written must be at its default, which changes nothing.
        added = {k: v for k, v in got.items() if k not in want}
        assert added == {k: defaults[k] for k in added}, f"scenario {i}: new fields not at their defaults"
        assert {k: got[k] for k in want} == want, f"scenario {i} ({SCENARIOS[i]}) changed"
