// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice What the oracle committee needs from the Tournament.
interface ITournament {
    /// @notice `settleRound` refuses a result that is too late, or that does not fit the round
    ///         (leaf count, cap, reward pool). The committee recognises these four and lets the
    ///         members vote again; any other failure of `settleRound` reverts `finalize`.
    error TournamentResultsTooLate(uint256 roundId, uint256 deadline);
    error TournamentLeafCountMismatch(uint256 roundId, uint32 leafCount, uint32 stakedPositions);
    error TournamentRewardExceedsCap(uint256 totalReward, uint256 maxMove);
    error TournamentPoolShort(uint256 pool, uint256 totalReward);

    /// @notice A round's submission close, resolution and results deadline (the last second
    ///         `settleRound` accepts a result); zeros for an unknown round.
    function roundTimes(uint256 roundId)
        external
        view
        returns (uint64 closeTime, uint64 resolveTime, uint64 resultsDeadline);

    /// @notice Set a round's final results (committee only); reserves `totalReward` from the pool.
    function settleRound(uint256 roundId, bytes32 root, bytes32 scoreTableHash, uint128 totalReward, uint32 leafCount)
        external;

    /// @notice Move a round's results deadline to `deadline` if that is later (committee only,
    ///         before the deadline has passed): the time a vetoed round needs to vote again.
    function extendResultsDeadline(uint256 roundId, uint64 deadline) external;
}
