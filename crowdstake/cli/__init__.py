"""The `crowdstake` command: wallets, rounds, submissions, stakes, claims, the submission store.

Every user mistake prints one line saying what was wrong and what to do, and changes nothing."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from crowdstake import __version__
from crowdstake.errors import CrowdstakeError

DEFAULT_RPC = "http://127.0.0.1:8545"


def _print_table(frame, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for col in frame.columns:
        table.add_column(str(col))
    for row in frame.itertuples(index=False):
        table.add_row(*("" if v is None or v != v else str(v) for v in row))
    Console().print(table)


# ------------------------------------------------------------------ wiring


def _account(args):
    from crowdstake.chain import wallet

    if args.key_env:
        return wallet.account_from_env(args.key_env)
    if not args.wallet:
        raise CrowdstakeError("no wallet chosen: pass --wallet NAME (see `crowdstake wallet list`) or --key-env VAR")
    return wallet.load_wallet(args.wallet, wallet.password_from())


def _rpc_url(args) -> str:
    """The node to talk to: brownie's network `--network`, else `--rpc-url` (or its default)."""
    from crowdstake.chain.networks import network_rpc_url

    return network_rpc_url(args.network) if args.network else args.rpc_url


def _protocol(args):
    from crowdstake.chain import Protocol, connect

    return Protocol.load(connect(_rpc_url(args)), Path(args.deployments) if args.deployments else None)


def _steps():
    """Progress bars on a terminal's stderr, else the plain lines tests and CI read."""
    from crowdstake.progress import steps_for

    return steps_for(print)


def _store(args, protocol):
    from crowdstake import store

    if not args.store:
        return None
    if args.store.startswith(("http://", "https://")):
        return store.HttpStore(args.store, chain_id=protocol.w3.eth.chain_id)  # refuses another chain's store
    return store.local_store_for(args.store, protocol)


def _participant(args):
    from crowdstake.participant import Participant

    protocol = _protocol(args)
    return Participant(protocol, _account(args), _store(args, protocol))


# ------------------------------------------------------------------ commands


def cmd_deployment(args) -> None:
    from crowdstake.chain import deployments_dir, load_deployment

    if args.chain_id is None:
        found = sorted(deployments_dir().glob("*.json"))
        if not found:
            raise CrowdstakeError(
                f"no deployments in {deployments_dir()}: deploy with "
                "`brownie run scripts/deploy.py --network <network>` or set CROWDSTAKE_DEPLOYMENTS"
            )
        for path in found:
            print(path.stem)
        return
    print(json.dumps(load_deployment(args.chain_id), indent=2, sort_keys=True))


def cmd_wallet(args) -> None:
    from crowdstake.chain import wallet

    if args.action == "new":
        print(f"created wallet {args.name}: {wallet.new_wallet(args.name, wallet.password_from(confirm=True))}")
    elif args.action == "import":
        key_var = args.key_env or "CROWDSTAKE_PRIVATE_KEY"
        account = wallet.account_from_env(key_var)
        address = wallet.import_wallet(args.name, account.key, wallet.password_from(confirm=True))
        print(f"imported wallet {args.name}: {address}")
    elif args.action == "list":
        for name, address in wallet.list_wallets():
            print(f"{name}\t{address}")
    else:  # balance
        balance = _participant(args).balance()
        print(f"{balance['address']}: {balance['tokens']:,} tokens, {balance['eth']:,} ETH")


def cmd_rounds(args) -> None:
    from crowdstake.participant import Participant
    from eth_account import Account

    protocol = _protocol(args)
    frame = Participant(protocol, Account.create()).rounds()  # reading needs no key of the user's
    _print_table(frame, f"rounds on chain {protocol.w3.eth.chain_id}")


def cmd_submit(args) -> None:
    done = _participant(args).submit(args.round, args.model, args.file)
    print(f"submitted {args.file} for model {args.model} in round {args.round}: hash {done['hash']}, tx {done['tx']}")


def cmd_stake(args) -> None:
    p = _participant(args)
    done = (p.decrease if args.decrease else p.stake)(args.round, args.model, args.amount)
    verb = "withdrew" if args.decrease else "staked"
    print(f"{verb} {args.amount} on model {args.model} in round {args.round}: position now {done['stake']}, tx {done['tx']}")


