"""The dashboard written to files (crowdstake.web.site) over an index written by hand: every page
the server has is a file, every link of every file reaches a file of the folder, each page is
the server's page but for its links and navigation, the round with a result shows its
verification, and extra pages join the navigation."""

import re
from pathlib import Path

import pytest
import requests

from crowdstake._server import ServerThread
from crowdstake.errors import ConfigError, StoreUnavailable
from crowdstake.index.schema import open_index
from crowdstake.oracle.run import Verification
from crowdstake.web import create_app
from crowdstake.web.site import write_site
from support.dashboard_rows import BOB, M1, M2, MEMBERS, populate
from support.index_rows import ALICE, ident

LINK = re.compile(r'(?:href|src|action)="([^"]*)"')


@pytest.fixture(scope="module")
def index_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("site") / "index.sqlite3"
    with open_index(path, ident(), write=True) as opened:
        populate(opened.db)
    return path


@pytest.fixture(scope="module")
def site(index_path, tmp_path_factory):
    calls = []

    def verify(round_id):
        calls.append(round_id)
        return Verification(round_id, "0x" + "77" * 32, "0x" + "77" * 32, True, [])

    out = tmp_path_factory.mktemp("out")
    entry = write_site(index_path, out, extra=(("season.html", "Season", "<p id='season'>the season</p>"),),
                       verify=verify)
    return {"out": out, "entry": entry, "calls": calls}


def files(out: Path) -> set[str]:
    return {str(p.relative_to(out)) for p in out.rglob("*.html")}


def test_every_page_of_the_index_is_a_file(site):
    assert site["entry"] == site["out"] / "index.html"
    written = files(site["out"])
    assert {"index.html", "leaderboard-payout.html", "rounds.html", "rounds/1.html", "rounds/2.html",
            "committee.html", "season.html", f"models/{M1}/{ALICE}.html",
            f"models/{M2}/{BOB}.html", f"wallets/{ALICE}.html", f"wallets/{BOB}.html",
            f"wallets/{MEMBERS[0]}.html"} <= written


def test_every_link_reaches_a_file_of_the_folder(site):
    out = site["out"]
    for name in files(out):
        page = (out / name).read_text()
        for target in LINK.findall(page):
            assert not target.startswith(("/", "http")), f"{name} links to {target}"
            assert (out / name).parent.joinpath(target).resolve().is_file(), f"{name}: {target} is missing"


def test_each_page_is_the_servers_but_for_its_links(site, index_path):
    def content(page: str) -> str:
        return LINK.sub("", re.sub(r"<header>.*?</header>", "", page))

    out = site["out"]
    with ServerThread(create_app(index_path)) as server:
        for name, url in (("index.html", "/?limit=100000"), ("rounds.html", "/rounds"), ("committee.html", "/committee"),
                          (f"models/{M2}/{BOB}.html", f"/models/{M2}?staker={BOB}"),
                          (f"wallets/{ALICE}.html", f"/wallets/{ALICE}"), ("rounds/2.html", "/rounds/2")):
            served = requests.get(server.url + url, timeout=10).text
            assert content((out / name).read_text()) == content(served), name
        round1 = requests.get(server.url + "/rounds/1", timeout=10).text
    written = (out / "rounds/1.html").read_text()
    # the round with a result: its verification in place of the note that the server needs a store
    assert 'class="ok">matches' in written and "needs a store and a node" in round1
    assert content(written).split("<h2>Verify</h2>")[0] == content(round1).split("<h2>Verify</h2>")[0]
    assert site["calls"] == [1]


def test_the_navigation_has_the_extra_pages_and_not_the_api(site):
    for name in ("index.html", "rounds/1.html", f"models/{M1}/{ALICE}.html", "season.html"):
        header = re.search(r"<header>(.*?)</header>", (site["out"] / name).read_text()).group(1)
        assert [t for _, t in re.findall(r'href="([^"]*)">([^<]*)<', header)] == \
            ["Leaderboard", "Rounds", "Committee", "Season"], name
        assert "/docs" not in header
    assert "<p id='season'>the season</p>" in (site["out"] / "season.html").read_text()


def test_a_member_without_positions_is_the_not_found_page(site):
    page = (site["out"] / f"wallets/{MEMBERS[0]}.html").read_text()
    assert "Not found" in page and f"no wallet {MEMBERS[0]}" in page


def test_a_verification_that_fails_is_shown_and_the_rest_written(index_path, tmp_path):
    def verify(round_id):
        raise StoreUnavailable("the store at http://127.0.0.1:1 did not answer")

    write_site(index_path, tmp_path, verify=verify)
    assert "could not verify: the store at http://127.0.0.1:1 did not answer" in (tmp_path / "rounds/1.html").read_text()
    assert (tmp_path / "committee.html").is_file()


def test_a_stale_page_of_an_earlier_run_is_removed_and_a_missing_index_refused(index_path, tmp_path):
    (tmp_path / "rounds").mkdir()
    (tmp_path / "rounds" / "99.html").write_text("old")
    (tmp_path / "notes.txt").write_text("mine")
    write_site(index_path, tmp_path)
    assert not (tmp_path / "rounds" / "99.html").exists() and (tmp_path / "notes.txt").read_text() == "mine"
    with pytest.raises(ConfigError):
        write_site(tmp_path / "absent.sqlite3", tmp_path / "elsewhere")


def test_models_are_shown_by_the_names_the_renderer_knows(index_path, tmp_path):
    # the demo's report names its season's models (a name is not on-chain); others keep their id
    write_site(index_path, tmp_path, model_names={M2.upper().replace("0X", "0x"): "alpha-model"})
    board = (tmp_path / "index.html").read_text()
    assert ">alpha-model</a>" in board and f"{M1}/" in board and ">" + M1[:10] in board
    linked = [p for p in tmp_path.rglob("*.html") if f'models/{M2}' in p.read_text()]  # pages that link the model
    assert len(linked) > 2 and all(">alpha-model</a>" in p.read_text() for p in linked)
    plain = tmp_path / "plain"
    write_site(index_path, plain)  # the names do not outlive their rendering
    assert "alpha-model" not in (plain / "index.html").read_text()
