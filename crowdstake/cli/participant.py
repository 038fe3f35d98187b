"""A participant's commands: deployments, wallets, rounds, submit, stake, claim, status."""

from __future__ import annotations

import click

from crowdstake.cli import _options as options
from crowdstake.cli import _render as render
from crowdstake.errors import ConfigError, ParticipantError

_ROUND = dict(type=int, metavar="R")


@click.command()
@click.option("--chain-id", type=int, default=None, metavar="ID",
              help="the chain whose deployment to show (default: list the chains with a deployment)")
@options.deployments
def deployment(chain_id, flags):
    """List known deployments, or show one chain's.

    Without --chain-id, the chains with a deployment record; with it, that chain's record (JSON)."""
    import json

    from crowdstake.chain import load_deployment

    directory = options.load(flags).node.deployments
    if chain_id is None:
        found = sorted(directory.glob("*.json"))
        if not found:
            raise ConfigError(
                f"no deployments in {directory}: deploy with `crowdstake deploy` (or "
                "`brownie run scripts/deploy.py --network <network>`), or set CROWDSTAKE_DEPLOYMENTS"
            )
        for path in found:
            click.echo(path.stem)
        return
    click.echo(json.dumps(load_deployment(chain_id, directory), indent=2, sort_keys=True))


# ------------------------------------------------------------------ wallets


@click.group()
def wallet():
    """Encrypted wallets: new, import, list, address, balance.

    Keystore files (mode 0600) in $CROWDSTAKE_HOME/wallets, default ~/.crowdstake/wallets."""


@wallet.command("new")
@click.argument("name")
def wallet_new(name):
    """Create wallet NAME from a fresh key.

    The key is encrypted with a password (from CROWDSTAKE_PASSWORD, else asked twice) and never
    leaves the file; prints the wallet's address."""
    from crowdstake.chain import wallet as wallets

    chosen = options.load({}).wallet
    address = wallets.new_wallet(name, wallets.password_from(chosen.password_env, confirm=True),
                                 directory=chosen.directory)
    click.echo(f"created wallet {name}: {address}")


@wallet.command("import")
@click.argument("name")
@click.option("--key-env", metavar="VAR", default="CROWDSTAKE_PRIVATE_KEY",
              help="the environment variable that holds the private key to import")
def wallet_import(name, key_env):
    """Import a private key as wallet NAME.

    The key is read from the environment variable --key-env, encrypted with a password (from
    CROWDSTAKE_PASSWORD, else asked twice); prints the wallet's address."""
    from crowdstake.chain import wallet as wallets

    chosen = options.load({}).wallet
    account = wallets.account_from_env(key_env)
    address = wallets.import_wallet(name, account.key, wallets.password_from(chosen.password_env, confirm=True),
                                    directory=chosen.directory)
    click.echo(f"imported wallet {name}: {address}")


@wallet.command("list")
def wallet_list():
    """Every wallet's name and address (reads no key)."""
    from crowdstake.chain import wallet as wallets

    for name, address in wallets.list_wallets(options.load({}).wallet.directory):
        click.echo(f"{name}\t{address}")


@wallet.command("address")
@click.argument("name")
def wallet_address(name):
    """Wallet NAME's address alone, for scripts (reads no key)."""
    from crowdstake.chain import wallet as wallets

    click.echo(wallets.wallet_address(name, options.load({}).wallet.directory))


@wallet.command("balance")
@click.argument("name", required=False)
@options.node
@options.wallet
def wallet_balance(name, flags):
    """The wallet's tokens and ETH.

    NAME is the same as --wallet NAME."""
    if name is not None:
        given = flags["wallet"]["name"]
        if given is not None and given != name:
            raise click.UsageError(f"two wallets named: {name} and --wallet {given}; name one",
                                   ctx=click.get_current_context())
        flags = {**flags, "wallet": {**flags["wallet"], "name": name}}
    balance = options.participant(flags).balance()
    click.echo(f"{balance.address}: {balance.tokens:,} tokens, {balance.eth:,} ETH")