def cmd_claim(args) -> None:
    p = _participant(args)
    if args.all:
        finalised = [r for r in p.rounds().itertuples() if r.state == "finalised"]
        claimable = {int(r) for r in p.status().query("state == 'claimable'")["round"]}
        rounds = [r.round for r in finalised if r.round in claimable]
        if not rounds:
            raise CrowdstakeError("nothing to claim: no finalised round holds an unclaimed position of this wallet")
    else:
        if args.round is None:
            raise CrowdstakeError("say which round: --round R, or --all")
        rounds = [args.round]
    for rid in rounds:
        for done in p.claim(rid, args.model if not args.all else None, args.restake_into):
            where = f"restaked into round {done['restaked_into']}" if done["restaked_into"] else "paid to the wallet"
            print(f"claimed round {rid} model {done['model']}: {done['delta']:+} tokens, {where} (tx {done['tx']})")


def cmd_status(args) -> None:
    p = _participant(args)
    _print_table(p.status(), f"positions of {p.account.address}")


def _oracle_summary(summary: dict) -> None:
    print(f"round {summary['round']}: {summary['positions']} positions scored, root {summary['root']}")
    print(f"  declared reward {summary['totalReward'] / 1e18:,.6f}, burn {summary['totalBurn'] / 1e18:,.6f}; "
          f"score table {summary['tableHash']}")
    for who, why in summary["floors"].items():
        print(f"  floor score for {who}: {why}")
    if "would_send" in summary:
        print(f"  dry run: would publish table {summary['tableHash']} and vote {summary['would_send']['vote']}")
    else:
        print(f"  state: {summary['state']}; gas spent by this operator: {summary['gas']:,}")


def _oracle_inputs(args):
    from crowdstake.participant import ParticipantError

    protocol = _protocol(args)
    store = _store(args, protocol)
    if store is None:
        raise ParticipantError("the oracle needs the submission store: pass --store URL (or directory)")
    account = None if (args.dry_run and not (args.wallet or args.key_env)) else _account(args)
    return protocol, store, account


def cmd_oracle(args) -> None:
    from crowdstake import oracle

    if args.action == "verify":
        protocol = _protocol(args)
        with _steps() as steps:
            report = oracle.verify_round(protocol, _store(args, protocol), args.round, Path(args.targets), steps)
        verdict = "matches" if report["matches"] else "DOES NOT match"
        print(f"round {args.round}: the recomputed root {report['recomputedRoot']} {verdict} the on-chain {report['onchainRoot']}")
        for d in report["differences"]:
            print(f"  {d['staker']} {d['modelId']}: recomputed {d['recomputed']}, published {d['published']}")
        if not report["matches"]:
            raise oracle.OracleError(f"round {args.round} does not verify: {len(report['differences'])} leaves differ")
        return
    protocol, store, account = _oracle_inputs(args)
    if args.action == "run":
        if args.round is None:
            raise CrowdstakeError("say which round: --round R")
        with _steps() as steps:
            summary = oracle.run_round(protocol, account, store, args.round, Path(args.targets), Path(args.workdir),
                                       dry_run=args.dry_run, confirmations=args.confirmations, log=print, steps=steps)
        _oracle_summary(summary)
        return
    with _steps() as steps:
        settle = (lambda rid: _settle(args, protocol, store, account, rid, steps)) if args.settle else (lambda rid: None)
        oracle.watch(protocol, account, store, Path(args.targets), Path(args.workdir), interval=args.interval,
                     report=_oracle_summary, log=print, confirmations=args.confirmations, steps=steps,
                     on_finalised=settle)


def _settle(args, protocol, store, account, round_id: int, steps) -> None:
    """Settle every position of a finalised round in claimMany batches, and say what it cost."""
    from crowdstake.oracle.keeper import settle_round

    with steps.step(f"settling round {round_id}") as advance:
        seen = [0]

        def progress(done: int, total: int) -> None:
            advance(done - seen[0])
            seen[0] = done

        summary = settle_round(protocol, account, store, round_id, to_balance=args.to_balance,
                               batch_size=args.batch_size, progress=progress,
                               journal=Path(args.workdir) / f"settle-{round_id}.json")
    print(f"round {round_id}: {summary['settled']} positions settled in {summary['transactions']} transactions "
          f"({summary['already_settled']} were already), {summary['gas_used']:,} gas; paid {summary['paid'] / 1e18:,.4f}, "
          f"credited {summary['credited'] / 1e18:,.4f}, burned {summary['burned'] / 1e18:,.4f}")


def cmd_settle(args) -> None:
    protocol = _protocol(args)
    store = _store(args, protocol)
    if store is None:
        raise CrowdstakeError("settling reads the score table from the store: pass --store URL (or directory)")
    with _steps() as steps:
        _settle(args, protocol, store, _account(args), args.round, steps)


