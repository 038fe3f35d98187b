"""Three independent operators, each `crowdstake oracle run` in a process of its own, agree byte
for byte on a round's score table; two accept it, the third finalises it, and the round settles."""

import os
import subprocess
import sys

from brownie import web3
from support.world import open_round, run_operator, until, world  # noqa: F401 - world: a fixture

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
