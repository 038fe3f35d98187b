"""The one predictions format and its validator, used by the store on upload, by the
participant's check before anything is sent, and by the oracle on the files it scores:
`id,prediction`, one id a line, each id once, values numbers in [0, 1]; the fund's targets
files, read by the same rules (`id,target`: the store on publication, the fund's check before
it, the oracle on what it scores); and live ids files.

A file is read by the first of three readers that takes it, all to the same verdict and the
same floats bit for bit (a generated-file test holds them to it): numpy for the common shape
(`_columns`), a C-speed regex for any other well-formed file, and the line-by-line scan, which
alone raises, naming the first bad line. Nothing here keeps state but a small cache of id columns
already decoded (immutable indexes, shared by the files of a round that list the same ids)."""

from __future__ import annotations

import math
import re
from collections.abc import Collection

import numpy as np
import pandas as pd

from crowdstake.errors import InvalidInputError, InvalidPredictionsError, InvalidTargetsError

MAX_BYTES = 32 * 2**20  # a predictions file or score table, at most

# ASCII only: Python's \\d and float() also take Arabic-Indic or fullwidth digits, and str.strip()
# a no-break space; a file the store accepts must read back to the same numbers everywhere.
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", re.ASCII)
_ID = re.compile(r"[^\s,\"']+", re.ASCII)
_BLANK = " \t"  # the only spaces allowed around a value


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
    if not ids:
        raise InvalidInputError("the live ids file lists no id: a round needs at least one to score")
    return ids


_NUM = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_ROW = r"[^\s,\"']+," + _NUM
_WELL_FORMED = {column: re.compile(rf"id,{column}\r?\n(?:{_ROW}\r?\n)*(?:{_ROW}\r?)?", re.ASCII)
                for column in ("prediction", "target")}
_ERRORS = {"prediction": InvalidPredictionsError, "target": InvalidTargetsError}
_ROWS = re.compile(r"^([^\s,\"']+),(\S+?)\r?$", re.MULTILINE | re.ASCII)


def validate_predictions(data: bytes, live_ids: Collection[str] | None = None, max_bytes: int = MAX_BYTES) -> int:
    """Check a predictions file: header `id,prediction`; one `id,value` a line; each id once and,
    when `live_ids` is given, exactly those ids; values plain ASCII decimal numbers in [0, 1], no
    NaN, not all the same; at most `max_bytes`. Returns the number of rows; raises InvalidPredictionsError naming
    the first bad line."""
    return len(_parse(data, live_ids, max_bytes)[0])


def read_predictions(data: bytes, max_bytes: int = MAX_BYTES, live_ids: Collection[str] | None = None) -> pd.Series:
    """A valid predictions file as floats indexed by id (str), read by the same rules as
    `validate_predictions` (so the store accepts exactly what the oracle can score), exactly
    `live_ids` when given; InvalidPredictionsError names the first bad line of an invalid one."""
    ids, values = _parse(data, live_ids, max_bytes)
    return pd.Series(values, index=ids, copy=False)  # float64 already: no dtype to resolve, no copy


def read_predictions_either_order(data: bytes, max_bytes: int = MAX_BYTES) -> pd.Series:
    """Like `read_predictions`, but the header may also be `prediction,id` (a participant's own
    file, e.g. for `crowdstake diagnostics`; the store takes `id,prediction` only). The two
    fields of each line are swapped back first, line for line, so the rules and the line
    numbers in a message are the same."""
    if isinstance(data, (bytes, bytearray)) and len(data) <= max_bytes:
        head = bytes(data).split(b"\n", 1)[0].rstrip(b"\r")
        if head == b"prediction,id":
            def swapped(line: bytes) -> bytes:
                body, cr = (line[:-1], b"\r") if line.endswith(b"\r") else (line, b"")
                fields = body.split(b",")
                return (fields[1] + b"," + fields[0] + cr) if len(fields) == 2 else line  # else: the scan names it
            data = b"\n".join(swapped(line) for line in bytes(data).split(b"\n"))
    return read_predictions(data, max_bytes)


