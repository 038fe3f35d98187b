"""The package's ABI and bytecode copies are exactly what brownie compiled (`make compile`
refreshes them), so the runtime never talks to a contract with a stale ABI."""

import json
from pathlib import Path

import pytest
from brownie import OracleCommittee, StakeToken, Tournament

from crowdstake.chain import load_artifact


@pytest.mark.parametrize("container", [StakeToken, Tournament, OracleCommittee], ids=lambda c: c._name)
def test_artifact_matches_build(container):
    build = json.loads((Path("build/contracts") / f"{container._name}.json").read_text())
    art = load_artifact(container._name)
    assert art["abi"] == build["abi"], "stale ABI: run `make compile` and commit crowdstake/chain/artifacts"
    assert art["bytecode"] == "0x" + build["bytecode"], "stale bytecode: run `make compile` and commit"
