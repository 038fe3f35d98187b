"""crowdstake.sim.report: CSV tables, PNG plots and index.html of a season report (no chain)."""

import numpy as np
import pandas as pd
import pytest

from crowdstake.errors import CrowdstakeError, InvalidInputError
from crowdstake.sim.report import (
    IMAGES,
    POSITION_COLUMNS,
    ROUND_COLUMNS,
    leaderboard,
    write_report,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def season(rounds: int = 4, participants: int = 5) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(7)
    rows = []
    for r in range(1, rounds + 1):
        for p in range(participants):
            for m in range(1 + (p == 0)):  # participant 0 runs two models
                stake = 100.0 + 10 * p
                corr = rng.normal(0.02 * (participants - p), 0.03)
                score = float(np.clip(corr, -0.25, 0.25))
                delta = stake * score
                rows.append({"round": r, "participant": f"p{p}", "model": f"m{m}", "stake": stake, "corr": corr,
                             "mmc": corr / 2, "score": score, "payout": delta, "burn": max(0.0, -delta)})
    positions = pd.DataFrame(rows)
    per_round = positions.groupby("round")
    rounds_df = pd.DataFrame({
        "round": list(per_round.groups),
        "reward": per_round["payout"].apply(lambda s: s[s > 0].sum()).to_numpy(),
        "burn": per_round["burn"].sum().to_numpy(),
        "meta_corr": per_round["corr"].max().to_numpy(),
        "median_corr": per_round["corr"].median().to_numpy(),
    })
    supply = pd.DataFrame({"block": [10, 20, 30, 40, 50], "supply": [1e6, 1e6 - 5, 1e6 - 12, 1e6 - 12, 1e6 - 20]})
    return positions, rounds_df, supply


def test_write_report_writes_tables_with_expected_columns(tmp_path):
    positions, rounds_df, supply = season()
    index = write_report(tmp_path, positions, rounds_df, supply)
    assert index == tmp_path / "index.html" and index.exists()
    assert list(pd.read_csv(tmp_path / "positions.csv").columns)[: len(POSITION_COLUMNS)] == POSITION_COLUMNS
    assert list(pd.read_csv(tmp_path / "rounds.csv").columns)[: len(ROUND_COLUMNS)] == ROUND_COLUMNS
    board = pd.read_csv(tmp_path / "leaderboard.csv")
    assert {"participant", "total_stake", "mean_corr", "total_payout"} <= set(board.columns)
    assert len(pd.read_csv(tmp_path / "positions.csv")) == len(positions)


def test_write_report_pngs_are_valid_and_non_empty(tmp_path):
    write_report(tmp_path, *season())
    for name in IMAGES:
        data = (tmp_path / name).read_bytes()
        assert data.startswith(PNG_MAGIC), name
        assert len(data) > 2000, name


def test_index_html_references_every_image_and_table(tmp_path):
    index = write_report(tmp_path, *season())
    text = index.read_text()
    for name in IMAGES:
        assert f'src="{name}"' in text
    for name in ("leaderboard.csv", "rounds.csv"):
        assert f'href="{name}"' in text
    assert "<table" in text and "p0" in text


def test_write_report_accepts_time_axis_for_supply(tmp_path):
    positions, rounds_df, supply = season(rounds=2)
    supply = supply.rename(columns={"block": "time"})
    write_report(tmp_path, positions, rounds_df, supply)
    assert (tmp_path / "supply.png").read_bytes().startswith(PNG_MAGIC)


def test_leaderboard_aggregates_and_sorts_by_total_payout():
    positions, _, _ = season()
    board = leaderboard(positions)
    assert list(board["total_payout"]) == sorted(board["total_payout"], reverse=True)
    p0 = board.set_index("participant").loc["p0"]
    mine = positions[positions["participant"] == "p0"]
    assert p0["models"] == 2
    assert p0["total_stake"] == pytest.approx(mine["stake"].sum())
    assert p0["mean_corr"] == pytest.approx(mine["corr"].mean())
    assert p0["total_payout"] == pytest.approx(mine["payout"].sum())


def test_missing_column_is_a_clear_error(tmp_path):
    positions, rounds_df, supply = season()
    with pytest.raises(InvalidInputError, match="burn"):
        write_report(tmp_path, positions.drop(columns="burn"), rounds_df, supply)
    with pytest.raises(CrowdstakeError, match="block or time"):
        write_report(tmp_path, positions, rounds_df, supply.drop(columns="block"))
