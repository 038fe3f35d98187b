"""crowdstake.results.merkle in Python alone: the root, proofs and refusals. The same trees
against the contracts (leaf encoding, real claims, OpenZeppelin's MerkleProof):
tests/contracts/test_merkle_onchain.py."""

import os
import random

import pytest
from support.leaves import model, random_leaves

from crowdstake.errors import InvalidInputError
from crowdstake.results.merkle import Leaf, ResultsTree, verify


def test_root_ignores_leaf_order():
    leaves = random_leaves(101, seed=4)
    shuffled = leaves[:]
    random.Random(5).shuffle(shuffled)
    assert ResultsTree(leaves).root == ResultsTree(shuffled).root


def test_every_proof_verifies_in_python():
    leaves = random_leaves(37, seed=6)
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
