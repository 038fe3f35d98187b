"""What `crowdstake demo` (crowdstake.sim.demo.run_demo) refuses before it starts a chain or
writes a file, what a seed decides before the chain exists (wallets, stakes, models), and the
exit code when a check fails (no chain). The season itself: tests/e2e/test_season.py."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from crowdstake.cli import main
from crowdstake.errors import ConfigError, InvalidInputError
from crowdstake.fund.dataset import build_dataset
from crowdstake.fund.market import synth_market
from crowdstake.sim import demo as demo_module
from crowdstake.sim.demo import failed, run_demo
from crowdstake.sim.season import MIN_PARTICIPANTS, demo_account, recruit


def test_a_work_folder_the_demo_did_not_make_is_left_alone(tmp_path):
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="was not made by `crowdstake demo`: choose another output folder"):
        run_demo(tmp_path, log=lambda *a: None)
    assert (tmp_path / "work" / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("participants, rounds", [(6, 3), (7, 2)])
def test_too_small_a_season_is_refused_before_anything_starts(tmp_path, participants, rounds):
    with pytest.raises(InvalidInputError, match=f"at least 7 participants .* and 3 rounds .* not {participants} "
                                                f"and {rounds}"):
        run_demo(tmp_path, participants=participants, rounds=rounds, log=lambda *a: None)
    assert not list(tmp_path.iterdir())


@pytest.fixture(scope="module")
def train():
    raw = synth_market(eras=12, stocks=60, seed=3)
    return build_dataset(raw, b"\x00" * 16, live_eras=2).public["train"]


def _cast(seed, train):
    cast = recruit(MIN_PARTICIPANTS, seed, np.random.default_rng(seed), train)
    live = train.drop(columns="target").head(50)
    return [(s.name, s.kind, s.account.address, s.stake,
             {m: s.fitted[m].predict(live).round(12).tolist() for m in s.models}) for s in cast]


def test_a_seed_decides_the_wallets_stakes_and_models(train):
    assert _cast(11, train) == _cast(11, train)
    other = _cast(12, train)
    mine = _cast(11, train)
    assert [c[0] for c in other] == [c[0] for c in mine]  # the same cast,
    assert all(a[2] != b[2] for a, b in zip(mine, other))  # other wallets,
    assert [c[3] for c in other] != [c[3] for c in mine]  # other stakes


def test_demo_wallets_come_from_the_seed_role_and_index():
    assert demo_account(7, "scientist", 0).address == demo_account(7, "scientist", 0).address
    addresses = {demo_account(seed, role, i).address for seed in (7, 8) for role in ("bank", "scientist")
                 for i in (0, 1)}
    assert len(addresses) == 8


def _fake_demo(outcomes):
    def run(out, **kwargs):
        board = pd.DataFrame({"tournament": ["classic"], "participant": ["good-00"], "kind": ["good"], "models": [1], "total_payout": [12.345678],
                              "mean_corr": [0.0123456]})
        return {"report": Path(out) / "report" / "index.html", "leaderboard": board, "outcomes": outcomes,
                "index": Path(out) / "index.sqlite3"}
    return run


def test_a_failing_check_makes_the_demo_exit_non_zero(monkeypatch, tmp_path):
    monkeypatch.setattr(demo_module, "run_demo", _fake_demo({"good models gain on average": True,
                                                              "supply fell by exactly the sum of burns": False}))
    result = CliRunner().invoke(main, ["demo", "--out", str(tmp_path)], terminal_width=200)
    assert result.exit_code == 1, result.output
    assert "crowdstake: 1 of the season's 2 checks failed: supply fell by exactly the sum of burns" in result.output
    assert "NO  supply fell" in result.output and "report:" in result.output  # everything printed first


def test_the_demo_exits_zero_when_every_check_holds(monkeypatch, tmp_path):
    long = "every round's dataset and targets are committed on-chain and served by the store, " * 2
    monkeypatch.setattr(demo_module, "run_demo", _fake_demo({"good models gain on average": True, long: True}))
    result = CliRunner().invoke(main, ["demo", "--out", str(tmp_path)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "12.35" in result.output and "0.0123" in result.output  # the report's rounding
    assert f"yes  {long}\n" in result.output  # captured, a check stays on one line


def test_failed_lists_the_checks_that_did_not_hold_in_order():
    assert failed({"a": True, "b": False, "c": True, "d": False}) == ["b", "d"]
    assert failed({"a": True}) == []
