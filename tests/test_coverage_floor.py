"""`make test`'s coverage floor: below pyproject.toml's figure fails, at or above it passes."""

import json

import pytest

from tests import coverage_floor

FLOOR = coverage_floor.coverage_floor()


@pytest.mark.parametrize(("total", "status"), [(FLOOR - 0.05, 2), (FLOOR, 0), (FLOOR + 5, 0)])
def test_the_total_is_held_to_the_floor(tmp_path, capsys, total, status):
    report = tmp_path / "coverage.json"
    report.write_text(json.dumps({"files": {}, "summary": {"percent_covered": total}}))
    assert coverage_floor.main(str(report)) == status
    assert f"{total:.1f}%" in capsys.readouterr().out
