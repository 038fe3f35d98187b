"""Numerai Signals' files and their validators: what the fund publishes per round, its targets,
and a participant's submission. Pure (bytes in, pandas out; no chain, no disk).

Round dataset (a directory the store keeps as a dataset, hashed like the classic one by
``crowdstake.store.datasets``): three UTF-8 CSV files, ``\\n`` line ends, the same tickers in
the same order, sorted (Python string order), each once:

    universe.csv        ticker
    neutralizers.csv    ticker,<factor>,...   the neutraliser matrix N (finite numbers)
    sample_weights.csv  ticker,weight         the sample weights v (finite, >= 0, not all 0)

Targets (the fund's, published once the round resolves): ``ticker,target``, the forward
returns, finite numbers (any sign), each universe ticker once.

Submission: a CSV of two columns in either order, a ticker column (header ``ticker``,
``numerai_ticker`` or ``bloomberg_ticker``) and a value column (``signal`` or
``prediction``); values finite numbers strictly inside (0, 1); each ticker once. Tickers
outside the round's universe are dropped (listed in ``SignalsSubmission.dropped``), not
refused; at least ``min_tickers`` of the universe's must remain.

A ticker is any text without a space, comma or quote; numbers are plain ASCII decimals (as in
``crowdstake.store.formats``: a file the store accepts reads back to the same numbers
everywhere). Errors name the first bad line and what to do: ``InvalidPredictionsError`` for a
submission (422 in the store, 413 for a file over ``max_bytes``), ``InvalidTargetsError`` for
targets, ``InvalidDatasetError`` for the round's files.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crowdstake.errors import (InvalidDatasetError, InvalidInputError, InvalidPredictionsError,
                               InvalidTargetsError)
from crowdstake.store.formats import _BLANK, _ID, _NUMBER, MAX_BYTES, submission_csv

UNIVERSE = "universe.csv"
NEUTRALIZERS = "neutralizers.csv"
SAMPLE_WEIGHTS = "sample_weights.csv"
ROUND_FILES = (NEUTRALIZERS, SAMPLE_WEIGHTS, UNIVERSE)  # sorted, as a manifest lists them

TICKER_COLUMNS = ("ticker", "numerai_ticker", "bloomberg_ticker")
VALUE_COLUMNS = ("signal", "prediction")


@dataclass(frozen=True)
class SignalsSubmission:
    """A valid submission: ``signal`` (floats in (0, 1), indexed by the universe's tickers it
    names, sorted) and ``dropped`` (the tickers it names outside the universe, sorted)."""

    signal: pd.Series
    dropped: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# one CSV, line by line


def _lines(data: bytes, what: str, error, max_bytes: int) -> list[str]:
    if len(data) > max_bytes:
        raise error(f"{what} is {len(data):,} bytes, over the limit of {max_bytes:,}", 413)
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as e:
        raise error(f"{what} is not UTF-8 text (byte {e.start}); save it as UTF-8 CSV") from None
    lines = [line.rstrip("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()  # the final newline
    if not lines:
        raise error(f"{what} is empty; it needs a header line")
    return lines


def _number(value: str, n: int, what: str, column: str, ticker: str, error) -> float:
    v = value.strip(_BLANK)
    if v.lower() in ("nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"):
        raise error(f"{what} line {n}: {column} for ticker {ticker!r} is {v}; give a finite number")
    if not _NUMBER.fullmatch(v):
        raise error(f"{what} line {n}: {column} {value[:80]!r} for ticker {ticker!r} is not a number")
    x = float(v)
    if not math.isfinite(x):  # e.g. 1e999
        raise error(f"{what} line {n}: {column} {v} for ticker {ticker!r} is not finite; give a finite number")
    return x


def _table(data: bytes, what: str, header: list[str] | None, error, max_bytes: int = MAX_BYTES,
           sorted_tickers: bool = True) -> tuple[list[str], list[str], np.ndarray]:
    """(columns after `ticker`, tickers, values rows x columns) of `ticker,<numbers>...` CSV:
    the header is `header` when given (else `ticker` then at least one name); tickers each
    once and, if `sorted_tickers`, in increasing order."""
    lines = _lines(data, what, error, max_bytes)
    columns = lines[0].split(",")
    if header is not None and columns != header:
        raise error(f"{what} line 1: the header must be `{','.join(header)}`, got {lines[0][:80]!r}")
    if columns[0] != "ticker" or (header is None and len(columns) < 2):
        raise error(f"{what} line 1: the header must be `ticker,<column>,...`, got {lines[0][:80]!r}")
    names = columns[1:]
    if len(set(columns)) != len(columns) or any(not c for c in names):
        raise error(f"{what} line 1: column names must be non-empty and distinct, got {lines[0][:80]!r}")
    tickers: list[str] = []
    rows = []
    for n, line in enumerate(lines[1:], start=2):
        fields = line.split(",")
        if len(fields) != len(columns):
            raise error(f"{what} line {n}: expected {len(columns)} fields `{','.join(columns)[:60]}`, "
                        f"got {len(fields)}: {line[:80]!r}")
        ticker = fields[0]
        if not _ID.fullmatch(ticker):
            raise error(f"{what} line {n}: ticker {ticker[:80]!r} is empty or contains a space or quote")
        if tickers and sorted_tickers and ticker <= tickers[-1]:
            why = "appears twice" if ticker == tickers[-1] else f"comes after {tickers[-1]!r}"
            raise error(f"{what} line {n}: ticker {ticker!r} {why}; list each ticker once, sorted")
        tickers.append(ticker)
        rows.append([_number(v, n, what, c, ticker, error) for c, v in zip(names, fields[1:])])
    if not tickers:
        raise error(f"{what} lists no ticker; a round needs at least one")
    return names, tickers, np.array(rows, dtype=float).reshape(len(rows), len(names))


# --------------------------------------------------------------------------------------------
# the round's files


def read_universe(data: bytes) -> list[str]:
    """The tickers of a `universe.csv` (header `ticker`, one ticker a line, sorted, each once);
    InvalidDatasetError names the first bad line."""
    lines = _lines(data, UNIVERSE, InvalidDatasetError, MAX_BYTES)
    if lines[0] != "ticker":
        raise InvalidDatasetError(f"{UNIVERSE} line 1: the header must be `ticker`, got {lines[0][:80]!r}")
    tickers: list[str] = []
    for n, ticker in enumerate(lines[1:], start=2):
        if not _ID.fullmatch(ticker):
            raise InvalidDatasetError(f"{UNIVERSE} line {n}: ticker {ticker[:80]!r} is empty or contains a "
                                      "space, comma or quote")
        if tickers and ticker <= tickers[-1]:
            why = "appears twice" if ticker == tickers[-1] else f"comes after {tickers[-1]!r}"
            raise InvalidDatasetError(f"{UNIVERSE} line {n}: ticker {ticker!r} {why}; list each ticker once, sorted")
        tickers.append(ticker)
    if not tickers:
        raise InvalidDatasetError(f"{UNIVERSE} lists no ticker; a round needs at least one")
    return tickers


def _same_universe(what: str, tickers: list[str], universe: list[str] | None) -> None:
    if universe is None or tickers == list(universe):
        return
    for n, (a, b) in enumerate(zip(tickers, universe), start=2):
        if a != b:
            raise InvalidDatasetError(f"{what} line {n}: ticker {a!r} where {UNIVERSE} has {b!r}; "
                                      f"give exactly the universe's tickers, in its order")
    raise InvalidDatasetError(f"{what} has {len(tickers)} tickers, {UNIVERSE} {len(universe)}; "
                              "give exactly the universe's tickers, in its order")


def read_neutralizers(data: bytes, universe: list[str] | None = None) -> pd.DataFrame:
    """A `neutralizers.csv` as a DataFrame (tickers x factor columns, file order); with
    `universe`, its tickers must be exactly those, in that order."""
    names, tickers, values = _table(data, NEUTRALIZERS, None, InvalidDatasetError)
    _same_universe(NEUTRALIZERS, tickers, universe)
    return pd.DataFrame(values, index=pd.Index(tickers, name="ticker"), columns=names)


def read_sample_weights(data: bytes, universe: list[str] | None = None) -> pd.Series:
    """A `sample_weights.csv` (`ticker,weight`, weights >= 0, not all 0) as a Series."""
    _, tickers, values = _table(data, SAMPLE_WEIGHTS, ["ticker", "weight"], InvalidDatasetError)
    w = values[:, 0]
    if (w < 0).any():
        i = int(np.flatnonzero(w < 0)[0])
        raise InvalidDatasetError(f"{SAMPLE_WEIGHTS} line {i + 2}: weight {w[i]:g} for ticker {tickers[i]!r} "
                                  "is negative; weights are >= 0")
    if not (w > 0).any():
        raise InvalidDatasetError(f"{SAMPLE_WEIGHTS}: every weight is 0; at least one ticker must weigh")
    _same_universe(SAMPLE_WEIGHTS, tickers, universe)
    return pd.Series(w, index=pd.Index(tickers, name="ticker"), name="weight")


@dataclass(frozen=True)
class SignalsRoundData:
    """A round's published files, read: the universe and, on it, N and v."""

    universe: list[str]
    neutralizers: pd.DataFrame
    sample_weights: pd.Series


