"""An example Signals participant: a signal for one round from a sentiment data file and the
round's universe (what `crowdstake data signals` writes under participant/ and public/).

    from crowdstake.sim.signals_example import signal_from_sentiment
    from crowdstake.store.signals_formats import signals_csv
    signal = signal_from_sentiment("out/participant/sentiment.csv", "out/public/round-3/universe.csv", 3)
    open("signal.csv", "wb").write(signals_csv(signal))

The signal is the sentiment's rank among the universe's tickers, mapped into (0, 1) as
``(rank - 0.5) / n`` (ties share their mean rank), so it passes `validate_signals`. Raw
sentiment is partly a momentum bet; the round's scoring neutralises that part away, so only its
edge on the idiosyncratic return scores. Deterministic: the same files give the same Series.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import pandas as pd

from crowdstake.errors import InvalidInputError
from crowdstake.store.signals_formats import read_universe

SENTIMENT_COLUMNS = ["ticker", "round", "sentiment"]


def read_sentiment(path: str | Path) -> pd.DataFrame:
    """A sentiment file (`ticker,round,sentiment`, one row per ticker and round)."""
    try:
        frame = pd.read_csv(path, dtype={"ticker": str})
    except (OSError, ValueError) as e:
        raise InvalidInputError(f"cannot read sentiment file {path}: {e}") from None
    if list(frame.columns) != SENTIMENT_COLUMNS:
        raise InvalidInputError(f"{path}: the header must be `{','.join(SENTIMENT_COLUMNS)}`; "
                                "write it with `crowdstake data signals`")
    return frame


def signal_from_sentiment(sentiment: pd.DataFrame | str | Path, universe: Collection[str] | str | Path,
                          round_number: int) -> pd.Series:
    """The example signal of round `round_number`: ranked sentiment of the universe's tickers in
    (0, 1), indexed by ticker (sorted), named ``signal``.

    @param sentiment a frame with columns ticker, round, sentiment, or the path of such a CSV.
    @param universe the round's tickers, or the path of its universe.csv.
    @raise InvalidInputError if the sentiment has no value for a ticker of the round.
    """
    frame = sentiment if isinstance(sentiment, pd.DataFrame) else read_sentiment(sentiment)
    if isinstance(universe, (str, Path)):
        universe = read_universe(Path(universe).read_bytes())
    tickers = sorted(universe)
    one = frame[frame["round"] == round_number].set_index("ticker")["sentiment"]
    values = one.reindex(tickers)
    if values.isna().any():
        missing = values.index[values.isna()][0]
        raise InvalidInputError(f"the sentiment has no value for ticker {missing!r} in round {round_number}; "
                                "check the round number, or drop tickers you have no data for")
    ranks = values.rank(method="average")
    return ((ranks - 0.5) / len(ranks)).rename("signal").rename_axis("ticker")
