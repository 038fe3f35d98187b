"""The results tree: leaf encoding, root and proofs, matching OpenZeppelin's MerkleProof.

A leaf is OpenZeppelin's double-hashed `keccak256(keccak256(abi.encode(roundId, staker, modelId,
score)))` (uint256, address, bytes32, int64), as `Tournament.leaf` computes it; pairs are hashed
sorted, so a proof is just the sibling hashes. The layout is OpenZeppelin StandardMerkleTree's:
leaves sorted by hash fill the end of one array, parents at (i - 1) // 2. The root depends only
on the set of leaves, never on their order, so independent operators get the same root.

Multiproofs (`ResultsTree.multiproof`) prove many leaves at once for `Tournament.claimMany`, in
the form OpenZeppelin's `MerkleProof.multiProofVerify` takes: leaves deepest-rightmost first,
sibling hashes, and one flag per hash computed (True: combine two known nodes; False: a node
with the next proof hash). Leaves next to each other in the tree (`tree_order`) share most of
their paths, so a batch of neighbours needs only about two proof hashes per tree level.
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

    def tree_order(self) -> list[int]:
        """Leaf indices (in the order given) from the tree's left to its right: consecutive
        runs of this order make the smallest multiproofs."""
        return sorted(range(len(self._leaves)), key=self._position.__getitem__)

    def leaf_hash(self, index: int) -> bytes:
        return self._tree[self._position[index]]

    def multiproof(self, indices: Iterable[int]) -> tuple[list[int], list[bytes], list[bool]]:
        """A multiproof of the leaves `indices` (in the order given, distinct, any number):
        (the same indices in the order claimMany and MerkleProof.multiProofVerify take their
        leaves, proof hashes, proof flags). The construction is OpenZeppelin
        StandardMerkleTree's: a queue of tree nodes, deepest-rightmost first; each node meets its
        sibling either in the queue (flag True) or in the proof (flag False), and its parent
        joins the queue's end, until only the root is left."""
        indices = list(indices)
        if not indices:
            raise InvalidInputError("a multiproof needs at least one leaf")
        if len(set(indices)) != len(indices):
            raise InvalidInputError("a multiproof cannot prove a leaf twice")
        for i in indices:
            if not 0 <= i < len(self._leaves):
                raise InvalidInputError(f"leaf index {i} is out of range (the tree has {len(self._leaves)} leaves)")
        nodes = sorted((self._position[i] for i in indices), reverse=True)
        by_node = {self._position[i]: i for i in indices}
        ordered = [by_node[node] for node in nodes]
        queue = list(nodes)
        head = 0  # queue[head:] is what is left to combine
        proof: list[bytes] = []
        flags: list[bool] = []
        while head < len(queue) and queue[head] > 0:
            node = queue[head]
            head += 1
            sibling = node + 1 if node % 2 else node - 1
            if head < len(queue) and queue[head] == sibling:
                flags.append(True)
                head += 1
            else:
                flags.append(False)
                proof.append(self._tree[sibling])
            queue.append((node - 1) // 2)
        return ordered, proof, flags

    def proof(self, index: int) -> list[bytes]:
        """The sibling hashes from leaf `index` (in the order given) up to the root."""
        i = self._position[index]
        proof = []
        while i > 0:
            proof.append(self._tree[i + 1 if i % 2 else i - 1])
            i = (i - 1) // 2
        return proof


def process_multiproof(leaves: Sequence[bytes], proof: Sequence[bytes], flags: Sequence[bool]) -> bytes:
    """The root a multiproof leads to, as MerkleProof.processMultiProof computes it: a queue that
    starts with the leaves and continues with the hashes computed so far."""
    if len(leaves) + len(proof) != len(flags) + 1:
        raise InvalidInputError("invalid multiproof: leaves + proof must be one more than the flags")
    hashes: list[bytes] = []
    leaf_pos = hash_pos = proof_pos = 0

    def pop() -> bytes:
        nonlocal leaf_pos, hash_pos
        if leaf_pos < len(leaves):
            leaf_pos += 1
            return leaves[leaf_pos - 1]
        hash_pos += 1
        return hashes[hash_pos - 1]

    for flag in flags:
        a = pop()
        if flag:
            b = pop()
        else:
            b, proof_pos = proof[proof_pos], proof_pos + 1
        hashes.append(hash_pair(a, b))
    if flags:
        if proof_pos != len(proof):
            raise InvalidInputError("invalid multiproof: not every proof hash was used")
        return hashes[-1]
    return leaves[0] if leaves else proof[0]


def verify_multiproof(leaves: Sequence[bytes], proof: Sequence[bytes], flags: Sequence[bool], root: bytes) -> bool:
    """Whether the multiproof proves every one of `leaves` (hashes, in the multiproof's order)."""
    try:
        return process_multiproof(leaves, proof, flags) == root
    except (InvalidInputError, IndexError):
        return False


# Gas a claimMany batch costs, for choosing a batch size (measured on anvil, with margins): the
# transaction and the round's totals; each position (its slot, Claimed event, leaf hash,
# calldata, and its staker's balance written from zero, the costly case); each proof hash.
BATCH_BASE_GAS = 120_000
BATCH_LEAF_GAS = {True: 40_000, False: 50_000}  # to internal balances / to wallets
BATCH_PROOF_GAS = 1_500
MAX_BATCH = 2_000  # calldata stays well under nodes' 128 KiB transaction size limit


def batch_size(block_gas_limit: int, leaf_count: int, *, to_balance: bool = False, fill: float = 0.5) -> int:
    """How many positions one claimMany transaction settles: as many as fit in `fill` of a
    block (a transaction using half a block still gets in quickly), at most MAX_BATCH and at
    least one. Proof hashes are counted as a batch of neighbours needs them (two per level)."""
    if block_gas_limit <= 0 or leaf_count <= 0:
        raise InvalidInputError("batch size needs a positive block gas limit and leaf count")
    depth = max(1, (leaf_count - 1).bit_length())
    budget = int(block_gas_limit * fill) - BATCH_BASE_GAS - 2 * depth * BATCH_PROOF_GAS
    size = budget // BATCH_LEAF_GAS[bool(to_balance)]
    return max(1, min(size, MAX_BATCH, leaf_count))


def model_id(name: str) -> bytes:
    """A model's bytes32 id: the 0x-hex id itself, or keccak256 of a model name."""
    if name.startswith("0x") and len(name) == 66:
        return bytes.fromhex(name[2:])
    return keccak(name.encode())
