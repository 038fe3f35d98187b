"""Input checks and id alignment: targets, stakes and predictions in; (models x ids) float
matrices on the sorted scored ids out, with every per-model problem named."""

from __future__ import annotations

import functools
import math
import weakref
from collections.abc import Mapping
from typing import Any, Union

import numpy as np
import pandas as pd

from crowdstake.errors import InvalidInputError
from crowdstake.scoring import kernels
from crowdstake.scoring.transforms import _map_blocks

Predictions = Union[pd.DataFrame, pd.Series, Mapping]


# --------------------------------------------------------------------------------------------
# input checking and alignment


def _show(v: Any) -> str:
    """Readable repr of an id or value (numpy scalars as plain Python values)."""
    if isinstance(v, np.generic):
        v = v.item()
    return repr(v)


def _ids(k: int) -> str:
    return f"{int(k)} id" if k == 1 else f"{int(k)} ids"


def _clean_targets(targets: Any) -> tuple[pd.Index, np.ndarray]:
    """Scored ids (sorted) and their targets; raises InvalidInputError for unusable targets."""
    if isinstance(targets, pd.DataFrame) and targets.shape[1] == 1:
        targets = targets.iloc[:, 0]
    if not isinstance(targets, pd.Series):
        raise InvalidInputError("targets must be a pandas Series indexed by id")
    if not _is_numeric(targets.dtype) or pd.api.types.is_bool_dtype(targets.dtype):
        raise InvalidInputError(f"targets must be numeric, got dtype {targets.dtype}")
    if targets.index.has_duplicates:
        dup = targets.index[targets.index.duplicated()][0]
        raise InvalidInputError(f"targets have duplicated ids, e.g. {_show(dup)}; give one target per id")
    # no copy for float64 targets (read only); other dtypes may hold pandas' NA
    t = targets.to_numpy() if targets.dtype == np.float64 else targets.to_numpy(dtype=float, na_value=np.nan)
    if np.isinf(t).any():
        raise InvalidInputError("targets contain infinite values; targets must be finite (NaN = not scored)")
    keep = ~np.isnan(t)
    if keep.sum() < 2:
        raise InvalidInputError("targets need at least 2 ids with a finite value")
    if keep.all():
        ids, order = _sorted_with_order(targets.index)
    else:  # NaN targets are dropped before sorting: their ids need not be comparable
        ids, order = _sorted_with_order(targets.index[keep])
        order = np.flatnonzero(keep)[order]
    values = t[order]
    if values.min() == values.max():
        raise InvalidInputError("targets are constant; no score can be computed")
    return ids, values


@functools.lru_cache(maxsize=64)
def _is_numeric(dtype: Any) -> bool:
    """pandas' is_numeric_dtype, remembered per dtype (15 us a call, a tenth of a small score)."""
    return pd.api.types.is_numeric_dtype(dtype)


def _sorted_ids(index: pd.Index) -> pd.Index:
    return _sorted_with_order(index)[0]


# Sorted form of each Index seen, while it lives: (source weakref, sorted ids, order), keyed
# by id() of the source and of the sorted ids. A pandas Index is immutable, so this cannot go
# stale; and sorting string ids is most of the time of a one-model call.
_BY_SOURCE: dict = {}
_BY_SORTED: dict = {}


def _sorted_with_order(index: pd.Index) -> tuple[pd.Index, np.ndarray]:
    """``index.sort_values(return_indexer=True)``, remembered while ``index`` lives."""
    hit = _BY_SOURCE.get(id(index))
    if hit is not None and hit[0]() is index:
        return hit[1], hit[2]
    try:
        ids, order = index.sort_values(return_indexer=True)
    except TypeError as exc:
        raise InvalidInputError(f"ids must be mutually comparable to be sorted ({exc})") from None
    if ids is index:  # already sorted (a RangeIndex): the entry must not keep index alive
        ids = index.view()
    order = np.asarray(order, dtype=np.intp)
    order.setflags(write=False)
    key, sorted_key = id(index), id(ids)

    def forget(_ref, key=key, sorted_key=sorted_key):
        _BY_SOURCE.pop(key, None)
        _BY_SORTED.pop(sorted_key, None)

    entry = (weakref.ref(index, forget), ids, order)
    _BY_SOURCE[key] = _BY_SORTED[sorted_key] = entry
    return ids, order


def _positions(index: pd.Index, ids: pd.Index) -> np.ndarray:
    """``index.get_indexer(ids)``; without a hash lookup per id when ``ids`` is the sorted form
    of ``index`` (or of an Index it is a view of), as when predictions and targets share ids."""
    hit = _BY_SORTED.get(id(ids))
    if hit is not None and hit[1] is ids:
        source = hit[0]()
        if source is not None and (index is source or index.is_(source)):
            return hit[2]
    return index.get_indexer(ids)


