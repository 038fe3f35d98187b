"""Python-built results trees verify on-chain: real claims for small rounds, OpenZeppelin's
MerkleProof for large trees, and the leaf encoding matches the contract's."""

import random
import secrets

import pytest
from brownie import MerkleProofHarness
from support.leaves import random_leaves

from crowdstake.results.merkle import Leaf, ResultsTree

E18 = 10**18


@pytest.fixture(scope="module")
def harness(admin):
    return MerkleProofHarness.deploy({"from": admin})


def test_leaf_encoding_matches_contract(tournament):
    for leaf in random_leaves(20, seed=1) + [Leaf(1, "0x" + "00" * 20, b"\x00" * 32, -(2**63))]:
        assert tournament.leaf(leaf.round_id, leaf.staker, leaf.model_id, leaf.score) == "0x" + leaf.hash().hex()


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_small_trees_settle_real_rounds(driver, tournament, accounts, token, alice, n):
    rid = driver.open_round()
    stakers = [alice] + [accounts.add(secrets.token_hex(32)) for _ in range(n - 1)]
    for s in stakers[1:]:
        token.transfer(s, 10 * E18, {"from": alice})
        alice.transfer(s, E18 // 10)
    for s in stakers:
        driver.enter(rid, s, "m", 10 * E18)
    leaves, tree = driver.finalize(rid, {(s, "m"): 1_000 * i for i, s in enumerate(stakers)})
    for i in range(n):
        assert driver.claim(tree, leaves, i, alice).events["Claimed"]["score"] == leaves[i].score
    assert tournament.totalStaked() == 0


def test_large_tree_proofs_verify_on_chain(harness):
    leaves = random_leaves(10_001, seed=2)
    tree = ResultsTree(leaves)
    for i in random.Random(3).sample(range(len(leaves)), 8):
        proof = tree.proof(i)
        assert len(proof) in (13, 14)
        assert harness.verify(proof, tree.root, leaves[i].hash())
        assert not harness.verify(proof, tree.root, leaves[(i + 1) % len(leaves)].hash())
