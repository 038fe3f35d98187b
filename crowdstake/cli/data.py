"""The tournament's data: the fund's `data synth` (a synthetic market) and `data build` (one
obfuscated dataset per round, and each round's targets), and the participants' `data download`
(a round's dataset, checked against the hash the round commits on-chain)."""

from __future__ import annotations

import click

from crowdstake._human import count
from crowdstake.cli import _options as options


@click.group()
def data():
    """Datasets: build them (the fund), download a round's (participants).

    `synth` a synthetic market, `build` one dataset per round and its targets, `signals` a
    synthetic Numerai Signals market's rounds, `download` a round's dataset, checked against
    the hash the round commits on-chain."""


@data.command()
@click.option("--out", required=True, metavar="FILE", type=click.Path(dir_okay=False),
              help="the raw market file to write (.csv, or .parquet with pyarrow)")
@click.option("--eras", type=options.WholeNumber(1), default=60, help="eras (dates) in the market")
@click.option("--stocks", type=options.WholeNumber(1), default=500, help="stocks in each era")
@click.option("--seed", type=int, default=0, help="the market's seed: the same seed writes the same market")
def synth(out, eras, stocks, seed):
    """Write a synthetic raw market (demos, tests).

    Per-era features and returns; prints how strongly each feature predicts the return."""
    from crowdstake.fund.dataset import synth_command

    summary = synth_command(out, eras=eras, stocks=stocks, seed=seed)
    click.echo(f"wrote {summary['rows']:,} rows ({summary['eras']} eras x {summary['stocks']} stocks) to {summary['path']}")
    for name, power in summary["feature_power"].items():
        click.echo(f"  {name}: correlation with the return {power:+.3f}")


@data.command()
@click.option("--raw", required=True, metavar="FILE", type=click.Path(dir_okay=False),
              help="the raw per-era file (CSV), e.g. from `crowdstake data synth`")
@click.option("--out", required=True, metavar="DIR", type=click.Path(file_okay=False),
              help="the output directory: public/era-<E>/ (one dataset per round) and private/ are written there")
@click.option("--live-eras", type=options.WholeNumber(1), default=1, metavar="N",
              help="the last N eras are live, one round each: one dataset directory and one targets file per era")
@click.option("--validation-eras", type=options.WholeNumber(0), default=None, metavar="N",
              help="the N eras before the live ones are validation (default: a fifth of the rest)")
@click.option("--seed", type=int, default=None,
              help="derive the salt from this seed (demos and tests only: a real salt is random; default: random)")
def build(raw, out, live_eras, validation_eras, seed):
    """Build one obfuscated dataset per round from a raw market.

    Each of the last --live-eras eras is one round's live data: public/era-<E>/ holds that
    round's train.csv, validation.csv, live.csv and features.json (publish it with
    `crowdstake fund open-round --dataset DIR`), and private/targets/era-<E>.csv its targets
    (id,target; `crowdstake fund publish-targets` once the round resolved). private/ also keeps
    the salt and raw ids: the fund's alone. Prints each round's dataset hash."""
    from crowdstake.fund.dataset import build_command

    summary = build_command(raw, out, seed=seed, live_eras=live_eras, validation_eras=validation_eras)
    click.echo(f"{count(len(summary['rounds']), 'round dataset')}: {summary['train_rows']:,} train, "
               f"{summary['validation_rows']:,} validation, {summary['live_rows']:,} live rows, "
               f"{summary['features']} features")
    for one in summary["rounds"]:
        targets = one["targets"] or "not yet (a return of the era is unknown)"
        click.echo(f"  era {one['era']}: dataset {one['dataset_hash']} in {one['dataset_dir']} "
                   f"({one['live_rows']:,} live rows); targets {targets}")
    click.echo(f"  private files (the fund keeps these: targets, salt, raw ids): {summary['private_dir']}")


@data.command()
@click.option("--out", required=True, metavar="DIR", type=click.Path(file_okay=False),
              help="the output directory: public/round-<k>/, private/targets/, participant/ and README.txt")
@click.option("--tickers", type=options.WholeNumber(50), default=500, show_default=True,
              help="tickers in the universe (about 5% are absent from each round's)")
@click.option("--rounds", type=options.WholeNumber(1), default=20, show_default=True, help="rounds, numbered 1..R")
@click.option("--seed", type=int, default=0, show_default=True,
              help="the market's seed: the same seed writes the same bytes")
def signals(out, tickers, rounds, seed):
    """Write a synthetic Numerai Signals market (demos, tests).

    Per round k, public/round-<k>/ is its Signals dataset (universe.csv, neutralizers.csv,
    sample_weights.csv; publish it with `crowdstake fund open-round --dataset DIR`) and
    private/targets/round-<k>.csv its forward returns (ticker,target: the fund's).
    participant/sentiment.csv (ticker,round,sentiment) is a participant's own data: build a
    signal from it with crowdstake.sim.signals_example.signal_from_sentiment (README.txt shows
    how). Prints each round's dataset hash."""
    from crowdstake.fund.signals_dataset import signals_command

    summary = signals_command(out, tickers=tickers, rounds=rounds, seed=seed)
    click.echo(f"{count(len(summary['rounds']), 'Signals round')} of up to {tickers:,} tickers; the factors explain "
               f"{summary['factor_share']:.0%} of the returns' variance")
    for one in summary["rounds"]:
        click.echo(f"  round {one['round']}: dataset {one['dataset_hash']} in {one['dataset_dir']} "
                   f"({one['tickers']} tickers); targets {one['targets']}")
    click.echo(f"  participant data: {summary['sentiment']} (see {summary['readme']})")


@data.command()
@click.option("--round", "round_id", type=int, required=True, metavar="R", help="the round whose dataset to fetch")
@click.option("--out", required=True, metavar="DIR", type=click.Path(file_okay=False),
              help="the directory to write train.csv, validation.csv, live.csv (and features.json) into")
@options.node
@options.store
def download(round_id, out, flags):
    """Download a round's dataset, checked against the chain.

    Fetches the manifest whose hash the round commits on-chain (datasetHash) and every file it
    lists, checking each file's hash; a mismatch writes nothing. Files already in DIR with the
    right bytes are kept."""
    from eth_account import Account

    from crowdstake.participant import Participant

    settings = options.load(flags)
    contracts = settings.node.contracts()
    store = options.open_store(settings, contracts, needed_for="downloading a round's dataset reads the store")
    done = Participant(contracts, Account.create(), store).download(round_id, out)  # reading needs no key of the user's
    kept = f", {len(done.kept)} already there ({', '.join(done.kept)})" if done.kept else ""
    fetched = count(len(done.fetched), "file") + (f" ({', '.join(done.fetched)})" if done.fetched else "")
    click.echo(f"round {round_id}: dataset {done.dataset_hash} in {done.directory}: fetched {fetched}{kept}, "
               "every hash checked")


COMMANDS = [data]
