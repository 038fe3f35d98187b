"""The score table round-trips byte for byte and refuses malformed input with the line."""

import pytest

from crowdstake.errors import InvalidInputError
from crowdstake.results.merkle import model_id
from crowdstake.results.table import Row, read_table, table_hash, write_table


def _rows():
    return [
        Row("0x" + "bb" * 20, model_id("b"), 5 * 10**18, 0.1, -0.02, 0.06, 60_000, 3 * 10**17, "", (b"\x01" * 32,)),
        Row("0x" + "aa" * 20, model_id("a"), 10**18, float("nan"), 0.0, -1.0, -1_000_000, -5 * 10**16,
            "missing file", (b"\x02" * 32, b"\x03" * 32)),
    ]


def test_round_trip_is_byte_identical_and_order_free():
    data = write_table(_rows())
    assert write_table(list(reversed(_rows()))) == data
    again = read_table(data)
    assert write_table(again) == data
    assert again[0].staker == "0x" + "aa" * 20 and again[0].reason == "missing file"
    assert again[1].proof == (b"\x01" * 32,)
    assert table_hash(data) != table_hash(data + b"\n")


def test_malformed_tables_name_the_problem():
    with pytest.raises(InvalidInputError, match="not a crowdstake score table"):
        read_table(b"a,b\n1,2\n")
    data = write_table(_rows()).decode().splitlines()
    data[2] = data[2].replace(",60000,", ",sixty,")
    with pytest.raises(InvalidInputError, match="line 3 is malformed"):
        read_table("\n".join(data).encode())
