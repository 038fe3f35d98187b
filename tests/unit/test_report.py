"""crowdstake.sim.report: CSV tables, PNG plots and the season page of a season report (no chain;
written with the dashboard's pages of an index in test_web_site.py and the demo's tests)."""

import numpy as np
import pandas as pd
import pytest

from crowdstake.errors import CrowdstakeError, InvalidInputError
from crowdstake.sim.report import (
    IMAGES,
    POSITION_COLUMNS,
    ROUND_COLUMNS,
    Rules,
    by_kind,
    explain,
    formatted,
    leaderboard,
    write_report,
)

RULES = Rules(corr_weight=0.5, mmc_weight=2.0, cap=0.05, threshold=2_000)  # the demo's tournament

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
    assert index == tmp_path / "season.html" and index.exists()  # the first page, without an index
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


def with_kinds(positions: pd.DataFrame) -> pd.DataFrame:
    kinds = {"p0": "good", "p1": "good", "p2": "mediocre", "p3": "random", "p4": "withholder"}
    return positions.assign(kind=positions["participant"].map(kinds))


def test_explain_states_the_score_and_payout_formulas_with_the_tournaments_numbers():
    text = " ".join(explain(RULES))
    assert "score = 0.5 × CORR + 2 × MMC" in text
    assert "payout = stake × clip(score × payout factor, −5%, +5%)" in text
    assert "payout factor = min(1, 2,000 / the round's total stake)" in text
    assert "net of burns" in text
    other = " ".join(explain(Rules(corr_weight=1.0, mmc_weight=0.25, cap=0.1, threshold=50_000)))
    assert "score = 1 × CORR + 0.25 × MMC" in other and "−10%, +10%" in other
    assert "50,000" in other


def test_explain_names_the_seasons_payout_factors():
    rounds = pd.DataFrame({"payout_factor": [0.61, 0.5234]})
    assert "This season's factors: 0.5234 to 0.6100" in " ".join(explain(RULES, rounds))


def test_the_page_explains_itself_given_the_rules(tmp_path):
    positions, rounds_df, supply = season()
    text = write_report(tmp_path, positions, rounds_df, supply, rules=RULES).read_text()
    assert "How to read it" in text and "0.5 × CORR + 2 × MMC" in text
    bare = write_report(tmp_path / "bare", positions, rounds_df, supply).read_text()
    assert "How to read it" not in bare


def test_by_kind_sums_the_season_up_per_kind_of_participant():
    positions = with_kinds(season()[0])
    table = by_kind(positions).set_index("kind")
    assert set(table.index) == {"good", "mediocre", "random", "withholder"}
    good = positions[positions["kind"] == "good"]
    assert table.loc["good", "participants"] == 2
    assert table.loc["good", "models"] == 3  # p0's m0 and m1, p1's m0: model names are per participant
    assert table.loc["good", "positions"] == len(good)
    assert table.loc["good", "mean_payout"] == pytest.approx(good["payout"].mean())
    assert table.loc["good", "total_burn"] == pytest.approx(good["burn"].sum())
    assert list(table["mean_payout"]) == sorted(table["mean_payout"], reverse=True)


def test_the_report_has_a_table_by_kind_and_the_leaderboard_names_kinds(tmp_path):
    positions, rounds_df, supply = season()
    index = write_report(tmp_path, with_kinds(positions), rounds_df, supply)
    assert list(pd.read_csv(tmp_path / "by_kind.csv")["kind"])[-1] == "withholder"
    assert list(pd.read_csv(tmp_path / "leaderboard.csv").columns)[:2] == ["participant", "kind"]
    assert "By kind of participant" in index.read_text()
    write_report(tmp_path / "bare", positions, rounds_df, supply)
    assert not (tmp_path / "bare" / "by_kind.csv").exists()


def test_the_leaderboard_is_shown_rounded_as_on_the_page(tmp_path):
    positions, rounds_df, supply = season()
    board = leaderboard(positions)
    shown = formatted(board)
    assert list(shown.columns) == list(board.columns)
    row = board.iloc[0]
    assert shown.iloc[0]["total_payout"] == f"{row['total_payout']:,.2f}"
    assert shown.iloc[0]["mean_corr"] == f"{row['mean_corr']:.4f}"
    assert formatted(pd.DataFrame({"total_stake": [12345.678], "corr": [np.nan]})).iloc[0].tolist() == ["12,345.68", "—"]
    page = write_report(tmp_path, positions, rounds_df, supply).read_text()
    assert f"<td>{shown.iloc[0]['total_payout']}</td>" in page


def test_the_cumulative_payout_plot_colours_participants_by_kind(tmp_path, monkeypatch):
    import matplotlib.axes

    lines, texts = [], []
    plot, text = matplotlib.axes.Axes.plot, matplotlib.axes.Axes.text
    monkeypatch.setattr(matplotlib.axes.Axes, "plot", lambda self, *a, **k: lines.append(k.get("color")) or plot(self, *a, **k))
    monkeypatch.setattr(matplotlib.axes.Axes, "text", lambda self, x, y, s, **k: texts.append(s) or text(self, x, y, s, **k))
    positions, rounds_df, supply = season()
    write_report(tmp_path, with_kinds(positions), rounds_df, supply)
    assert lines[:5].count("tab:green") == 2 and "tab:gray" in lines[:5] and "tab:red" in lines[:5]
    assert set(texts) >= {"p0", "p1", "p2", "p3", "p4"}  # every line labelled at its end


def test_with_the_seasons_index_the_report_is_the_dashboards_pages_and_the_season_page(tmp_path):
    from crowdstake.index.schema import open_index
    from support.index_rows import ident

    index = tmp_path / "index.sqlite3"
    open_index(index, ident(), write=True).close()  # a deployment with nothing in it yet
    first = write_report(tmp_path / "report", *season(), rules=RULES, index=index)
    assert first == tmp_path / "report" / "index.html"
    assert "The index has no tournament yet" in first.read_text() and 'href="season.html">Season<' in first.read_text()
    season_page = (tmp_path / "report" / "season.html").read_text()
    assert "0.5 × CORR + 2 × MMC" in season_page and 'href="rounds.html">Rounds<' in season_page
