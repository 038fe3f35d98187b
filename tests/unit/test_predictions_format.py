"""One predictions format for the store, the participant's pre-check and the oracle: whatever the
store accepts, the oracle scores (never at the floor), and whatever it refuses, the oracle would
floor. Checked on generated files, valid and hostile."""

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crowdstake.errors import InvalidInputError, InvalidPredictionsError
from crowdstake.oracle.inputs import classic_reader
from crowdstake.scoring import round_scores
from crowdstake.store import parse_live_ids, read_predictions, register_live_ids, validate_predictions

LIVE = ["a1", "b2", "c3", "d4", "e5"]
TARGETS = pd.Series([0.0, 0.25, 0.5, 0.75, 1.0], index=LIVE)

# Values a careless or hostile participant writes: plain decimals and everything that only looks like one.
VALUES = st.one_of(
    st.floats(0, 1).map(repr),
    st.floats(0, 1).map(lambda x: f"{x:.2f}"),
    st.sampled_from(["0", "1", ".5", "0.", "+0.3", "5e-1", "1e0", "-0.0", " 0.4", "0.6 ", "\t0.7"]),
    st.sampled_from(["\u0660.\u0665", "\uff10.5", "\u0966.\u0967", "0.5\u00a0", "\u00a00.5", "0,5", "0.5.1", "1_0",
                     "nan", "NaN", "inf", "-inf", "1e3", "-0.1", "1.0000001", "", " ", "0x1", "½", "0.5\r"]),
    st.floats(-2, 2).map(repr),
)
IDS = st.sampled_from(LIVE + ["zz", "a1 ", "A1", "a\u00a01", ""])
ROWS = st.lists(st.tuples(IDS, VALUES), min_size=0, max_size=8)
HEADERS = st.sampled_from(["id,prediction", "id,prediction", "id,prediction", "prediction,id", "id,pred", "\ufeffid,prediction"])


def _file(header, rows, crlf):
    end = "\r\n" if crlf else "\n"
    return (header + end + "".join(f"{i},{v}{end}" for i, v in rows)).encode()


def _store_accepts(data) -> bool:
    try:
        validate_predictions(data, LIVE)
        return True
    except InvalidPredictionsError:
        return False


def _oracle_scores(data) -> bool:
    try:
        series = classic_reader(TARGETS)(data)  # the oracle's reader for a classic round
    except InvalidPredictionsError:
        return False  # the oracle floors it: "malformed predictions file"
    table = round_scores({"m": series}, TARGETS, {"m": 1.0}, (0.5, 2.0))
    return table.loc["m", "reason"] == ""


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(HEADERS, ROWS, st.booleans())
def test_the_store_accepts_exactly_what_the_oracle_scores(header, rows, crlf):
    data = _file(header, rows, crlf)
    assert _store_accepts(data) == _oracle_scores(data), data


@pytest.mark.parametrize("rows", [LIVE + ["zz"], LIVE[:-1]], ids=["an-extra-id", "a-missing-id"])
def test_a_file_that_is_not_exactly_the_live_ids_is_refused_by_both(rows):
    data = _file("id,prediction", [(i, f"0.{k + 1}") for k, i in enumerate(rows)], False)
    assert not _store_accepts(data) and not _oracle_scores(data)


@settings(max_examples=100, deadline=None)
@given(st.permutations(LIVE), st.lists(st.floats(0, 1), min_size=5, max_size=5, unique=True), st.booleans())
def test_every_well_formed_file_is_accepted_and_read_back_exactly(order, values, crlf):
    data = _file("id,prediction", [(i, repr(v)) for i, v in zip(order, values)], crlf)
    assert _store_accepts(data) and _oracle_scores(data)
    assert read_predictions(data).to_dict() == dict(zip(order, values))


@pytest.mark.parametrize("value", ["\u0660.\u0665", "\uff10.5", "0.5\u00a0", "1_0"])
def test_digits_that_only_look_ascii_are_refused_by_line(value):
    with pytest.raises(InvalidPredictionsError, match=f"line 3: prediction .* for id 'b2' is not a number"):
        validate_predictions(f"id,prediction\na1,0.1\nb2,{value}\n".encode())


