// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice The k-of-n committee that votes a round's results and hands them to the Tournament.
interface IOracleCommittee {
    /// @notice A round's results as the committee votes them.
    /// @param root Merkle root over the (roundId, staker, modelId, score) leaves.
    /// @param scoreTableHash keccak256 of the published score table (each position's score,
    ///        gain and burn: what the root commits, in a form anyone can check).
    /// @param totalReward Sum of the gains the contract will pay: reserved at finalisation, and
    ///        the most the round's claims can pay out.
    /// @param leafCount Number of leaves: the round's staked positions.
    struct Result {
        bytes32 root;
        bytes32 scoreTableHash;
        uint128 totalReward;
        uint32 leafCount;
    }

    /// @notice Vote `result` for `roundId` (members only, after the round's resolve time).
    function vote(uint256 roundId, Result calldata result) external;

    /// @notice Hand an accepted result whose dispute window has passed to the Tournament (anyone).
    function finalize(uint256 roundId) external;
}
