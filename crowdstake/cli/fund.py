"""`fund`: the fund's operations (crowdstake.fund.operations.Fund): tournaments and their
parameters, rounds and their datasets, the reward pool, the pause, a resolved round's targets.
Each prints what it did."""

from __future__ import annotations

import click

from crowdstake._units import format_amount
from crowdstake.cli import _options as options

_TOURNAMENT = dict(type=options.WholeNumber(1), required=True, metavar="T")
KINDS = ("classic", "signals", "signals-fnc")  # crowdstake.fund.params.KINDS, without importing web3 at start-up


@click.group()
def fund():
    """The fund's operations: tournaments, rounds, the reward pool, the pause, the targets.

    Each checks the signing key's role (operator, guardian, admin) and everything else before it
    sends, and prints what it did."""


def _param_options(defaults: dict | None):
    """--threshold ... --results-window: required or with their defaults (create-tournament), or
    all optional and unchanged when not given (set-params)."""
    from_chain = defaults is None
    unchanged = " (default: unchanged)" if from_chain else ""
    d = defaults or {}

    def extra(name):
        if from_chain:
            return dict(default=None)
        return dict(default=d[name]) if name in d else dict(required=True)

    options_ = [
        click.option("--threshold", type=options.tokens(), **extra("threshold"),
                     help=f"tokens: payouts are scaled down once a round's total stake passes it, "
                          f"payoutFactor = min(1, threshold / total stake){unchanged}"),
        click.option("--min-stake", type=options.tokens(), **extra("min_stake"),
                     help=f"tokens: the smallest position{unchanged}"),
        click.option("--cap", type=options.percent(), **extra("cap"),
                     help=f"the largest gain or loss per round, as a percentage of the stake, e.g. 5%{unchanged}"),
        click.option("--corr-weight", type=options.weight(), default=None,
                     help=f"the weight of CORR in the score, of alpha (or FNC) in Signals, 0 to 6.5535 "
                          f"{unchanged or '(default: 0.5; Signals 0.3)'}"),
        click.option("--mmc-weight", type=options.weight(), default=None,
                     help=f"the weight of MMC in the score, of MPC in Signals, 0 to 6.5535 "
                          f"{unchanged or '(default: 2; Signals 0.8)'}"),
        click.option("--min-tickers", type=options.WholeNumber(1), default=None,
                     help=f"Signals: the fewest tickers of the universe a submission must have "
                          f"{unchanged or '(default: 100, as Numerai)'}"),
        click.option("--results-window", type=options.duration(), **extra("results_window"),
                     help=f"how long after resolving a round may take to be finalised, 1h to 90d, before its stakes "
                          f"are refunded, e.g. 30d{unchanged}"),
    ]

    def decorate(f):
        for option in reversed(options_):
            f = option(f)
        return f

    return decorate


def _defaults() -> dict:
    # crowdstake.fund.params.DEFAULTS, without importing web3 at start-up; a unit test checks they agree
    return {"cap": "5%", "results_window": "7d"}


@fund.command("create-tournament")
@click.option("--kind", type=click.Choice(KINDS), default="classic", show_default=True,
              help="what its rounds score: classic (predictions per id of the fund's dataset, by CORR and MMC), "
                   "signals (a value per ticker of a universe, by alpha and MPC) or Signals by FNC and MPC (Numerai's "
                   "earlier Signals score)")
@_param_options(_defaults())
@options.node
@options.wallet
def create_tournament(kind, threshold, min_stake, cap, corr_weight, mmc_weight, min_tickers, results_window, flags):
    """Create a tournament with its kind and payout parameters (operator).

    Rounds opened in it copy these parameters; `fund set-params` changes them for later rounds
    (never its kind)."""
    done = options.fund(flags).create_tournament(threshold, min_stake, cap, corr_weight, mmc_weight, results_window,
                                                 kind=kind, min_tickers=min_tickers)
    click.echo(f"created tournament {done.tournament}: {done.params.describe()} (tx {done.tx})")


@fund.command("set-params")
@click.option("--tournament", "tournament_id", help="the tournament to change", **_TOURNAMENT)
@_param_options(None)
@options.node
@options.wallet
def set_params(tournament_id, threshold, min_stake, cap, corr_weight, mmc_weight, min_tickers, results_window, flags):
    """Change a tournament's parameters (operator).

    Only the values given change; rounds already open keep the parameters they opened with."""
    if all(v is None for v in (threshold, min_stake, cap, corr_weight, mmc_weight, min_tickers, results_window)):
        raise click.UsageError("no parameter to change: give at least one of --threshold, --min-stake, --cap, "
                               "--corr-weight, --mmc-weight, --min-tickers, --results-window",
                               ctx=click.get_current_context())
    done = options.fund(flags).set_params(tournament_id, threshold=threshold, min_stake=min_stake, cap=cap,
                                          corr_weight=corr_weight, mmc_weight=mmc_weight,
                                          results_window=results_window, min_tickers=min_tickers)
    click.echo(f"tournament {done.tournament}: {done.after.describe()} (tx {done.tx})")
    click.echo(f"  was: {done.before.describe()}; rounds already open keep theirs")


def _one_of(values: dict, which: str, gives: str | None = None) -> None:
    given = [flag for flag, value in values.items() if value is not None]
    gives = gives or f"give the {which} time"
    if len(given) != 1:
        raise click.UsageError(f"{gives} once: {' or '.join(values)}" if not given
                               else f"{' and '.join(given)} both {gives}: pass one of them",
                               ctx=click.get_current_context())


