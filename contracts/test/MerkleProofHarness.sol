// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @notice Test-only: OpenZeppelin's MerkleProof as the Tournament uses it, callable on any root,
///         so trees far larger than a test round can be checked on-chain.
contract MerkleProofHarness {
    /// @notice Whether `proof` proves `leaf` under `root` (MerkleProof.verifyCalldata).
    function verify(bytes32[] calldata proof, bytes32 root, bytes32 leaf) external pure returns (bool) {
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }

    /// @notice Whether the multiproof proves `leaves` under `root` (MerkleProof.multiProofVerifyCalldata).
    function multiProofVerify(bytes32[] calldata proof, bool[] calldata proofFlags, bytes32 root, bytes32[] memory leaves)
        external
        pure
        returns (bool)
    {
        return MerkleProof.multiProofVerifyCalldata(proof, proofFlags, root, leaves);
    }
}
