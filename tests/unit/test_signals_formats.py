"""Signals' round files, targets and submissions: every refusal names its line, the accepted
variants read to the same numbers, and a Signals dataset hashes by the classic rules."""

import numpy as np
import pandas as pd
import pytest

from crowdstake.errors import InvalidDatasetError, InvalidInputError, InvalidPredictionsError, InvalidTargetsError
from crowdstake.store import datasets
from crowdstake.store.signals_formats import (NEUTRALIZERS, SAMPLE_WEIGHTS, UNIVERSE, SignalsSubmission,
                                              neutralizers_csv, read_neutralizers, read_sample_weights,
                                              read_signals, read_signals_round, read_signals_targets,
                                              read_universe, sample_weights_csv, signals_csv,
                                              signals_targets_csv, universe_csv, validate_signals,
                                              validate_signals_targets)

UNIV = ["AAA", "BBB", "CCC", "DDD"]


# --------------------------------------------------------------------------------------------
# submissions


def test_accepted_variants_read_to_the_same_signal():
    expected = pd.Series([0.1, 0.2, 0.3, 0.4], index=UNIV)
    variants = [
        b"ticker,signal\nAAA,0.1\nBBB,0.2\nCCC,0.3\nDDD,0.4\n",
        b"signal,ticker\n0.1,AAA\n0.2,BBB\n0.3,CCC\n0.4,DDD\n",  # either order
        b"numerai_ticker,prediction\nDDD,0.4\nCCC,0.3\nBBB,0.2\nAAA,0.1",  # any row order, no final newline
        b"prediction,bloomberg_ticker\r\n.1,AAA\r\n2e-1,BBB\r\n 0.3 ,CCC\r\n+0.40,DDD\r\n",  # CRLF, blanks, forms
    ]
    for data in variants:
        got = read_signals(data, UNIV, min_tickers=4)
        assert isinstance(got, SignalsSubmission)
        assert got.dropped == []
        assert list(got.signal.index) == UNIV
        assert np.array_equal(got.signal.to_numpy(), expected.to_numpy()), data
        assert validate_signals(data, UNIV, 4) == 4


def test_tickers_outside_the_universe_are_dropped_not_refused():
    data = b"ticker,signal\nZZZ,0.5\nAAA,0.1\nBBB,0.9\nXXX,0.5\n"
    got = read_signals(data, set(UNIV), min_tickers=2)
    assert list(got.signal.index) == ["AAA", "BBB"] and got.dropped == ["XXX", "ZZZ"]
    assert validate_signals(data, UNIV, 2) == 2


