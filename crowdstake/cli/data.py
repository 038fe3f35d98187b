"""The fund's data: `data synth` (a synthetic market) and `data build` (the obfuscated dataset)."""

from __future__ import annotations

import click

from crowdstake.cli import _options as options


@click.group()
def data():
    """The fund's data: a synthetic market, the obfuscated dataset."""


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
              help="the output directory: public/ and private/ are written there")
@click.option("--seed", type=int, default=None,
              help="derive the salt from this seed (demos and tests only: a real salt is random; default: random)")
def build(raw, out, seed):
    """Build the obfuscated dataset from a raw market.

    Writes the public files to publish and the private ones the fund keeps (live targets, salt,
    raw ids); prints the dataset hash."""
    from crowdstake.fund.dataset import build_command

    summary = build_command(raw, out, seed=seed)
    click.echo(f"dataset {summary['dataset_hash']}: {summary['train_rows']:,} train, {summary['validation_rows']:,} "
               f"validation, {summary['live_rows']:,} live rows")
    click.echo(f"  public files (publish these): {summary['public_dir']}")
    click.echo(f"  private files (the fund keeps these: live targets, salt, raw ids): {summary['private_dir']}")


COMMANDS = [data]
