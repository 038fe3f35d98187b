"""What the commands print: tables (rich) and the oracle's and keeper's summaries. Token amounts
arrive as exact Decimals (or floats in a frame) and are shown by `_units.format_amount`, 4
decimals everywhere; scores to 4 decimals; counts with their noun (`_human.count`)."""

from __future__ import annotations

import textwrap

import click

from crowdstake._human import count
from crowdstake._units import format_amount as amount


def table(frame, title: str | None = None, width: int = 100, *, wrap=(), right=(), headers=None) -> None:
    """A DataFrame as a rich table under its title line; missing values as empty cells. Cells stay
    on one line (captured output must not wrap mid-sentence) except in the `wrap` columns (names,
    free text), which fold; `right` columns (numbers) are right-aligned; `headers` shows a column
    under another header (one may hold a line break). No vertical rules: at 100 columns every
    character goes to the cells. On a terminal it is as wide as the terminal; piped or captured,
    `width` columns (rich's 80 would cut the cells of a wide table)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    shown = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    for col in frame.columns:
        folds = col in wrap
        shown.add_column((headers or {}).get(col, str(col)), no_wrap=not folds, overflow="fold" if folds else "ellipsis",
                         justify="right" if col in right else "left")
    for row in frame.itertuples(index=False):
        shown.add_row(*("" if v is None or v != v else str(v) for v in row))
    if title:
        click.echo(title)
    console = Console()
    (console if console.is_terminal else Console(width=width)).print(shown)


def _score(value) -> str:
    return "" if value is None or value != value else f"{value:.4f}"


def rounds(frame, now: int, title: str) -> None:
    """`Participant.rounds()`, a table per tournament: times as UTC minutes with how far off
    they are on a second line, amounts in tokens."""
    import pandas as pd

    from crowdstake._human import relative

    if frame.empty:
        click.echo(f"{title}: no rounds yet")
        return
    for tournament, part in frame.groupby("tournament", sort=True):
        shown = pd.DataFrame({
            "round": part["round"], "state": part["state"],
            "closes (UTC)": [f"{minute(t)}\n{relative(t, now)}" for t in part["close_time"]],
            "resolves (UTC)": [f"{minute(t)}\n{relative(t, now)}" for t in part["resolve_time"]],
            "positions": part["positions"],
            "stake": [amount(v) for v in part["total_stake"]], "reward": [amount(v) for v in part["total_reward"]],
        })
        table(shown, f"{title}, tournament {tournament}", right=("round", "positions", "stake", "reward"))


def minute(timestamp: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(int(timestamp), timezone.utc).strftime("%Y-%m-%d %H:%M")


_SCORES = ("stake", "corr", "mmc", "score", "payout")


def positions(frame, title: str) -> None:
    """`Participant.status()`: a provisional payout (from an accepted, not finalised table) marked *."""
    shown = frame.assign(
        stake=[amount(v) for v in frame["stake"]], corr=[_score(v) for v in frame["corr"]],
        mmc=[_score(v) for v in frame["mmc"]], score=[_score(v) for v in frame["score"]],
        payout=[amount(v) + ("*" if p else "") for v, p in zip(frame["payout"], frame["provisional"])],
    ).drop(columns=["provisional"])
    table(shown, title, wrap=("model",), right=("round",) + _SCORES)
    if frame["provisional"].any():
        click.echo("* provisional: the committee accepted the table, and its dispute window is still running")


def scores(frame, title: str) -> None:
    """`Participant.scores().table`: the wallet's rows marked, stakers shortened to their first
    10 characters; the two scores before `score` (corr and mmc, or a Signals round's alpha or fnc
    and mpc) to 4 decimals. A floor score's reason is a number in the `floor` column, the
    reasons listed under the table (one may be a long sentence)."""
    at = list(frame.columns).index("score")
    first, second = frame.columns[at - 2], frame.columns[at - 1]
    reasons = list(dict.fromkeys(r for r in frame["reason"] if r))
    shown = frame.assign(
        staker=[s[:10] + (" (you)" if mine else "") for s, mine in zip(frame["staker"], frame["mine"])],
        stake=[amount(v) for v in frame["stake"]], score=[_score(v) for v in frame["score"]],
        payout=[amount(v) for v in frame["payout"]],
        **{c: [_score(v) for v in frame[c]] for c in (first, second)},
        reason=[str(reasons.index(r) + 1) if r else "" for r in frame["reason"]],
    ).drop(columns=["mine"]).rename(columns={"reason": "floor"})
    table(shown, title, wrap=("model",), right=("stake", first, second, "score", "payout", "floor"))
    for number, reason in enumerate(reasons, 1):
        click.echo(textwrap.fill(reason, 100, initial_indent=f"floor {number}: ", subsequent_indent="  "))


def leaderboard(board, title: str) -> None:
    """A season's leaderboard (`crowdstake.sim.report.leaderboard`) with the report page's columns
    and rounding (`formatted`); a header such as total_stake on two lines, total over stake."""
    from crowdstake.sim.report import formatted

    shown = formatted(board)
    table(shown, title, wrap=("participant",), right=[c for c in shown.columns if c not in ("participant", "kind")],
          headers={c: c.replace("_", "\n") for c in shown.columns})


def _vote(summary) -> str:
    """The vote a dry run would send, as the committee's `vote(roundId, Result)` call."""
    from crowdstake._units import to_tokens

    if summary.would_vote is None:
        return f"would publish table {summary.table_hash}"
    root, table, reward, leaves = summary.would_vote
    return (f"would publish table {summary.table_hash} and send vote(round {summary.round}, root 0x{bytes(root).hex()}, "
            f"table 0x{bytes(table).hex()}, totalReward {reward} wei = {amount(to_tokens(reward))} tokens, "
            f"leafCount {leaves})")


def claim(done) -> str:
    """A `crowdstake.participant.Claim` in words: a loss as a loss, then where the rest went."""
    moved = "gained" if done.delta > 0 else "burned" if done.delta < 0 else "gained"
    where = f"restaked into round {done.restaked_into}" if done.restaked_into else "paid to the wallet"
    line = f"{moved} {amount(abs(done.delta))}, {amount(done.paid)} {where}" if done.paid is not None else \
        f"{'+' if done.delta >= 0 else '-'}{amount(abs(done.delta))} tokens, {where}"
    return line + (f"; {done.note}" if done.note else "")


def oracle_summary(summary) -> None:
    """A `crowdstake.oracle.RoundSummary`: what a run did and where the round stands."""
    click.echo(f"round {summary.round}: {count(summary.positions, 'position')} scored, root {summary.root}")
    click.echo(f"  reward {amount(summary.total_reward)} (declared), burn {amount(summary.total_burn)}; "
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
    for t in report.mismatches:
        click.echo(f"  {t}")


def payout(summary) -> None:
    """A `crowdstake.oracle.PayoutSummary`: positions settled (the contract's word), cost, amounts."""
    already = f"{summary.already_settled:,} {'was' if summary.already_settled == 1 else 'were'} already"
    click.echo(f"round {summary.round}: {count(summary.settled, 'position')} settled in "
               f"{count(summary.transactions, 'transaction')} ({already}), {summary.gas_used:,} gas; "
               f"paid {amount(summary.paid)}, credited {amount(summary.credited)}, burned {amount(summary.burned)}")