def validate_targets(data: bytes, live_ids: Collection[str] | None = None, max_bytes: int = MAX_BYTES) -> int:
    """Check a round's targets file by the predictions' rules: header `id,target`; one
    `id,value` a line; each id once and, when `live_ids` is given, exactly those ids; values
    plain ASCII decimal numbers in [0, 1], no NaN, not all the same; at most `max_bytes`.
    Returns the number of rows; raises InvalidTargetsError naming the first bad line."""
    return len(_parse(data, live_ids, max_bytes, "target")[0])


def read_targets_data(data: bytes, max_bytes: int = MAX_BYTES) -> pd.Series:
    """A valid targets file as floats indexed by id (str), read by `validate_targets`' rules (so
    every operator reads the committed bytes to the same numbers)."""
    ids, values = _parse(data, None, max_bytes, "target")
    return pd.Series(values, index=pd.Index(ids, name="id"), dtype=float, name="target")


def _parse(data: bytes, live_ids: Collection[str] | None, max_bytes: int,
           column: str = "prediction") -> tuple[pd.Index | list[str], np.ndarray]:
    """(ids, values) of a valid file of `column`s ("prediction" or "target"). Three readers, one
    verdict: the common shape goes through numpy (`_columns`), any other well-formed file through
    a C-speed regex, and any doubt to the line-by-line scan, which alone raises and finds the
    first problem (so every message comes from one place)."""
    if len(data) <= max_bytes:
        data = bytes(data)
        read = _columns(data, column) or _regex_rows(data, column)
        if read is not None:
            ids, unique, values = read
            expected = live_ids if live_ids is None or isinstance(live_ids, (set, frozenset)) else set(live_ids)
            if (unique is not None and (expected is None or _same(unique, expected))
                    and not np.isnan(values).any() and (values >= 0).all() and (values <= 1).all()
                    and (len(values) == 0 or values.min() < values.max())):
                return ids, values
    return _scan(data, live_ids, max_bytes, column)


_SAME: dict[tuple[int, int], tuple[frozenset, Collection[str]]] = {}  # pairs found equal, held so ids stay theirs


def _same(unique: frozenset, expected) -> bool:
    """unique == expected, remembered for immutable sets (a round's files share one id column
    and are checked against one live set: 0.1 ms a file saved)."""
    if not isinstance(expected, frozenset):
        return unique == expected
    if (id(unique), id(expected)) in _SAME:
        return True
    if unique != expected:
        return False
    if len(_SAME) >= _ID_COLUMNS_KEPT:
        _SAME.clear()
    _SAME[id(unique), id(expected)] = (unique, expected)
    return True


