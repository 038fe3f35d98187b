"""The results tree: leaf encoding, root and proofs, matching OpenZeppelin's MerkleProof.

A leaf is OpenZeppelin's double-hashed `keccak256(keccak256(abi.encode(roundId, staker, modelId,
score)))` (uint256, address, bytes32, int64), as `Tournament.leaf` computes it; pairs are hashed
sorted, so a proof is just the sibling hashes. The layout is OpenZeppelin StandardMerkleTree's:
leaves sorted by hash fill the end of one array, parents at (i - 1) // 2. The root depends only
on the set of leaves, never on their order, so independent operators get the same root.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from eth_hash.auto import keccak
from eth_utils import to_canonical_address

from crowdstake.errors import InvalidInputError

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class Leaf:
    """A position's result: the round, the staker's address, the model id and the integer score."""

    round_id: int
    staker: str
    model_id: bytes
    score: int

    def encode(self) -> bytes:
        """abi.encode(uint256 roundId, address staker, bytes32 modelId, int64 score)."""
        if not INT64_MIN <= self.score <= INT64_MAX:
            raise InvalidInputError(f"score {self.score} does not fit the contract's int64")
        if len(self.model_id) != 32:
            raise InvalidInputError(f"model id must be 32 bytes, got {len(self.model_id)}")
        return (
            self.round_id.to_bytes(32, "big")
            + bytes(12)
            + to_canonical_address(self.staker)
            + self.model_id
            + self.score.to_bytes(32, "big", signed=True)
        )

    def hash(self) -> bytes:
        """The leaf as the tree and the contract see it (double keccak against second preimages)."""
        return keccak(keccak(self.encode()))


def hash_pair(a: bytes, b: bytes) -> bytes:
    """OpenZeppelin's commutative pair hash: keccak256 of the two hashes in ascending order."""
    return keccak(a + b) if a < b else keccak(b + a)


def process_proof(leaf_hash: bytes, proof: Iterable[bytes]) -> bytes:
    """The root a proof leads to from a leaf hash (what MerkleProof.processProof computes)."""
    node = leaf_hash
    for sibling in proof:
        node = hash_pair(node, sibling)
    return node


def verify(proof: Iterable[bytes], root: bytes, leaf_hash: bytes) -> bool:
    """Whether `proof` proves `leaf_hash` under `root`."""
    return process_proof(leaf_hash, proof) == root


class ResultsTree:
    """A Merkle tree over a round's leaves; build once, then ask for the root and proofs."""

    def __init__(self, leaves: Sequence[Leaf]):
        if not leaves:
            raise InvalidInputError("a results tree needs at least one leaf")
        hashes = [leaf.hash() for leaf in leaves]
        if len(set(hashes)) != len(hashes):
            raise InvalidInputError("duplicate leaves: each (round, staker, model) appears once")
        n = len(hashes)
        order = sorted(range(n), key=hashes.__getitem__)
        tree: list[bytes] = [b""] * (2 * n - 1)
        self._position = [0] * n  # leaf index -> tree index
        for rank, index in enumerate(order):
            self._position[index] = len(tree) - 1 - rank
            tree[len(tree) - 1 - rank] = hashes[index]
        for i in range(n - 2, -1, -1):
            tree[i] = hash_pair(tree[2 * i + 1], tree[2 * i + 2])
        self._tree = tree
        self._leaves = list(leaves)

    def __len__(self) -> int:
        return len(self._leaves)

    @property
    def root(self) -> bytes:
        return self._tree[0]

    def proof(self, index: int) -> list[bytes]:
        """The sibling hashes from leaf `index` (in the order given) up to the root."""
        i = self._position[index]
        proof = []
        while i > 0:
            proof.append(self._tree[i + 1 if i % 2 else i - 1])
            i = (i - 1) // 2
        return proof


def model_id(name: str) -> bytes:
    """A model's bytes32 id: the 0x-hex id itself, or keccak256 of a model name."""
    if name.startswith("0x") and len(name) == 66:
        return bytes.fromhex(name[2:])
    return keccak(name.encode())