def read_signals_round(files: Mapping[str, bytes]) -> SignalsRoundData:
    """Read and cross-check a Signals round's files (name -> bytes; other names are not
    looked at): all three present, the same tickers in the same sorted order."""
    for name in ROUND_FILES:
        if name not in files:
            raise InvalidDatasetError(f"the Signals dataset lacks {name}: it has {', '.join(ROUND_FILES)}")
    universe = read_universe(files[UNIVERSE])
    return SignalsRoundData(universe, read_neutralizers(files[NEUTRALIZERS], universe),
                            read_sample_weights(files[SAMPLE_WEIGHTS], universe))


def check_header(name: str, data: bytes) -> None:
    """A round file's header only (the store checks a large file's first bytes alone)."""
    first = bytes(data[:65536]).split(b"\n", 1)[0].rstrip(b"\r")
    try:
        columns = first.decode("utf-8").split(",")
    except UnicodeDecodeError:
        raise InvalidDatasetError(f"{name} is not UTF-8 text: a Signals round file is a CSV") from None
    header = ",".join(columns)[:80]
    expected = {UNIVERSE: ["ticker"], SAMPLE_WEIGHTS: ["ticker", "weight"]}.get(name)
    if expected is not None:
        if columns != expected:
            raise InvalidDatasetError(f"{name} line 1: the header must be `{','.join(expected)}`, got {header!r}")
    elif columns[0] != "ticker" or len(columns) < 2:
        raise InvalidDatasetError(f"{name} line 1: the header must be `ticker,<factor>,...`, got {header!r}")


