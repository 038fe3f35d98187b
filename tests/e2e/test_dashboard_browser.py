"""The dashboard in a real browser (headless Chromium driven by selenium) over a real season: an
anvil of this module's own (`local_chain`, never brownie's chain), the season of
support/season.py, indexed by the indexer, served by uvicorn on a free loopback port. Checks that
the leaderboard shows the chain's numbers (the score table the committee voted, the stakes the
contract holds), that a click on a model reaches its page, that the round page's timeline and
votes are the chain's, that the charts render (inline SVG with path and rect elements), and
that the verify action recomputes the round and finds it matching, and that no page fetches
anything from another host. A screenshot of every page (the API page too) is saved under
reports/dashboard-screenshots/ (git-ignored; the path is printed), replaced on each run."""

from datetime import datetime, timezone
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from crowdstake._server import ServerThread
from crowdstake.chain.localchain import local_chain
from crowdstake.index import Indexer, identity, open_index, read
from crowdstake.oracle import verify_round
from crowdstake.results.merkle import model_id
from crowdstake.results.table import read_table
from crowdstake.web import create_app
from crowdstake.web.html import countdown
from support.season import E18, play_season

MODEL = "0x" + model_id("model").hex()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    home = tmp_path_factory.mktemp("dashboard")
    with local_chain("anvil") as url:
        world = play_season(url, home)
        c, store = world["contracts"], world["store"]
        path = home / "index.sqlite3"
        with open_index(path, identity(c), write=True) as opened:
            progress = Indexer(c, opened, store, confirmations=0).sync()
        assert progress.tables["stored"] == 1
        app = create_app(path, verify=lambda rid: verify_round(c, store, rid, home / "targets"), identity=identity(c))
        with ServerThread(app) as server:
            world["site"] = server.url
            yield world


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    profile = tmp_path_factory.mktemp("chromium-profile")
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--window-size=1400,1000", f"--user-data-dir={profile}"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    driver.implicitly_wait(2)
    try:
        yield driver
    finally:
        driver.quit()


SHOTS = Path(__file__).resolve().parents[2] / "reports" / "dashboard-screenshots"  # reports/ is git-ignored


@pytest.fixture(scope="module")
def shots():
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):  # this run's only
        old.unlink()
    print(f"\nscreenshots in {SHOTS}")
    return SHOTS


def snap(browser, shots, name):
    """A screenshot of the page, after checking that it fetched nothing from another host."""
    here = browser.execute_script("return location.origin")
    fetched = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert all(url.startswith(here + "/") or url.startswith("file:") for url in fetched), fetched
    browser.set_window_size(1400, max(1000, browser.execute_script("return document.body.scrollHeight") + 40))
    assert browser.save_screenshot(str(shots / f"{name}.png"))
    assert (shots / f"{name}.png").stat().st_size > 5_000


def rows(browser, table_class):
    return browser.find_elements(By.CSS_SELECTOR, f"table.{table_class.replace(' ', '.')} tbody tr")


def cell_texts(row):
    return [td.text for td in row.find_elements(By.TAG_NAME, "td")]


def utc(timestamp):
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def charts_render(browser, least=1):
    charts = browser.find_elements(By.CSS_SELECTOR, "svg.chart")
    assert len(charts) >= least
    for chart in charts:
        lines = [p for p in chart.find_elements(By.TAG_NAME, "path") if " L" in p.get_attribute("d")]
        bars = [r for r in chart.find_elements(By.TAG_NAME, "rect") if float(r.get_attribute("height")) >= 0.5]
        assert lines or bars, "a chart with nothing drawn"
        assert chart.size["width"] > 100 and chart.size["height"] > 100
    return charts


