"""A synthetic Signals market, for demos and tests: a ticker universe with factor structure,
the fund's per-round neutralisers, sample weights and forward returns, and a participant-side
sentiment feed that leaks part of the idiosyncratic return.

Tickers ``T0001`` ... ``T<n>`` (zero-padded to at least 4 digits, so string order = number
order). Each ticker has a fixed country (one of ``COUNTRIES``) and sector (one of ``SECTORS``),
drawn uniformly, and four style exposures (``STYLES``: beta, size, value, momentum), each a
standard normal that drifts from round to round as an AR(1) with ``STYLE_PERSISTENCE``
(momentum changes fastest). Rounds are numbered 1..R.

Round ``k``:
- universe: every ticker except a random ~``ABSENT`` share (a real universe changes too; a
  participant's signal for an absent ticker is dropped, not refused);
- forward return ``r = X f + e``: ``X`` the ticker's exposures (4 styles, country and sector
  one-hots), ``f`` the round's factor returns, drawn per round with standard deviation
  ``FACTOR_VOL`` (styles), ``COUNTRY_VOL`` and ``SECTOR_VOL``; ``e`` the idiosyncratic return,
  sd ``IDIO_VOL``. With the defaults the factors explain about 60% of the cross-sectional
  variance of the returns (averaged over rounds; ``SignalsMarket.factor_share``);
- sample weights ``v``: proportional to ``exp(size / 2)`` (bigger companies weigh more),
  scaled to mean 1 over the universe;
- neutralisers ``N`` (universe x factor columns): the exposures, orthonormalised under the
  weights, ``N^T diag(v) N = I``, which is what ``crowdstake.scoring.signals`` needs so that
  its neutral weights ``w = v (s' - N (N^T (v s')))`` have no exposure to any factor
  (``N^T w = 0``). Columns, in this (Gram-Schmidt) order: ``country_<c>`` for every country
  (together they span the constant, so ``w`` sums to 0), ``sector_<s>`` for every sector but
  the last (the sectors' sum is the constant again), then ``beta``, ``size``, ``value``,
  ``momentum``; column k is the part of exposure k orthogonal (under ``v``) to the columns
  before it, scaled to unit ``v``-norm. A column with no part left (e.g. a country with no
  ticker in the universe) is left out. Since ``X f`` lies in the span of ``N``, only ``e``
  can score alpha.

Participant side: the sentiment of ticker i before round k is
``SENTIMENT_MOMENTUM * momentum + SENTIMENT_LEAK * e / IDIO_VOL + noise`` (noise sd 1, and
the momentum part so that raw sentiment looks partly like a factor bet: neutralisation strips
it). It is given for every ticker and round, in or out of the universe.

Deterministic: numpy's PCG64 generator seeded with ``seed``, a fixed draw order, and only
elementwise products and numpy's fixed-order sums (no BLAS), so the same arguments give
bit-identical frames. Pure: nothing is written (``crowdstake.fund.signals_dataset`` writes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crowdstake.errors import InvalidInputError

COUNTRIES = ("US", "JP", "GB", "DE")
SECTORS = ("tech", "finance", "health", "energy", "consumer")
STYLES = ("beta", "size", "value", "momentum")
STYLE_PERSISTENCE = {"beta": 0.98, "size": 0.99, "value": 0.95, "momentum": 0.7}
FACTOR_VOL = {"beta": 0.04, "size": 0.015, "value": 0.015, "momentum": 0.02}
COUNTRY_VOL = 0.02
SECTOR_VOL = 0.02
IDIO_VOL = 0.035
ABSENT = 0.05
SENTIMENT_MOMENTUM = 0.5
SENTIMENT_LEAK = 0.25
MIN_TICKERS = 50  # fewer and a round's 12 factor columns leave little to score


@dataclass(frozen=True)
class SignalsRound:
    """One round of the market, every frame indexed by the round's universe, tickers sorted.

    exposures: universe x (styles, country_*, sector_*) raw exposures (one-hots 0/1);
    neutralizers: universe x factor columns, ``N^T diag(v) N = I``;
    sample_weights: mean 1; returns: the forward returns (the targets);
    idiosyncratic: ``e``, the part of the returns the factors do not explain.
    """

    round: int
    exposures: pd.DataFrame
    neutralizers: pd.DataFrame
    sample_weights: pd.Series
    returns: pd.Series
    idiosyncratic: pd.Series

    @property
    def universe(self) -> list[str]:
        return list(self.neutralizers.index)


@dataclass(frozen=True)
class SignalsMarket:
    """The whole synthetic market: its rounds (oldest first) and the sentiment feed
    (columns ticker, round, sentiment; every ticker, every round; sorted by round, ticker)."""

    tickers: list[str]
    rounds: list[SignalsRound]
    sentiment: pd.DataFrame
    seed: int

    def round(self, k: int) -> SignalsRound:
        if not 1 <= k <= len(self.rounds):
            raise InvalidInputError(f"round {k} is not in the market: rounds are 1..{len(self.rounds)}")
        return self.rounds[k - 1]

    def momentum(self, k: int) -> pd.Series:
        """The momentum signal of round k: the universe's momentum exposure (a pure factor bet)."""
        return self.round(k).exposures["momentum"].rename("signal")

    def sentiment_of(self, k: int) -> pd.Series:
        """Round k's sentiment of the universe's tickers, indexed by ticker."""
        one = self.sentiment[self.sentiment["round"] == k].set_index("ticker")["sentiment"]
        return one.reindex(self.round(k).universe).rename("signal")

    def factor_share(self) -> float:
        """The share of the returns' cross-sectional variance the factors explain, averaged over
        rounds: 1 - var(e) / var(r)."""
        shares = [1 - float(np.var(r.idiosyncratic.to_numpy())) / float(np.var(r.returns.to_numpy()))
                  for r in self.rounds]
        return sum(shares) / len(shares)


