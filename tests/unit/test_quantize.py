"""crowdstake.scoring.quantize: exact half-to-even rounding of score * 10**6, the same for a
scalar and for every array layout, checked against exact rational arithmetic.

The reference is ``round(Fraction(x) * 10**6)``: ``Fraction(x)`` is the float's exact binary
value and ``round`` on a Fraction rounds half to even; the result is then clipped to
``[FLOOR_SCORE, SCORE_SCALE]``.
"""

import math
from fractions import Fraction

import numpy as np
import pytest

from crowdstake.errors import InvalidInputError
from crowdstake.scoring import FLOOR_SCORE, SCORE_SCALE, quantize


def exact(x: float) -> int:
    return max(FLOOR_SCORE, min(SCORE_SCALE, round(Fraction(float(x)) * SCORE_SCALE)))


def layouts(xs: np.ndarray):
    """(array, values) pairs: the same values as a 1-D array, C- and Fortran-ordered 2-D
    arrays, and a strided view; ``values`` is what the array holds, in C order."""
    assert xs.size % 6 == 0
    fortran = np.asfortranarray(xs.reshape(6, -1))
    assert not fortran.flags.c_contiguous
    wide = np.zeros(2 * xs.size)
    wide[::2] = xs
    return [pytest.param(xs, xs, id="1-D"),
            pytest.param(xs.reshape(6, -1), xs.reshape(6, -1), id="2-D C"),
            pytest.param(fortran, xs.reshape(6, -1), id="2-D Fortran"),
            pytest.param(wide[::2], xs, id="strided")]


# --------------------------------------------------------------------------------------------
# exact ties


def exact_ties() -> np.ndarray:
    """Every float in [-1, 1] whose exact x * 10**6 is k + 1/2.

    x * 10**6 = (2k + 1) / 2 means x = (2k + 1) / (2**7 * 5**6); x is a binary fraction only when
    5**6 divides 2k + 1, i.e. x = m / 128 with m odd: 128 values, x * 10**6 = 7812.5 * m.
    """
    xs = np.array([m / 128 for m in range(-127, 128, 2)])
    for x in xs:
        p = Fraction(float(x)) * SCORE_SCALE
        assert p.denominator == 2, x  # an exact tie, as a float and as the product
    return xs


def test_the_tie_grid_is_every_exact_tie_and_has_both_parities():
    xs = exact_ties()
    assert len(xs) == 128 and (xs < 0).sum() == 64
    lower = np.array([math.floor(Fraction(float(x)) * SCORE_SCALE) for x in xs])
    # half-up, half-down, half-away and half-even all differ somewhere on this grid
    assert (lower % 2 == 0).any() and (lower % 2 == 1).any()
    assert ((lower % 2 == 0) & (xs > 0)).any() and ((lower % 2 == 0) & (xs < 0)).any()
    assert ((lower % 2 == 1) & (xs > 0)).any() and ((lower % 2 == 1) & (xs < 0)).any()


@pytest.mark.parametrize("arr, flat", layouts(exact_ties()[:126]))
def test_array_exact_ties_round_half_to_even(arr, flat):
    got = quantize(arr)
    assert got.dtype == np.int64 and got.shape == arr.shape
    p = np.array([Fraction(float(x)) * SCORE_SCALE for x in flat.reshape(-1)])
    for x, q, exact_p in zip(flat.reshape(-1), got.reshape(-1), p):
        assert abs(Fraction(int(q)) - exact_p) == Fraction(1, 2), x  # a neighbour of the tie
        assert int(q) % 2 == 0, (x, int(q))  # ... and the even one
    assert np.array_equal(got, np.vectorize(exact, otypes=[np.int64])(flat))


def test_array_exact_ties_including_the_last_two():
    xs = exact_ties()
    want = np.array([exact(x) for x in xs])
    assert np.array_equal(quantize(xs), want)
    assert quantize(xs[-1:]).tolist() == [992188]  # 127/128 * 1e6 = 992187.5 -> even 992188
    assert quantize(xs[:1]).tolist() == [-992188]


def test_scalar_exact_ties_round_half_to_even():
    for x in exact_ties():
        q = quantize(float(x))
        assert type(q) is int
        assert q % 2 == 0 and abs(Fraction(q) - Fraction(float(x)) * SCORE_SCALE) == Fraction(1, 2), x
        assert q == exact(x) == int(quantize(np.array([x]))[0])