def test_the_leaderboard_shows_the_chains_numbers_and_a_click_reaches_the_model(site, browser, shots):
    c, store = site["contracts"], site["store"]
    table = read_table(store.get_score_table(1, c.round(1).scoreTableHash))
    expected = {(r.staker, "0x" + r.model_id.hex()): r for r in table}
    browser.get(site["site"] + "/")
    assert browser.title.startswith("Leaderboard")
    shown = rows(browser, "standings models")
    assert len(shown) == len(expected) == 4
    payouts = []
    for row in shown:
        staker = row.find_element(By.CSS_SELECTOR, "td:nth-child(1) span").get_attribute("title")
        model = row.find_element(By.CSS_SELECTOR, "td:nth-child(2) span").get_attribute("title")
        cells = cell_texts(row)
        r = expected[(staker, model)]
        held = sum(c.position(rid, staker, r.model_id).stake for rid in (1, 2))  # the contract's stakes now
        assert cells[3] == f"{held / E18:,.4f}" and cells[4] == "1"
        assert cells[5] == f"{r.corr:,.4f}" and cells[6] == f"{r.mmc:,.4f}" and cells[7] == f"{r.score:,.4f}"
        assert cells[-2] == f"{r.delta / E18:,.4f}" and cells[-1] == f"{max(-r.delta, 0) / E18:,.4f}"
        payouts.append(r.delta)
    assert payouts == sorted(payouts, reverse=True)
    assert any(cell_texts(row)[3] == "20.0000" for row in shown)  # round 2's stakes are still held
    snap(browser, shots, "leaderboard")

    browser.find_element(By.CSS_SELECTOR, 'th[data-key="corr_all"] a').click()
    corr = [float(cell_texts(row)[8]) for row in rows(browser, "standings models")]
    assert "/?sort=corr_all&" in browser.current_url and corr == sorted(corr, reverse=True)

    first = rows(browser, "standings models")[0]
    staker = first.find_element(By.CSS_SELECTOR, "td:nth-child(1) span").get_attribute("title")
    first.find_element(By.CSS_SELECTOR, "td:nth-child(2) a").click()
    assert f"/models/{MODEL}" in browser.current_url and browser.title.startswith("Model")
    history = [cell_texts(row) for row in rows(browser, "history")]
    in_round_2 = c.position(2, staker, bytes.fromhex(MODEL[2:])).stake
    assert [h[0] for h in history] == (["1", "2"] if in_round_2 else ["1"])
    assert history[0][5] == f"{expected[(staker, MODEL)].score:,.4f}"
    charts_render(browser, 2)
    snap(browser, shots, "model")


def test_the_round_page_shows_the_chains_timeline_and_votes(site, browser, shots):
    c, w3 = site["contracts"], site["w3"]
    browser.get(site["site"] + "/rounds")
    assert [cell_texts(r)[0] for r in rows(browser, "rounds")] == ["2", "1"]
    snap(browser, shots, "rounds")
    browser.find_element(By.LINK_TEXT, "1").click()
    assert browser.current_url.endswith("/rounds/1")
    shown = [cell_texts(r) for r in rows(browser, "timeline")]
    timeline = {row[0]: row[1] for row in shown}
    times, state = c.round_times(1), c.round_state(1)
    voted = c.logs("Voted", of=c.committee)
    finalized = c.logs("RoundFinalized", of=c.tournament)[0]
    opened = next(e for e in c.logs("RoundOpened") if e["args"]["roundId"] == 1)
    (accepted,) = c.logs("ResultAccepted", of=c.committee)
    stamp = {e["blockNumber"]: w3.eth.get_block(e["blockNumber"])["timestamp"]
             for e in [*voted, finalized, opened, accepted]}
    assert timeline["opened"] == utc(stamp[opened["blockNumber"]])
    assert timeline["accepted"] == utc(stamp[accepted["blockNumber"]])
    assert timeline["closes"] == utc(times.closeTime) and timeline["resolves"] == utc(times.resolveTime)
    assert timeline["dispute ends"] == utc(state.disputeEndsAt)
    assert timeline["finalized"] == utc(stamp[finalized["blockNumber"]])
    in_order = [row[1] for row in shown]
    assert in_order == sorted(in_order)  # the UTC texts sort as the times do
    with open_index(site["home"] / "index.sqlite3") as ix:
        clock = read.cursor_time(ix)  # the index's chain time, which the countdowns count from
    assert shown[0][2] == countdown(stamp[opened["blockNumber"]] - clock) and shown[0][2].endswith(" ago")
    for e in voted:
        assert timeline[f"vote by {e['args']['member']}"] == utc(stamp[e["blockNumber"]])
    votes = rows(browser, "votes")
    assert [v.find_element(By.CSS_SELECTOR, "td:nth-child(1) span").get_attribute("title") for v in votes] == \
        [e["args"]["member"] for e in voted]
    assert [int(cell_texts(v)[6]) for v in votes] == \
        [w3.eth.get_transaction_receipt(e["transactionHash"])["gasUsed"] for e in voted]
    table = read_table(site["store"].get_score_table(1, c.round(1).scoreTableHash))
    settled = sum(c.position(1, r.staker, r.model_id).stake == 0 for r in table)
    assert browser.find_element(By.ID, "settlement").text == f"{settled} / {len(table)}" == "4 / 4"
    scores = rows(browser, "scores")
    assert len(scores) == 5  # four staked positions and the submission never staked
    snap(browser, shots, "round")

    browser.find_element(By.CSS_SELECTOR, "#verify button").click()
    assert browser.find_element(By.CSS_SELECTOR, "p.ok").text == "matches"
    assert "0x" + bytes(c.round(1).root).hex() in browser.page_source
    snap(browser, shots, "verify")


