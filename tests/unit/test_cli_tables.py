"""The tables the CLI prints (`rounds`, `status`, `scores`, the demo's leaderboard), rendered as
captured output is, at 100 columns, from the worst cells a real tournament gives: five-digit
rounds, big totals, long model names, a floor reason that is a whole sentence, "59 min ago".
Nothing may be cut to "…", no line may pass 100 characters, every header is shown whole and
every value is there (a long name folds, it is not cut). `make unit` runs it."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from crowdstake.cli import _render

NOW = 1_790_000_000
WIDTH = 100
LONG_NAME = "my-long-model-name-v2-final"
LONG_REASON = ("missing ids: 1,204 ids, e.g. id005; the file covers 3,796 of the round's 5,000 live ids, so the model "
               "gets the floor score")


def printed(capsys, draw) -> list[str]:
    draw()
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "…" not in out, out
    assert all(len(line) <= WIDTH for line in lines), "\n".join(line for line in lines if len(line) > WIDTH)
    return lines


def test_rounds_fit_100_columns_and_say_utc(capsys):
    frame = pd.DataFrame([
        dict(round=12345, tournament=1, state="refundable", close_time=NOW - 3540, resolve_time=NOW + 3 * 86_400,
             total_stake=Decimal("9999999.5"), positions=12345, total_reward=Decimal("1234567.25")),
        dict(round=12346, tournament=1, state="open", close_time=NOW + 3540, resolve_time=NOW + 80,
             total_stake=Decimal("150.0"), positions=2, total_reward=Decimal("0.0")),
        dict(round=7, tournament=2, state="resolving", close_time=NOW - 30 * 86_400, resolve_time=NOW - 7200,
             total_stake=Decimal("2500.0"), positions=20, total_reward=Decimal("12.5")),
    ])
    lines = printed(capsys, lambda: _render.rounds(frame, NOW, "rounds on chain 31337"))
    assert lines[0] == "rounds on chain 31337, tournament 1"
    assert lines[1].split() == ["round", "state", "closes", "(UTC)", "resolves", "(UTC)", "positions", "stake",
                                "reward"]
    text = "\n".join(lines)
    for cell in ("12345", "refundable", "2026-09-21 13:14", "59 min ago", "in 59 min", "in 3 days", "in 80 s",
                 "9,999,999.5000", "1,234,567.2500", "rounds on chain 31337, tournament 2", "2 h ago", "30 days ago"):
        assert cell in text, cell


def test_an_empty_chain_says_it_has_no_rounds(capsys):
    _render.rounds(pd.DataFrame(columns=["round", "tournament", "state", "close_time", "resolve_time", "total_stake",
                                         "positions", "total_reward"]), NOW, "rounds on chain 31337")
    assert capsys.readouterr().out == "rounds on chain 31337: no rounds yet\n"


def test_status_fits_100_columns(capsys):
    frame = pd.DataFrame([
        dict(round=12345, model=LONG_NAME, stake=123_456.5, state="refundable", corr=-0.01234, mmc=-0.0023,
             score=-0.01, payout=-1_234.4567, provisional=True),
        dict(round=12, model="0x83267a439473", stake=1.0, state="claimed", corr=None, mmc=None, score=None,
             payout=None, provisional=False),
    ])
    lines = printed(capsys, lambda: _render.positions(frame, "positions of 0x" + "ab" * 20))
    assert lines[1].split() == ["round", "model", "stake", "state", "corr", "mmc", "score", "payout"]
    text = "\n".join(lines)
    assert "123,456.5000" in text and "-1,234.4567*" in text and "0x83267a439473" in text
    assert lines[3].split()[1] + lines[4].strip() == LONG_NAME  # the long name folds onto a second line
    assert lines[-1].startswith("* provisional:")


def test_scores_fit_100_columns_with_their_floor_reasons_below(capsys):
    frame = pd.DataFrame([
        dict(staker="0x" + "ab" * 20, model=LONG_NAME, stake=123_456.5, corr=-0.01234, mmc=-0.0023, score=-0.01,
             payout=-1_234.4567, reason="", mine=True),
        dict(staker="0x" + "cd" * 20, model="0x1234567890ab", stake=1_000.0, corr=None, mmc=None, score=-1.0,
             payout=-50.0, reason=LONG_REASON, mine=False),
        dict(staker="0x" + "ef" * 20, model="x", stake=1_000.0, corr=None, mmc=None, score=-1.0, payout=-50.0,
             reason="committed file missing from the store", mine=False),
        dict(staker="0x" + "12" * 20, model="y", stake=10.0, corr=None, mmc=None, score=-1.0, payout=-0.5,
             reason="committed file missing from the store", mine=False),
    ])
    title = "round 3 score table 0x" + "12" * 32 + " (provisional)"
    lines = printed(capsys, lambda: _render.scores(frame, title))
    assert lines[0] == title
    assert lines[1].split() == ["staker", "model", "stake", "corr", "mmc", "score", "payout", "floor"]
    rows = lines[3:]
    assert rows[0].startswith("0xabababab (you)") and "-1,234.4567" in rows[0]
    assert rows[0].split()[2] + rows[1].strip() == LONG_NAME  # the long name folds onto a second line
    cd = next(r for r in rows if r.startswith("0xcdcdcdcd"))
    assert cd.rstrip().endswith(" 1") and "-50.0000" in cd
    assert next(r for r in rows if r.startswith("0xefefefef")).rstrip().endswith(" 2")
    assert next(r for r in rows if r.startswith("0x12121212")).rstrip().endswith(" 2")  # the same reason, once
    notes = "\n".join(lines[lines.index(next(r for r in lines if r.startswith("floor 1: "))):])
    assert " ".join(notes.split()) == f"floor 1: {LONG_REASON} floor 2: committed file missing from the store"


def test_signals_scores_keep_their_names(capsys):
    frame = pd.DataFrame([dict(staker="0x" + "ab" * 20, model="s", stake=5.0, alpha=0.1234, mpc=-0.0001, score=0.05,
                               payout=0.25, reason="", mine=False)])
    lines = printed(capsys, lambda: _render.scores(frame, "round 1 score table 0x12 (final)"))
    assert lines[1].split() == ["staker", "model", "stake", "alpha", "mpc", "score", "payout", "floor"]


@pytest.mark.parametrize("kinds", [True, False])
def test_the_demo_leaderboard_fits_100_columns_with_the_pages_columns(capsys, kinds):
    from crowdstake.sim.report import formatted

    board = pd.DataFrame([dict(participant="mediocre-103", kind="withholder", models=3, rounds=100,
                               total_stake=99_999.99, mean_corr=-0.0123, mean_mmc=-0.0012, mean_score=-0.01,
                               total_payout=-9_999.99, total_burn=9_999.99),
                          dict(participant="multi", kind="good", models=3, rounds=8, total_stake=1_200.0,
                               mean_corr=0.0301, mean_mmc=None, mean_score=0.02, total_payout=12.5, total_burn=0.0)])
    if not kinds:
        board = board.drop(columns="kind")
    lines = printed(capsys, lambda: _render.leaderboard(board, "leaderboard, classic (tokens)"))
    rule = next(i for i, line in enumerate(lines) if set(line.strip()) == {"─"})
    # a header on two lines (total over stake): every word of the page's headers, whole
    heads = formatted(board).columns
    assert sorted(" ".join(lines[1:rule]).split()) == sorted(w for c in heads for w in c.split("_"))
    assert lines[rule - 1].split()[:2] == (["participant", "kind"] if kinds else ["participant", "models"])
    for _, row in formatted(board).iterrows():  # the page's rounding, cell for cell
        line = next(line for line in lines[rule + 1:] if line.startswith(row["participant"]))
        assert line.split() == list(row), line
