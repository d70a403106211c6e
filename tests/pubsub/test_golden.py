"""Results must not change under refactoring or tuning: summaries pinned exactly.

If a change must alter results (say, a new order of random draws), regenerate
golden.json in the same commit, say why (see golden_scenarios.py), and bump
pubsub.MODEL_VERSION so that stored sweep results are not mixed with new ones.
"""

import json

from tests.pubsub.golden_scenarios import GOLDEN, SCENARIOS, summaries


def test_summaries_match_the_golden_file():
    expected = json.loads(GOLDEN.read_text())
    assert len(expected) == len(SCENARIOS)
    for i, (got, want) in enumerate(zip(summaries(), expected)):
        assert got == want, f"scenario {i} ({SCENARIOS[i]}) changed"
