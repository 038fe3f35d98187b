"""Season report: leaderboard and payout tables (pandas), plots (matplotlib, Agg backend), and an
``index.html`` that shows them.

Inputs (token amounts in tokens, not wei):

- ``positions``: one row per (round, participant, model): ``round, participant, model, stake,
  corr, mmc, score, payout`` (signed: a gain is positive, a burn negative) and ``burn`` (>= 0).
  corr/mmc may be NaN for a submission that could not be scored.
- ``rounds``: one row per round: ``round, reward, burn, meta_corr`` (the stake-weighted meta
  model's CORR), ``median_corr`` (the median participant model's CORR).
- ``supply``: total token supply over the season: ``supply`` and ``block`` or ``time``.

``write_report(out_dir, positions, rounds, supply)`` writes positions.csv, rounds.csv,
leaderboard.csv, supply.csv, four PNG plots (cumulative_payout.png, reward_burn.png,
meta_vs_median.png, supply.png) and index.html, and returns the path of index.html.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

from crowdstake.errors import InvalidInputError

__all__ = ["IMAGES", "POSITION_COLUMNS", "ROUND_COLUMNS", "leaderboard", "write_report"]

POSITION_COLUMNS = ["round", "participant", "model", "stake", "corr", "mmc", "score", "payout", "burn"]
ROUND_COLUMNS = ["round", "reward", "burn", "meta_corr", "median_corr"]
LEADERBOARD_COLUMNS = ["participant", "models", "rounds", "total_stake", "mean_corr", "mean_mmc", "mean_score",
                       "total_payout", "total_burn"]
IMAGES = {
    "cumulative_payout.png": "Cumulative payout per participant",
    "reward_burn.png": "Reward and burn per round",
    "meta_vs_median.png": "Meta model CORR vs the median participant's, per round",
    "supply.png": "Total token supply",
}


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
    return board.reset_index(drop=True)[LEADERBOARD_COLUMNS]


def _plots(out: Path, positions: pd.DataFrame, rounds: pd.DataFrame, supply: pd.DataFrame, axis: str) -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    def save(fig, name):
        fig.tight_layout()
        fig.savefig(out / name, dpi=100)
        plt.close(fig)

    # cumulative payout per participant
    fig, ax = plt.subplots(figsize=(9, 5))
    if not positions.empty:
        per = positions.pivot_table(index="round", columns="participant", values="payout", aggfunc="sum",
                                    fill_value=0.0).sort_index()
        cum = per.cumsum()
        cum = cum[cum.iloc[-1].sort_values(ascending=False, kind="stable").index]  # legend in final order
        for name in cum.columns:
            ax.plot(cum.index, cum[name], marker="o", markersize=3, linewidth=1.2, label=str(name))
        if len(cum.columns) <= 30:
            ax.legend(fontsize=7, ncol=2 if len(cum.columns) > 12 else 1, loc="center left",
                      bbox_to_anchor=(1.0, 0.5), frameon=False)
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set(title=IMAGES["cumulative_payout.png"], xlabel="round", ylabel="tokens")
    save(fig, "cumulative_payout.png")

    # reward and burn per round
    fig, ax = plt.subplots(figsize=(8, 4.5))
    r = rounds.sort_values("round")
    x = np.arange(len(r))
    ax.bar(x - 0.2, r["reward"].to_numpy(dtype=float), width=0.4, color="tab:green", label="reward")
    ax.bar(x + 0.2, r["burn"].to_numpy(dtype=float), width=0.4, color="tab:red", label="burn")
    ax.set_xticks(x, [str(v) for v in r["round"]])
    ax.set(title=IMAGES["reward_burn.png"], xlabel="round", ylabel="tokens")
    ax.legend()
    save(fig, "reward_burn.png")

    # meta model vs median participant
    fig, ax = plt.subplots(figsize=(8, 4.5))
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
    ax.step(s[axis].to_numpy(), s["supply"].to_numpy(dtype=float), where="post", color="tab:purple",
            marker="o", markersize=3)
    ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    ax.set(title=IMAGES["supply.png"], xlabel=axis, ylabel="tokens")
    save(fig, "supply.png")


def _table(frame: pd.DataFrame, rows: int) -> str:
    return frame.head(rows).to_html(index=False, float_format=lambda v: f"{v:,.4f}", na_rep="—", border=0,
                                    classes="t")


def _html(title: str, board: pd.DataFrame, rounds: pd.DataFrame, positions: pd.DataFrame, rows: int) -> str:
    images = "\n".join(
        f'<figure><img src="{html.escape(name)}" alt="{html.escape(caption)}"><figcaption>{html.escape(caption)}'
        f"</figcaption></figure>" for name, caption in IMAGES.items()
    )
    more = f" (first {rows} of {len(positions)}; all in <a href=\"positions.csv\">positions.csv</a>)" \
        if len(positions) > rows else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}
table.t {{ border-collapse: collapse; font-size: 0.85em; margin-bottom: 1.5em; }}
table.t th, table.t td {{ padding: 0.2em 0.6em; text-align: right; border-bottom: 1px solid #ddd; }}
figure {{ display: inline-block; margin: 0.5em; }} img {{ max-width: 100%; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<h2>Plots</h2>
{images}
<h2>Leaderboard</h2>
<p><a href="leaderboard.csv">leaderboard.csv</a></p>
{_table(board, rows)}
<h2>Rounds</h2>
<p><a href="rounds.csv">rounds.csv</a></p>
{_table(rounds, rows)}
<h2>Positions</h2>
<p>One row per round, participant and model{more}.</p>
{_table(positions, rows)}
</body></html>
"""


def write_report(out_dir, positions: pd.DataFrame, rounds: pd.DataFrame, supply: pd.DataFrame, *,
                 title: str = "crowdstake season report", rows: int = 50) -> Path:
    """Write the season report into ``out_dir`` (created if needed) and return its index.html.

    Files: positions.csv, rounds.csv, leaderboard.csv, supply.csv, cumulative_payout.png,
    reward_burn.png, meta_vs_median.png, supply.png, index.html (tables show their first
    ``rows`` rows and link the CSVs).
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
    supply_cols = [axis, "supply"] + [c for c in supply.columns if c not in (axis, "supply")]
    supply.sort_values(axis, kind="stable")[supply_cols].to_csv(out / "supply.csv", index=False, lineterminator="\n")
    _plots(out, positions, rounds, supply, axis)
    index = out / "index.html"
    index.write_text(_html(title, board, rounds, positions, rows), encoding="utf-8")
    return index