def _inspect(predictions: Predictions, ids: pd.Index, unit_interval: bool, name: Any = None, reduce=None):
    """Align predictions to ``ids`` and find every per-model problem, without raising for them.

    @param reduce optional ``fn(rows, lo, hi)``: one value per row of a block of aligned rows
           (with each row's min and max, NaN for a row holding NaN or infinity). Given, each
           block of a DataFrame is reduced as soon as it is gathered, while it is in cache, and
           the aligned matrix is never built.
    @return (names, x, reasons, constant): model names in input order; x, a float array of
            shape (models, ids) with NaN where no usable value exists, or with ``reduce`` the
            value it gave each model (meaningless for a model with reasons); reasons, a list of
            problem descriptions per model (empty when fine); constant, a bool per model.
            ``name`` names a Series input (default: its own name, else 0).
    """
    n = len(ids)
    if isinstance(predictions, (pd.DataFrame, pd.Series)):  # a Series is a one-column frame
        if isinstance(predictions, pd.Series):
            if name is None:
                name = predictions.name if predictions.name is not None else 0
            names, dtypes = [name], [predictions.dtype]
        else:
            names = list(predictions.columns)
            # one column: its values' dtype, if numeric, saves building the dtypes Series
            # (30 us, much of a one-model call)
            one = predictions.to_numpy().dtype if len(names) == 1 else None
            dtypes = [one] if one is not None and one.kind in "biufc" else list(predictions.dtypes)
            if predictions.columns.has_duplicates:
                raise InvalidInputError("model names (columns) must be unique")
        common: list[str] = []
        frame = predictions
        if frame.index.has_duplicates:
            dup = frame.index.duplicated(keep="first")
            common.append(
                f"duplicated ids: {_ids(np.unique(frame.index[dup]).size)} listed more than once,"
                f" e.g. {_show(frame.index[dup][0])}"
            )
            frame = frame[~dup]
        # row of each scored id (-1: absent, filled with NaN below): one hash lookup finds both
        # the missing ids and where to gather from (string ids make every lookup costly)
        pos = _positions(frame.index, ids)
        absent = pos < 0
        if absent.any():
            common.append(
                f"missing ids: {int(absent.sum())} of {n} scored ids have no prediction, e.g. {_show(ids[absent][0])}"
            )
        else:
            absent = None
        # gathering straight from the frame's (models x ids) values costs one copy, where reindex
        # and a transpose would cost two
        reasons = [list(common) for _ in names]
        numeric = [_is_numeric(dt) for dt in dtypes]
        skip = ~np.array(numeric, dtype=bool)
        for j in np.flatnonzero(skip) if not all(numeric) else ():  # (a test first: 1 us, not 5)
            reasons[j].append(f"non-numeric predictions (dtype {dtypes[j]})")
        if all(numeric) and n:
            v = frame.to_numpy(dtype=float).reshape(len(frame), -1).T
            lo, hi = np.empty(len(names)), np.empty(len(names))
            x = np.empty((len(names), n)) if reduce is None else None
            reduced = None if reduce is None else np.empty(len(names))

            def gather(blk: slice) -> None:  # and each row's min and max while it is in cache
                xb = x[blk] if reduce is None else np.empty((blk.stop - blk.start, n))
                kernels.gather_rows(v[blk], pos, xb, lo[blk], hi[blk])
                if reduce is not None:
                    reduced[blk] = reduce(xb, lo[blk], hi[blk])

            _map_blocks(gather, len(names), n, compiled=True)
        else:
            x = np.full((len(names), n), np.nan)
            for j, ok in enumerate(numeric):
                if ok:
                    x[j] = frame.iloc[:, j].to_numpy(dtype=float)[pos]
            if absent is not None:
                x[:, absent] = np.nan
            lo = hi = reduced = None
        absent_mask = np.zeros(n, bool) if absent is None else absent  # the same for every model
    elif isinstance(predictions, Mapping):
        names = list(predictions.keys())
        lo = hi = reduced = None
        x = np.full((len(names), n), np.nan)
        absent_mask = np.zeros((len(names), n), bool)
        skip = np.zeros(len(names), bool)  # rows with no values to check
        reasons = [[] for _ in names]
        aligned: dict[int, tuple] = {}  # id(index) -> (index, kept alive; its rows for ids; present)
        for j, name in enumerate(names):  # per model, but only to align; the maths is vectorised
            s = predictions[name]
            if not isinstance(s, pd.Series):
                reasons[j].append(f"predictions must be a pandas Series indexed by id, got {type(s).__name__}")
                skip[j] = True
                continue
            if not _is_numeric(s.dtype):
                reasons[j].append(f"non-numeric predictions (dtype {s.dtype})")
                skip[j] = True
                continue
            if s.index.has_duplicates:
                dup = s.index.duplicated(keep="first")
                reasons[j].append(
                    f"duplicated ids: {_ids(np.unique(s.index[dup]).size)} listed more than once,"
                    f" e.g. {_show(s.index[dup][0])}"
                )
                s = s[~dup]
            if id(s.index) not in aligned:  # files of one round share one id column: align it once
                pos = s.index.get_indexer(ids)
                aligned[id(s.index)] = (s.index, pos, pos >= 0)
            _, pos, present = aligned[id(s.index)]
            if not present.all():
                absent_mask[j] = ~present
                first = ids[~present][0]
                reasons[j].append(
                    f"missing ids: {int((~present).sum())} of {n} scored ids have no prediction, e.g. {_show(first)}"
                )
            x[j, present] = s.to_numpy(dtype=float)[pos[present]]  # the rest stays NaN, as reindex(ids) gives it
    else:
        raise InvalidInputError(
            "predictions must be a DataFrame (ids x models), a Series, or a mapping model -> Series"
        )

    # value checks, all models at once; the detailed masks are built only for failing models
    m = len(names)
    if lo is None:  # NaN wherever a row holds a NaN
        lo = x.min(axis=1) if n else np.zeros(m)
        hi = x.max(axis=1) if n else np.zeros(m)
    suspect = ~(np.isfinite(lo) & np.isfinite(hi))
    if unit_interval:
        suspect |= (lo < 0) | (hi > 1)
    suspect &= ~skip
    for j in np.flatnonzero(suspect) if suspect.any() else ():
        gone = absent_mask[j] if absent_mask.ndim == 2 else absent_mask
        row = x[j] if x is not None else np.where(gone, np.nan, v[j][pos])  # gathered again: rare
        finite = np.isfinite(row)
        checks = [("NaN predictions", np.isnan(row) & ~gone, False), ("infinite predictions", np.isinf(row), False)]
        if unit_interval:
            checks.append(("predictions outside [0, 1]", finite & ((row < 0) | (row > 1)), True))
        for label, mask, show_value in checks:
            count = int(mask.sum())
            if count:
                i = int(mask.argmax())
                detail = f"{_show(row[i])} at id {_show(ids[i])}" if show_value else f"id {_show(ids[i])}"
                reasons[j].append(f"{label}: {_ids(count)}, e.g. {detail}")
        lo[j] = row[finite].min() if finite.any() else np.nan
        hi[j] = row[finite].max() if finite.any() else np.nan
    constant = lo == hi  # over the finite values; False for a row with none
    for j in np.flatnonzero(constant) if constant.any() else ():
        reasons[j].append(f"constant predictions: every value is {_show(lo[j])}, so they cannot be ranked")
    if reduce is not None and reduced is None:  # not a numeric DataFrame: reduce the built matrix

        def reduce_block(blk: slice) -> None:
            reduced[blk] = reduce(x[blk], lo[blk], hi[blk])

        reduced = np.empty(m)
        _map_blocks(reduce_block, m, n, compiled=True)
    return names, (x if reduce is None else reduced), reasons, constant


