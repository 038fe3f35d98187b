"""A committee member's commands (`oracle run | watch | verify`) and the keeper's (`pay`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from crowdstake._human import count
from crowdstake.cli import _options as options
from crowdstake.cli import _render as render

if TYPE_CHECKING:  # the annotation only: commands import what they use when they run
    from crowdstake.store import Store

_NEEDS_STORE = "the oracle needs the submission store"

_round = click.option("--round", "round_id", type=int, required=True, metavar="R", help="the round")
_targets = click.option("--targets", default=None, metavar="DIR", type=click.Path(file_okay=False, path_type=Path),
                        help="an override: a directory of the fund's targets, <round>.csv (id,target), checked against "
                             "the round's on-chain targets hash when it has one (default: the committed targets, "
                             "from the store)")
_workdir = click.option("--workdir", default=options.DEFAULT_WORKDIR, metavar="DIR",
                        type=click.Path(file_okay=False, path_type=Path),
                        help="where the journal and score tables are kept (run again with the same one to resume)")
_confirmations = click.option("--confirmations", type=options.WholeNumber(0), default=0,
                              help="blocks to wait after each transaction's receipt")


def _to_balance(when: str = ""):
    return click.option("--to-balance", is_flag=True,
                        help=f"{when}credit the stakers' internal balances instead of paying their wallets")


def _batch_size(when: str = ""):
    return click.option("--batch-size", type=options.WholeNumber(1), default=None,
                        help=f"{when}positions per transaction (default: what fits half a block)")


def _renamed(old: str, new: str):
    """The callback of a flag that was renamed: one line saying the new name."""

    def refuse(ctx, param, value):
        if value:
            raise click.UsageError(f"{old} is now {new}", ctx=ctx)

    return refuse


@click.group()
def oracle():
    """Committee member: score, vote, finalize; verify.

    `run` one round, `watch` every round as it resolves, `verify` anyone's result."""


@oracle.command()
@_round
@_targets
@_workdir
@click.option("--dry-run", is_flag=True, help="do everything but publish and send: score, and say what would be voted")
@_confirmations
@options.node
@options.wallet
@options.store
def run(round_id, targets, workdir, dry_run, confirmations, flags):
    """Score, publish, vote and finalize one round.

    Scores a resolved round with the targets it commits on-chain (fetched from the store, or
    --targets checked against them), publishes its score table, votes its result, and finalizes
    it once the dispute window has passed. Safe to run again at any point: the journal in
    --workdir resumes it."""
    from crowdstake.config import OracleSettings
    from crowdstake.oracle import run_round

    settings = options.load(flags)
    contracts = settings.node.contracts()
    store = options.open_store(settings, contracts, needed_for=_NEEDS_STORE)
    account = options.account(settings, required=not dry_run)  # a dry run signs nothing
    job = OracleSettings(targets=targets, workdir=workdir, dry_run=dry_run, confirmations=confirmations)
    with options.steps() as steps:
        summary = run_round(contracts, account, store, round_id, job, log=click.echo, steps=steps)
    render.oracle_summary(summary)


@oracle.command()
@_targets
@_workdir
@click.option("--interval", type=options.Seconds(), default=options.DEFAULT_INTERVAL,
              help="seconds between looks at the chain")
@_confirmations
@click.option("--pay", is_flag=True, help="also pay every position of each finalized round, as a keeper (`crowdstake pay`)")
@_to_balance("with --pay: ")
@_batch_size("with --pay: ")
@click.option("--settle", is_flag=True, hidden=True, expose_value=False, callback=_renamed("--settle", "--pay"),
              help="renamed --pay")
