"""Season report: leaderboard and payout tables (pandas), plots (matplotlib, Agg backend), and a
season page that shows them, laid out as the dashboard's pages and written with them
(`crowdstake.web.site`: one rendering path for the server and the report).

Inputs (token amounts in tokens, not wei):

- ``positions``: one row per (round, participant, model): ``round, participant, model, stake,
  corr, mmc, score, payout`` (signed: a gain is positive, a burn negative) and ``burn`` (>= 0).
  corr/mmc may be NaN for a submission that could not be scored.
- ``rounds``: one row per round: ``round, reward, burn, meta_corr`` (the stake-weighted meta
  model's CORR), ``median_corr`` (the median participant model's CORR).
- ``supply``: total token supply over the season: ``supply`` and ``block`` or ``time`` (unix
  seconds, shown as UTC dates).
- ``kind`` (optional, in ``positions``): the participant's kind (good, mediocre, random,
  withholder, copycat ...); with it the leaderboard names each participant's kind, a table sums
  the season up by kind (``by_kind``) and the cumulative payout plot colours lines by kind.
- ``rules`` (optional, a ``Rules``): the tournament's weights, cap and threshold; with them the
  report opens with how a score and a payout are computed (``explain``). A ``payout_factor``
  column in ``rounds`` is the factor each round applied.
- ``tournament`` (optional, in ``positions`` and ``rounds``): "classic" or "signals"; with it the
  leaderboard and the kinds table are per tournament, and ``signals_rules`` explain a Signals
  score (its ``corr`` and ``mmc`` columns hold alpha and MPC; its rounds have no meta CORR).

``write_report(out_dir, positions, rounds, supply, rules=..., index=...)`` writes positions.csv,
rounds.csv, leaderboard.csv, by_kind.csv (with kinds), supply.csv, four PNG plots
(cumulative_payout.png, reward_burn.png, meta_vs_median.png, supply.png), season.html and, given
the season's index file, the dashboard's pages (index.html the leaderboard), and returns the
first page. ``formatted(board)`` is the leaderboard as both the page and ``crowdstake demo`` show
it: the same columns, the same rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from crowdstake.errors import InvalidInputError
from crowdstake.results.merkle import model_id
from crowdstake.web import html as web_html
from crowdstake.web.site import write_site

__all__ = ["IMAGES", "POSITION_COLUMNS", "ROUND_COLUMNS", "Rules", "by_kind", "explain", "formatted", "leaderboard",
           "write_report"]

POSITION_COLUMNS = ["round", "participant", "model", "stake", "corr", "mmc", "score", "payout", "burn"]
ROUND_COLUMNS = ["round", "reward", "burn", "meta_corr", "median_corr"]
LEADERBOARD_COLUMNS = ["participant", "models", "rounds", "total_stake", "mean_corr", "mean_mmc", "mean_score",
                       "total_payout", "total_burn"]
KIND_COLUMNS = ["kind", "participants", "models", "positions", "mean_corr", "mean_mmc", "mean_score",
                "mean_payout", "total_payout", "total_burn"]
# Token amounts to the cent with thousands separators; scores to 4 decimals (CORR of 0.0123).
TOKEN_COLUMNS = {"stake", "payout", "burn", "reward", "total_stake", "total_payout", "total_burn", "mean_payout",
                 "supply"}
COLOURS = {"good": "tab:green", "mediocre": "tab:orange", "random": "tab:gray", "withholder": "tab:red",
           "copycat": "tab:purple", "sentiment": "tab:cyan", "momentum": "tab:brown"}
IMAGES = {
    "cumulative_payout.png": "Cumulative payout per participant",
    "reward_burn.png": "Reward and burn per round",
    "meta_vs_median.png": "Meta model CORR vs the median participant's, per round",
    "supply.png": "Total token supply",
}


@dataclass(frozen=True)
class Rules:
    """The tournament's parameters, as the contract reads them: score weights (1.0 = 10,000 bps),
    the cap (0.05 = 5%) and the threshold (tokens) of the payout factor."""

    corr_weight: float
    mmc_weight: float
    cap: float
    threshold: float


def _number(v: float) -> str:
    return f"{v:,.4f}".rstrip("0").rstrip(".")


def explain(rules: Rules, rounds: pd.DataFrame | None = None, signals: Rules | None = None) -> list[str]:
    """How to read the numbers: the score, the payout and its factor, what "payout" means, and
    (`signals`) a Signals score."""
    cap = f"{_number(rules.cap * 100)}%"
    factors = ""
    if rounds is not None and "payout_factor" in rounds.columns and len(rounds):
        lo, hi = rounds["payout_factor"].min(), rounds["payout_factor"].max()
        factors = f" This season's factors: {lo:.4f}" + (f" to {hi:.4f}" if hi != lo else "") + " (rounds table)."
    return [
        f"score = {_number(rules.corr_weight)} × CORR + {_number(rules.mmc_weight)} × MMC, where CORR is the "
        "correlation of a model's predictions with the round's targets and MMC its contribution to the "
        "stake-weighted meta model; a missing or malformed file scores the floor, -1.",
        f"payout = stake × clip(score × payout factor, −{cap}, +{cap}): a model gains or loses at most {cap} of its "
        "stake per round.",
        f"payout factor = min(1, {rules.threshold:,.0f} / the round's total stake): 1 while a round's stakes stay "
        f"under the threshold, then smaller, so a round's reward never outgrows it.{factors}",
        "A payout is net of burns: positive is a gain paid from the reward pool, negative the part of the stake "
        "burned; the stake itself comes back on top (restaked into the open round when there is one). "
        "total_burn is the sum of the losses, in tokens.",
    ] + ([
        f"Signals: score = {_number(signals.corr_weight)} × alpha + {_number(signals.mmc_weight)} × MPC, shown in "
        "the corr and mmc columns: alpha is a signal's return after neutralising it against the round's factors "
        "(country, sector, beta, size, value, momentum), MPC its contribution to the stake-weighted portfolio; the "
        "payout rule is the same.",
    ] if signals is not None else [])


def _require(frame: pd.DataFrame, columns: list[str], what: str) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInputError(f"{what} must be a pandas DataFrame")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidInputError(f"{what} lacks column(s) {', '.join(missing)}; expected {', '.join(columns)}")
    return frame


def _supply_axis(supply: pd.DataFrame) -> str:
    _require(supply, ["supply"], "supply")
    for axis in ("block", "time"):
        if axis in supply.columns:
            return axis
    raise InvalidInputError("supply needs a block or time column next to supply")


def leaderboard(positions: pd.DataFrame) -> pd.DataFrame:
    """Per participant: models, rounds, total stake, mean corr/mmc/score (NaN-skipping), total
    payout and burn; sorted by total payout (best first), then participant."""
    _require(positions, POSITION_COLUMNS, "positions")
    if positions.empty:
        return pd.DataFrame(columns=LEADERBOARD_COLUMNS)
    if "tournament" in positions.columns:
        return _per_tournament(leaderboard, positions)
    g = positions.groupby("participant", sort=True)
    board = pd.DataFrame({
        "models": g["model"].nunique(),
        "rounds": g["round"].nunique(),
        "total_stake": g["stake"].sum(),
        "mean_corr": g["corr"].mean(),
        "mean_mmc": g["mmc"].mean(),
        "mean_score": g["score"].mean(),
        "total_payout": g["payout"].sum(),
        "total_burn": g["burn"].sum(),
    }).reset_index()
    board = board.sort_values(["total_payout", "participant"], ascending=[False, True], kind="stable")
    columns = LEADERBOARD_COLUMNS
    if "kind" in positions.columns:  # a participant's kind next to its name
        board.insert(1, "kind", board["participant"].map(g["kind"].first()))
        columns = columns[:1] + ["kind"] + columns[1:]
    return board.reset_index(drop=True)[columns]


def _per_tournament(table, positions: pd.DataFrame) -> pd.DataFrame:
    """`table` of each tournament's positions, one after the other (classic first), with a
    tournament column first."""
    parts = []
    for name, part in positions.groupby("tournament", sort=True):
        one = table(part.drop(columns="tournament"))
        one.insert(0, "tournament", name)
        parts.append(one)
    return pd.concat(parts, ignore_index=True)


def by_kind(positions: pd.DataFrame) -> pd.DataFrame:
    """Per kind of participant: participants, models, positions, mean corr/mmc/score, mean payout
    per position, total payout and burn; sorted by mean payout (best first)."""
    _require(positions, POSITION_COLUMNS + ["kind"], "positions")
    if positions.empty:
        return pd.DataFrame(columns=KIND_COLUMNS)
    if "tournament" in positions.columns:  # a copycat of each tournament is its own kind
        return _per_tournament(by_kind, positions)
    g = positions.groupby("kind", sort=True)
    table = pd.DataFrame({
        "participants": g["participant"].nunique(),
        "models": positions.drop_duplicates(["participant", "model"]).groupby("kind").size(),  # names are per participant
        "positions": g.size(),
        "mean_corr": g["corr"].mean(),
        "mean_mmc": g["mmc"].mean(),
        "mean_score": g["score"].mean(),
        "mean_payout": g["payout"].mean(),
        "total_payout": g["payout"].sum(),
        "total_burn": g["burn"].sum(),
    }).reset_index()
    table = table.sort_values(["mean_payout", "kind"], ascending=[False, True], kind="stable")
    return table.reset_index(drop=True)[KIND_COLUMNS]


def formatted(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as text, as the report shows it: tokens as 1,234.56, scores to 4 decimals, a
    missing value as "—"."""
    def cell(column, v):
        if v is None or (isinstance(v, float) and v != v):
            return "—"
        if isinstance(v, (float, np.floating)):
            return f"{v:,.2f}" if column in TOKEN_COLUMNS else f"{v:.4f}"
        return str(v)

    return pd.DataFrame({c: [cell(c, v) for v in frame[c]] for c in frame.columns}, columns=frame.columns)


