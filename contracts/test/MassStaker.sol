// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @notice What MassStaker calls on the Tournament.
interface ITournamentEntry {
    function submit(uint256 roundId, bytes32 modelId, bytes32 predictionsHash) external;
    function stake(uint256 roundId, bytes32 modelId, uint256 amount) external;
}

/// @title MassStaker (benchmarks only, never deployed outside a local chain)
/// @notice Creates many real positions of one round in one transaction, so the gas benchmark can
///         settle a round of 100,000 staked positions with a real Merkle root of 100,000 leaves.
///         The staker of every position is this contract; it holds the tokens and approves the
///         Tournament once. Position `i` of a round has
///         `modelId = keccak256(abi.encode(roundId, i))` and `stake = baseAmount + (i % 5) * step`,
///         which the benchmark mirrors in Python to build the leaves.
contract MassStaker {
    ITournamentEntry public immutable tournament;

    event Entered(uint256 indexed roundId, uint256 from, uint256 count);

    constructor(ITournamentEntry tournament_, IERC20 token_) {
        tournament = tournament_;
        token_.approve(address(tournament_), type(uint256).max);
    }

    /// @notice The model id of position `i` of round `roundId`.
    function modelIdOf(uint256 roundId, uint256 i) public pure returns (bytes32) {
        return keccak256(abi.encode(roundId, i));
    }

    /// @notice The stake of position `i`, given the batch's amounts.
    function stakeOf(uint256 i, uint256 baseAmount, uint256 step) public pure returns (uint256) {
        return baseAmount + (i % 5) * step;
    }

    /// @notice Submit and stake positions `from` .. `from + count - 1` of `roundId`.
    function enter(uint256 roundId, uint256 from, uint256 count, bytes32 predictionsHash, uint256 baseAmount, uint256 step)
        external
    {
        for (uint256 i = from; i < from + count; ++i) {
            bytes32 modelId = modelIdOf(roundId, i);
            tournament.submit(roundId, modelId, predictionsHash);
            tournament.stake(roundId, modelId, stakeOf(i, baseAmount, step));
        }
        emit Entered(roundId, from, count);
    }
}
