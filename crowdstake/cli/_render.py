"""What the commands print: tables (rich) and the oracle's and keeper's summaries. Token amounts
arrive as exact Decimals; the summary lines keep their formats (tests and scripts read them)."""

from __future__ import annotations

import click


def table(frame, title: str, width: int = 100) -> None:
    """A DataFrame as a rich table; missing values as empty cells. On a terminal it is as wide as
    the terminal; piped or captured, `width` columns (rich's 80 would cut the cells of a wide table)."""
    from rich.console import Console
    from rich.table import Table

    shown = Table(title=title)
    for col in frame.columns:
        shown.add_column(str(col), no_wrap=True)
    for row in frame.itertuples(index=False):
        shown.add_row(*("" if v is None or v != v else str(v) for v in row))
    console = Console()
    (console if console.is_terminal else Console(width=width)).print(shown)


def _number(value, digits: int) -> str:
    return "" if value is None or value != value else f"{value:,.{digits}f}"


def rounds(frame, now: int, title: str) -> None:
    """`Participant.rounds()`: times as UTC minutes, amounts in tokens."""
    from crowdstake._human import relative

    shown = frame.assign(
        closes=[f"{minute(t)} ({relative(t, now)})" for t in frame["close_time"]],
        resolves=[minute(t) for t in frame["resolve_time"]],
        stake=[_number(v, 2) for v in frame["total_stake"]], reward=[_number(v, 2) for v in frame["total_reward"]],
    )[["round", "tournament", "state", "closes", "resolves", "positions", "stake", "reward"]]
    table(shown, title)


def minute(timestamp: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(int(timestamp), timezone.utc).strftime("%Y-%m-%d %H:%M")


def positions(frame, title: str) -> None:
    """`Participant.status()`: a provisional payout (from an accepted, not finalised table) marked *."""
    shown = frame.assign(
        stake=[_number(v, 2) for v in frame["stake"]], corr=[_number(v, 4) for v in frame["corr"]],
        mmc=[_number(v, 4) for v in frame["mmc"]], score=[_number(v, 4) for v in frame["score"]],
        payout=[_number(v, 4) + ("*" if p else "") for v, p in zip(frame["payout"], frame["provisional"])],
    ).drop(columns=["provisional"])
    table(shown, title)
    if frame["provisional"].any():
        click.echo("* provisional: the committee accepted the table, and its dispute window is still running")


def scores(frame, title: str) -> None:
    """`Participant.scores().table`: the wallet's rows marked, stakers shortened; the two scores
    before `score` (corr and mmc, or a Signals round's alpha or fnc and mpc) to 4 decimals."""
    at = list(frame.columns).index("score")
    first, second = frame.columns[at - 2], frame.columns[at - 1]
    shown = frame.assign(
        staker=[f"{s[:10]}…" + (" (you)" if mine else "") for s, mine in zip(frame["staker"], frame["mine"])],
        stake=[_number(v, 2) for v in frame["stake"]], score=[_number(v, 4) for v in frame["score"]],
        payout=[_number(v, 4) for v in frame["payout"]],
        **{c: [_number(v, 4) for v in frame[c]] for c in (first, second)},
    ).drop(columns=["mine"])
    table(shown, title)


def _vote(summary) -> str:
    """The vote a dry run would send, as the committee's `vote(roundId, Result)` call."""
    if summary.would_vote is None:
        return f"would publish table {summary.table_hash} (no wallet given: no vote to show)"
    root, table, reward, leaves = summary.would_vote
    return (f"would publish table {summary.table_hash} and send vote(round {summary.round}, root 0x{bytes(root).hex()}, "
            f"table 0x{bytes(table).hex()}, totalReward {reward} wei, leafCount {leaves})")


def claim(done) -> str:
    """A `crowdstake.participant.Claim` in words: a loss as a loss, then where the rest went."""
    moved = "gained" if done.delta > 0 else "burned" if done.delta < 0 else "gained"
    where = f"restaked into round {done.restaked_into}" if done.restaked_into else "paid to the wallet"
    line = f"{moved} {abs(done.delta):,}, {done.paid:,} {where}" if done.paid is not None else \
        f"{done.delta:+,} tokens, {where}"
    return line + (f"; {done.note}" if done.note else "")


def oracle_summary(summary) -> None:
    """A `crowdstake.oracle.RoundSummary`: what a run did and where the round stands."""
    click.echo(f"round {summary.round}: {summary.positions} positions scored, root {summary.root}")
    click.echo(f"  reward {summary.total_reward:,.6f} (declared), burn {summary.total_burn:,.6f}; "
               f"score table {summary.table_hash}")
    for who, why in summary.floors.items():
        click.echo(f"  floor score for {who}: {why}")
    if summary.state is None:  # a dry run: nothing was sent
        click.echo(f"  dry run, nothing sent: {_vote(summary)}")
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
