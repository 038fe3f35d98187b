"""Three independent operators, each `crowdstake oracle run` in a process of its own, agree byte
for byte on a round's score table; two accept it, the third finalises it, and the round settles.
Once the fund commits a round's targets, operator processes score them from the store with no
--targets, refuse an own file that differs, and anyone verifies the round from the chain and the
store alone."""

import os
import subprocess
import sys

from brownie import web3
from support.world import deploy_world, funded, open_round, run_operator, until, world  # noqa: F401 - world: a fixture

from crowdstake.fund.operations import Fund
from crowdstake.participant import Participant


def test_three_operator_processes_agree_and_the_round_settles(world, admin, operator, tmp_path):
    rid, stakers, targets_dir = open_round(world, admin, operator, tmp_path)
    home = world["home"]
    base = {"PATH": os.environ["PATH"], "CROWDSTAKE_RPC_URL": web3.provider.endpoint_uri,
            "CROWDSTAKE_DEPLOYMENTS": str(home / "deployments"), "CROWDSTAKE_STORE": str(home / "store")}
    for i, member in enumerate(world["members"]):
        env = {**base, "MEMBER_KEY": member.key.hex()}
        run = subprocess.run([sys.executable, "-m", "crowdstake.cli", "oracle", "run", "--round", str(rid),
                              "--key-env", "MEMBER_KEY", "--targets", str(targets_dir),
                              "--workdir", str(tmp_path / f"op{i}")], env=env, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        assert "4 positions scored" in run.stdout
        assert "fetching and checking 4 predictions files" in run.stdout  # captured: a plain line per step
    tables = [(tmp_path / f"op{i}" / f"round-{rid}-scores.csv").read_bytes() for i in range(3)]
    assert tables[0] == tables[1] == tables[2]
    state = world["committee"].roundState(rid)
    assert state["disputeEndsAt"] > 0  # accepted by the first two; the third saw it accepted
    assert not world["committee"].hasVoted(rid, world["members"][2].address)

    until(state["disputeEndsAt"])
    summary = run_operator(world, world["members"][2], rid, targets_dir, tmp_path / "op2")
    assert summary.state == "finalized"
    for who in stakers:
        Participant(world["protocol"], who, world["store"]).claim(rid)
    r = world["tournament"].round(rid)
    assert r["settledPositions"] == r["stakedPositions"] == 4 and r["reserved"] == 0
    assert world["token"].balanceOf(world["tournament"]) == world["tournament"].totalOwed()


def test_operator_processes_score_the_committed_targets_and_anyone_verifies(admin, operator, guardian, tmp_path):
    # A world of its own: its store keeps one targets file per round number, and round 1 is this test's.
    fresh = deploy_world(admin, operator, guardian, [funded(admin) for _ in range(3)], tmp_path / "world")
    fund = funded(admin)
    fresh["tournament"].grantRole(fresh["tournament"].OPERATOR_ROLE(), fund.address, {"from": admin})
    rid, _, targets_dir = open_round(fresh, admin, operator, tmp_path)
    Fund(fresh["protocol"], fund, fresh["store"]).publish_targets(rid, targets_dir / f"{rid}.csv")
    home = fresh["home"]
    base = {"PATH": os.environ["PATH"], "CROWDSTAKE_RPC_URL": web3.provider.endpoint_uri,
            "CROWDSTAKE_DEPLOYMENTS": str(home / "deployments"), "CROWDSTAKE_STORE": str(home / "store")}

    def crowdstake(*args, key=None):
        env = {**base, "MEMBER_KEY": key.key.hex()} if key else base
        return subprocess.run([sys.executable, "-m", "crowdstake.cli", *args, *(["--key-env", "MEMBER_KEY"] if key else [])],
                              env=env, capture_output=True, text=True)

    other = tmp_path / "other"
    other.mkdir()
    (other / f"{rid}.csv").write_bytes((targets_dir / f"{rid}.csv").read_bytes().replace(b",0.0\n", b",0.25\n", 1))
    refused = crowdstake("oracle", "run", "--round", str(rid), "--targets", str(other), "--workdir", str(tmp_path / "x"),
                         key=fresh["members"][0])
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1, refused.stderr
    assert f"but round {rid} commits the targets 0x" in refused.stderr
    for i, member in enumerate(fresh["members"][:2]):  # no --targets: the committed ones, from the store
        run = crowdstake("oracle", "run", "--round", str(rid), "--workdir", str(tmp_path / f"op{i}"), key=member)
        assert run.returncode == 0, run.stderr
        assert "with the targets from the store" in run.stdout
    assert fresh["committee"].roundState(rid)["disputeEndsAt"] > 0
    verify = crowdstake("oracle", "verify", "--round", str(rid))  # no wallet, no targets: the chain and the store
    assert verify.returncode == 0, verify.stderr
