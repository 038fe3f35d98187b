// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice What the oracle committee needs from the Tournament.
interface ITournament {
    /// @notice The submission close and resolution times of a round (zero for an unknown round).
    function roundTimes(uint256 roundId) external view returns (uint64 closeTime, uint64 resolveTime);

    /// @notice Set a round's final results (committee only); reserves `totalReward` from the pool.
    function settleRound(
        uint256 roundId,
        bytes32 root,
        bytes32 scoreTableHash,
        uint128 totalReward,
        uint128 totalBurn,
        uint32 leafCount
    ) external;
}