def test_wallet_and_committee_pages_render_their_charts(site, browser, shots):
    c, people = site["contracts"], site["people"]
    browser.get(site["site"] + f"/wallets/{people[1].address}")
    assert browser.find_element(By.ID, "internal-balance").text == \
        f"{c.call(c.tournament.functions.internalBalance(people[1].address)) / E18:,.4f}"
    charts_render(browser, 2)
    snap(browser, shots, "wallet")
    browser.get(site["site"] + "/committee")
    assert browser.find_element(By.ID, "threshold").text == str(c.call(c.committee.functions.threshold()))
    members = [m.get_attribute("title") for m in browser.find_elements(By.CSS_SELECTOR, "ul.members span")]
    assert members == sorted(c.deployment["roles"]["members"], key=str.lower)
    charts_render(browser, 1)
    assert browser.find_elements(By.CSS_SELECTOR, "svg.chart rect")
    snap(browser, shots, "committee")
    browser.get(site["site"] + "/rounds/99")
    assert "Not found" in browser.title and "no round 99" in browser.page_source
    snap(browser, shots, "not-found")
    browser.get(site["site"] + "/docs")
    assert browser.title.startswith("API") and browser.find_elements(By.CSS_SELECTOR, "table.parameters")
    snap(browser, shots, "api")


def test_the_pages_written_to_files_read_from_disk_as_served(site, browser, shots, tmp_path):
    """The static site (`crowdstake.web.site`, what the demo's report is) opened from file://:
    the leaderboard's numbers are the served page's, a sort header and a model link reach their
    files, the charts render, the round shows its verification."""
    from crowdstake.web.site import write_site

    c, store = site["contracts"], site["store"]
    first = write_site(site["home"] / "index.sqlite3", tmp_path / "site",
                       verify=lambda rid: verify_round(c, store, rid, site["home"] / "targets"))
    browser.get(site["site"] + "/")
    served = [cell_texts(r) for r in rows(browser, "standings models")]
    browser.get(first.as_uri())
    assert browser.title.startswith("Leaderboard") and [cell_texts(r) for r in rows(browser, "standings models")] == served
    browser.find_element(By.CSS_SELECTOR, 'th[data-key="corr_all"] a').click()
    assert browser.current_url.endswith("/leaderboard-corr_all.html")
    corr = [float(cell_texts(row)[8]) for row in rows(browser, "standings models")]
    assert corr == sorted(corr, reverse=True)
    rows(browser, "standings models")[0].find_element(By.CSS_SELECTOR, "td:nth-child(2) a").click()
    assert f"/models/{MODEL}/" in browser.current_url and browser.title.startswith("Model")
    charts_render(browser, 2)
    snap(browser, shots, "static-model")
    browser.find_element(By.CSS_SELECTOR, "td:nth-child(1) a").click()  # its first round
    assert browser.current_url.endswith("/rounds/1.html")
    assert browser.find_element(By.CSS_SELECTOR, "#verify p.ok").text == "matches"
    snap(browser, shots, "static-round")


