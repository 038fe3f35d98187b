"""A participant's commands: deployments, wallets, rounds, submit, stake, claim, status, scores,
withdraw, refund, and the book of model names."""

from __future__ import annotations

import click

from crowdstake._human import count
from crowdstake._units import format_amount, parse_amount, to_tokens
from crowdstake.cli import _options as options
from crowdstake.cli import _render as render
from crowdstake.errors import ConfigError, ParticipantError

_ROUND = dict(type=int, metavar="R")
# The read-only views from an index file (`crowdstake index`) instead of the node and the store.
_INDEX = click.option("--index", "index_path", default=None, metavar="FILE", type=click.Path(dir_okay=False),
                      help="read from this index (`crowdstake index --db FILE`) instead of the node and the store, "
                           "as of its last indexed block  [default: the node]")


def _open_index(path):
    from crowdstake.index.schema import open_index
    from crowdstake.index.views import index_now

    index = open_index(path)
    click.echo(f"from the index {path}, as of chain time {render.minute(index_now(index))} UTC")
    return index


@click.command()
@click.argument("chain_id", type=int, required=False, metavar="[CHAIN_ID]")
@options.deployments
def deployment(chain_id, flags):
    """List known deployments, or show one chain's.

    Without CHAIN_ID, the chains with a deployment record; with it (e.g. 31337), that chain's
    record (JSON)."""
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
    """The wallet's tokens, ETH and internal balance.

    The internal balance holds payouts credited in the Tournament (`pay --to-balance`): take it
    out with `crowdstake withdraw`, or stake it with `stake --from-balance`. NAME is the same as
    --wallet NAME."""
    if name is not None:
        given = flags["wallet"]["name"]
        if given is not None and given != name:
            raise click.UsageError(f"two wallets named: {name} and --wallet {given}; name one",
                                   ctx=click.get_current_context())
        flags = {**flags, "wallet": {**flags["wallet"], "name": name}}
    balance = options.participant(flags).balance()
    click.echo(f"{balance.address}: {format_amount(balance.tokens)} tokens, {format_amount(balance.eth)} ETH; "
               f"{format_amount(balance.internal)} tokens of internal balance in the Tournament")


# ------------------------------------------------------------------ rounds and positions


@click.command()
@_INDEX
@options.node
def rounds(index_path, flags):
    """Every round with its times, state and totals."""
    from eth_account import Account

    from crowdstake.participant import Participant

    if index_path:
        from crowdstake.index.views import index_now, rounds_frame

        index = _open_index(index_path)
        render.rounds(rounds_frame(index), index_now(index), "rounds in the index")
        return
    contracts = options.load(flags).node.contracts()
    reader = Participant(contracts, Account.create())  # reading needs no key of the user's
    render.rounds(reader.rounds(), reader.now(), f"rounds on chain {contracts.w3.eth.chain_id}")


@click.command()
@click.option("--round", "round_id", required=True, help="the open round to submit to", **_ROUND)
@click.option("--model", required=True, metavar="NAME", help="the model's name (its id on-chain is derived from it)")
@click.argument("file", type=click.Path(dir_okay=False))
@options.node
@options.wallet
@options.store
def submit(round_id, model, file, flags):
    """Upload predictions and commit their hash.

    FILE is a CSV of id,prediction for the round's live ids (a Signals round: ticker,signal for
    tickers of its universe): it is validated, uploaded to the store (signed by the wallet), and
    its hash committed on-chain."""
    done = options.participant(flags, with_store=True).submit(round_id, model, file)
    click.echo(f"submitted {file} for model {model} in round {round_id}: hash {done.hash}, tx {done.tx}")
    if done.dropped:
        shown = ", ".join(done.dropped[:10]) + (", ..." if len(done.dropped) > 10 else "")
        were = "was" if len(done.dropped) == 1 else "were"
        click.echo(f"{count(len(done.dropped), 'ticker')} outside the round's universe {were} dropped (not scored): "
                   f"{shown}")


