"""scripts/deploy.py deploys and wires the protocol and writes the deployment file that the
package and the `crowdstake` command read (`crowdstake deployment` reading it, as a subprocess:
tests/e2e/test_deployment_cli.py)."""

import pytest
from brownie import OracleCommittee, StakeToken, Tournament, chain, web3

from crowdstake.chain import load_deployment


@pytest.fixture
def deployments(tmp_path, monkeypatch):
    monkeypatch.setenv("CROWDSTAKE_DEPLOYMENTS", str(tmp_path))
    return tmp_path


def test_deploy_script_writes_a_working_deployment(deployments, accounts):
    from scripts.deploy import main

    block = chain.height
    main()
    record = load_deployment(chain.id, deployments)
    assert record["chainId"] == chain.id and record["deploymentBlock"] == block
    token = StakeToken.at(record["contracts"]["StakeToken"])
    tournament = Tournament.at(record["contracts"]["Tournament"])
    committee = OracleCommittee.at(record["contracts"]["OracleCommittee"])
    assert tournament.token() == token and committee.tournament() == tournament
    assert tournament.hasRole(tournament.COMMITTEE_ROLE(), committee)
    assert tournament.hasRole(tournament.OPERATOR_ROLE(), record["roles"]["operator"])
    assert [committee.isMember(m) for m in record["roles"]["members"]] == [True] * 3
    assert committee.threshold() == record["roles"]["threshold"] == 2
    assert all(len(web3.eth.get_code(a)) > 0 for a in record["contracts"].values())
    assert not list(deployments.glob(".tmp-*"))  # written atomically
