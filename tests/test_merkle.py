"""Python-built results trees verify on-chain: real claims for small rounds, OpenZeppelin's
MerkleProof for large trees, and the leaf encoding matches the contract's."""

import os
import random
import secrets

import pytest
from brownie import MerkleProofHarness
from helpers import model

from crowdstake.errors import InvalidInputError
from crowdstake.results.merkle import Leaf, ResultsTree, verify

E18 = 10**18


def _random_leaves(n, seed):
    rng = random.Random(seed)
    return [
        Leaf(rng.randrange(1, 2**64), "0x" + rng.randbytes(20).hex(), rng.randbytes(32), rng.randrange(-(2**63), 2**63))
        for _ in range(n)
    ]


@pytest.fixture(scope="module")
def harness(admin):
    return MerkleProofHarness.deploy({"from": admin})


def test_leaf_encoding_matches_contract(tournament):
    for leaf in _random_leaves(20, seed=1) + [Leaf(1, "0x" + "00" * 20, b"\x00" * 32, -(2**63))]:
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
    leaves = _random_leaves(10_001, seed=2)
    tree = ResultsTree(leaves)
    for i in random.Random(3).sample(range(len(leaves)), 8):
        proof = tree.proof(i)
        assert len(proof) in (13, 14)
        assert harness.verify(proof, tree.root, leaves[i].hash())
        assert not harness.verify(proof, tree.root, leaves[(i + 1) % len(leaves)].hash())


def test_root_ignores_leaf_order():
    leaves = _random_leaves(101, seed=4)
    shuffled = leaves[:]
    random.Random(5).shuffle(shuffled)
    assert ResultsTree(leaves).root == ResultsTree(shuffled).root


def test_every_proof_verifies_in_python():
    leaves = _random_leaves(37, seed=6)
    tree = ResultsTree(leaves)
    assert all(verify(tree.proof(i), tree.root, leaf.hash()) for i, leaf in enumerate(leaves))
    assert not verify(tree.proof(0), tree.root, leaves[1].hash())


def test_bad_trees_are_refused():
    leaf = Leaf(1, "0x" + "11" * 20, model("m"), 5)
    with pytest.raises(InvalidInputError, match="duplicate leaves"):
        ResultsTree([leaf, leaf])
    with pytest.raises(InvalidInputError, match="at least one leaf"):
        ResultsTree([])
    with pytest.raises(InvalidInputError, match="int64"):
        Leaf(1, "0x" + "11" * 20, model("m"), 2**63).hash()
    with pytest.raises(InvalidInputError, match="32 bytes"):
        Leaf(1, "0x" + "11" * 20, os.urandom(31), 0).hash()