# --------------------------------------------------------------------------------------------
# targets


def read_signals_targets(data: bytes, universe: Collection[str] | None = None,
                         max_bytes: int = MAX_BYTES) -> pd.Series:
    """A Signals targets file (`ticker,target`, finite numbers, each ticker once, any order)
    as floats indexed by ticker; with `universe`, exactly its tickers. InvalidTargetsError names
    the first bad line."""
    _, tickers, values = _table(data, "the targets file", ["ticker", "target"], InvalidTargetsError, max_bytes,
                                sorted_tickers=False)
    seen: set[str] = set()
    for n, t in enumerate(tickers, start=2):
        if t in seen:
            raise InvalidTargetsError(f"the targets file line {n}: ticker {t!r} appears twice; give each once")
        seen.add(t)
    if universe is not None:
        expected = set(universe)
        for n, t in enumerate(tickers, start=2):
            if t not in expected:
                raise InvalidTargetsError(f"the targets file line {n}: ticker {t!r} is not in the round's universe")
        if len(seen) != len(expected):
            missing = sorted(expected - seen)
            tickers = f"{len(missing)} universe ticker{'' if len(missing) == 1 else 's'}"
            raise InvalidTargetsError(f"the targets file misses {tickers}, first "
                                      f"{missing[0]!r}; give a target for every ticker of universe.csv")
    return pd.Series(values[:, 0], index=pd.Index(tickers, name="ticker"), name="target")


def validate_signals_targets(data: bytes, universe: Collection[str] | None = None,
                             max_bytes: int = MAX_BYTES) -> int:
    """Check a Signals targets file (rules of `read_signals_targets`); the number of rows."""
    return len(read_signals_targets(data, universe, max_bytes))


# --------------------------------------------------------------------------------------------
# submissions


def _submission_columns(header: str) -> tuple[int, int]:
    columns = header.split(",")
    tickers = [i for i, c in enumerate(columns) if c in TICKER_COLUMNS]
    values = [i for i, c in enumerate(columns) if c in VALUE_COLUMNS]
    if len(columns) != 2 or len(tickers) != 1 or len(values) != 1:
        raise InvalidPredictionsError(
            f"line 1: the header must be a ticker column ({', '.join(TICKER_COLUMNS)}) and a value column "
            f"({', '.join(VALUE_COLUMNS)}), e.g. `ticker,signal`, got {header[:80]!r}")
    return tickers[0], values[0]


