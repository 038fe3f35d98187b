"""A small season end to end (7 data scientists, 3 overlapping rounds) on a chain the package
starts itself: every outcome the demo claims holds, and the report is complete."""

import pandas as pd
import pytest

from crowdstake.report import IMAGES
from crowdstake.season import run_demo


@pytest.fixture(autouse=True)
def isolation():
    """The season runs its own chain; brownie's need not snapshot."""


@pytest.fixture(scope="module")
def season(tmp_path_factory):
    return run_demo(tmp_path_factory.mktemp("season"), participants=7, rounds=3, seed=3, log=lambda *a: None)


def test_every_outcome_holds(season):
    failed = [fact for fact, holds in season["outcomes"].items() if not holds]
    assert not failed


def test_the_checked_facts_are_the_promised_ones(season):
    assert set(season["outcomes"]) == {
        "good models gain on average", "random models lose on average",
        "the withholder is burned at the floor every round", "the meta model scores above the median participant",
        "the tournament owes nothing but its reward pool", "supply fell by exactly the sum of burns",
        "payouts were restaked into the open round", "every position of every round was settled",
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