def _cumulative(ax, positions: pd.DataFrame, plt, Line2D) -> None:
    """Each participant's cumulative payout over the rounds of `positions`, coloured by kind,
    labelled at its end."""
    if not positions.empty:
        per = positions.pivot_table(index="round", columns="participant", values="payout", aggfunc="sum",
                                    fill_value=0.0).sort_index()
        cum = per.cumsum()
        cum = cum[cum.iloc[-1].sort_values(ascending=False, kind="stable").index]  # labels in final order
        kind = positions.groupby("participant")["kind"].first() if "kind" in positions.columns else None
        cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        colour = {}
        x = np.arange(len(cum.index))  # evenly spaced: another tournament's rounds are not gaps
        for i, name in enumerate(cum.columns):
            # one colour per kind (a legend of kinds), else per participant
            colour[name] = COLOURS.get(kind[name], "tab:blue") if kind is not None else cycle[i % len(cycle)]
            ax.plot(x, cum[name], marker="o", markersize=3, linewidth=1.2, color=colour[name])
        if len(cum.columns) <= 40:  # each line labelled at its end, labels pushed apart where ends meet
            gap, below = (float(np.ptp(cum.to_numpy())) or 1.0) / 40, None
            for name in cum.columns:  # highest end first
                y = float(cum[name].iloc[-1]) if below is None else min(float(cum[name].iloc[-1]), below - gap)
                ax.text(x[-1] + 0.1, y, str(name), fontsize=7, color=colour[name], va="center")
                below = y
        if kind is not None:
            kinds = sorted(set(kind[c] for c in cum.columns))
            ax.legend([Line2D([], [], color=COLOURS.get(k, "tab:blue")) for k in kinds], kinds, fontsize=8,
                      loc="upper left", frameon=False)
        ax.set_xticks(list(x), [str(v) for v in cum.index])
        ax.set_xlim(-0.2, x[-1] + 0.2 + 0.15 * len(x))  # room for the labels
    ax.axhline(0, color="grey", linewidth=0.8)