def read_signals(data: bytes, universe: Collection[str], min_tickers: int,
                 max_bytes: int = MAX_BYTES) -> SignalsSubmission:
    """A Signals submission (format in the module docstring), its values on the universe's
    tickers and the tickers dropped for being outside it. InvalidPredictionsError names the
    first bad line, or says how many universe tickers there are and how many are needed."""
    lines = _lines(data, "the file", InvalidPredictionsError, max_bytes)
    ti, vi = _submission_columns(lines[0])
    column = lines[0].split(",")[vi]
    members = universe if isinstance(universe, (set, frozenset)) else frozenset(universe)
    seen: set[str] = set()
    kept: dict[str, float] = {}
    dropped: list[str] = []
    for n, line in enumerate(lines[1:], start=2):
        fields = line.split(",")
        if len(fields) != 2:
            raise InvalidPredictionsError(f"line {n}: expected 2 fields `{lines[0][:60]}`, got {len(fields)}: {line[:80]!r}")
        ticker, value = fields[ti], fields[vi]
        if not _ID.fullmatch(ticker):
            raise InvalidPredictionsError(f"line {n}: ticker {ticker[:80]!r} is empty or contains a space or quote")
        if ticker in seen:
            raise InvalidPredictionsError(f"line {n}: ticker {ticker!r} appears twice; give one {column} per ticker")
        seen.add(ticker)
        x = _number(value, n, "the file", column, ticker, InvalidPredictionsError)
        if not 0.0 < x < 1.0:
            raise InvalidPredictionsError(f"line {n}: {column} {value.strip(_BLANK)} for ticker {ticker!r} is not "
                                          "strictly between 0 and 1; rank your signal into (0, 1)")
        if ticker in members:
            kept[ticker] = x
        else:
            dropped.append(ticker)
    if len(kept) < min_tickers:
        tickers = f"{len(kept)} valid ticker{'' if len(kept) == 1 else 's'}"
        raise InvalidPredictionsError(f"the file has {tickers} of the round's universe, "
                                      f"{min_tickers} needed; submit a {column} for at least {min_tickers} tickers "
                                      f"of universe.csv")
    ids = sorted(kept)
    signal = pd.Series([kept[t] for t in ids], index=pd.Index(ids, name="ticker"), dtype=float, name="signal")
    return SignalsSubmission(signal=signal, dropped=sorted(dropped))


def validate_signals(data: bytes, universe: Collection[str], min_tickers: int, max_bytes: int = MAX_BYTES) -> int:
    """Check a Signals submission (rules of `read_signals`); the number of valid (universe) tickers."""
    return len(read_signals(data, universe, min_tickers, max_bytes).signal)


# --------------------------------------------------------------------------------------------
# writers


def _floats(frame: pd.DataFrame) -> bytes:
    # pandas writes the shortest repr, which reads back exactly; NaN as `nan`, so a check names it
    return frame.to_csv(lineterminator="\n", na_rep="nan").encode()


def signals_csv(signal: pd.Series | pd.DataFrame | bytes | str) -> bytes:
    """A submission as CSV `ticker,signal` (rows sorted by ticker, floats exact) from a Series
    indexed by ticker or a one-column DataFrame; bytes, or the path (str) of a file, are passed
    through as they are (`validate_signals` checks them)."""
    return submission_csv(signal, "ticker", "signal", "signal", "(0, 1)")


def universe_csv(tickers: Collection[str]) -> bytes:
    """`universe.csv`: header `ticker`, the tickers sorted."""
    return ("ticker\n" + "".join(f"{t}\n" for t in sorted(tickers))).encode()


def neutralizers_csv(neutralizers: pd.DataFrame) -> bytes:
    """`neutralizers.csv`: `ticker,<factor>...`, rows sorted by ticker, columns as given."""
    frame = neutralizers.copy()
    frame.index = pd.Index(frame.index.astype(str), name="ticker")
    return _floats(frame.sort_index())


def sample_weights_csv(weights: pd.Series) -> bytes:
    """`sample_weights.csv`: `ticker,weight`, rows sorted by ticker."""
    frame = pd.DataFrame({"weight": weights.to_numpy(dtype=float)}, index=pd.Index(weights.index.astype(str), name="ticker"))
    return _floats(frame.sort_index())


def signals_targets_csv(targets: pd.Series) -> bytes:
    """A Signals targets file: `ticker,target`, rows sorted by ticker."""
    frame = pd.DataFrame({"target": targets.to_numpy(dtype=float)}, index=pd.Index(targets.index.astype(str), name="ticker"))
    return _floats(frame.sort_index())