def cmd_demo(args) -> None:
    from rich.console import Console

    from crowdstake.sim.season import run_demo

    console = Console()
    result = run_demo(Path(args.out), participants=args.participants, rounds=args.rounds, seed=args.seed,
                      network=args.network, rpc_url=args.rpc_url if args.rpc_url != DEFAULT_RPC else None,
                      log=console.print)
    board = result["leaderboard"][["participant", "models", "total_stake", "mean_corr", "total_payout", "total_burn"]]
    _print_table(board.round(4), "leaderboard (tokens)")
    for fact, holds in result["outcomes"].items():
        console.print(f"{'[green]yes[/]' if holds else '[red]NO[/]'}  {fact}")
    console.print(f"report: {result['report']}")


def cmd_data(args) -> None:
    from crowdstake.fund import dataset as data

    if args.action == "synth":
        summary = data.synth_command(args.out, eras=args.eras, stocks=args.stocks, seed=args.seed or 0)
        print(f"wrote {summary['rows']:,} rows ({summary['eras']} eras x {summary['stocks']} stocks) to {summary['path']}")
        for name, power in summary["feature_power"].items():
            print(f"  {name}: correlation with the return {power:+.3f}")
    else:
        if not args.raw:
            raise CrowdstakeError("say which raw file: --raw FILE (see `crowdstake data synth`)")
        summary = data.build_command(args.raw, args.out, seed=args.seed)
        print(f"dataset {summary['dataset_hash']}: {summary['train_rows']:,} train, {summary['validation_rows']:,} "
              f"validation, {summary['live_rows']:,} live rows")
        print(f"  public files (publish these): {summary['public_dir']}")
        print(f"  private files (the fund keeps these: live targets, salt, raw ids): {summary['private_dir']}")


def cmd_store_serve(args) -> None:
    from crowdstake import store

    store.serve(args.dir, args.host, args.port, _rpc_url(args), Path(args.deployments) if args.deployments else None)


