"""The payout arithmetic (crowdstake.results.payout) against the rule written out independently,
in exact fractions: `delta = trunc(stake * clamp(factor * score, ±cap * 1e6) / (1e18 * 1e6))`,
rounded toward zero as Solidity rounds (not floored, as Python's `//` would), and
`payoutFactor = min(1, threshold / total stake)` in WAD, rounded down. Worked examples pin the
cap, the rounding of gains and of losses, and the scaled-down factor; properties cover the rest.
The contract's own `payoutDelta` is held to the same numbers in the keeper's integration test."""

from __future__ import annotations

import math
from fractions import Fraction

from hypothesis import example, given
from hypothesis import strategies as st

from crowdstake.results.payout import SCORE_SCALE, WAD, payout_delta, payout_factor, round_totals

E18 = 10**18
CAP_5 = WAD // 20  # 5%
INT64 = st.integers(-(2**63), 2**63 - 1)


def rule(stake: int, score: int, factor: int, cap: int) -> int:
    """The payout rule as the contract's comment states it, in fractions: the gain or loss is the
    stake times the factor times the score (a score of 1.0 is SCORE_SCALE), capped at `cap` of
    the stake either way, then cut to whole wei toward zero."""
    move = Fraction(factor, WAD) * Fraction(score, SCORE_SCALE)
    bound = Fraction(cap, WAD)
    return math.trunc(stake * max(-bound, min(bound, move)))


def test_worked_examples():
    # a score of 0.02 at full factor: 2% of 100 tokens
    assert payout_delta(100 * E18, 20_000, WAD, CAP_5) == 2 * E18
    # a score of 0.5 is capped at 5%, a score of -0.5 at -5%
    assert payout_delta(100 * E18, 500_000, WAD, CAP_5) == 5 * E18
    assert payout_delta(100 * E18, -500_000, WAD, CAP_5) == -5 * E18
    # exactly at the cap: 0.05 is not cut
    assert payout_delta(100 * E18, 50_000, WAD, CAP_5) == 5 * E18
    # the factor applies before the cap: half of 0.08 is 0.04, under it
    assert payout_delta(100 * E18, 80_000, WAD // 2, CAP_5) == 4 * E18
    # a third: 1 token at 0.01 score is 0.01 tokens, 10**16 wei; at a factor of 1/3 it is
    # 3333333333333333.33... wei, cut to ...333 for a gain and to -...333 (not -...334) for a loss
    third = payout_factor(1, 3)
    assert third == 333_333_333_333_333_333
    assert payout_delta(E18, 10_000, third, CAP_5) == 3_333_333_333_333_333
    assert payout_delta(E18, -10_000, third, CAP_5) == -3_333_333_333_333_333
    # a loss smaller than a wei is no loss (toward zero), where floor division would take 1 wei
    assert payout_delta(1, -1, WAD, CAP_5) == 0 and (1 * -WAD) // (WAD * SCORE_SCALE) == -1
    assert payout_delta(0, 999_999, WAD, CAP_5) == 0 and payout_delta(10 * E18, 0, WAD, CAP_5) == 0


def test_payout_factor_examples():
    assert payout_factor(1000 * E18, 400 * E18) == WAD  # under the threshold: 1
    assert payout_factor(1000 * E18, 1000 * E18) == WAD  # at it: still 1
    assert payout_factor(1000 * E18, 4000 * E18) == WAD // 4
    assert payout_factor(2, 3) == 666_666_666_666_666_666  # rounded down, as the contract's integer division
    assert payout_factor(0, 5) == 0 and payout_factor(0, 0) == WAD  # no threshold; an empty round


@given(stake=st.integers(0, 2**128 - 1), score=INT64, factor=st.integers(0, WAD), cap=st.integers(0, WAD))
@example(stake=3, score=-1, factor=WAD, cap=WAD)  # a fraction of a wei lost: toward zero, 0
@example(stake=2**128 - 1, score=2**63 - 1, factor=WAD, cap=WAD)  # the largest values the contract takes
@example(stake=10**24, score=-(2**63), factor=1, cap=0)  # a zero cap: nothing moves
def test_payout_delta_is_the_rule(stake, score, factor, cap):
    delta = payout_delta(stake, score, factor, cap)
    assert delta == rule(stake, score, factor, cap)
    assert abs(delta) <= stake * cap // WAD  # never past the cap
    assert (delta > 0 and score > 0) or (delta < 0 and score < 0) or delta == 0  # the score's sign, or nothing


@given(threshold=st.integers(0, 2**128 - 1), total=st.integers(0, 2**128 - 1))
@example(threshold=10, total=11)
def test_payout_factor_is_min_one_threshold_over_total(threshold, total):
    factor = payout_factor(threshold, total)
    exact = min(Fraction(1), Fraction(threshold, total)) if total else Fraction(1)
    assert factor == math.floor(exact * WAD)
    assert 0 <= factor <= WAD


@given(st.lists(st.tuples(st.integers(0, 10**24), INT64), max_size=20), st.integers(0, WAD), st.integers(0, WAD))
def test_round_totals_sum_the_gains_and_the_losses(positions, factor, cap):
    reward, burn = round_totals(positions, factor, cap)
    deltas = [rule(stake, score, factor, cap) for stake, score in positions]
    assert reward == sum(d for d in deltas if d > 0) and burn == -sum(d for d in deltas if d < 0)
    assert reward >= 0 and burn >= 0