@options.node
@options.wallet
@options.store
def watch(targets, workdir, interval, confirmations, pay, to_balance, batch_size, flags):
    """Run every round as it resolves, until interrupted.

    Scores and votes each round once it has resolved and the fund has committed its targets
    (or they are in --targets), finalizes rounds whose dispute window has passed, and with --pay
    pays their positions."""
    from crowdstake.config import KeeperSettings, OracleSettings
    from crowdstake.oracle import watch as watch_rounds

    settings = options.load(flags)
    contracts = settings.node.contracts()
    store = options.open_store(settings, contracts, needed_for=_NEEDS_STORE)
    account = options.account(settings)
    job = OracleSettings(targets=targets, workdir=workdir, confirmations=confirmations, interval=interval)
    keeper = KeeperSettings(to_balance=to_balance, batch_size=batch_size)
    with options.steps() as steps:
        def finalized(round_id: int) -> None:
            if pay:
                _pay(contracts, account, store, round_id, keeper, workdir, steps)

        watch_rounds(contracts, account, store, job, report=render.oracle_summary, log=click.echo, steps=steps,
                     on_finalized=finalized)


@oracle.command()
@_round
@_targets
@options.node
@options.store
def verify(round_id, targets, flags):
    """Recompute a round and compare it with the chain's.

    Anyone may, during the dispute window: the round is recomputed from the store's files and the
    targets it commits on-chain, and compared with the result accepted or finalized on-chain.
    Exit 1 if it differs."""
    from crowdstake.oracle import OracleError, verify_round

    settings = options.load(flags)
    contracts = settings.node.contracts()
    store = options.open_store(settings, contracts, needed_for=_NEEDS_STORE)
    with options.steps() as steps:
        report = verify_round(contracts, store, round_id, targets, steps)
    render.verification(report)
    if not report.matches:
        n = len(report.differences)
        leaves = [count(n, "leaf", "leaves") + (" differs" if n == 1 else " differ")] if n else []
        raise OracleError(f"round {round_id} does not verify: "
                          + ("; ".join(leaves + report.mismatches) or "the root differs"))


# ------------------------------------------------------------------ the keeper


def _pay(contracts, account, store: Store, round_id: int, keeper, workdir: Path, steps) -> None:
    """Pay every position of a finalized round in claimMany batches (resumable: a journal in
    `workdir`), and say what it cost."""
    from crowdstake.oracle import pay_round

    journal = Path(workdir) / f"pay-{round_id}.json"
    if not journal.exists() and (old := Path(workdir) / f"settle-{round_id}.json").exists():
        journal = old  # the name before the keeper's command was `pay`: a run begun then resumes from it
    with steps.step(f"paying round {round_id}") as advance:
        seen = [0]

        def progress(done: int, total: int) -> None:
            advance(done - seen[0])
            seen[0] = done

        summary = pay_round(contracts, account, store, round_id, keeper, progress=progress,
                            journal=journal)
    render.payout(summary)


@click.command()
@click.option("--round", "round_id", type=int, required=True, metavar="R", help="the finalized round to pay")
@_to_balance()
@_batch_size()
@click.option("--workdir", default="keeper-work", metavar="DIR", type=click.Path(file_okay=False, path_type=Path),
              help="where the resumable journal (pay-<round>.json) is kept: a keeper's own, not an oracle's")
@options.node
@options.wallet
@options.store
def pay(round_id, to_balance, batch_size, workdir, flags):
    """Pay a finalized round's positions in batches (keeper).

    Every unsettled position, in claimMany batches; anyone may: the payouts go to the stakers, the
    keeper pays the gas. Safe to run again: it resumes from its journal in --workdir."""
    from crowdstake.config import KeeperSettings

    settings = options.load(flags)
    contracts = settings.node.contracts()
    store = options.open_store(settings, contracts, needed_for="paying reads the score table from the store")
    account = options.account(settings)
    with options.steps() as steps:
        _pay(contracts, account, store, round_id, KeeperSettings(to_balance=to_balance, batch_size=batch_size),
             workdir, steps)


@click.command(hidden=True, context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
def settle():
    """Renamed `crowdstake pay`."""
    from crowdstake.cli._errors import Refusal

    raise Refusal("`crowdstake settle` is now `crowdstake pay` (same options)", 2)


COMMANDS = [oracle, pay, settle]
