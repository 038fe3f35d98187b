"""A participant's input is checked locally, before anything is uploaded or sent."""

import pandas as pd
import pytest

from crowdstake.errors import InvalidInputError
from crowdstake.participant import ParticipantError, _check_csv, parse_amount, predictions_csv


def test_amounts_in_tokens():
    assert parse_amount("12.5") == 12_500_000_000_000_000_000
    assert parse_amount("0.000000000000000001") == 1
    for bad in ("0", "-1", "abc", "1e-19"):
        with pytest.raises(ParticipantError):
            parse_amount(bad)


def test_dataframe_predictions_become_the_store_csv():
    data = predictions_csv(pd.Series([0.25, 0.75], index=["x1", "x2"]))
    assert data.decode().splitlines() == ["id,prediction", "x1,0.25", "x2,0.75"]
    _check_csv(data)


@pytest.mark.parametrize("text, message", [
    ("id,pred\nx,0.5\n", "header id,prediction"),
    ("id,prediction\nx,0.5\ny,1.5\n", "line 3: prediction"),
    ("id,prediction\nx,nan\n", "line 2: prediction"),
    ("id,prediction\nx,0.5\nx,0.6\n", "appears twice"),
])
def test_bad_files_name_the_problem(text, message):
    with pytest.raises(InvalidInputError, match=message):
        _check_csv(text.encode())
