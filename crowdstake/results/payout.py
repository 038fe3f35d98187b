"""The contract's payout arithmetic in exact integers, so the oracle declares the totals the
Tournament will really move, to the wei.

    delta = stake * clamp(payoutFactor * score, -cap * SCORE_SCALE, +cap * SCORE_SCALE) / (WAD * SCORE_SCALE)
    payoutFactor = min(1, threshold / roundTotalStake)    (WAD)

One division, at the end: the contract multiplies before it divides, so a delta is rounded once.
Solidity's integer division truncates toward zero; Python's `//` floors, so `_div` mends that.
"""

from __future__ import annotations

from typing import Iterable

WAD = 10**18
SCORE_SCALE = 10**6  # the contract's score unit: 1e6 is a score of 1.0


def _div(a: int, b: int) -> int:
    """Integer division truncating toward zero, as the EVM's SDIV."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def payout_factor(threshold: int, total_stake: int) -> int:
    """min(1, threshold / total_stake) in WAD, as `Tournament.payoutFactor`."""
    return WAD if total_stake <= threshold else threshold * WAD // total_stake


def payout_delta(stake: int, score: int, factor: int, cap: int) -> int:
    """The signed change of a stake, as `Tournament.payoutDelta` (before the reservation limit)."""
    bound = cap * SCORE_SCALE
    move = max(-bound, min(bound, factor * score))
    return _div(stake * move, WAD * SCORE_SCALE)


def round_totals(stakes_and_scores: Iterable[tuple[int, int]], factor: int, cap: int) -> tuple[int, int]:
    """(totalReward, totalBurn) of a round: the sums of the gains and of the losses."""
    reward = burn = 0
    for stake, score in stakes_and_scores:
        delta = payout_delta(stake, score, factor, cap)
        if delta > 0:
            reward += delta
        else:
            burn -= delta
    return reward, burn
