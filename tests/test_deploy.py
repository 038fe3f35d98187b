"""scripts/deploy.py deploys and wires the protocol and writes the deployment file that the
package and the `crowdstake` command read."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from brownie import OracleCommittee, StakeToken, Tournament, chain, web3

from crowdstake.chain import load_deployment
from crowdstake.errors import ConfigError


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


def test_cli_shows_the_deployment(deployments):
    from scripts.deploy import main

    main()
    run = subprocess.run(
        [sys.executable, "-m", "crowdstake.cli", "deployment", "--chain-id", str(chain.id)],
        capture_output=True, text=True, env={"CROWDSTAKE_DEPLOYMENTS": str(deployments), "PATH": ""},
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["contracts"] == load_deployment(chain.id, deployments)["contracts"]


def test_missing_deployment_is_one_clear_line(deployments):
    with pytest.raises(ConfigError, match="no crowdstake deployment for chain 999"):
        load_deployment(999, deployments)
    run = subprocess.run(
        [sys.executable, "-m", "crowdstake.cli", "deployment", "--chain-id", "999"],
        capture_output=True, text=True, env={"CROWDSTAKE_DEPLOYMENTS": str(deployments), "PATH": ""},
    )
    assert run.returncode == 1
    assert run.stderr.startswith("crowdstake: no crowdstake deployment for chain 999")
    assert "Traceback" not in run.stderr and run.stderr.count("\n") == 1


def test_corrupt_deployment_is_reported(deployments):
    (deployments / "5.json").write_text("{not json")
    with pytest.raises(ConfigError, match="5.json is not valid JSON"):
        load_deployment(5, deployments)


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "crowdstake"
    run = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.strip() == "crowdstake 0.1.0"