def ticker_names(n: int) -> list[str]:
    width = max(4, len(str(n)))
    return [f"T{i:0{width}d}" for i in range(1, n + 1)]


def _dot(a: np.ndarray, b: np.ndarray, v: np.ndarray) -> float:
    return float((v * a * b).sum())  # fixed-order sum, never BLAS


def orthonormal_neutralizers(exposures: pd.DataFrame, weights: pd.Series) -> pd.DataFrame:
    """Exposures (tickers x columns, in the order to keep) orthonormalised under ``weights``
    (all > 0) by modified Gram-Schmidt, twice for accuracy: ``N^T diag(v) N = I``. A column
    whose remaining part is below 1e-9 of its own norm (spanned by the earlier ones) is left
    out."""
    v = weights.reindex(exposures.index).to_numpy(dtype=float)
    if not (np.isfinite(v).all() and (v > 0).all()):
        raise InvalidInputError("the sample weights must be finite and > 0 to orthonormalise the neutralisers")
    kept: list[np.ndarray] = []
    names: list[str] = []
    for name in exposures.columns:
        x = exposures[name].to_numpy(dtype=float).copy()
        norm0 = math.sqrt(_dot(x, x, v))
        if norm0 == 0:
            continue
        for _ in range(2):  # "twice is enough" (Kahan): re-orthogonalise once
            for q in kept:
                x = x - _dot(q, x, v) * q
        norm = math.sqrt(_dot(x, x, v))
        if norm <= 1e-9 * norm0:
            continue
        kept.append(x / norm)
        names.append(name)
    return pd.DataFrame(np.column_stack(kept), index=exposures.index, columns=names)


def _neutralizer_order() -> list[str]:
    # countries span the constant; the last sector is the constant minus the others
    return [f"country_{c}" for c in COUNTRIES] + [f"sector_{s}" for s in SECTORS[:-1]] + list(STYLES)


def synth_signals_market(tickers: int = 500, rounds: int = 20, seed: int = 0) -> SignalsMarket:
    """The synthetic Signals market of the module docstring.

    @param tickers the universe's size before absences (>= MIN_TICKERS).
    @param rounds rounds 1..rounds (>= 1).
    @param seed PCG64 seed: the same arguments give bit-identical frames.
    """
    if tickers < MIN_TICKERS or rounds < 1:
        raise InvalidInputError(f"synth_signals_market needs tickers >= {MIN_TICKERS} and rounds >= 1, "
                                f"got {tickers} tickers, {rounds} rounds")
    rng = np.random.Generator(np.random.PCG64(seed))
    names = ticker_names(tickers)
    country = rng.integers(len(COUNTRIES), size=tickers)
    sector = rng.integers(len(SECTORS), size=tickers)
    onehots = {f"country_{c}": (country == j).astype(float) for j, c in enumerate(COUNTRIES)}
    onehots |= {f"sector_{s}": (sector == j).astype(float) for j, s in enumerate(SECTORS)}
    style = {s: rng.standard_normal(tickers) for s in STYLES}
    out_rounds, sentiment = [], []
    for k in range(1, rounds + 1):
        if k > 1:  # styles drift: AR(1), variance kept at 1
            for s in STYLES:
                rho = STYLE_PERSISTENCE[s]
                style[s] = rho * style[s] + math.sqrt(1 - rho * rho) * rng.standard_normal(tickers)
        f_style = {s: FACTOR_VOL[s] * rng.standard_normal() for s in STYLES}
        f_country = COUNTRY_VOL * rng.standard_normal(len(COUNTRIES))
        f_sector = SECTOR_VOL * rng.standard_normal(len(SECTORS))
        e = IDIO_VOL * rng.standard_normal(tickers)
        noise = rng.standard_normal(tickers)
        present = rng.random(tickers) >= ABSENT

        factor_part = np.zeros(tickers)
        for s in STYLES:  # terms added in one fixed order
            factor_part = factor_part + f_style[s] * style[s]
        factor_part = factor_part + f_country[country] + f_sector[sector]
        ret = factor_part + e
        sentiment.append(pd.DataFrame({
            "ticker": names, "round": k,
            "sentiment": SENTIMENT_MOMENTUM * style["momentum"] + SENTIMENT_LEAK * e / IDIO_VOL + noise,
        }))

        idx = pd.Index([t for t, p in zip(names, present) if p], name="ticker")
        exposures = pd.DataFrame({**{s: style[s] for s in STYLES}, **onehots}, index=pd.Index(names, name="ticker"))
        exposures = exposures.loc[idx]
        w = np.exp(0.5 * exposures["size"].to_numpy())
        weights = pd.Series(w / (w.sum() / w.size), index=idx, name="weight")
        neutralizers = orthonormal_neutralizers(exposures[_neutralizer_order()], weights)
        out_rounds.append(SignalsRound(
            round=k, exposures=exposures, neutralizers=neutralizers, sample_weights=weights,
            returns=pd.Series(ret[present], index=idx, name="target"),
            idiosyncratic=pd.Series(e[present], index=idx, name="idiosyncratic"),
        ))
    feed = pd.concat(sentiment, ignore_index=True)
    return SignalsMarket(tickers=names, rounds=out_rounds, sentiment=feed, seed=int(seed))