def _regex_rows(data: bytes, column: str) -> tuple[list[str], frozenset | None, np.ndarray] | None:
    """(ids, their set or None if one repeats, values) of a file the grammar accepts, else None."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not _WELL_FORMED[column].fullmatch(text):
        return None
    rows = _ROWS.findall(text, text.index("\n") + 1)
    ids = [r[0] for r in rows]
    unique = frozenset(ids)
    return ids, (unique if len(unique) == len(ids) else None), np.array([r[1] for r in rows], dtype=float)


_HEADER = {column: f"id,{column}\n".encode() for column in _ERRORS}
_BAD_BYTES = (b" ", b"\t", b"\r", b"\v", b"\f", b'"', b"'")  # never in the common shape, ids and values alike
_POW10 = np.array([10.0**k for k in range(16)])  # exact
_INT_POW10 = 10 ** np.arange(16, dtype=np.int64)
_MAX_DIGITS = 15  # below 2**53: the mantissa is an exact float, so mantissa / 10**k is float(text) exactly
_ID_COLUMNS: dict[bytes, tuple[pd.Index, frozenset | None]] = {}  # a round's files share their id column: read it once
_ID_COLUMNS_KEPT = 16


def _columns(data: bytes, column: str) -> tuple[pd.Index, frozenset | None, np.ndarray] | None:
    """The common shape read without a Python step per line: the header, then `id,value\n`
    lines to a final newline, values unsigned decimals of at most 15 digits (`0.1234`, `1`,
    `.5`, `0.`): (ids, their set or None if one repeats, values), else None (the other readers
    decide). Each value is its digits as an integer over a power of ten, both exact floats, so
    the one IEEE division gives what float() gives, bit for bit. A column of ids already seen
    (every file of a round lists the same ids) is not decoded again."""
    header = _HEADER[column]
    if not data.startswith(header) or not data.endswith(b"\n") or len(data) == len(header):
        return None
    try:
        data.decode("utf-8")  # ids may be any UTF-8 but spaces, commas and quotes
    except UnicodeDecodeError:
        return None
    b = np.frombuffer(data, np.uint8)[len(header):]
    if any(c in data for c in _BAD_BYTES):
        return None
    nl, comma = np.flatnonzero(b == 10), np.flatnonzero(b == 44)
    if len(nl) != len(comma):
        return None
    starts = np.concatenate(([0], nl[:-1] + 1))
    length = nl - comma - 1  # each value's bytes
    if not ((starts < comma) & (length > 0)).all():  # one comma a line, a non-empty id and value
        return None
    width = int(length.max())
    if width > _MAX_DIGITS + 1:  # more digits than an exact mantissa holds (or not a number): the other readers
        return None
    # The values as a rows x width matrix of digits, right-aligned (each value's last byte in the
    # last column, zeros before its first): a few passes over about a byte a cell, no step per
    # value. Read as one integer of `width` digits, a dot counting as a 0, each digit left of the
    # dot is ten times too much: the part above the dot's place is divided by ten, exactly.
    cell = nl[:, None] - width + np.arange(width)  # each cell's position in b
    outside = cell <= comma[:, None]
    digit = b.take(cell, mode="clip") - np.uint8(48)  # a dot: 254; anything but digits and dots: over 9
    digit[outside] = 0
    dot = digit == 254
    if ((digit > 9) & ~dot).any():  # something other than digits and dots
        return None
    rows, dot_column = np.divmod(np.flatnonzero(dot), width)
    has_dot = np.zeros(len(nl), bool)
    has_dot[rows] = True
    digits = length - has_dot
    if (np.diff(rows) == 0).any() or (digits == 0).any() or (digits > _MAX_DIGITS).any():  # two dots, no digit
        return None
    fraction = np.zeros(len(nl), np.intp)
    fraction[rows] = width - 1 - dot_column  # digits after the dot
    digit[dot] = 0
    raw = digit @ _INT_POW10[width - 1::-1]  # int64: below 10**16
    low = raw % _INT_POW10[fraction]
    mantissa = np.where(has_dot, low + (raw - low) // 10, raw)  # below 10**15: an exact float
    values = mantissa / _POW10[fraction]
    keep = np.ones(len(b), bool)
    keep[cell[~outside]] = False
    key = b[keep].tobytes()  # the id column with its separators
    known = _ID_COLUMNS.get(key)
    if known is None:
        index = pd.Index(key.decode("utf-8").split(",\n")[:-1])
        known = (index, frozenset(index) if index.is_unique else None)
        if len(_ID_COLUMNS) >= _ID_COLUMNS_KEPT:
            _ID_COLUMNS.clear()
        _ID_COLUMNS[key] = known
    return known[0], known[1], values


def _scan(data: bytes, live_ids: Collection[str] | None, max_bytes: int,
          column: str = "prediction") -> tuple[list[str], np.ndarray]:
    """Line by line: the first problem, with its line number."""

    def bad(message: str, status: int = 422):
        return _ERRORS[column](message, status)

    if len(data) > max_bytes:
        raise bad(f"the file is {len(data):,} bytes, over the store's limit of {max_bytes:,}", 413)
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as e:
        raise bad(f"the file is not UTF-8 text (byte {e.start})") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline
    if not lines or lines[0].rstrip("\r") != f"id,{column}":
        first = lines[0].rstrip("\r")[:80] if lines else ""
        raise bad(f"line 1: the header must be `id,{column}`, got {first!r}")
    expected = set(live_ids) if live_ids is not None else None
    seen: dict[str, float] = {}
    for n, line in enumerate(lines[1:], start=2):
        line = line.rstrip("\r")
        fields = line.split(",")
        if len(fields) != 2:
            raise bad(f"line {n}: expected 2 fields `id,{column}`, got {len(fields)}: {line[:80]!r}")
        ident, value = fields
        if not _ID.fullmatch(ident):
            raise bad(f"line {n}: id {ident[:80]!r} is empty or contains a space or quote")
        if ident in seen:
            raise bad(f"line {n}: id {ident!r} appears twice")
        if expected is not None and ident not in expected:
            raise bad(f"line {n}: id {ident!r} is not a live id of this round")
        v = value.strip(_BLANK)
        if v.lower() in ("nan", "+nan", "-nan"):
            raise bad(f"line {n}: {column} for id {ident!r} is NaN")
        if not _NUMBER.fullmatch(v):
            raise bad(f"line {n}: {column} {value[:80]!r} for id {ident!r} is not a number")
        x = float(v)
        if not (0.0 <= x <= 1.0) or math.isnan(x):
            raise bad(f"line {n}: {column} {v} for id {ident!r} is outside [0, 1]")
        seen[ident] = x
    if expected is not None and len(seen) != len(expected):
        missing = sorted(expected - seen.keys())
        ids = f"{len(missing)} live id{'' if len(missing) == 1 else 's'}"
        raise bad(f"line {len(lines) + 1}: the file ends with {ids} missing, first {missing[0]!r}")
    values = np.array(list(seen.values()), dtype=float)
    if len(values) and values.min() == values.max():  # the oracle could only score it at the floor
        raise bad(f"every prediction is {values[0]:g}: constant predictions cannot be ranked, so they would "
                  "score at the floor" if column == "prediction" else
                  f"every target is {values[0]:g}: constant targets cannot rank any model")
    return list(seen), values


def predictions_csv(predictions: pd.DataFrame | pd.Series | bytes | str) -> bytes:
    """Predictions as the store's CSV (`id,prediction`, rows sorted by id, floats written so they
    read back exactly): from a Series indexed by id, a one-column DataFrame indexed by id, or
    the bytes or path of a CSV file (passed through as it is; `validate_predictions` checks it)."""
    return submission_csv(predictions, "id", "prediction", "predictions", "[0, 1]")


def submission_csv(values: pd.DataFrame | pd.Series | bytes | str, key: str, column: str, what: str,
                   bounds: str) -> bytes:
    """A one-value-per-key submission as CSV `<key>,<column>` (rows sorted by key, floats exact):
    from a Series indexed by key or a one-column DataFrame; bytes, or the path (str) of a file,
    are passed through as they are (the validators check them). `what` and `bounds` word the errors."""
    if isinstance(values, pd.DataFrame):
        if values.shape[1] != 1:
            raise InvalidInputError(f"a {what} DataFrame needs exactly one column, indexed by {key}")
        values = values.iloc[:, 0]
    if isinstance(values, pd.Series):
        try:
            numbers = values.to_numpy(dtype=float)
        except (TypeError, ValueError):
            raise InvalidInputError(f"{what} must be numbers in {bounds}, one per {key}") from None
        frame = pd.DataFrame({column: numbers}, index=pd.Index(values.index.astype(str), name=key))
        # NaN as `nan`, not an empty field, so the check says "is NaN"
        return frame.sort_index().to_csv(lineterminator="\n", na_rep="nan").encode()
    if isinstance(values, str):
        try:
            with open(values, "rb") as f:
                return f.read()
        except OSError as e:
            raise InvalidInputError(f"cannot read {what} file {values}: {e.strerror}") from None
    return bytes(values)
