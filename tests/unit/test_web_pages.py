"""The dashboard (crowdstake.web) over an index written by hand, served on loopback: every page
and its /api twin show the index's numbers, sorting works, unknown ids are 404 pages (404 JSON
under /api), malformed input is a 4xx and never a 5xx, a round without its score table says so,
the verify action needs a verifier, and the app refuses a missing index."""

import re
from html import escape, unescape

import pytest
import requests

from crowdstake._server import ServerThread, free_port
from crowdstake.errors import ConfigError, NodeUnavailable
from crowdstake.index.schema import open_index, touch
from crowdstake.oracle.run import Difference, Verification
from crowdstake.web import create_app
from support.dashboard_rows import BOB, M1, M2, M3, MEMBERS, RESULT1, RESULT2, T0, populate
from support.index_rows import ALICE, E18, ident, put, stake, wei


@pytest.fixture(scope="module")
def index_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("web") / "index.sqlite3"
    with open_index(path, ident(), write=True) as opened:
        populate(opened.db)
    return path


class FakeVerifier:
    def __init__(self):
        self.calls = []

    def __call__(self, round_id):
        self.calls.append(round_id)
        if round_id == 2:
            raise NodeUnavailable("the node at http://127.0.0.1:1 did not answer after 2 attempts")
        return Verification(round_id, "0x" + "77" * 32, "0x" + "76" * 32, False,
                            [Difference(BOB, M2, -400000, -300000)])


@pytest.fixture(scope="module")
def verifier():
    return FakeVerifier()


@pytest.fixture(scope="module")
def server(index_path, verifier):
    with ServerThread(create_app(index_path, verify=verifier)) as running:
        yield running


@pytest.fixture(scope="module")
def bare(index_path):
    """The same index, served without a store or a node."""
    with ServerThread(create_app(index_path)) as running:
        yield running


def get(server, path, **kw):
    return requests.get(server.url + path, timeout=10, **kw)


