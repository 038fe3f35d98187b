"""A participant's input is checked locally, before anything is uploaded or sent."""

import pandas as pd
import pytest

from crowdstake._units import parse_amount, to_tokens
from crowdstake.errors import InvalidInputError
from crowdstake.store.formats import predictions_csv, validate_predictions


def test_amounts_in_tokens():
    assert parse_amount("12.5") == 12_500_000_000_000_000_000
    assert parse_amount("0.000000000000000001") == 1
    assert parse_amount(".5") == parse_amount("0.5") == 5 * 10**17
    for bad in ("0", "0.0000000000000000001"):
        with pytest.raises(InvalidInputError, match="must be positive with at most 18 decimals"):
            parse_amount(bad)


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "-Infinity", "1e100000000", "1e3", "1_000", " 5 ", "5 ", "+5",
                                 "-1", "abc", "", "1e-19", "0x10", "١٢", "12,5"])
def test_only_plain_decimal_amounts_are_taken(bad):
    with pytest.raises(InvalidInputError, match="is not a plain number of tokens, e.g. 12.5"):
        parse_amount(bad)


def test_wei_become_exact_tokens():
    assert str(to_tokens(12_500_000_000_000_000_000)) == "12.5"
    assert str(to_tokens(10**26)) == "100000000"
    assert str(to_tokens(-1)) == "-1E-18" and to_tokens(-1) * 10**18 == -1


def test_huge_amounts_are_one_line_not_a_decimal_error():
    assert parse_amount(str(2**128)) == 2**128 * 10**18
    assert str(to_tokens(2**256 - 1)).startswith("115792089237316195423570985008687907853269984665640564039457.58")
    for huge in ("9" * 60, "9" * 101):
        with pytest.raises(InvalidInputError, match="is larger than any token balance can be"):
            parse_amount(huge)


def test_dataframe_predictions_become_the_store_csv():
    data = predictions_csv(pd.Series([0.75, 0.25], index=["x2", "x1"]))
    assert data.decode().splitlines() == ["id,prediction", "x1,0.25", "x2,0.75"]  # sorted by id
    assert validate_predictions(data) == 2


@pytest.mark.parametrize("text, message", [
    ("id,pred\nx,0.5\n", "header must be `id,prediction`"),
    ("id,prediction\nx,0.5\ny,1.5\n", "line 3: prediction 1.5 .* outside"),
    ("id,prediction\nx,nan\n", "line 2: prediction .* is NaN"),
    ("id,prediction\nx,0.5\nx,0.6\n", "appears twice"),
])
def test_bad_files_name_the_problem(text, message):
    with pytest.raises(InvalidInputError, match=message):
        validate_predictions(text.encode())


def test_a_nan_in_a_series_is_named_nan_and_numpy_stakes_are_plain_numbers():
    import numpy as np

    from crowdstake.scoring import stake_weighted_meta_model

    with pytest.raises(InvalidInputError, match=r"line 3: prediction for id 'b' is NaN"):
        validate_predictions(predictions_csv(pd.Series([0.5, np.nan], index=["a", "b"])))
    for stake in (np.float64(-1.878), np.float64("nan")):
        with pytest.raises(InvalidInputError) as e:
            stake_weighted_meta_model(pd.DataFrame({"m": [0.1, 0.2]}, index=["a", "b"]), {"m": stake})
        assert "np.float64" not in str(e.value) and str(e.value).endswith(f"got {float(stake)}")


def test_a_participants_file_may_put_the_prediction_first():
    from crowdstake.store.formats import read_predictions_either_order

    got = read_predictions_either_order(b"prediction,id\r\n0.25,x1\r\n0.75,x2\r\n")
    assert got.to_dict() == {"x1": 0.25, "x2": 0.75}
    assert read_predictions_either_order(b"id,prediction\nx1,0.25\nx2,0.75\n").equals(got)
    with pytest.raises(InvalidInputError, match=r"line 3: prediction 1.5 for id 'x2' is outside \[0, 1\]"):
        read_predictions_either_order(b"prediction,id\n0.25,x1\n1.5,x2\n")
    with pytest.raises(InvalidInputError, match="header must be `id,prediction`"):
        validate_predictions(b"prediction,id\n0.25,x1\n0.75,x2\n")  # the store takes one order only