@click.command()
@click.option("--round", "round_id", required=True, help="the open round of the position", **_ROUND)
@click.option("--model", required=True, metavar="NAME", help="the model's name; it must have a submission in the round")
@click.option("--amount", required=True, metavar="TOKENS", help="tokens, e.g. 12.5")
@click.option("--decrease", is_flag=True, help="withdraw the amount instead (before the round closes)")
@click.option("--from-balance", is_flag=True, help="stake from the wallet's internal balance in the Tournament")
@options.node
@options.wallet
def stake(round_id, model, amount, decrease, from_balance, flags):
    """Stake on a position, or withdraw (--decrease).

    A stake is one transaction with a permit (no approve), or from the internal balance
    (--from-balance); a withdrawal is allowed before the round closes."""
    if decrease and from_balance:
        raise click.UsageError("--decrease and --from-balance do not go together: a decrease always returns the tokens "
                               "to the wallet", ctx=click.get_current_context())
    p = options.participant(flags)
    done = p.decrease(round_id, model, amount) if decrease else p.stake(round_id, model, amount, from_balance)
    verb = "withdrew" if decrease else "staked"
    source = " from the internal balance" if from_balance else ""
    moved = format_amount(to_tokens(parse_amount(amount)))  # as the chain took it, not as typed (.5)
    click.echo(f"{verb} {moved}{source} on model {model} in round {round_id}: position now "
               f"{format_amount(done.stake)}, 1 transaction (tx {done.tx})")


@click.command()
@click.option("--round", "round_id", default=None, help="the finalized round to claim (default: none; give it or --all)",
              **_ROUND)
@click.option("--model", default=None, metavar="NAME",
              help="only this model's positions (default: every model of the wallet), with --round or --all")
@click.option("--restake-into", type=int, default=None, metavar="R",
              help="stake the whole payout into this open round instead of paying it to the wallet (default: "
                   "none, paid to the wallet)")
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
        positions = p.status().query("state == 'claimable'")
        if model is not None:  # as status names the model: its name, or its short id
            positions = positions[positions["model"] == p.models.label(p.models.resolve(model))]
        claimable = {int(r) for r in positions["round"]}
        chosen = [r.round for r in finalized if r.round in claimable]
        if not chosen:
            raise ParticipantError("nothing to claim: no finalized round holds an unclaimed position of this wallet"
                                   + (f" for model {model}" if model is not None else ""))
    else:
        chosen = [round_id]
    for rid in chosen:
        for done in p.claim(rid, model, restake_into):
            click.echo(f"claimed round {rid} model {done.model}: {render.claim(done)} (tx {done.tx})")


@click.command()
@_INDEX
@options.node
@options.wallet
@options.store
def status(index_path, flags):
    """The wallet's positions, scored as soon as a table is accepted.

    Round, model, stake and state of each; with the store, CORR, MMC, score and payout from the
    score table the committee accepted (marked * while provisional: a veto may still replace
    it), the realised payout once settled. In a Signals round, CORR is its first score (alpha or
    FNC) and MMC its MPC."""
    if index_path:
        from crowdstake.index.views import round_kinds, status_frame

        settings = options.load(flags)
        me = options.wallet_address(settings)
        if me is None:
            raise ConfigError("status needs a wallet: give --wallet NAME (its address is read, no key)")
        index = _open_index(index_path)
        frame = status_frame(index, me, options.model_book(settings))
        kinds = round_kinds(index)
    else:
        p = options.participant(flags, with_store=True)
        me, frame = p.account.address, p.status()
        kinds = {int(rid): p.round(int(rid)).params.kind for rid in frame["round"].unique()}
    render.positions(frame, f"positions of {me}")
    signals = sorted(rid for rid in frame["round"].unique() if kinds[int(rid)])
    if signals:
        rounds_ = "round" if len(signals) == 1 else "rounds"
        click.echo(f"Signals {rounds_} {', '.join(map(str, signals))}: corr is the round's alpha (or FNC), mmc its MPC")


