"""Follow lag: what a user of `crowdstake index --follow` sees, the time from a block being mined
to its events being in the index, at a given --confirmations and --poll.

    python benchmarks/follow.py [--samples 5] [--block-time 1]
                                # writes benchmarks/results/follow.json

An anvil of its own on a free loopback port (no brownie), the protocol deployed, then mining a
block every `--block-time` seconds (`evm_setIntervalMining`), as a live chain does. For each
setting, `crowdstake index --follow --confirmations N --poll P` runs as a subprocess (the
command a user runs) and `--samples` transactions are sent one at a time, each after a random pause (a `fundRewards`,
one RewardsFunded event each). A watcher thread looks at the node's head and at the index file
every 5 ms and records when each block first appears and when each transaction's event first
appears in the index; the lag is the difference. It is N blocks of waiting for the
confirmations, up to one poll interval, and the sync itself, so the defaults on a chain of
12-second blocks (5 confirmations, --poll 12) follow from the components measured here."""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from eth_account import Account  # noqa: E402

from crowdstake.chain import connect  # noqa: E402
from crowdstake.chain.deploy import deploy  # noqa: E402
from crowdstake.chain.localchain import local_chain  # noqa: E402
from crowdstake.chain.tx import send  # noqa: E402
from machine import load, machine  # noqa: E402

E18 = 10**18
SETTINGS = ((0, 0.5), (2, 0.5), (5, 2.0))  # (--confirmations, --poll seconds)


class Watcher(threading.Thread):
    """When each block number first answered as the head, and each transaction's RewardsFunded
    first appeared in the index (monotonic seconds)."""

    def __init__(self, w3, path: Path):
        super().__init__(daemon=True)
        self.w3, self.path, self.stop = w3, path, threading.Event()
        self.blocks: dict[int, float] = {}
        self.indexed: dict[str, float] = {}

    def run(self) -> None:
        db = None
        while not self.stop.is_set():
            now = time.monotonic()
            self.blocks.setdefault(self.w3.eth.block_number, now)
            try:
                db = db or sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
                for (tx,) in db.execute("SELECT tx_hash FROM rewards_funded"):
                    self.indexed.setdefault(tx, now)
            except sqlite3.Error:  # the follower has not created the file yet
                db = None
            time.sleep(0.005)


def follower(url: str, home: Path, db: Path, confirmations: int, poll: float) -> subprocess.Popen:
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "CROWDSTAKE_CONFIG": str(home / "absent"),
           "LANG": "C.UTF-8", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "crowdstake.cli", "index", "--db", str(db), "--rpc-url", url,
                             "--deployments", str(home / "deployments"), "--confirmations", str(confirmations),
                             "--poll", str(poll), "--follow"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def measure(url, home, w3, c, bank, confirmations, poll, samples, block_time) -> dict:
    db = home / f"follow-{confirmations}-{poll:g}.sqlite3"
    watcher = Watcher(connect(url), db)  # a connection of its own: it runs in another thread
    watcher.start()
    run = follower(url, home, db, confirmations, poll)
    try:
        deadline = time.monotonic() + 60
        while not watcher.indexed and time.monotonic() < deadline:  # the backfill has the deployment's funding
            assert run.poll() is None, run.stderr.read()
            time.sleep(0.05)
        lags, rng = [], random.Random(confirmations)
        for _ in range(samples):
            time.sleep(rng.uniform(0, poll + block_time))  # a moment anywhere in the poll's and the block's cycle
            receipt = send(w3, bank, c.tournament.functions.fundRewards(E18))
            tx, block = receipt["transactionHash"].to_0x_hex(), receipt["blockNumber"]
            deadline = time.monotonic() + 60 + confirmations * block_time + poll
            while tx not in watcher.indexed:
                assert run.poll() is None and time.monotonic() < deadline, "the follower never indexed the event"
                time.sleep(0.01)
            lags.append(watcher.indexed[tx] - watcher.blocks[block])
    finally:
        run.terminate()
        run.wait(30)
        watcher.stop.set()
        watcher.join(5)
    lags.sort()
    return {"confirmations": confirmations, "poll_seconds": poll, "samples": samples,
            "lag_seconds_p50": round(statistics.median(lags), 3), "lag_seconds_max": round(lags[-1], 3),
            "lag_seconds_min": round(lags[0], 3),
            "expected_seconds": f"{confirmations} x {block_time:g} s of blocks + up to {poll:g} s of poll + the sync"}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--block-time", type=int, default=1, help="seconds between blocks (whole seconds: anvil's)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "follow.json")
    args = parser.parse_args(argv)
    load_before = load()
    results = []
    with tempfile.TemporaryDirectory(prefix="crowdstake-follow-") as tmp, local_chain("anvil") as url:
        home = Path(tmp)
        (home / "store").mkdir()
        w3 = connect(url)
        bank, members = Account.create(), [Account.create() for _ in range(3)]
        for a in (bank, *members):
            w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": a.address, "value": 10 * E18})
        c = deploy(w3, bank, operator=bank.address, guardian=bank.address, members=[m.address for m in members],
                   threshold=2, dispute_window=600, treasury=bank.address, directory=home / "deployments")
        send(w3, bank, c.token.functions.approve(c.tournament.address, 1_000 * E18))
        send(w3, bank, c.tournament.functions.fundRewards(E18))
        w3.provider.make_request("evm_setIntervalMining", [args.block_time])
        for confirmations, poll in SETTINGS:
            r = measure(url, home, w3, c, bank, confirmations, poll, args.samples, args.block_time)
            results.append(r)
            print(f"--confirmations {confirmations} --poll {poll:g}: lag p50 {r['lag_seconds_p50']:.2f} s, "
                  f"min {r['lag_seconds_min']:.2f} s, max {r['lag_seconds_max']:.2f} s", flush=True)
    out = {"benchmark": "crowdstake index --follow: seconds from a block being mined to its events in the index",
           "command": "python benchmarks/follow.py", "date": datetime.date.today().isoformat(),
           "block_time_seconds": args.block_time, "settings": results, "machine": machine(load_before, load())}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")
    return out


if __name__ == "__main__":
    main()