def cells(page: str, table_class: str) -> list[list[str]]:
    """The text of each row's cells in the table of that class."""
    body = re.search(rf'<table class="{table_class}">.*?<tbody>(.*?)</tbody>', page, re.S).group(1)
    return [[re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def test_the_leaderboard_api_ranks_models_and_participants_by_payout(server):
    data = get(server, "/api/leaderboard").json()
    (t,) = data["tournaments"]
    assert t["resolved_rounds"] == [1]
    models = [(m["rank"], m["staker"], m["model_id"], m["payout"], m["burns"], m["stake_now"]) for m in t["models"]]
    assert models == [(1, ALICE, M1, str(E18), "0", str(20 * E18)), (2, BOB, M3, str(E18 // 2), "0", str(5 * E18)),
                      (3, BOB, M2, str(-2 * E18), str(2 * E18), "0")]
    alice = t["models"][0]
    assert (alice["rounds"], alice["corr_recent"], alice["mmc_all"], alice["score_all"]) == (1, 0.1, 0.02, 0.25)
    people = {p["staker"]: p for p in t["participants"]}
    assert people[BOB]["payout_tokens"] == -1.5 and people[BOB]["burns_tokens"] == 2.0 and people[BOB]["rounds"] == 2
    assert people[BOB]["corr_all"] == pytest.approx(-0.025) and people[ALICE]["rank"] == 1


def test_the_leaderboard_page_shows_the_same_numbers_and_sorts_by_its_headers(server):
    page = get(server, "/").text
    rows = cells(page, "standings models")
    assert [(r[2], r[3], r[-2], r[-1]) for r in rows] == [("1", "20.0000", "1.0000", "0.0000"),
                                                           ("2", "5.0000", "0.5000", "0.0000"),
                                                           ("3", "0.0000", "-2.0000", "2.0000")]
    assert '<a href="/?sort=burns&amp;last=20&amp;limit=100">burns</a>' in page and f'href="/models/{M1}?staker={ALICE}"' in page
    by_burns = cells(get(server, "/?sort=burns").text, "standings models")
    assert [r[2] for r in by_burns] == ["3", "1", "2"]  # ranks stay; the order follows the column
    by_corr = get(server, "/api/leaderboard", params={"sort": "corr_all"}).json()["tournaments"][0]["models"]
    assert [m["model_id"] for m in by_corr] == [M1, M3, M2]
    assert [r[2] for r in cells(get(server, "/?sort=stake_now").text, "standings models")][0] == "1"


def test_the_leaderboard_shows_the_first_rows_and_links_to_all(server):
    page = get(server, "/", params={"limit": 2}).text
    assert len(cells(page, "standings models")) == 2 and "the first 2 of 3" in page
    assert 'href="/?sort=rank&amp;last=20&amp;limit=3">show all</a>' in page
    api = get(server, "/api/leaderboard", params={"limit": 1, "sort": "burns"}).json()["tournaments"][0]
    assert [m["model_id"] for m in api["models"]] == [M2] and api["counts"] == {"models": 3, "participants": 2}


def test_rounds_and_a_round_page(server):
    listed = get(server, "/api/rounds").json()
    assert [(r["round_id"], r["status"], r["staked_positions"], r["total_stake_tokens"]) for r in listed] == \
        [(2, "opened", 1, 20.0), (1, "finalized", 3, 47.0)]
    assert cells(get(server, "/rounds").text, "rounds")[1][:3] == ["1", "1", "finalized"]
    r = get(server, "/api/rounds/1").json()
    assert [(t["event"], t["time"]) for t in r["timeline"]] == [  # in time order; a deadline before its second's blocks
        ("opened", T0 + 50), ("closes", T0 + 100), (f"vote by {MEMBERS[0]}", T0 + 100),
        (f"vote by {MEMBERS[1]}", T0 + 110), ("accepted", T0 + 110), ("resolves", T0 + 200), ("finalized", T0 + 200),
        ("dispute ends", T0 + 900)]
    assert r["settlement"] == {"settled": 2, "staked": 3} and r["payout_factor"]["value"] == 1.0
    assert r["totals"]["reward_tokens"] == 1.5 and r["totals"]["burn_tokens"] == 2.0
    assert [(v["member"], v["gas_used"], v["restarts"], v["membership_version"]) for v in r["votes"]] == \
        [(MEMBERS[0], 100_000, 0, 3), (MEMBERS[1], 90_000, 0, 3)]
    page = get(server, "/rounds/1").text
    assert "2025-10-09 08:56:40 UTC" in page  # T0 + 200, the resolve time
    def shown(text, keep):
        return f"{text[:keep]}…{text[-4:]}"

    assert [row[:2] for row in cells(page, "votes")] == [[shown(m, 8), shown(RESULT1, 10)] for m in MEMBERS[:2]]
    assert f'title="{MEMBERS[0]}"' in page
    assert [row[5] for row in cells(page, "scores")] == ["0.0200", "-0.0300", "0.0100"]
    assert '<span id="settlement">2 / 3</span>' in page and "no-score-table" not in page


def test_the_timeline_is_in_time_order_with_countdowns_from_the_indexs_chain_time(tmp_path):
    """Round 2 as of block 36 (T0 + 360): what is past says how long ago, what is to come how
    long until, and the moments come in time order (block, then log order), whatever their kind."""
    path = tmp_path / "index.sqlite3"
    with open_index(path, ident(), write=True) as opened:
        db = opened.db
        populate(db)
        put(db, "targets", 36, 0, round_id=2, targets_hash="0x" + "7a" * 32)
        put(db, "deadline_extensions", 36, 1, round_id=2, results_deadline=T0 + 3 * 86400 + 4 * 3600)
        put(db, "refusals", 34, 0, round_id=2, result_hash="0x" + "e3" * 32, reason="0x" + "00" * 32)
        db.execute("INSERT INTO blocks (number, hash, timestamp) VALUES (34, '0x22', ?), (36, '0x24', ?)",
                   (T0 + 340, T0 + 360))
        db.execute("UPDATE meta SET value = '36' WHERE key = 'cursor'")
    with ServerThread(create_app(path)) as running:
        data = requests.get(running.url + "/api/rounds/2", timeout=10).json()
        page = requests.get(running.url + "/rounds/2", timeout=10).text
    assert data["now"] == T0 + 360
    assert [(t["event"], t["block"], t["in_seconds"]) for t in data["timeline"]] == [
        ("opened", 30, -60), (f"vote by {MEMBERS[2]}", 33, -30), ("accepted", 33, -30),
        ("refusal of 0x" + "e3" * 32, 34, -20), ("veto of " + RESULT2, 35, -10), ("targets published", 36, 0),
        ("results deadline extended", 36, 0), ("closes", None, 740), ("resolves", None, 840),
        ("dispute ends", None, 1540), ("finalized", None, None)]
    shown = cells(page, "timeline")
    assert [row[2] for row in shown] == ["1 min ago", "30 s ago", "30 s ago", "20 s ago", "10 s ago", "now", "now",
                                         "in 12 min 20 s", "in 14 min", "in 25 min 40 s", ""]
    assert shown[6][0] == "results deadline extended to 2025-10-12 12:53:20 UTC" and shown[-1][1] == "not yet"
    assert "from the index's chain time, 2025-10-09 08:59:20 UTC" in page
    from crowdstake.web.html import countdown

    assert [countdown(s) for s in (11_520, -7_200, 90_061, 59, None)] == \
        ["in 3 h 12 min", "2 h ago", "in 1 d 1 h", "in 59 s", ""]


def test_a_round_without_its_score_table_says_so(server):
    page = get(server, "/rounds/2").text
    assert 'id="no-score-table"' in page and "no result names one yet" in page
    r = get(server, "/api/rounds/2").json()
    assert r["accepted_hash"] is None and [v["vetoes"] for v in r["vetoes"]] == [1]
    assert r["positions"][0]["corr"] is None and r["settlement"] == {"settled": 0, "staked": 1}


def test_model_and_wallet_pages_with_their_charts(server):
    m = get(server, f"/api/models/{M1}").json()
    assert [(p["round_id"], p["stake_tokens"], p["table_delta_tokens"], p["cumulative_payout_tokens"], p["state"])
            for p in m["positions"]] == [(1, 12.0, 1.0, 1.0, "claimed"), (2, 20.0, None, 1.0, "open")]
    page = get(server, f"/models/{M1.upper().replace('0X', '0x')}").text
    assert page.count("<svg") == 2 and " L" in page and "<rect" in page
    assert [r[0] for r in cells(page, "history")] == ["1", "2"]
    only_bob = get(server, f"/api/models/{M2}", params={"staker": BOB}).json()
    assert [p["staker"] for p in only_bob["positions"]] == [BOB]
    assert get(server, f"/api/models/{M2}", params={"staker": ALICE}).status_code == 404
    w = get(server, f"/api/wallets/{BOB.lower()}").json()
    assert [(p["model_id"], p["cumulative_payout_tokens"]) for p in w["positions"]] == [(M2, -2.0), (M3, 0.5)]
    page = get(server, f"/wallets/{BOB}").text
    assert "<svg" in page and "<path" in page and [r[1] for r in cells(page, "history")][0].startswith("0x02")


def test_the_committee_page(server):
    c = get(server, "/api/committee").json()
    assert (c["members"], c["threshold"], c["dispute_window"], c["member_count"]) == (MEMBERS, 2, 600, 3)
    assert [(r["round_id"], len(r["votes"]), r["gas"], len(r["vetoes"])) for r in c["rounds"]] == \
        [(2, 1, 80_000, 1), (1, 2, 190_000, 0)]
    page = get(server, "/committee").text
    assert '<b id="threshold">2</b>' in page and "10m" in page and "<rect" in page
    assert [r[:4] for r in cells(page, "rounds")] == [["2", "1", "80,000", "1"], ["1", "2", "190,000", "0"]]


@pytest.mark.parametrize("path", ["/rounds/3", "/rounds/abc", "/rounds/-1", "/rounds/99999999999999999999999",
                                  f"/models/0x{'09' * 32}", "/models/zz", f"/wallets/0x{'c9' * 20}",
                                  "/wallets/0x12", "/wallets/not-an-address", "/nowhere", "/rounds/1/nope"])
def test_unknown_and_malformed_ids_are_404_pages(server, path):
    page = get(server, path)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "Not found" in page.text and "Traceback" not in page.text
    api = get(server, "/api" + path)
    assert api.status_code == 404 and api.headers["content-type"] == "application/json" and "detail" in api.json()


@pytest.mark.parametrize("path, params", [("/", {"sort": "nope"}), ("/api/leaderboard", {"sort": "x" * 5000}),
                                          ("/", {"last": "0"}), ("/api/leaderboard", {"last": "many"}),
                                          (f"/api/models/{M1}", {"staker": "0x1"})])
def test_malformed_queries_are_4xx(server, path, params):
    answer = get(server, path, params=params)
    assert 400 <= answer.status_code < 500 and "Traceback" not in answer.text


def test_a_malformed_query_is_an_html_page_on_a_page_and_json_under_the_api(server):
    page = get(server, "/", params={"last": "0"})
    assert page.status_code == 422 and page.headers["content-type"].startswith("text/html")
    assert "<title>Error 422" in page.text and "last: Input should be greater than or equal to 1" in page.text
    assert get(server, "/rounds/1", params={"limit": "many"}).headers["content-type"].startswith("text/html")
    api = get(server, "/api/leaderboard", params={"last": "0"})
    assert api.status_code == 422 and api.headers["content-type"] == "application/json"
    assert [e["loc"] for e in api.json()["detail"]] == [["query", "last"]]


def test_a_score_table_the_store_lacks_says_how_many_attempts_were_made(tmp_path):
    path = tmp_path / "index.sqlite3"
    with open_index(path, ident(), write=True) as opened:
        populate(opened.db)
        opened.db.execute("UPDATE score_tables SET status = 'missing', attempts = 3")
        opened.db.execute("DELETE FROM score_rows")  # as a table never fetched has none
    with ServerThread(create_app(path)) as running:
        page = requests.get(running.url + "/rounds/1", timeout=10).text
    note = re.search(r'<p class="note" id="no-score-table">(.*?)</p>', page).group(1)
    assert note == "The score table is not stored yet (missing after 3 attempts)."
    assert cells(page, "scores")[0][4:7] == ["", "", ""]  # no CORR, MMC or score shown without it


def test_a_stopped_follower_is_said_on_every_page_and_answer(index_path):
    said = []
    with ServerThread(create_app(index_path, problem=lambda: said[0] if said else None)) as running:
        fine = requests.get(running.url + "/", timeout=10)
        assert 'id="index-problem"' not in fine.text and "X-Index-Problem" not in fine.headers
        said.append("the index stopped following the node at block 35 (a refusal)")
        for path in ("/", "/rounds/1", "/committee", "/docs", "/rounds/99"):
            page = requests.get(running.url + path, timeout=10)
            assert f'<main><p class="bad" id="index-problem">{said[0]}</p>' in page.text, path
        api = requests.get(running.url + "/api/rounds", timeout=10)
        assert api.headers["X-Index-Problem"] == said[0] and api.json()[0]["round_id"] == 2


def test_verify_needs_a_store_and_a_node(bare):
    page = get(bare, "/rounds/1").text
    assert "it needs a store and a node" in page and "<form" not in page
    answer = requests.post(bare.url + "/api/rounds/1/verify", timeout=10)
    assert answer.status_code == 409 and "needs a store and a node" in answer.json()["detail"]
    assert requests.post(bare.url + "/rounds/1/verify", timeout=10).status_code == 409
    assert "--store" not in page  # the library names no flag: the caller's hint does


def test_the_callers_hint_says_how_to_give_a_store_and_a_node(index_path):
    from crowdstake.cli.web import VERIFY_HINT

    with ServerThread(create_app(index_path, verify_hint=VERIFY_HINT)) as hinted:
        page = get(hinted, "/rounds/1").text
        detail = requests.post(hinted.url + "/api/rounds/1/verify", timeout=10).json()["detail"]
    assert "it needs a store and a node (start `crowdstake web` with --store and --rpc-url or --network)." in page
    assert detail.endswith("started without them (start `crowdstake web` with --store and --rpc-url or --network)")


def test_verify_shows_the_differences(server, verifier):
    assert '<form id="verify" method="post" action="/rounds/1/verify">' in get(server, "/rounds/1").text
    answer = requests.post(server.url + "/api/rounds/1/verify", timeout=10).json()
    assert answer["matches"] is False and answer["differences"][0]["published"] == -300000
    page = requests.post(server.url + "/rounds/1/verify", timeout=10).text
    assert "does not match: 1 leaf differs" in page and "-400000" in page
    node_down = requests.post(server.url + "/rounds/2/verify", timeout=10)
    assert node_down.status_code == 503 and "did not answer" in node_down.text
    assert requests.post(server.url + "/rounds/7/verify", timeout=10).status_code == 404
    assert verifier.calls == [1, 1, 2]


def test_the_api_is_listed_in_openapi(server):
    paths = get(server, "/openapi.json").json()["paths"]
    assert set(paths) == {"/api/leaderboard", "/api/rounds", "/api/rounds/{round_id}", "/api/rounds/{round_id}/verify",
                          "/api/models/{model_id}", "/api/wallets/{address}", "/api/committee"}
    docs = get(server, "/docs")  # rendered here from the OpenAPI schema: every path, method, summary
    assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
    spec = get(server, "/openapi.json").json()
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            assert f'class="mono">{method.upper()} {path}</h2><p><b>{escape(op["summary"])}</b>' in docs.text
    params = cells(docs.text, "parameters")  # the first table: the leaderboard's
    assert params[1] == ["last", "query", "no", "integer", "1 to 10000, default 20",
                         "how many of the latest resolved rounds the *_recent means cover"]
    assert "<td>staker</td>" not in docs.text and "<td>query</td><td>no</td><td>string or null</td>" in docs.text
    answers = [[unescape(c) for c in row[:2]] for table in docs.text.split('<table class="responses">')[1:]
               for row in cells('<table class="responses">' + table, "responses")]
    assert ["404", 'no such round in the index, or not one ({"detail"})'] in answers
    assert ["503", 'the node or the store did not answer ({"detail"})'] in answers
    assert "<script" not in docs.text and 'href="/openapi.json"' in docs.text


OFF_HOST = re.compile(r"(?:[a-z][a-z0-9+.-]*:)?//[^\s\"'<>)]*", re.I)
LINKS = re.compile(r'(?:href|src|action)="([^"]*)"')


def test_no_page_refers_to_another_host(index_path):
    """Every page reachable from the navigation (the API page, the verify outcome, a 404 and a
    422 page among them) names no other host: no http(s) URL but the server's own, no
    protocol-relative //host, and every link, source and form action is a path of the server."""
    def matches(round_id):
        return Verification(round_id, "0x" + "77" * 32, "0x" + "77" * 32, True, [])

    with ServerThread(create_app(index_path, verify=matches)) as server:
        checked = crawl(server)
    assert {"/docs", "/committee", "/rounds/1", "/rounds/1/verify", "/openapi.json", f"/wallets/{BOB}"} <= set(checked)
    assert len(checked) > 15


def crawl(server) -> list[str]:
    """Fetch every page linked from the start pages; check each names no other host."""
    pending, seen, checked = ["/", "/docs", "/openapi.json", "/nowhere", "/?last=0"], set(), []
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        posted = path.endswith("/verify") and not path.startswith("/api/")
        answer = requests.post(server.url + path, timeout=10) if posted else get(server, path)
        assert answer.status_code < 500, path
        body = answer.text
        for found in OFF_HOST.findall(body):
            assert found.startswith(server.url + "/"), (path, found)
        for link in map(unescape, LINKS.findall(body)):
            assert link.startswith(("/", "#")) and not link.startswith("//"), (path, link)
            if link.startswith("/"):
                pending.append(link.split("#")[0])
        checked.append(path)
    return checked


def test_pages_follow_the_index_as_it_is_written(tmp_path):
    """The cache answers again only while the index is unchanged: a new round, a score table
    stored without the cursor moving, a rewind to another block at the same height."""
    path = tmp_path / "index.sqlite3"
    with open_index(path, ident(), write=True) as opened:
        populate(opened.db)
        opened.db.execute("UPDATE meta SET value = '35' WHERE key = 'cursor'")
        opened.db.execute("UPDATE score_tables SET status = 'missing'")
        with ServerThread(create_app(path)) as running:
            assert [r["round_id"] for r in get(running, "/api/rounds").json()] == [2, 1]
            unscored = get(running, "/api/leaderboard").json()["tournaments"][0]["models"]
            assert [(m["rounds"], m["stake_now_tokens"]) for m in unscored] == [(0, 20.0), (0, 5.0)]
            put(opened.db, "rounds_opened", 40, 0, round_id=3, tournament_id=1, dataset_hash="0x" + "dc" * 32,
                close_time=T0 + 2100, resolve_time=T0 + 2200)
            opened.db.execute("INSERT INTO blocks (number, hash, timestamp) VALUES (40, '0x28', ?)", (T0 + 400,))
            opened.db.execute("UPDATE meta SET value = '40' WHERE key = 'cursor'")
            touch(opened.db)  # as the indexer does with each page that adds rows
            assert [r["round_id"] for r in get(running, "/api/rounds").json()] == [3, 2, 1]
            opened.db.execute("UPDATE score_tables SET status = 'stored', attempts = 2")
            touch(opened.db)
            assert len(get(running, "/api/leaderboard").json()["tournaments"][0]["models"]) == 3
            opened.db.execute("DELETE FROM rounds_opened WHERE round_id = 3")
            opened.db.execute("UPDATE blocks SET hash = '0x29' WHERE number = 40")
            touch(opened.db)
            assert [r["round_id"] for r in get(running, "/api/rounds").json()] == [2, 1]
            stake(opened.db, 41, 0, 2, M1, 5, 15, direction=-1)  # the last stake change counts, as in `positions`
            opened.db.execute("INSERT INTO blocks (number, hash, timestamp) VALUES (41, '0x2a', ?)", (T0 + 410,))
            opened.db.execute("UPDATE meta SET value = '41' WHERE key = 'cursor'")
            touch(opened.db)
            listed = get(running, "/api/rounds").json()[0]
            assert (listed["round_id"], listed["staked_positions"], listed["total_stake_tokens"]) == (2, 1, 15.0)
            assert get(running, "/api/rounds/2").json()["total_stake"] == str(15 * E18)
            now = get(running, "/api/leaderboard").json()["tournaments"][0]["models"]  # kept standings read again
            assert next(m["stake_now_tokens"] for m in now if m["staker"] == ALICE) == 15.0
            assert running.server.config.app.state.cache.hits == 0
            # blocks without events move the cursor, not the change count: the pages stay kept
            opened.db.execute("INSERT INTO blocks (number, hash, timestamp) VALUES (50, '0x32', ?)", (T0 + 500,))
            opened.db.execute("UPDATE meta SET value = '50' WHERE key = 'cursor'")
            kept = get(running, "/api/rounds/2").json()
            assert kept["total_stake"] == str(15 * E18)
            assert running.server.config.app.state.cache.hits == 1
            assert kept["now"] == T0 + 500 and kept["timeline"][-2]["in_seconds"] == 1900 - 500  # the clock is not kept


def test_an_index_without_a_change_count_is_kept_by_its_cursor(tmp_path):
    """A file written before `meta.changes` existed: the cursor and its block's hash key the cache."""
    path = tmp_path / "index.sqlite3"
    with open_index(path, ident(), write=True) as opened:
        populate(opened.db)
        opened.db.execute("DELETE FROM meta WHERE key = 'changes'")
        with ServerThread(create_app(path)) as running:
            assert [r["round_id"] for r in get(running, "/api/rounds").json()] == [2, 1]
            assert [r["round_id"] for r in get(running, "/api/rounds").json()] == [2, 1]
            assert running.server.config.app.state.cache.hits == 1
            put(opened.db, "rounds_opened", 40, 0, round_id=3, tournament_id=1, dataset_hash="0x" + "dc" * 32,
                close_time=T0 + 2100, resolve_time=T0 + 2200)
            opened.db.execute("INSERT INTO blocks (number, hash, timestamp) VALUES (40, '0x28', ?)", (T0 + 400,))
            opened.db.execute("UPDATE meta SET value = '40' WHERE key = 'cursor'")
            assert [r["round_id"] for r in get(running, "/api/rounds").json()] == [3, 2, 1]


def test_a_missing_or_foreign_index_is_refused(tmp_path, index_path):
    with pytest.raises(ConfigError, match="no index at"):
        create_app(tmp_path / "absent.sqlite3")
    with pytest.raises(ConfigError, match="indexes another deployment"):
        create_app(index_path, identity=ident(chain_id=1))


def test_the_command_refuses_a_missing_index_or_a_busy_port_in_one_line(tmp_path, index_path, monkeypatch):
    import socket

    from click.testing import CliRunner

    from crowdstake.cli import main

    monkeypatch.setenv("CROWDSTAKE_CONFIG", str(tmp_path / "absent.toml"))
    missing = CliRunner().invoke(main, ["web", "--index", str(tmp_path / "absent.sqlite3"), "--port",
                                        str(free_port())])
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = CliRunner().invoke(main, ["web", "--index", str(index_path), "--port", str(busy.getsockname()[1])])
    for result, says in ((missing, f"crowdstake: no index at {tmp_path / 'absent.sqlite3'}: build one first, by indexing the "
                                   "chain (`crowdstake index --db"),
                         (taken, "crowdstake: cannot listen on 127.0.0.1:")):
        assert result.exit_code == 1 and result.stderr.count("\n") == 1 and "Traceback" not in result.output
        assert result.stderr.startswith(says), result.stderr


def test_the_charts_draw_what_they_are_given():
    from crowdstake.web import svg

    assert svg.lines("payout", {"a": []}) == '<p class="note">payout: nothing to draw yet.</p>'
    drawn = svg.lines("payout", {"a": [(0, 0.0), (1, 2.5), (2, -1.0)], "<b>": [(1, 1.0)]})
    assert drawn.count("<path") == 2 and drawn.count("<circle") == 4 and "&lt;b&gt;" in drawn and "<b>" not in drawn
    assert 'class="zero"' in drawn  # the values cross zero
    bars = svg.bars("gas", [(1, 266_798), (2, -5)])
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([0-9.]+)"', bars)]
    assert len(heights) == 2 and heights[0] > 100 > heights[1] > 0 and ">266.8k<" in bars


def test_a_row_scored_at_the_floor_counts_in_payouts_not_in_the_score_means(tmp_path):
    """A withheld or malformed file's row has no CORR or MMC (NULL): the page still renders, and
    the means are over the rows that have them."""
    path = tmp_path / "index.sqlite3"
    with open_index(path, ident(), write=True) as opened:
        populate(opened.db)
        opened.db.execute("UPDATE score_rows SET corr = NULL, mmc = NULL, score = -1.0 WHERE model_id = ?", (M3,))
    with ServerThread(create_app(path)) as running:
        assert requests.get(running.url + "/", timeout=10).status_code == 200
        board = requests.get(running.url + "/api/leaderboard", timeout=10).json()["tournaments"][0]
    m3 = next(r for r in board["models"] if r["model_id"] == M3)
    assert m3["corr_all"] is None and m3["mmc_all"] is None and m3["score_all"] == -1.0
    bob = next(r for r in board["participants"] if r["staker"] == BOB)
    assert bob["corr_all"] == pytest.approx(-0.1) and bob["score_all"] == pytest.approx((-0.4 - 1.0) / 2)


def test_a_signals_tournament_names_its_scores_alpha_and_mpc_on_every_page(tmp_path):
    """A Signals tournament (kind 1) beside the classic one: its round page's scores are headed
    alpha and MPC, and a wallet in both tournaments has one history table per tournament, each
    with its own names."""
    path = tmp_path / "index.sqlite3"
    th, tht = wei(1000)
    ms, mst = wei(1)
    with open_index(path, ident(), write=True) as opened:
        db = opened.db
        populate(db)
        put(db, "tournament_params", 40, 0, tournament_id=2, threshold=th, threshold_tokens=tht, min_stake=ms,
            min_stake_tokens=mst, cap=5 * 10**16, results_window=604800, corr_weight_bps=3000, mmc_weight_bps=8000,
            kind=1, min_tickers=100, created=1)
        put(db, "rounds_opened", 41, 0, round_id=3, tournament_id=2, dataset_hash="0x" + "dc" * 32,
            close_time=T0 + 2100, resolve_time=T0 + 2200)
        put(db, "submissions", 42, 0, round_id=3, staker=ALICE, model_id=M2, predictions_hash="0x" + "ac" * 32)
        stake(db, 42, 1, 3, M2, 7, 7)
        db.execute("INSERT INTO blocks (number, hash, timestamp) VALUES (40, '0x40', 1), (41, '0x41', 2), "
                   "(42, '0x42', 3)")
    with ServerThread(create_app(path)) as running:
        signals_round = requests.get(running.url + "/rounds/3", timeout=10).text
        classic_round = requests.get(running.url + "/rounds/1", timeout=10).text
        wallet = requests.get(running.url + f"/wallets/{ALICE}", timeout=10).text
        kinds = requests.get(running.url + f"/api/wallets/{ALICE}", timeout=10).json()["kinds"]
    heads = re.compile(r'<table class="(?:scores|history)"><thead><tr>(.*?)</tr>', re.S)
    titles = [re.findall(r'data-key="(?:corr|mmc)">([^<]+)<', h) for h in heads.findall(signals_round + classic_round)]
    assert titles == [["alpha", "MPC"], ["CORR", "MMC"]]
    assert "2 (signals)" in signals_round and kinds == {"1": 0, "2": 1}
    assert [re.findall(r'data-key="(?:corr|mmc)">([^<]+)<', h) for h in heads.findall(wallet)] == \
        [["CORR", "MMC"], ["alpha", "MPC"]]
    assert "<h3>Tournament 1 (classic)</h3>" in wallet and "<h3>Tournament 2 (signals)</h3>" in wallet


def test_a_round_page_shows_its_positions_a_page_at_a_time_with_totals_over_them_all(server):
    """`?offset=&limit=` page through a round's positions (by participant, then model); the
    totals, the settlement and the payout factor stay those of the whole round."""
    whole = get(server, "/api/rounds/1").json()
    assert [(p["staker"], p["model_id"]) for p in whole["positions"]] == [(ALICE, M1), (BOB, M2), (BOB, M3)]
    middle = get(server, "/api/rounds/1?offset=1&limit=1").json()
    assert [(p["staker"], p["model_id"], p["table_delta_tokens"]) for p in middle["positions"]] == [(BOB, M2, -2.0)]
    for key in ("totals", "settlement", "payout_factor", "total_stake", "staked_positions", "position_count"):
        assert middle[key] == whole[key], key
    assert whole["position_count"] == 3 and whole["settlement"] == {"settled": 2, "staked": 3}
    assert (whole["totals"]["reward_tokens"], whole["totals"]["burn_tokens"]) == (1.5, 2.0)
    assert get(server, "/api/rounds/1?offset=5&limit=1").json()["positions"] == []
    page = get(server, "/rounds/1?offset=1&limit=1").text
    assert 'positions 2 to 2 of 3: <a href="/rounds/1?offset=0&amp;limit=1">previous</a> ' \
           '<a href="/rounds/1?offset=2&amp;limit=1">next</a>' in page
    assert 'id="pager"' not in get(server, "/rounds/1").text  # all three fit the default page
    assert get(server, "/api/rounds/1?limit=0").status_code == 422
    assert get(server, "/rounds/1?offset=-1").status_code == 422
