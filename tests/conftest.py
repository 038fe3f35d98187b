"""Every tier's root: puts tests/ on sys.path, so the tests import `support`, under `brownie test`
and plain pytest alike. It imports nothing from brownie: tests/unit runs without it (`make unit`).
Chain fixtures and isolation live in the chain tiers' own conftests (contracts, integration, e2e)."""

import sys
from pathlib import Path

TESTS = str(Path(__file__).resolve().parent)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)
