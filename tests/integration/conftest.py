"""The integration tier: the package over web3 (its own ABIs, its own transactions) against the
dev chain brownie started, with brownie's fixtures deploying the protocol; and the package's own
local chains (test_localchain)."""

import pytest

from support.deployment import (  # noqa: F401 - fixtures: pytest finds them in this module
    admin, alice, bob, carol, committee, driver, guardian, members, operator, outsider, protocol, runtime, token,
    tournament,
)


@pytest.fixture(autouse=True)
def isolation(fn_isolation):
    """Each test starts from its module's state: brownie snapshots the chain and reverts it after."""