def _plots(out: Path, positions: pd.DataFrame, rounds: pd.DataFrame, supply: pd.DataFrame, axis: str) -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter

    thousands = FuncFormatter(lambda v, _: f"{v:,.0f}")

    def save(fig, name):
        fig.tight_layout()
        fig.savefig(out / name, dpi=100)
        plt.close(fig)

    # cumulative payout per participant, a panel per tournament (each over its own rounds)
    parts = list(positions.groupby("tournament", sort=True)) if "tournament" in positions.columns \
        else [(None, positions)]
    fig, axes = plt.subplots(len(parts), 1, figsize=(9, 5 * len(parts)), squeeze=False)
    for ax, (name, part) in zip(axes[:, 0], parts):
        _cumulative(ax, part, plt, Line2D)
        ax.yaxis.set_major_formatter(thousands)
        title = IMAGES["cumulative_payout.png"] + (f": {name}" if name else "")
        ax.set(title=title, xlabel="round", ylabel="tokens, cumulative")
    save(fig, "cumulative_payout.png")

    # reward and burn per round
    fig, ax = plt.subplots(figsize=(8, 4.5))
    r = rounds.sort_values("round")
    x = np.arange(len(r))
    ax.bar(x - 0.2, r["reward"].to_numpy(dtype=float), width=0.4, color="tab:green", label="reward")
    ax.bar(x + 0.2, r["burn"].to_numpy(dtype=float), width=0.4, color="tab:red", label="burn")
    ax.set_xticks(x, [str(v) for v in r["round"]])
    ax.yaxis.set_major_formatter(thousands)
    ax.set(title=IMAGES["reward_burn.png"], xlabel="round", ylabel="tokens")
    ax.legend()
    save(fig, "reward_burn.png")

    # meta model vs median participant: the rounds that have a meta CORR (not Signals)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    r = r[r["meta_corr"].notna()]
    x = np.arange(len(r))
    ax.plot(x, r["meta_corr"].to_numpy(dtype=float), marker="o", color="tab:blue", label="meta model")
    ax.plot(x, r["median_corr"].to_numpy(dtype=float), marker="s", color="tab:orange", label="median participant")
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set_xticks(x, [str(v) for v in r["round"]])
    ax.set(title=IMAGES["meta_vs_median.png"], xlabel="round", ylabel="CORR")
    ax.legend()
    save(fig, "meta_vs_median.png")

    # total supply
    fig, ax = plt.subplots(figsize=(8, 4.5))
    s = supply.sort_values(axis)
    x = pd.to_datetime(s[axis], unit="s", utc=True).dt.tz_localize(None) if axis == "time" else s[axis]
    ax.step(x.to_numpy(), s["supply"].to_numpy(dtype=float), where="post", color="tab:purple",
            marker="o", markersize=3)
    ax.yaxis.set_major_formatter(thousands)
    if axis == "time":  # chain days, not seconds since 1970
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %d"))
        fig.autofmt_xdate()
    else:
        ax.xaxis.set_major_formatter(thousands)
    ax.set(title=IMAGES["supply.png"], xlabel="chain date (UTC)" if axis == "time" else "block", ylabel="tokens")
    save(fig, "supply.png")


