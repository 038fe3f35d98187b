"""`deploy`: the protocol deployed from the package's own contracts over web3, its roles wired,
its record written (crowdstake.chain.deploy.Deployer)."""

from __future__ import annotations

import click

from crowdstake._human import count
from crowdstake.cli import _options as options

_HOLDER = dict(type=options.address(), default=None, metavar="ADDR")


@click.command()
@click.option("--members", default=None, metavar="ADDR,ADDR,...",
              help="the committee members' addresses, comma-separated (default: node accounts 3-5 on a dev chain; "
                   "required elsewhere)")
@click.option("--threshold", type=options.WholeNumber(1), default=None, metavar="K",
              help="votes that accept a result, more than half of the members (default: a bare majority, "
                   "2 of the dev chain's 3)")
@click.option("--dispute-window", type=options.duration(), default=None,
              help="how long an accepted result waits before it can be finalised, 10m to 7d, e.g. 1h "
                   "(default: 1d; 1h with a dev chain's accounts)")
@click.option("--operator", help="creates tournaments, opens rounds, publishes targets (default: the deployer; "
                                 "node account 1 on a dev chain)", **_HOLDER)
@click.option("--guardian", help="pauses entry and vetoes results (default: the deployer; node account 2 on a dev chain)",
              **_HOLDER)
@click.option("--admin", help="holds every admin role: grants roles, unpauses, changes the committee (default: the "
                              "deployer; node account 0 on a dev chain)", **_HOLDER)
@click.option("--treasury", help="receives the initial supply of 10,000,000 tokens (default: the deployer; node "
                                 "account 0 on a dev chain)", **_HOLDER)
@options.node
@options.wallet
def deploy(members, threshold, dispute_window, operator, guardian, admin, treasury, flags):
    """Deploy the token, tournament and committee, and record them.

    Deploys StakeToken, Tournament and OracleCommittee from the package's own contracts over web3
    (brownie is not needed), wires the roles and writes <deployments>/<chainId>.json. On a dev
    chain (anvil, ganache) with none of --members, --operator, --guardian, --admin, --treasury the
    node's unlocked accounts take the roles, as scripts/deploy.py gives them, and without a wallet
    the node's first account deploys; elsewhere the deployer (--wallet or --key-env) holds every
    role not named. Everything is checked before the first transaction."""
    from crowdstake.chain.deploy import INITIAL_SUPPLY, Deployer
    from crowdstake._units import format_amount, to_tokens
    from crowdstake._human import format_duration

    settings = options.load(flags)
    w3 = options.connect(settings, start_hint=True)
    deployer = Deployer.on(w3, options.account(settings, required=False), settings.node.deployments,
                           settings.node.network)
    roles = deployer.roles(members=members, threshold=threshold, dispute_window=dispute_window, operator=operator,
                           guardian=guardian, admin=admin, treasury=treasury)
    done = deployer.deploy(roles)

    def who(address: str) -> str:
        label = deployer.label(address)
        return f"{address} {label}".rstrip()

    click.echo(f"deployed crowdstake on chain {w3.eth.chain_id} ({deployer.network}) from {who(deployer.account.address)}: "
               f"{count(done.transactions, 'transaction')}, {done.gas:,} gas")
    click.echo(f"  record: {done.path}" + (" (replaced one whose contracts are not on this chain)" if done.replaced else ""))
    for name, address in done.record["contracts"].items():
        click.echo(f"  {name:16} {address}")
    click.echo("who holds what:")
    click.echo(f"  admin     {who(roles.admin)}: every admin role (grants roles, unpauses, changes the committee)")
    supply = format_amount(to_tokens(INITIAL_SUPPLY))
    click.echo(f"  treasury  {who(roles.treasury)}: the initial supply, {supply} tokens")
    click.echo(f"  operator  {who(roles.operator)}: creates tournaments, opens rounds, publishes targets")
    click.echo(f"  guardian  {who(roles.guardian)}: pauses entry, vetoes results")
    for member in roles.members:
        click.echo(f"  member    {who(member)}")
    click.echo(f"  committee: {roles.threshold} of {len(roles.members)} votes accept a result; dispute window "
               f"{format_duration(roles.dispute_window)}")


COMMANDS = [deploy]