def test_the_command_follows_the_node_and_verifies_through_its_store(site, tmp_path):
    """`crowdstake web --follow` as a subprocess: its indexer creates and fills the file (to the
    head: `--confirmations 0`; the season's last blocks are within the default 5), the pages show
    it, and the verify action runs against the node and store it was given."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    import requests

    from crowdstake._server import free_port

    home, port = site["home"], free_port()
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "CROWDSTAKE_CONFIG": str(home / "absent"), "LANG": "C.UTF-8"}
    run = subprocess.Popen([sys.executable, "-m", "crowdstake.cli", "web", "--index", str(tmp_path / "cli.sqlite3"),
                            "--port", str(port), "--rpc-url", site["url"], "--deployments", str(home / "deployments"),
                            "--store", str(home / "store"), "--targets", str(home / "targets"), "--follow",
                            "--confirmations", "0", "--poll", "0.2"],
                           cwd=Path(__file__).resolve().parents[2], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert run.poll() is None, run.stderr.read()
            try:
                rounds = requests.get(url + "/api/rounds", timeout=5).json()
                if [r["round_id"] for r in rounds] == [2, 1] and rounds[0]["staked_positions"] == 2:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the dashboard never showed the season"
            time.sleep(0.3)
        board = requests.get(url + "/api/leaderboard", timeout=10).json()["tournaments"][0]
        assert len(board["models"]) == 4 and board["resolved_rounds"] == [1]
        verdict = requests.post(url + "/api/rounds/1/verify", timeout=120).json()
        assert verdict["matches"] is True and verdict["onchain_root"] == "0x" + bytes(site["contracts"].round(1).root).hex()
        assert requests.get(url + "/rounds/1", timeout=10).text.count('<form id="verify"') == 1
    finally:
        run.terminate()
        out, err = run.communicate(timeout=30)
    assert "Traceback" not in err, err
    assert f"the dashboard of {tmp_path / 'cli.sqlite3'} at {url}/" in err


class NarrowNode:
    """A JSON-RPC front to the season's node that refuses eth_getLogs over more than one block,
    as hosted nodes refuse wide ranges, and passes everything else through."""

    def __init__(self, node_url: str):
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        import requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                call = json.loads(body)
                if call.get("method") == "eth_getLogs":
                    span = call["params"][0]
                    if int(span["toBlock"], 16) > int(span["fromBlock"], 16):
                        answer = json.dumps({"jsonrpc": "2.0", "id": call["id"], "error": {
                            "code": -32005, "message": "query exceeds the block range limit of 1"}}).encode()
                        return self._send(answer)
                self._send(requests.post(node_url, data=body, headers={"Content-Type": "application/json"},
                                         timeout=30).content)

            def _send(self, answer: bytes):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_an_indexer_that_stops_is_said_on_stderr_and_on_every_page(site, tmp_path):
    """`crowdstake web --follow` against a node that refuses its eth_getLogs ranges: the
    indexer thread stops (it is not a node away, which it would wait out), says so in one line
    on stderr, and every page and answer says so from then on, while the site keeps serving."""
    import os
    import subprocess
    import sys
    import time

    import requests

    from crowdstake._server import free_port

    home, port, node = site["home"], free_port(), NarrowNode(site["url"])
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "CROWDSTAKE_CONFIG": str(home / "absent"), "LANG": "C.UTF-8"}
    err = tmp_path / "web.err"
    with open(err, "w") as errors:
        run = subprocess.Popen([sys.executable, "-m", "crowdstake.cli", "web", "--index", str(tmp_path / "i.sqlite3"),
                                "--port", str(port), "--rpc-url", node.url, "--deployments", str(home / "deployments"),
                                "--follow", "--confirmations", "0", "--poll", "0.2"],
                               cwd=Path(__file__).resolve().parents[2], env=env, stdout=subprocess.DEVNULL,
                               stderr=errors)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while "index: the index stopped" not in err.read_text():
            assert run.poll() is None and time.monotonic() < deadline, err.read_text()
            time.sleep(0.1)
        while True:
            try:
                page = requests.get(url + "/rounds", timeout=5)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the dashboard never answered"
                time.sleep(0.1)
        (line,) = [x for x in err.read_text().splitlines() if x.startswith("index: ")]
        assert "refused eth_getLogs" in line and "pass a smaller --page-blocks" in line and "restart" in line
        assert "Traceback" not in err.read_text()
        assert page.status_code == 200 and 'id="index-problem"' in page.text and "pass a smaller --page-blocks" \
            in page.text
        api = requests.get(url + "/api/rounds", timeout=5)
        assert api.json() == [] and "--page-blocks" in api.headers["X-Index-Problem"]
        assert run.poll() is None  # still serving the file as it is
    finally:
        run.terminate()
        run.wait(30)
        node.close()