# ------------------------------------------------------------------ parser


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (0 or more)")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crowdstake", description=__doc__)
    parser.add_argument("--version", action="version", version=f"crowdstake {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    node = common.add_mutually_exclusive_group()
    node.add_argument("--rpc-url", default=os.environ.get("CROWDSTAKE_RPC_URL", DEFAULT_RPC),
                      help="the node's RPC URL (env CROWDSTAKE_RPC_URL; default %(default)s)")
    node.add_argument("--network", default=None,
                      help="a brownie network id, as in `brownie run scripts/deploy.py --network ID`: its host "
                           "from ~/.brownie/network-config.yaml ($VARS from the environment)")
    common.add_argument("--rpc-retries", type=_positive_int, default=os.environ.get("CROWDSTAKE_RPC_RETRIES", "6"),
                        help="attempts per RPC call while the node is down or restarting (env CROWDSTAKE_RPC_RETRIES; "
                             "default %(default)s)")
    common.add_argument("--rpc-backoff", type=_seconds, default=os.environ.get("CROWDSTAKE_RPC_BACKOFF", "0.5"),
                        help="seconds before the first retry, doubling after each (env CROWDSTAKE_RPC_BACKOFF; "
                             "default %(default)s)")
    common.add_argument("--deployments", default=None, help="deployments directory (env CROWDSTAKE_DEPLOYMENTS)")
    common.add_argument("--wallet", default=os.environ.get("CROWDSTAKE_WALLET"), help="wallet name (env CROWDSTAKE_WALLET)")
    common.add_argument("--key-env", default=None, help="use the raw private key in this environment variable instead")
    common.add_argument("--store", default=os.environ.get("CROWDSTAKE_STORE"),
                        help="submission store: an http(s) URL or a local directory (env CROWDSTAKE_STORE)")
    commands = parser.add_subparsers(dest="command", required=True)

    dep = commands.add_parser("deployment", help="list known deployments, or show one chain's")
    dep.add_argument("--chain-id", type=int, help="the chain whose deployment to show")
    dep.set_defaults(run=cmd_deployment)

    wal = commands.add_parser("wallet", parents=[common], help="encrypted wallets: new, import, list, balance")
    wal.add_argument("action", choices=["new", "import", "list", "balance"])
    wal.add_argument("name", nargs="?", help="the wallet's name (new, import)")
    wal.set_defaults(run=cmd_wallet)

    commands.add_parser("rounds", parents=[common], help="every round with its times and totals").set_defaults(run=cmd_rounds)

    sub = commands.add_parser("submit", parents=[common], help="upload predictions and commit their hash")
    sub.add_argument("--round", type=int, required=True)
    sub.add_argument("--model", required=True)
    sub.add_argument("file", help="predictions CSV: id,prediction")
    sub.set_defaults(run=cmd_submit)

    stk = commands.add_parser("stake", parents=[common], help="stake on a position (permit: one transaction)")
    stk.add_argument("--round", type=int, required=True)
    stk.add_argument("--model", required=True)
    stk.add_argument("--amount", required=True, help="tokens, e.g. 12.5")
    stk.add_argument("--decrease", action="store_true", help="withdraw the amount instead (before close)")
    stk.set_defaults(run=cmd_stake)

    clm = commands.add_parser("claim", parents=[common], help="claim payouts of finalised rounds")
    clm.add_argument("--round", type=int)
    clm.add_argument("--model")
    clm.add_argument("--restake-into", type=int, help="stake the whole payout into this open round")
    clm.add_argument("--all", action="store_true", help="claim every claimable position of the wallet")
    clm.set_defaults(run=cmd_claim)

    commands.add_parser("status", parents=[common], help="the wallet's positions").set_defaults(run=cmd_status)

    settling = argparse.ArgumentParser(add_help=False)  # how `settle` and `oracle watch --settle` send batches
    settling.add_argument("--to-balance", action="store_true", help="credit stakers' internal balances instead of wallets")
    settling.add_argument("--batch-size", type=int, default=None, help="positions per transaction (default: what fits)")

    orc = commands.add_parser("oracle", parents=[common, settling], help="committee member: score, vote, finalise; verify")
    orc.add_argument("action", choices=["run", "watch", "verify"])
    orc.add_argument("--round", type=int)
    orc.add_argument("--targets", required=True, help="directory of realised targets, <round>.csv (id,target)")
    orc.add_argument("--workdir", default="oracle-work", help="where the journal and score tables are kept")
    orc.add_argument("--dry-run", action="store_true", help="do everything but publish and send")
    orc.add_argument("--interval", type=float, default=15.0, help="watch: seconds between looks at the chain")
    orc.add_argument("--confirmations", type=int, default=0, help="blocks to wait after each transaction's receipt")
    orc.add_argument("--settle", action="store_true", help="watch: also settle each finalised round, as a keeper")
    orc.set_defaults(run=cmd_oracle)

    stl = commands.add_parser("settle", parents=[common, settling],
                              help="settle every position of a finalised round in batches")
    stl.add_argument("--round", type=int, required=True)
    stl.add_argument("--workdir", default="oracle-work", help="where the resumable journal is kept")
    stl.set_defaults(run=cmd_settle)

    # not the common options: its --network names the local chain it starts, not a brownie network
    demo = commands.add_parser("demo", help="a whole season on a local chain, with a report")
    demo.add_argument("--rpc-url", default=os.environ.get("CROWDSTAKE_RPC_URL", DEFAULT_RPC),
                      help="play on this running dev node instead of starting one")
    demo.add_argument("--out", default="demo-report", help="where the report and the season's files go")
    demo.add_argument("--participants", type=int, default=20)
    demo.add_argument("--rounds", type=int, default=8)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--network", choices=["anvil", "ganache"], default="anvil", help="the local chain to start")
    demo.set_defaults(run=cmd_demo)

    dat = commands.add_parser("data", help="the fund's data: a synthetic market, the obfuscated dataset")
    dat.add_argument("action", choices=["synth", "build"])
    dat.add_argument("--out", required=True, help="synth: the raw CSV to write; build: the output directory")
    dat.add_argument("--raw", help="build: the raw per-era file (CSV)")
    dat.add_argument("--eras", type=int, default=60)
    dat.add_argument("--stocks", type=int, default=500)
    dat.add_argument("--seed", type=int, default=None,
                     help="synth: the market's seed; build: derive the salt from it (demos only: a real salt is random)")
    dat.set_defaults(run=cmd_data)

    srv = commands.add_parser("store", parents=[common], help="the submission store service")
    srv.add_argument("action", choices=["serve"])
    srv.add_argument("--dir", required=True, help="where the store keeps its files")
    srv.add_argument("--host", default="127.0.0.1")
    srv.add_argument("--port", type=int, default=8700)
    srv.set_defaults(run=cmd_store_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "deployments", None):
        os.environ["CROWDSTAKE_DEPLOYMENTS"] = args.deployments
    try:
        if hasattr(args, "rpc_retries"):
            from crowdstake.chain import set_retry_policy

            set_retry_policy(args.rpc_retries, args.rpc_backoff)
        args.run(args)
    except CrowdstakeError as e:  # a user mistake: one clear line, no stack trace
        print(f"crowdstake: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("crowdstake: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
