"""`make mutation`'s summary: the score of the last mutmut run and every mutant that survived it.

Run from the repository root after `mutmut run`; exits 1 if any mutant survived, so that a new survivor shows.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

STATS = Path("mutants/mutmut-cicd-stats.json")


def main() -> int:
    mutmut = Path(sys.executable).with_name("mutmut")
    subprocess.run([mutmut, "export-cicd-stats"], check=True, capture_output=True)
    stats = json.loads(STATS.read_text())
    listed = subprocess.run([mutmut, "results", "--all", "true"], check=True, capture_output=True, text=True).stdout
    outcomes = [line.strip().rsplit(": ", 1) for line in listed.splitlines() if ": " in line]
    # A mutant that hangs the tests (timeout) was caught; one that no test runs (no tests) was not.
    survivors = sorted(name for name, outcome in outcomes if outcome in ("survived", "no tests"))
    caught = stats["killed"] + stats.get("timeout", 0)
    judged = caught + len(survivors)
    score = caught / judged if judged else float("nan")
    print(f"mutants: {stats['total']}; killed {stats['killed']}, timed out {stats.get('timeout', 0)}, "
          f"survived {stats['survived']}, run by no test {stats.get('no_tests', 0)}, "
          f"not run {stats['total'] - sum(v for k, v in stats.items() if k != 'total')}; "
          f"score {score:.1%} of those judged")  # fmt: skip
    by_module = Counter(re.split(r"\.x[_ǁ]", name)[0] for name in survivors)
    for module, count in sorted(by_module.items()):
        print(f"  {module}: {count} not caught")
    for name in survivors:
        print(f"not caught: {name}")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
