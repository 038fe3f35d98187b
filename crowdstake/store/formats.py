"""The one predictions format and its validator, used by the store on upload, by the
participant's check before anything is sent, and by the oracle on the files it scores:
`id,prediction`, one id a line, each id once, values numbers in [0, 1]; and live ids files."""

from __future__ import annotations

import io
import math
import re
from collections.abc import Collection

import pandas as pd

from crowdstake.errors import InvalidInputError, InvalidPredictionsError

MAX_BYTES = 32 * 2**20  # a predictions file or score table, at most

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_ID = re.compile(r"[^\s,\"']+")


def parse_live_ids(data: bytes) -> list[str]:
    """A live ids file: the header `id`, then one id a line."""
    lines = data.decode("utf-8").splitlines()
    if not lines or lines[0].strip() != "id":
        raise InvalidInputError("a live ids file starts with the header line `id`")
    ids = [line.strip() for line in lines[1:] if line.strip()]
    for i in ids:
        if not _ID.fullmatch(i):
            raise InvalidInputError(f"live id {i[:80]!r} contains a comma, quote or space")
    if len(set(ids)) != len(ids):
        raise InvalidInputError("the live ids contain a duplicate")
    return ids


_NUM = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_ROW = r"[^\s,\"']+," + _NUM
_WELL_FORMED = re.compile(rf"id,prediction\r?\n(?:{_ROW}\r?\n)*(?:{_ROW}\r?)?")
_ROWS = re.compile(r"^([^\s,\"']+),(\S+?)\r?$", re.MULTILINE)


def validate_predictions(data: bytes, live_ids: Collection[str] | None = None, max_bytes: int = MAX_BYTES) -> int:
    """Check a predictions file: header `id,prediction`; one `id,value` a line; each id once and,
    when `live_ids` is given, exactly those ids; values numbers in [0, 1], no NaN; at most
    `max_bytes`. Returns the number of rows; raises InvalidPredictionsError naming the first bad line."""
    if len(data) <= max_bytes:  # fast path for good files (C-speed regex, numpy); errors come from the scan below
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None and _WELL_FORMED.fullmatch(text):
            import numpy as np

            rows = _ROWS.findall(text, text.index("\n") + 1)
            ids = [r[0] for r in rows]
            values = np.array([r[1] for r in rows], dtype=float)
            unique = set(ids)
            if (len(unique) == len(ids) and (live_ids is None or unique == (live_ids if isinstance(live_ids, (set, frozenset)) else set(live_ids)))
                    and not np.isnan(values).any() and (values >= 0).all() and (values <= 1).all()):
                return len(ids)
    return _scan_predictions(data, live_ids, max_bytes)


def _scan_predictions(data: bytes, live_ids: Collection[str] | None, max_bytes: int) -> int:
    """Line by line: the first problem, with its line number."""

    def bad(message: str, status: int = 422):
        return InvalidPredictionsError(message, status)

    if len(data) > max_bytes:
        raise bad(f"the file is {len(data):,} bytes, over the store's limit of {max_bytes:,}", 413)
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as e:
        raise bad(f"the file is not UTF-8 text (byte {e.start})") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline
    if not lines or lines[0].rstrip("\r") != "id,prediction":
        first = lines[0].rstrip("\r")[:80] if lines else ""
        raise bad(f"line 1: the header must be `id,prediction`, got {first!r}")
    expected = set(live_ids) if live_ids is not None else None
    seen: set[str] = set()
    for n, line in enumerate(lines[1:], start=2):
        line = line.rstrip("\r")
        fields = line.split(",")
        if len(fields) != 2:
            raise bad(f"line {n}: expected 2 fields `id,prediction`, got {len(fields)}: {line[:80]!r}")
        ident, value = fields
        if not _ID.fullmatch(ident):
            raise bad(f"line {n}: id {ident[:80]!r} is empty or contains a space or quote")
        if ident in seen:
            raise bad(f"line {n}: id {ident!r} appears twice")
        if expected is not None and ident not in expected:
            raise bad(f"line {n}: id {ident!r} is not a live id of this round")
        seen.add(ident)
        v = value.strip()
        if v.lower() in ("nan", "+nan", "-nan"):
            raise bad(f"line {n}: prediction for id {ident!r} is NaN")
        if not _NUMBER.fullmatch(v):
            raise bad(f"line {n}: prediction {value[:80]!r} for id {ident!r} is not a number")
        x = float(v)
        if not (0.0 <= x <= 1.0) or math.isnan(x):
            raise bad(f"line {n}: prediction {v} for id {ident!r} is outside [0, 1]")
    if expected is not None and len(seen) != len(expected):
        missing = sorted(expected - seen)
        raise bad(f"line {len(lines) + 1}: the file ends with {len(missing)} live id(s) missing, first {missing[0]!r}")
    return len(seen)


def read_predictions(data: bytes, max_bytes: int = MAX_BYTES) -> pd.Series:
    """A valid predictions file as floats indexed by id (str); InvalidPredictionsError names
    the first bad line of an invalid one."""
    validate_predictions(data, None, max_bytes)
    frame = pd.read_csv(io.BytesIO(data), dtype={"id": str, "prediction": float})
    return pd.Series(frame["prediction"].to_numpy(), index=frame["id"].to_numpy())


def predictions_csv(predictions: pd.DataFrame | pd.Series | bytes | str) -> bytes:
    """Predictions as the store's CSV (`id,prediction`, rows sorted by id, floats written so they
    read back exactly): from a Series indexed by id, a one-column DataFrame indexed by id, or
    the bytes or path of a CSV file (passed through as it is; `validate_predictions` checks it)."""
    if isinstance(predictions, pd.DataFrame):
        if predictions.shape[1] != 1:
            raise InvalidInputError("a predictions DataFrame needs exactly one column, indexed by id")
        predictions = predictions.iloc[:, 0]
    if isinstance(predictions, pd.Series):
        try:
            values = predictions.to_numpy(dtype=float)
        except (TypeError, ValueError):
            raise InvalidInputError("predictions must be numbers in [0, 1], one per id") from None
        frame = pd.DataFrame({"prediction": values},
                             index=pd.Index(predictions.index.astype(str), name="id"))
        return frame.sort_index().to_csv(lineterminator="\n").encode()
    if isinstance(predictions, str):
        try:
            with open(predictions, "rb") as f:
                return f.read()
        except OSError as e:
            raise InvalidInputError(f"cannot read predictions file {predictions}: {e.strerror}") from None
    return bytes(predictions)