def _strict(predictions: Predictions, ids: pd.Index, unit_interval: bool = False, name: Any = None, reduce=None):
    """Aligned (models x ids) matrix (or with ``reduce``, its value per model: see _inspect) for
    the low-level functions; raises for any bad model except a constant one, which
    numerai-tools scores as NaN and so do we."""
    names, x, reasons, constant = _inspect(predictions, ids, unit_interval, name, reduce)
    bad = [(nm, r) for nm, r, c in zip(names, reasons, constant) if r and not (c and len(r) == 1)]
    if bad:
        detail = "; ".join(f"model {_show(nm)}: " + ", ".join(r) for nm, r in bad[:10])
        more = f" (and {len(bad) - 10} more)" if len(bad) > 10 else ""
        raise InvalidInputError(
            f"invalid predictions for {len(bad)} model{'' if len(bad) == 1 else 's'}: {detail}{more}."
            " Fix them, or use round_scores, which scores bad models at the floor."
        )
    return names, x, constant


def _wrap_scores(values: np.ndarray, names: list, predictions: Predictions):
    """A float for a Series input, else a Series per model in input order."""
    if isinstance(predictions, pd.Series):
        return float(values[0])
    if isinstance(predictions, pd.DataFrame) and predictions.columns.name is None:
        index = predictions.columns  # the names, without inferring an Index from a list again
    else:
        index = pd.Index(names)
    return pd.Series(values, index=index, copy=False)  # float64 already: no dtype to infer


def _clean_stakes(stakes: Any) -> dict:
    """Model -> stake as float; raises for negative, NaN or infinite stakes."""
    if isinstance(stakes, pd.Series):
        if stakes.index.has_duplicates:
            raise InvalidInputError("stakes have duplicated model names")
        items = list(stakes.items())
    elif isinstance(stakes, Mapping):
        items = list(stakes.items())
    else:
        raise InvalidInputError("stakes must be a mapping or Series: model -> stake")
    out = {}
    for name, v in items:
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise InvalidInputError(f"stake of model {_show(name)} is not a number: {_show(v)}") from None
        if not math.isfinite(f) or f < 0:
            raise InvalidInputError(f"stake of model {_show(name)} must be finite and >= 0, got {_show(v)}")
        out[name] = f
    return out


def _sort_key(name: Any):
    # models sort by type name then value, so mixed int/str names still have one order
    return (type(name).__name__, name)