@fund.command("open-round")
@click.option("--tournament", "tournament_id", help="the tournament the round belongs to", **_TOURNAMENT)
@click.option("--dataset", "dataset_dir", metavar="DIR", type=click.Path(file_okay=False), default=None,
              help="the round's dataset directory as `crowdstake data build` writes it (public/era-<E>): published "
                   "to the store, its hash committed, its live ids the round's (default: none; give it or --dataset-hash)")
@click.option("--dataset-hash", type=options.hash32(), default=None,
              help="the hash of a dataset published to the store already (0x and 64 hex digits), instead of --dataset "
                   "(default: none; give it or --dataset)")
@click.option("--close-in", type=options.duration(), default=None,
              help="submissions and stakes close this long from now by the chain's clock, e.g. 1h (default: none; give "
                   "it or --close-at)")
@click.option("--close-at", type=options.time(), default=None,
              help="submissions and stakes close at this UTC time, e.g. 2025-06-01T18:00Z, or unix seconds (default: "
                   "none; give it or --close-in)")
@click.option("--resolve-in", type=options.duration(), default=None,
              help="the round resolves (its targets are known, the committee may vote) this long from now, e.g. 20d "
                   "; at or after the close, at most 180d after it (default: none; give it or --resolve-at)")
@click.option("--resolve-at", type=options.time(), default=None,
              help="the round resolves at this UTC time, e.g. 2025-06-21T18:00Z, or unix seconds (default: none; give "
                   "it or --resolve-in)")
@options.node
@options.wallet
@options.store
def open_round(tournament_id, dataset_dir, dataset_hash, close_in, close_at, resolve_in, resolve_at, flags):
    """Open a round with its dataset (operator).

    Publishes the dataset directory to the store (every check first: the role, the times, the
    gas) and commits its hash; participants then download it with `crowdstake data download`.
    They submit and stake until the close; results may be voted from the resolve time until the
    results deadline, after which every stake is refunded."""
    from crowdstake._human import when

    _one_of({"--dataset": dataset_dir, "--dataset-hash": dataset_hash}, "dataset", "give the round's dataset")
    _one_of({"--close-in": close_in, "--close-at": close_at}, "close")
    _one_of({"--resolve-in": resolve_in, "--resolve-at": resolve_at}, "resolve")
    done = options.fund(flags, with_store=dataset_dir is not None).open_round(
        tournament_id, dataset_hash, dataset_dir=dataset_dir, close_in=close_in, close_at=close_at,
        resolve_in=resolve_in, resolve_at=resolve_at)
    published = " (published to the store)" if dataset_dir else ""
    click.echo(f"opened round {done.round} of tournament {done.tournament} with dataset {done.dataset_hash}{published}")
    click.echo(f"  closes   {when(done.close_time, done.now)}")
    click.echo(f"  resolves {when(done.resolve_time, done.now)}")
    click.echo(f"  results due by {when(done.results_deadline, done.now)}, else every stake is refunded")
    click.echo(f"  tx {done.tx}")


@fund.command("publish-targets")
@click.option("--round", "round_id", type=options.WholeNumber(1), required=True, metavar="R",
              help="the resolved round whose targets to publish")
@click.option("--targets", "path", required=True, metavar="FILE", type=click.Path(dir_okay=False),
              help="the round's targets (id,target), as `crowdstake data build` writes them (private/targets/era-<E>.csv)")
@options.node
@options.wallet
@options.store
def publish_targets(round_id, path, flags):
    """Publish a resolved round's targets (operator).

    Checks the file against the round's live ids, uploads it to the store and commits its hash
    on-chain, once per round; the committee's oracles then score the round on exactly these bytes."""
    done = options.fund(flags, with_store=True).publish_targets(round_id, path)
    click.echo(f"round {done.round}: targets {done.targets_hash} published to the store and committed (tx {done.tx})")


@fund.command()
@click.option("--amount", required=True, type=options.tokens(), help="tokens to add to the reward pool, e.g. 5000")
@options.node
@options.wallet
def rewards(amount, flags):
    """Add tokens to the reward pool (anyone).

    Finalised rounds pay gains from the pool. Sends an approve first when the wallet's allowance
    for the Tournament does not cover the amount."""
    done = options.fund(flags).fund_rewards(amount)
    approved = f"approve tx {done.approve_tx}, " if done.approve_tx else ""
    click.echo(f"added {format_amount(done.amount)} tokens to the reward pool, which holds "
               f"{format_amount(done.pool)} now ({approved}tx {done.tx})")


@fund.command()
@options.node
@options.wallet
def pause(flags):
    """Stop entry to the tournament (guardian).

    No round opens and no submission or stake enters until the admin unpauses; withdrawals,
    claims and refunds stay open."""
    done = options.fund(flags).pause()
    click.echo(f"paused the Tournament: entry is closed until the admin unpauses it; exits stay open (tx {done.tx})")


@fund.command()
@options.node
@options.wallet
def unpause(flags):
    """Resume entry to the tournament (admin)."""
    done = options.fund(flags).unpause()
    click.echo(f"unpaused the Tournament: rounds open and stakes enter again (tx {done.tx})")


COMMANDS = [fund]