def _table(frame: pd.DataFrame, rows: int) -> str:
    """The first `rows` rows of `frame` as the dashboard's tables are drawn, rounded by `formatted`."""
    shown = formatted(frame.head(rows))
    return web_html.table([(c, c) for c in shown.columns],
                          [[web_html.e(v) for v in row] for row in shown.itertuples(index=False)], cls="season")


def season_page(board: pd.DataFrame, rounds: pd.DataFrame, positions: pd.DataFrame, rows: int,
                kinds: pd.DataFrame | None, notes: list[str]) -> str:
    """The season page's body (HTML): how to read it, the season by kind, the plots, the
    leaderboard by participant, the rounds and the first `rows` positions, each beside its CSV."""
    e = web_html.e
    images = "".join(f'<figure><img src="{e(name)}" alt="{e(caption)}"><figcaption>{e(caption)}</figcaption>'
                     "</figure>" for name, caption in IMAGES.items())
    reading = ("<h2>How to read it</h2><ul>" + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul>") if notes else ""
    kind_table = ('<h2>By kind of participant</h2><p class="note">Mean payout is per position (a model in a round); '
                  f'<a href="by_kind.csv">by_kind.csv</a></p>{_table(kinds, rows)}') if kinds is not None else ""
    more = f' (first {rows} of {len(positions)}; all in <a href="positions.csv">positions.csv</a>)' \
        if len(positions) > rows else ""
    return (f"{reading}{kind_table}<h2>Plots</h2>{images}"
            f'<h2>Leaderboard</h2><p class="note"><a href="leaderboard.csv">leaderboard.csv</a></p>{_table(board, rows)}'
            f'<h2>Rounds</h2><p class="note"><a href="rounds.csv">rounds.csv</a></p>{_table(rounds, rows)}'
            f'<h2>Positions</h2><p class="note">One row per round, participant and model{more}.</p>'
            f"{_table(positions, rows)}")


def write_report(out_dir, positions: pd.DataFrame, rounds: pd.DataFrame, supply: pd.DataFrame, *,
                 rules: Rules | None = None, signals_rules: Rules | None = None, index=None, verify=None,
                 rows: int = 50) -> Path:
    """Write the season report into ``out_dir`` (created if needed) and return its first page:
    index.html, the dashboard's leaderboard, given the season's ``index`` file; season.html
    without one.

    Files: positions.csv, rounds.csv, leaderboard.csv, by_kind.csv (when positions have a kind),
    supply.csv, cumulative_payout.png, reward_burn.png, meta_vs_median.png, supply.png,
    season.html (how to read it, given ``rules``; tables show their first ``rows`` rows and link
    the CSVs), and with ``index`` the dashboard's pages (`crowdstake.web.site`, each round
    verified by ``verify``), the season page in their navigation.
    @raise InvalidInputError when a frame lacks a required column.
    """
    _require(positions, POSITION_COLUMNS, "positions")
    _require(rounds, ROUND_COLUMNS, "rounds")
    axis = _supply_axis(supply)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    positions = positions.sort_values(["round", "participant", "model"], kind="stable").reset_index(drop=True)
    rounds = rounds.sort_values("round", kind="stable").reset_index(drop=True)
    board = leaderboard(positions)
    extra_p = [c for c in positions.columns if c not in POSITION_COLUMNS]
    extra_r = [c for c in rounds.columns if c not in ROUND_COLUMNS]
    positions = positions[POSITION_COLUMNS + extra_p]
    rounds = rounds[ROUND_COLUMNS + extra_r]
    positions.to_csv(out / "positions.csv", index=False, lineterminator="\n")
    rounds.to_csv(out / "rounds.csv", index=False, lineterminator="\n")
    board.to_csv(out / "leaderboard.csv", index=False, lineterminator="\n")
    kinds = by_kind(positions) if "kind" in positions.columns else None
    if kinds is not None:
        kinds.to_csv(out / "by_kind.csv", index=False, lineterminator="\n")
    supply_cols = [axis, "supply"] + [c for c in supply.columns if c not in (axis, "supply")]
    supply.sort_values(axis, kind="stable")[supply_cols].to_csv(out / "supply.csv", index=False, lineterminator="\n")
    _plots(out, positions, rounds, supply, axis)
    notes = explain(rules, rounds, signals_rules) if rules is not None else []
    season = ("season.html", "Season", season_page(board, rounds, positions, rows, kinds, notes))
    names = {"0x" + model_id(m).hex(): m for m in positions["model"].unique()}  # the season knows its names
    return write_site(index, out, extra=(season,), verify=verify, model_names=names)