# ------------------------------------------------------------------ rounds and positions


@click.command()
@options.node
def rounds(flags):
    """Every round with its times, state and totals."""
    from eth_account import Account

    from crowdstake.participant import Participant

    contracts = options.load(flags).node.contracts()
    frame = Participant(contracts, Account.create()).rounds()  # reading needs no key of the user's
    render.table(frame, f"rounds on chain {contracts.w3.eth.chain_id}")


@click.command()
@click.option("--round", "round_id", required=True, help="the open round to submit to", **_ROUND)
@click.option("--model", required=True, metavar="NAME", help="the model's name (its id on-chain is derived from it)")
@click.argument("file", type=click.Path(dir_okay=False))
@options.node
@options.wallet
@options.store
def submit(round_id, model, file, flags):
    """Upload predictions and commit their hash.

    FILE is a CSV of id,prediction for the round's live ids: it is validated, uploaded to the
    store (signed by the wallet), and its hash committed on-chain."""
    done = options.participant(flags, with_store=True).submit(round_id, model, file)
    click.echo(f"submitted {file} for model {model} in round {round_id}: hash {done.hash}, tx {done.tx}")


@click.command()
@click.option("--round", "round_id", required=True, help="the open round of the position", **_ROUND)
@click.option("--model", required=True, metavar="NAME", help="the model's name; it must have a submission in the round")
@click.option("--amount", required=True, metavar="TOKENS", help="tokens, e.g. 12.5")
@click.option("--decrease", is_flag=True, help="withdraw the amount instead (before the round closes)")
@options.node
@options.wallet
def stake(round_id, model, amount, decrease, flags):
    """Stake on a position, or withdraw (--decrease).

    A stake is one transaction with a permit (no approve); a withdrawal is allowed before the
    round closes."""
    p = options.participant(flags)
    done = (p.decrease if decrease else p.stake)(round_id, model, amount)
    verb = "withdrew" if decrease else "staked"
    click.echo(f"{verb} {amount} on model {model} in round {round_id}: position now {done.stake}, tx {done.tx}")


@click.command()
@click.option("--round", "round_id", default=None, help="the finalized round to claim (or --all)", **_ROUND)
@click.option("--model", default=None, metavar="NAME", help="only this model's position (default: every model of the wallet)")
@click.option("--restake-into", type=int, default=None, metavar="R",
              help="stake the whole payout into this open round instead of paying it to the wallet")
@click.option("--all", "claim_all", is_flag=True, help="claim every claimable position of the wallet")
@options.node
@options.wallet
@options.store
def claim(round_id, model, restake_into, claim_all, flags):
    """Claim payouts of finalized rounds.

    The proofs come from the score table voted on-chain, read from the store. A payout goes to
    the wallet, or (--restake-into) into a stake in an open round."""
    if round_id is None and not claim_all:
        raise click.UsageError("say which round: --round R, or --all", ctx=click.get_current_context())
    p = options.participant(flags, with_store=True)
    if claim_all:
        finalized = [r for r in p.rounds().itertuples() if r.state == "finalized"]
        claimable = {int(r) for r in p.status().query("state == 'claimable'")["round"]}
        chosen = [r.round for r in finalized if r.round in claimable]
        if not chosen:
            raise ParticipantError("nothing to claim: no finalized round holds an unclaimed position of this wallet")
    else:
        chosen = [round_id]
    for rid in chosen:
        for done in p.claim(rid, None if claim_all else model, restake_into):
            where = f"restaked into round {done.restaked_into}" if done.restaked_into else "paid to the wallet"
            where += f"; {done.note}" if done.note else ""
            click.echo(f"claimed round {rid} model {done.model}: {done.delta:+} tokens, {where} (tx {done.tx})")


@click.command()
@options.node
@options.wallet
def status(flags):
    """The wallet's positions.

    Round, model, stake, score, payout and state of each."""
    p = options.participant(flags)
    render.table(p.status(), f"positions of {p.account.address}")


COMMANDS = [deployment, wallet, rounds, submit, stake, claim, status]
