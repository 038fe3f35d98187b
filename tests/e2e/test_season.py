"""The smallest season the demo accepts (7 data scientists, 3 overlapping rounds, and the Signals
tournament beside it) end to end on a chain the package starts itself: every outcome the demo
claims holds, the report is complete and shows both tournaments (the dashboard's pages written to
files beside the season page, every round verified), and a seed replays the season (another seed plays another). The demo's refusals before it starts
anything, and its exit code: tests/unit/test_season_checks.py."""

import pandas as pd
import pytest

from crowdstake.sim.report import IMAGES
from crowdstake.sim.demo import run_demo


@pytest.fixture(scope="module")
def season(tmp_path_factory):
    # A seed replays a season exactly (the demo's salt, wallets, stakes and models come from it).
    return run_demo(tmp_path_factory.mktemp("season"), participants=7, rounds=3, seed=1, log=lambda *a: None)


def test_every_outcome_holds(season):
    failed = [fact for fact, holds in season["outcomes"].items() if not holds]
    assert not failed


def test_the_checked_facts_are_the_promised_ones(season):
    assert set(season["outcomes"]) == {
        "good models gain on average", "random models earn less than good ones on average",
        "the withholders are burned at the floor every round", "the meta model scores above the median participant",
        "pure-factor signals earn about nothing, own-data signals gain on average",
        "the tournament owes nothing but its reward pool", "supply fell by exactly the sum of burns",
        "payouts were restaked into the open round", "every position of every round was settled",
        "every round's dataset and targets are committed on-chain and served by the store",
        "every round's published files reproduce its root on-chain",
    }


def test_report_files(season):
    report = season["report"].parent
    positions = pd.read_csv(report / "positions.csv")
    assert {"round", "participant", "model", "stake", "corr", "mmc", "score", "payout", "burn"} <= set(positions.columns)
    # 9 classic models and 7 Signals participants, 3 rounds each
    assert positions.groupby("tournament").size().to_dict() == {"classic": 27, "signals": 21}
    kinds = pd.read_csv(report / "by_kind.csv")
    assert set(zip(kinds["tournament"], kinds["kind"])) == {
        ("classic", k) for k in ("good", "mediocre", "random", "withholder", "copycat")} | {
        ("signals", k) for k in ("sentiment", "momentum", "withholder", "copycat")}
    board = pd.read_csv(report / "leaderboard.csv")
    assert list(board.columns[:3]) == ["tournament", "participant", "kind"]
    assert board.groupby("tournament").size().to_dict() == {"classic": 7, "signals": 7}
    # a copy is paid as its original: the same file, the same stake-weighted scores
    signals = positions[positions["tournament"] == "signals"].set_index(["round", "participant"])
    copies = signals.xs("signals-copycat", level="participant")
    leader = signals.xs("sentiment-00", level="participant")
    assert (copies["corr"] == leader["corr"]).all()
    html = (report / "season.html").read_text()
    assert "score = 0.5 × CORR + 2 × MMC" in html and "Signals: score = 0.3 × alpha + 0.8 × MPC" in html
    assert {"round", "reward", "burn", "meta_corr", "median_corr"} <= set(pd.read_csv(report / "rounds.csv").columns)
    for image in IMAGES:
        data = (report / image).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 5_000
        assert f'src="{image}"' in html


def test_the_report_is_the_dashboards_pages_with_every_round_verified(season):
    report = season["report"].parent
    assert season["report"].name == "index.html"
    first = season["report"].read_text()
    assert "Tournament 2 (signals)" in first and "alpha (all)" in first and 'href="season.html">Season<' in first
    for rid in range(1, 7):  # 3 classic, 3 Signals: each page has its verdict
        page = (report / "rounds" / f"{rid}.html").read_text()
        assert 'class="ok">matches' in page, rid
    assert "alpha" in (report / "rounds" / "2.html").read_text()
    assert len(list((report / "wallets").glob("0x*.html"))) >= 14  # 7 + 7 data scientists, the committee


def test_the_season_is_indexed_and_the_index_pays_what_the_season_recorded(season):
    from crowdstake.index import leaderboard, open_index
    from crowdstake.index.views import rounds_frame

    positions = pd.read_csv(season["report"].parent / "positions.csv")
    with open_index(season["index"]) as index:
        assert len(rounds_frame(index)) == positions["round"].nunique() == 6  # 3 classic, 3 Signals
        for tournament, name in ((1, "classic"), (2, "signals")):
            board = leaderboard(index, tournament)
            paid = positions[positions["tournament"] == name].groupby("model")["payout"].sum()
            assert len(board) == len(paid) > 0
            assert sum(e["payout_tokens"] for e in board) == pytest.approx(paid.sum(), abs=1e-9)


def test_a_second_season_in_the_same_place_starts_afresh(season):
    # Each run deploys anew; the last run's journals must not be resumed (nor refused).
    out = season["report"].parents[1]
    old_journal = (out / "work" / "operator0" / "round-1.json").read_text()
    again = run_demo(out, participants=7, rounds=3, seed=5, log=lambda *a: None)
    assert again["outcomes"]["every position of every round was settled"]
    assert (out / "work" / "operator0" / "round-1.json").read_text() != old_journal
    # another seed, another season: other stakes, scores and payouts
    assert not again["leaderboard"].equals(season["leaderboard"])


def test_the_same_seed_replays_the_same_leaderboard(season, tmp_path):
    again = run_demo(tmp_path, participants=7, rounds=3, seed=1, log=lambda *a: None)
    pd.testing.assert_frame_equal(again["leaderboard"], season["leaderboard"], check_exact=True)
    assert [s.account.address for s in again["season"].scientists] == \
        [s.account.address for s in season["season"].scientists]


def test_demo_serve_keeps_the_chain_up_and_serves_the_seasons_dashboard(tmp_path):
    """`crowdstake demo --serve`: the smallest season, then its dashboard on the chain it played,
    until interrupted; the pages show the season's rounds and a round verifies against that chain."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time
    import urllib.request

    from crowdstake._server import free_port

    port = free_port()
    run = subprocess.Popen([sys.executable, "-m", "crowdstake.cli", "demo", "--serve", "--port", str(port),
                            "--participants", "7", "--rounds", "3", "--seed", "1", "--out", str(tmp_path)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env={**os.environ, "COLUMNS": "200"})
    try:
        lines = []
        for line in run.stdout:  # the season, then the dashboard's line
            lines.append(line)
            if line.startswith("dashboard: http://127.0.0.1:"):
                break
        assert lines and lines[-1].startswith("dashboard:"), "".join(lines[-20:])
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):  # uvicorn binds just after the line
            try:
                rounds = json.loads(urllib.request.urlopen(f"{base}/api/rounds", timeout=10).read())
                break
            except OSError:
                time.sleep(0.1)
        assert len(rounds["rounds"] if isinstance(rounds, dict) else rounds) == 6  # 3 classic, 3 Signals
        page = urllib.request.urlopen(f"{base}/", timeout=10).read().decode()
        assert "Tournament 2 (signals)" in page and "alpha (all)" in page and "MPC (all)" in page
        verified = urllib.request.urlopen(urllib.request.Request(f"{base}/api/rounds/2/verify", method="POST"),
                                          timeout=120)
        assert json.loads(verified.read())["matches"] is True  # a Signals round, recomputed on the live chain
    finally:
        run.send_signal(signal.SIGINT)
        run.wait(timeout=60)
    assert run.returncode == 0
