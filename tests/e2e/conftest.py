"""The e2e tier: the `crowdstake` command as subprocesses, oracle processes against a node that
restarts, the season demo on a chain of its own. Tests on brownie's chain get its fixtures and
isolation; the modules that run a chain of their own (node restart, season) do not need the
snapshot, and it costs them nothing to speak of."""

import pytest

from support.deployment import (  # noqa: F401 - fixtures: pytest finds them in this module
    admin, alice, bob, carol, committee, driver, guardian, members, operator, outsider, protocol, runtime, token,
    tournament,
)


@pytest.fixture(autouse=True)
def isolation(fn_isolation):
    """Each test starts from its module's state: brownie snapshots the chain and reverts it after."""