REFUSALS = {
    "bad header": (b"id,signal\nAAA,0.5\n", "line 1: the header must be a ticker column"),
    "two value columns": (b"signal,prediction\n0.5,0.5\n", "line 1: the header must be"),
    "three columns": (b"ticker,signal,era\nAAA,0.5,1\n", "line 1: the header must be"),
    "empty file": (b"", "is empty"),
    "not utf-8": (b"ticker,signal\nAAA,\xff\n", "not UTF-8 text (byte 18)"),
    "wrong field count": (b"ticker,signal\nAAA,0.5\nBBB,0.5,1\n", "line 3: expected 2 fields"),
    "blank line": (b"ticker,signal\nAAA,0.5\n\nBBB,0.5\n", "line 3: expected 2 fields"),
    "empty ticker": (b"ticker,signal\n,0.5\n", "line 2: ticker '' is empty"),
    "ticker with a space": (b"ticker,signal\nAA A,0.5\n", "line 2: ticker 'AA A' is empty or contains a space"),
    "duplicate": (b"ticker,signal\nAAA,0.5\nBBB,0.2\nAAA,0.3\n", "line 4: ticker 'AAA' appears twice"),
    "duplicate outside the universe": (b"ticker,signal\nZZZ,0.5\nZZZ,0.2\n", "line 3: ticker 'ZZZ' appears twice"),
    "nan": (b"ticker,signal\nAAA,nan\n", "line 2: signal for ticker 'AAA' is nan; give a finite number"),
    "inf": (b"signal,ticker\n-inf,AAA\n", "line 2: signal for ticker 'AAA' is -inf"),
    "overflow": (b"ticker,signal\nAAA,1e999\n", "line 2: signal 1e999 for ticker 'AAA' is not finite"),
    "not a number": (b"ticker,prediction\nAAA,high\n", "line 2: prediction 'high' for ticker 'AAA' is not a number"),
    "non-ascii digit": ("ticker,signal\nAAA,0.\u0665\n".encode(), "is not a number"),
    "zero": (b"ticker,signal\nAAA,0\n", "line 2: signal 0 for ticker 'AAA' is not strictly between 0 and 1"),
    "one": (b"ticker,signal\nBBB,0.5\nAAA,1.0\n", "line 3: signal 1.0 for ticker 'AAA' is not strictly between"),
    "negative": (b"ticker,signal\nAAA,-0.5\n", "is not strictly between 0 and 1"),
    "too few tickers": (b"ticker,signal\nAAA,0.5\nBBB,0.4\nZZZ,0.3\n",
                        "the file has 2 valid tickers of the round's universe, 3 needed"),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_submission_refusals_name_the_first_bad_line(case):
    data, message = REFUSALS[case]
    with pytest.raises(InvalidPredictionsError) as e:
        validate_signals(data, UNIV, min_tickers=3 if case == "too few tickers" else 1)
    assert message in str(e.value)
    assert e.value.status == 422
    assert isinstance(e.value, InvalidInputError)


def test_oversized_submission_is_413():
    with pytest.raises(InvalidPredictionsError, match="over the limit of 10") as e:
        read_signals(b"ticker,signal\nAAA,0.5\n", UNIV, 1, max_bytes=10)
    assert e.value.status == 413


def test_signals_csv_round_trips_exactly():
    s = pd.Series([1 / 3, 0.1 + 0.2, 1e-12], index=["CCC", "AAA", "BBB"])
    data = signals_csv(s)
    assert data.startswith(b"ticker,signal\nAAA,")
    got = read_signals(data, UNIV, 3).signal
    assert got.to_dict() == s.to_dict()
    assert signals_csv(s.to_frame("x")) == data
    assert signals_csv(data) == data
    with pytest.raises(InvalidInputError, match="exactly one column"):
        signals_csv(pd.DataFrame({"a": [0.5], "b": [0.5]}))
    with pytest.raises(InvalidInputError, match="cannot read signal file"):
        signals_csv("/nonexistent/signal.csv")
    # NaN is written so the check names it
    with pytest.raises(InvalidPredictionsError, match="is nan"):
        validate_signals(signals_csv(pd.Series([np.nan], index=["AAA"])), UNIV, 1)


# --------------------------------------------------------------------------------------------
# round files


def _round_files():
    n = pd.DataFrame({"f1": [0.5, -0.5, 0.5, -0.5], "f2": [1.0, 2.0, 3.0, 4.0]}, index=["DDD", "BBB", "CCC", "AAA"])
    w = pd.Series([1.0, 0.0, 2.0, 1.0], index=UNIV)
    return {UNIVERSE: universe_csv(reversed(UNIV)), NEUTRALIZERS: neutralizers_csv(n), SAMPLE_WEIGHTS: sample_weights_csv(w)}


def test_round_files_read_back_sorted_and_exact():
    files = _round_files()
    assert files[UNIVERSE] == b"ticker\nAAA\nBBB\nCCC\nDDD\n"
    got = read_signals_round(files)
    assert got.universe == UNIV
    assert list(got.neutralizers.columns) == ["f1", "f2"]
    assert got.neutralizers.loc["AAA", "f2"] == 4.0 and got.neutralizers.loc["DDD", "f1"] == 0.5
    assert list(got.sample_weights) == [1.0, 0.0, 2.0, 1.0]


def _refused(name, data, message):
    files = _round_files()
    files[name] = data
    with pytest.raises(InvalidDatasetError) as e:
        read_signals_round(files)
    assert message in str(e.value)
    with pytest.raises(InvalidDatasetError):
        datasets.dataset_manifest(files)  # the store's check refuses it too


ROUND_REFUSALS = {
    "universe header": (UNIVERSE, b"id\nAAA\n", "universe.csv line 1: the header must be `ticker`"),
    "universe unsorted": (UNIVERSE, b"ticker\nBBB\nAAA\n", "universe.csv line 3: ticker 'AAA' comes after 'BBB'"),
    "universe duplicate": (UNIVERSE, b"ticker\nAAA\nAAA\n", "universe.csv line 3: ticker 'AAA' appears twice"),
    "universe comma": (UNIVERSE, b"ticker\nAAA,1\n", "universe.csv line 2: ticker 'AAA,1' is empty or contains"),
    "universe empty": (UNIVERSE, b"ticker\n", "universe.csv lists no ticker"),
    "neutralizers header": (NEUTRALIZERS, b"ticker\nAAA\n", "neutralizers.csv line 1: the header must be `ticker,<column>"),
    "neutralizers duplicate column": (NEUTRALIZERS, b"ticker,f,f\nAAA,1,2\n", "must be non-empty and distinct"),
    "neutralizers nan": (NEUTRALIZERS, b"ticker,f1\nAAA,1\nBBB,nan\n", "neutralizers.csv line 3: f1 for ticker 'BBB' is nan"),
    "neutralizers fields": (NEUTRALIZERS, b"ticker,f1,f2\nAAA,1\n", "neutralizers.csv line 2: expected 3 fields"),
    "neutralizers other ticker": (NEUTRALIZERS, b"ticker,f1\nAAA,1\nBBC,1\nCCC,1\nDDD,1\n",
                                  "neutralizers.csv line 3: ticker 'BBC' where universe.csv has 'BBB'"),
    "neutralizers short": (NEUTRALIZERS, b"ticker,f1\nAAA,1\nBBB,1\n", "neutralizers.csv has 2 tickers, universe.csv 4"),
    "weights header": (SAMPLE_WEIGHTS, b"ticker,w\nAAA,1\n", "sample_weights.csv line 1: the header must be `ticker,weight`"),
    "weights negative": (SAMPLE_WEIGHTS, b"ticker,weight\nAAA,1\nBBB,-1\nCCC,1\nDDD,1\n",
                         "sample_weights.csv line 3: weight -1 for ticker 'BBB' is negative"),
    "weights all zero": (SAMPLE_WEIGHTS, b"ticker,weight\nAAA,0\nBBB,0\nCCC,0\nDDD,0\n", "every weight is 0"),
    "weights unsorted": (SAMPLE_WEIGHTS, b"ticker,weight\nBBB,1\nAAA,1\n", "line 3: ticker 'AAA' comes after 'BBB'"),
}


@pytest.mark.parametrize("case", ROUND_REFUSALS)
def test_round_file_refusals(case):
    _refused(*ROUND_REFUSALS[case])


def test_a_signals_dataset_hashes_by_the_manifest_rules_and_is_never_mixed():
    files = _round_files()
    manifest = datasets.dataset_manifest(files)
    names = [e.name for e in datasets.parse_manifest(manifest)]
    assert names == ["neutralizers.csv", "sample_weights.csv", "universe.csv"]
    assert len(datasets.dataset_hash(manifest)) == 32
    with pytest.raises(InvalidDatasetError, match="lacks sample_weights.csv: a Signals dataset has"):
        datasets.dataset_manifest({k: v for k, v in files.items() if k != SAMPLE_WEIGHTS})
    with pytest.raises(InvalidDatasetError, match="mixes live.csv .classic. and neutralizers.csv .Signals."):
        datasets.dataset_manifest({**files, "live.csv": b"id\na\n"})
    with pytest.raises(InvalidDatasetError, match="not a dataset file"):
        datasets.dataset_manifest({**files, "readme.txt": b"x"})
    # the store's per-file check reads a header only (it may have a large file's first bytes)
    datasets.check_file(NEUTRALIZERS, b"ticker,f1\nAAA,")
    with pytest.raises(InvalidDatasetError, match="neutralizers.csv line 1"):
        datasets.check_file(NEUTRALIZERS, b"id,f1\nAAA,1\n")


# --------------------------------------------------------------------------------------------
# targets


def test_targets_round_trip_and_refusals():
    t = pd.Series([0.01, -0.02, 0.0, 1e-5], index=["DDD", "AAA", "CCC", "BBB"])
    data = signals_targets_csv(t)
    assert data.startswith(b"ticker,target\nAAA,-0.02\n")
    assert read_signals_targets(data, UNIV).to_dict() == t.to_dict()
    assert validate_signals_targets(data, UNIV) == 4
    cases = {
        b"ticker,signal\nAAA,1\n": "line 1: the header must be `ticker,target`",
        b"ticker,target\nAAA,1\nAAA,2\n": "line 3: ticker 'AAA' appears twice",
        b"ticker,target\nAAA,inf\n": "line 2: target for ticker 'AAA' is inf",
        b"ticker,target\nAAA,1\nZZZ,1\n": "line 3: ticker 'ZZZ' is not in the round's universe",
        b"ticker,target\nAAA,1\nBBB,1\n": "misses 2 universe tickers, first 'CCC'",
    }
    for data, message in cases.items():
        with pytest.raises(InvalidTargetsError) as e:
            validate_signals_targets(data, UNIV)
        assert message in str(e.value) and e.value.status == 422
