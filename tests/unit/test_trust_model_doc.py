"""docs/trust-model.md backs each statement with a named test: every `file.py::test_name` it
names must exist (a test renamed or deleted makes the doc false, and this fails)."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAMED = re.compile(r"`(test_\w+\.py)::(test_\w+)`")


def test_every_test_the_trust_model_names_exists():
    named = NAMED.findall((ROOT / "docs" / "trust-model.md").read_text())
    assert len(named) >= 30  # the doc cites its tests: a reformat that drops them fails here too
    files = {p.name: p for p in (ROOT / "tests").glob("*/test_*.py")}
    missing = [f"{f}::{t}" for f, t in named
               if f not in files or not re.search(rf"^def {t}\(", files[f].read_text(), re.M)]
    assert missing == []
