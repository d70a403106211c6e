"""The documents name tests that exist: docs/testing.md cites the test that kills each mutant or fixes a weak spot."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_every_test_a_document_names_exists():
    defined = {path.name: path.read_text() for path in (ROOT / "tests").rglob("test_*.py")}
    anywhere = "\n".join(defined.values())
    missing, cited = [], 0
    for document in DOCUMENTS:
        for test_file, test in re.findall(r"(test_\w+\.py::)?(test_\w+)\b(?!\.py)", document.read_text()):
            cited += 1
            where = defined.get(test_file[:-2], "") if test_file else anywhere
            if f"def {test}(" not in where:
                missing.append((document.name, test_file, test))
    assert cited > 40
    assert not missing, missing
