"""The contracts tier: the Solidity contracts through brownie's fixtures and contract objects,
on a chain brownie starts (`--network test-anvil`). Each module deploys its own protocol."""

import pytest

from support.deployment import (  # noqa: F401 - fixtures: pytest finds them in this module
    admin, alice, bob, carol, committee, driver, guardian, members, operator, outsider, protocol, runtime, token,
    tournament,
)


@pytest.fixture(autouse=True)
def isolation(fn_isolation):
    """Each test starts from its module's state: brownie snapshots the chain and reverts it after."""