def test_a_constant_file_is_refused_before_it_is_burned():
    with pytest.raises(InvalidPredictionsError, match="every prediction is 0.5: constant predictions cannot be ranked"):
        validate_predictions(b"id,prediction\na1,0.5\nb2,0.5\n")


def test_a_one_row_file_is_constant_too():
    # One value is its own min and max: nothing to rank, so it scores at the floor like any
    # constant file (a round whose live ids are a single id included).
    one = b"id,prediction\na1,0.5\n"
    for live in (None, ["a1"]):
        with pytest.raises(InvalidPredictionsError, match="every prediction is 0.5: constant predictions cannot be ranked"):
            validate_predictions(one, live)
    with pytest.raises(InvalidPredictionsError, match="constant predictions"):
        read_predictions(one)  # the oracle reads by the same rules: it would floor the file


def test_an_empty_live_id_list_is_refused(tmp_path):
    with pytest.raises(InvalidInputError, match="lists no id"):
        parse_live_ids(b"id\n")
    with pytest.raises(InvalidInputError, match="lists no id"):
        register_live_ids(tmp_path, 1, [])
    assert not (tmp_path / "rounds").exists()


# The fast readers (numpy's `_columns`, the regex's `_regex_rows`) must give the scan's verdict,
# message and values, bit for bit: generated files near the common shape's edges.
NEAR_SHAPE = st.one_of(
    st.floats(0, 1).map(repr),
    st.floats(0, 1).map(lambda x: f"{x:.{len(LIVE)}f}"),
    st.integers(0, 10**16).map(lambda m: f"0.{m}"),
    st.integers(0, 10**16).map(lambda m: f"{str(m)[:1]}.{str(m)[1:]}"),
    st.sampled_from(["0", "1", "00", "01", ".5", "0.", ".", "..", "0..5", "1.0", "1.", "0.999999999999999",
                     "0.0000000000000001", "0.10000000000000001", "1.00000000000001", "+0.3", "5e-1", "2", "10"]),
    VALUES,
)


def _verdict(read, data, live):
    try:
        ids, values = read(data, live)
    except InvalidPredictionsError as e:
        return "refused", str(e), e.status
    return "read", list(ids), values.tobytes()


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(LIVE + ["zz", "é1", "a,1", ""]), NEAR_SHAPE), min_size=0, max_size=6),
       st.sampled_from(["\n", "\n", "\r\n", ""]), st.booleans())
def test_the_fast_readers_agree_with_the_scan(rows, end, live):
    from crowdstake.store import formats

    data = ("id,prediction\n" + "\n".join(f"{i},{v}" for i, v in rows) + (end if rows else "")).encode()
    expected = LIVE if live else None
    reference = _verdict(lambda d, ids: formats._scan(d, ids, formats.MAX_BYTES), data, expected)
    assert _verdict(lambda d, ids: formats._parse(d, ids, formats.MAX_BYTES), data, expected) == reference, data
    for reader in (formats._columns, formats._regex_rows):  # a reader that answers answers as the scan reads
        got = reader(data, "prediction")
        if got is not None and reference[0] == "read":
            assert (list(got[0]), got[2].tobytes()) == reference[1:], (reader.__name__, data)


def test_the_numpy_reader_takes_the_common_shape_and_reads_it_exactly():
    from crowdstake.store import formats

    values = ["0.1234", "1", ".5", "0.", "0.99999999999999", "0.00000000000001", "1.00000000000000"]  # 15 digits at most
    data = ("id,prediction\n" + "".join(f"s{i},{v}\n" for i, v in enumerate(values))).encode()
    ids, unique, read = formats._columns(data, "prediction")
    assert list(ids) == [f"s{i}" for i in range(len(values))] and unique == frozenset(ids)
    assert read.tobytes() == formats._scan(data, None, formats.MAX_BYTES)[1].tobytes()
    for other in (b"id,prediction\na,0.1\r\nb,0.2\r\n", b"id,prediction\na,0.1\nb,0.2", b"id,prediction\na,-0\nb,1\n",
                  b"id,prediction\na,1e-1\nb,1\n", b"id,prediction\na,0.1234567890123456\nb,1\n",
                  b"id,prediction\na,0..5\nb,1\n", b"id,prediction\na,.\nb,1\n", b"id,prediction\na,0.5.\nb,1\n"):
        assert formats._columns(other, "prediction") is None, other  # left to the regex and the scan