@click.command()
@click.option("--round", "round_id", required=True, help="the round whose voted score table to show", **_ROUND)
@_INDEX
@options.node
@options.wallet
@options.store
def scores(round_id, index_path, flags):
    """A round's voted score table, the wallet's models first.

    The finalised table, or the accepted one (provisional) while its dispute window runs; read
    from the store and checked against the hash voted on-chain. No wallet needed."""
    from eth_account import Account

    from crowdstake.participant import Participant

    settings = options.load(flags)
    if index_path:
        from crowdstake.index.views import round_kinds, scores_of

        index = _open_index(index_path)
        me = options.wallet_address(settings) or "0x" + "0" * 40  # without a wallet nothing is "mine"
        done = scores_of(index, round_id, me, options.model_book(settings))
        signals = round_kinds(index)[round_id]
    else:
        contracts = settings.node.contracts()
        who = options.account(settings, required=False) or Account.create()  # without a wallet nothing is "mine"
        store = options.open_store(settings, contracts, needed_for="the score tables are in the store")
        participant = Participant(contracts, who, store, options.model_book(settings))
        done = participant.scores(round_id)
        signals = participant.round(round_id).params.kind
    kind = "provisional" if done.provisional else "final"
    table = done.table
    if signals:  # the table's first score and contribution, by their Signals names
        from crowdstake.scoring.signals_round import SIGNALS_SCORES

        table = table.rename(columns={"corr": SIGNALS_SCORES[signals], "mmc": "mpc"})
    render.scores(table, f"round {round_id} score table {done.table_hash} ({kind})")
    if done.provisional:
        click.echo("provisional: the committee accepted this table, and its dispute window is still running")


@click.command()
@click.option("--amount", default=None, metavar="TOKENS", help="tokens to withdraw, e.g. 12.5 (default: "
              "none; give it or --all)")
@click.option("--all", "everything", is_flag=True, help="withdraw the whole internal balance")
@options.node
@options.wallet
def withdraw(amount, everything, flags):
    """Move the internal balance to the wallet.

    Payouts credited with `pay --to-balance` wait in the Tournament until withdrawn. Never
    paused."""
    if (amount is None) == (not everything):
        raise click.UsageError("say how much: --amount TOKENS or --all" if amount is None else
                               "--amount and --all both say how much: pass one", ctx=click.get_current_context())
    done = options.participant(flags).withdraw(amount)
    click.echo(f"withdrew {format_amount(done.amount)} tokens to the wallet; {format_amount(done.left)} left in the "
               f"internal balance, 1 transaction (tx {done.tx})")


@click.command()
@click.option("--round", "round_id", required=True, help="the round whose stakes to take back", **_ROUND)
@click.option("--model", default=None, metavar="NAME", help="only this model's position (default: every model)")
@options.node
@options.wallet
def refund(round_id, model, flags):
    """Take back the stakes of a round that got no results.

    Open after the round's results deadline when it was not finalised (and, for a finalised
    round, for positions still unsettled 180 days after it): the whole stake, no gain, no burn."""
    for done in options.participant(flags).refund(round_id, model):
        click.echo(f"refunded round {done.round} model {done.model}: {format_amount(done.amount)} tokens to the wallet "
                   f"(tx {done.tx})")


@click.group()
def models():
    """The names of your models.

    On-chain a model is keccak256 of its name; this machine's book ($CROWDSTAKE_HOME/models.json)
    keeps the names `submit` used, so tables show them."""


@models.command("list")
def models_list():
    """Every model name in the book, with its id."""
    book = options.model_book(options.load({}))
    for mid, name in sorted(book.names().items(), key=lambda kv: kv[1]):
        click.echo(f"{name}\t0x{mid.hex()}")


@models.command("name")
@click.argument("model_id", metavar="ID")
@click.argument("name")
def models_name(model_id, name):
    """Name model ID (0x and 64 hex digits) as NAME.

    For a model submitted from another machine; refused unless keccak256(NAME) is ID."""
    mid = options.model_book(options.load({})).name(model_id, name)
    click.echo(f"model 0x{mid.hex()} is {name}")  # the id as the chain has it, whether typed with 0x or not


COMMANDS = [deployment, wallet, rounds, submit, stake, claim, status, scores, withdraw, refund, models]
