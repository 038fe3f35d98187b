"""`crowdstake data signals`: a synthetic Signals market (``crowdstake.fund.signals_market``)
written as the fund's per-round files and a participant's data.

Layout under ``out``:

    public/round-<k>/universe.csv, neutralizers.csv, sample_weights.csv
        round k's Signals dataset (formats in ``crowdstake.store.signals_formats``); publish it
        with ``crowdstake fund open-round --dataset DIR``; ``dataset_hash_of(DIR)`` is its hash
    private/targets/round-<k>.csv
        the fund's: round k's forward returns, ``ticker,target``, published once it resolves
    participant/sentiment.csv
        the participant's own data: ``ticker,round,sentiment``, every ticker (in the universe or
        not) and every round, sorted by round then ticker
    README.txt
        this layout, and how to build a signal (``crowdstake.sim.signals_example``)

Every file is written atomically (``crowdstake._fs.atomic_write``): a crash leaves each file
old or new, never half-written; running again with the same arguments writes the same bytes
(the market is seeded; no file names the output directory), so it also repairs a run a crash cut short. Each round's files are
checked by the store's rules (``dataset_manifest``) before anything is written.
"""

from __future__ import annotations

from pathlib import Path

from crowdstake._fs import atomic_write
from crowdstake.fund.signals_market import SignalsMarket, synth_signals_market
from crowdstake.store.datasets import dataset_hash, dataset_manifest
from crowdstake.store.signals_formats import (NEUTRALIZERS, SAMPLE_WEIGHTS, UNIVERSE, neutralizers_csv,
                                              sample_weights_csv, signals_targets_csv, universe_csv)

_README = """\
A synthetic Numerai Signals market (crowdstake data signals: {tickers} tickers, {rounds} rounds, seed {seed}).

public/round-<k>/     round k's dataset: universe.csv (ticker), neutralizers.csv (ticker,<factor>...),
                      sample_weights.csv (ticker,weight); the same tickers, sorted, in every file.
private/targets/      the fund's: round-<k>.csv (ticker,target), round k's forward returns.
participant/          sentiment.csv (ticker,round,sentiment): your own data, for every ticker and round.

Submit, per round, a CSV `ticker,signal` with values strictly inside (0, 1) for at least the
round's minimum number of universe tickers (others are dropped). An example signal, run
from this directory:

    from crowdstake.sim.signals_example import signal_from_sentiment
    from crowdstake.store.signals_formats import signals_csv
    signal = signal_from_sentiment("participant/sentiment.csv", "public/round-1/universe.csv", 1)
    open("signal.csv", "wb").write(signals_csv(signal))

Scores are neutralised against the factors of neutralizers.csv (country, sector, beta, size,
value, momentum): only what a signal knows beyond them scores.
"""


def round_files(market: SignalsMarket, k: int) -> dict[str, bytes]:
    """Round k's Signals dataset files, name -> bytes."""
    r = market.round(k)
    return {UNIVERSE: universe_csv(r.universe), NEUTRALIZERS: neutralizers_csv(r.neutralizers),
            SAMPLE_WEIGHTS: sample_weights_csv(r.sample_weights)}


def write_signals_market(market: SignalsMarket, out_dir, tickers: int, seed: int) -> dict:
    """Write ``market`` in the layout of the module docstring. @return a summary: directories,
    the sentiment file, per round its dataset directory, dataset hash (0x hex), universe size
    and targets file."""
    out = Path(out_dir)
    rounds = []
    for r in market.rounds:
        files = round_files(market, r.round)
        digest = dataset_hash(dataset_manifest(files))  # the store's checks, before any write
        directory = out / "public" / f"round-{r.round}"
        for name, data in files.items():
            atomic_write(directory / name, data)
        targets = out / "private" / "targets" / f"round-{r.round}.csv"
        atomic_write(targets, signals_targets_csv(r.returns))
        rounds.append({"round": r.round, "dataset_dir": str(directory), "dataset_hash": "0x" + digest.hex(),
                       "tickers": len(r.universe), "targets": str(targets)})
    sentiment = out / "participant" / "sentiment.csv"
    atomic_write(sentiment, market.sentiment.to_csv(index=False, lineterminator="\n").encode())
    readme = out / "README.txt"
    atomic_write(readme, _README.format(tickers=tickers, rounds=len(market.rounds), seed=seed).encode())
    return {"public_dir": str(out / "public"), "private_dir": str(out / "private"), "sentiment": str(sentiment),
            "readme": str(readme), "factor_share": market.factor_share(), "rounds": rounds}


def signals_command(out_dir, tickers: int = 500, rounds: int = 20, seed: int = 0) -> dict:
    """``crowdstake data signals``: synthesise the market and write it (module docstring)."""
    market = synth_signals_market(tickers=tickers, rounds=rounds, seed=seed)
    return write_signals_market(market, out_dir, tickers=tickers, seed=seed)