# --------------------------------------------------------------------------------------------
# near-boundary grid: scalar == array == exact


def near_boundary_grid() -> np.ndarray:
    """30,000 floats: 5 neighbours (0, +-1, +-2 ulps) of the float nearest each of 6,000
    half-integers (k + 1/2) / 10**6 spread over [-1, 1], both signs."""
    k = np.linspace(-SCORE_SCALE, SCORE_SCALE - 1, 6000).astype(np.int64)
    centre = (k + 0.5) / SCORE_SCALE
    up1, down1 = np.nextafter(centre, 2), np.nextafter(centre, -2)
    xs = np.concatenate([centre, up1, down1, np.nextafter(up1, 2), np.nextafter(down1, -2)])
    assert xs.size == 30_000 and (xs < 0).sum() > 14_000 and (xs > 0).sum() > 14_000
    return xs


def test_near_boundary_grid_scalar_array_and_exact_agree():
    xs = near_boundary_grid()
    want = np.array([exact(x) for x in xs])
    naive = np.clip(np.rint(xs * SCORE_SCALE), FLOOR_SCORE, SCORE_SCALE)
    assert (naive != want).sum() > 1000  # the grid does exercise the exact path
    array = quantize(xs)
    scalar = np.array([quantize(float(x)) for x in xs])
    zero_d = np.array([quantize(np.float64(x)) for x in xs])
    assert np.array_equal(array, want), f"{(array != want).sum()} array results differ from exact"
    assert np.array_equal(scalar, want), f"{(scalar != want).sum()} scalar results differ from exact"
    assert np.array_equal(zero_d, want)


@pytest.mark.parametrize("arr, flat", layouts(near_boundary_grid()))
def test_near_boundary_grid_every_layout_is_exact(arr, flat):
    want = np.vectorize(exact, otypes=[np.int64])(flat)
    got = quantize(arr)
    assert got.dtype == np.int64 and got.shape == arr.shape
    assert np.array_equal(got, want), f"{(got != want).sum()} results differ from exact"


def test_reviewers_case():
    # -0.0049985 * 1e6 is -4998.5 in floats, but the float -0.0049985 is a little below
    # -0.0049985: its exact product is -4998.5 - 6101 / 2**54, which rounds to -4999
    assert Fraction(-0.0049985) * SCORE_SCALE < Fraction(-9997, 2)
    assert -0.0049985 * SCORE_SCALE == -4998.5
    assert quantize(-0.0049985) == -4999
    assert quantize(np.float64(-0.0049985)) == -4999
    assert quantize(np.array(-0.0049985)) == -4999
    assert quantize(np.array([-0.0049985])).tolist() == [-4999]
    assert quantize([-0.0049985, 0.0049985]).tolist() == [-4999, 4999]


# --------------------------------------------------------------------------------------------
# types, clipping, NaN and infinities (unchanged)


def test_result_types_and_shapes():
    assert type(quantize(0.25)) is int and quantize(0.25) == 250000
    assert type(quantize(np.float32(0.5))) is int
    assert type(quantize(np.array(0.5))) is int  # a 0-d array gives an int too
    assert type(quantize(1)) is int and quantize(1) == SCORE_SCALE
    out = quantize([0.1, -0.2])
    assert isinstance(out, np.ndarray) and out.dtype == np.int64 and out.tolist() == [100000, -200000]
    assert quantize(np.empty((0, 3))).shape == (0, 3)
    assert quantize(np.empty((0, 3))).dtype == np.int64
    assert quantize(-0.0) == 0


def test_clipping_scalar_and_array():
    xs = [-3.0, -1.0000001, -1.0, 1.0, 1.0000004, 1.5, 1e300, -1e300]
    want = [FLOOR_SCORE, FLOOR_SCORE, FLOOR_SCORE, SCORE_SCALE, SCORE_SCALE, SCORE_SCALE, SCORE_SCALE, FLOOR_SCORE]
    assert quantize(np.array(xs)).tolist() == want
    assert [quantize(x) for x in xs] == want


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_infinite_are_refused_scalar_and_array(bad):
    for value in (bad, np.float64(bad), np.array(bad), np.array([0.1, bad]),
                  np.array([[0.1, 0.2], [bad, 0.3]], order="F")):
        with pytest.raises(InvalidInputError, match="cannot quantise a NaN or infinite score"):
            quantize(value)
