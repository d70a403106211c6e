"""`make test`'s coverage: slipcover's JSON printed as a table, held to the floor in pyproject.toml.

Run after `python -m slipcover --branch --json --out FILE -m pytest`, with FILE; exits 2 below the floor.
(slipcover's own `--fail-under` loses the table when forked workers' coverage is merged into it.)
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

import slipcover

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def coverage_floor() -> float:
    return tomllib.loads(PYPROJECT.read_text())["tool"]["pubsub-sweeps"]["coverage_floor"]


def main(path: str) -> int:
    coverage = json.loads(Path(path).read_text())
    slipcover.print_coverage(coverage, outfile=sys.stdout, skip_covered=True)
    floor = coverage_floor()
    total = coverage["summary"]["percent_covered"]
    files = len(coverage["files"])
    if total < floor:
        print(f"coverage: {total:.1f}% of lines and branches in {files} files, below the floor of {floor}%")
        return 2
    print(f"coverage: {total:.1f}% of lines and branches in {files} files (floor {floor}%, pyproject.toml)")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
