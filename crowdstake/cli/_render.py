"""What the commands print: tables (rich) and the oracle's and keeper's summaries. Token amounts
arrive as exact Decimals; the summary lines keep their formats (tests and scripts read them)."""

from __future__ import annotations

import click


def table(frame, title: str, wide: bool = False) -> None:
    """A DataFrame as a rich table; missing values as empty cells. `wide`: piped into a file, the
    table keeps 200 columns rather than rich's 80 (which would cut every cell of a wide table)."""
    from rich.console import Console
    from rich.table import Table

    shown = Table(title=title)
    for col in frame.columns:
        shown.add_column(str(col))
    for row in frame.itertuples(index=False):
        shown.add_row(*("" if v is None or v != v else str(v) for v in row))
    console = Console()
    (Console(width=200) if wide and not console.is_terminal else console).print(shown)


def oracle_summary(summary) -> None:
    """A `crowdstake.oracle.RoundSummary`: what a run did and where the round stands."""
    click.echo(f"round {summary.round}: {summary.positions} positions scored, root {summary.root}")
    click.echo(f"  reward {summary.total_reward:,.6f} (declared), burn {summary.total_burn:,.6f}; "
               f"score table {summary.table_hash}")
    for who, why in summary.floors.items():
        click.echo(f"  floor score for {who}: {why}")
    if summary.state is None:  # a dry run: nothing was sent
        click.echo(f"  dry run: would publish table {summary.table_hash} and vote {summary.would_vote}")
    else:
        click.echo(f"  state: {summary.state}; gas spent by this operator: {summary.gas:,}")


def verification(report) -> None:
    """A `crowdstake.oracle.Verification`: the verdict, then every leaf that differs."""
    verdict = "matches" if report.matches else "DOES NOT match"
    click.echo(f"round {report.round}: the recomputed root {report.recomputed_root} {verdict} "
               f"the on-chain {report.onchain_root}")
    for d in report.differences:
        click.echo(f"  {d.staker} {d.model_id}: recomputed {d.recomputed}, published {d.published}")


def payout(summary) -> None:
    """A `crowdstake.oracle.PayoutSummary`: positions settled (the contract's word), cost, amounts."""
    click.echo(f"round {summary.round}: {summary.settled} positions settled in {summary.transactions} transactions "
               f"({summary.already_settled} were already), {summary.gas_used:,} gas; paid {summary.paid:,.4f}, "
               f"credited {summary.credited:,.4f}, burned {summary.burned:,.4f}")
