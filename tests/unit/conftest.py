"""The unit tier: no chain, no node, no brownie. `make unit` runs it with brownie's pytest
plugin off, and then the run stops if anything collected here imported brownie."""

import sys

import pytest


def pytest_collection_finish(session):
    if not session.config.pluginmanager.has_plugin("pytest-brownie") and "brownie" in sys.modules:
        raise pytest.UsageError("a module under tests/unit imported brownie: "
                                "the unit tier runs without it (a test that needs it belongs to a chain tier)")
