"""The package starts its own local chain and deploys the protocol from its shipped artifacts,
with no brownie project: what `crowdstake demo` stands on. Both anvil and ganache."""

import pytest
from eth_account import Account
from web3 import Web3

from crowdstake.chain import Contracts
from crowdstake.chain.deploy import deploy
from crowdstake.chain.localchain import local_chain


@pytest.mark.parametrize("kind", ["anvil", "ganache"])
def test_start_and_deploy(kind, tmp_path):
    with local_chain(kind) as url:
        w3 = Web3(Web3.HTTPProvider(url))
        deployer, member = Account.create(), Account.create()
        w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": deployer.address, "value": 10**20})
        protocol = deploy(w3, deployer, operator=deployer.address, guardian=deployer.address,
                          members=[member.address], threshold=1, dispute_window=600, treasury=deployer.address,
                          directory=tmp_path)
        assert isinstance(protocol, Contracts)
        t, c = protocol.tournament, protocol.committee
        assert t.functions.hasRole(t.functions.COMMITTEE_ROLE().call(), c.address).call()
        assert c.functions.isMember(member.address).call()
        assert protocol.token.functions.balanceOf(deployer.address).call() == 10_000_000 * 10**18
    with pytest.raises(Exception):
        Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 2})).eth.chain_id  # the node is gone
