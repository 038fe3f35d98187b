"""Index benchmark: `crowdstake index` backfilling a deployment with a round of 100,000 real
positions, then following the head while new positions land.

    brownie run $PWD/benchmarks/index.py --network bench-anvil      (`make bench` does)

Writes benchmarks/results/index.json. The positions are real submit + stake transactions, made
by contracts/test/MassStaker.sol (many model ids in one transaction, as benchmarks/gas.py does),
so the chain holds 100,000 Submitted and 100,000 StakeIncreased events; the indexer reads them
with the package's own code (`crowdstake.index.Indexer`, pages of `LOG_PAGE` blocks, one SQLite
transaction a page) into a file on disk. Reported: events per second of the backfill (wall time,
including the block reads of every page and the commit), the file's size, and, following with
no confirmations, the time from a block being mined to the index's cursor passing it (one sync,
what --follow runs at each poll), over FOLLOW_BATCHES batches of new positions.
CROWDSTAKE_BENCH_SIZES="2000" for a quick trial (write it elsewhere with CROWDSTAKE_BENCH_RESULTS).
"""

import datetime
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from brownie import MassStaker, accounts, chain, web3

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_tools import logger, send  # noqa: E402
from machine import load, machine  # noqa: E402

from crowdstake.chain import Contracts, connect, save_deployment
from crowdstake.index import Indexer, identity, open_index
from scripts.deploy import deploy_protocol, deployment_record

E18 = 10**18
SIZE = int(os.environ.get("CROWDSTAKE_BENCH_SIZES", "100000").split(",")[-1])
PARAMS = (1_000 * E18, E18, 5 * 10**16, 7 * 86400, 5000, 20000, 0, 0)
BASE, STEP = E18, E18 // 2
FOLLOW_BATCHES, FOLLOW_BATCH = 20, 50
RESULTS = Path(os.environ.get("CROWDSTAKE_BENCH_RESULTS", "benchmarks/results/index.json"))
log = logger("index")


def _enter(staker, rid, start, count, sender, per_tx):
    done = 0
    while done < count:
        n = min(per_tx, count - done)
        send(staker.enter, rid, start + done, n, b"\x11" * 32, BASE, STEP, {"from": sender})
        done += n


def main():
    admin, operator, guardian = accounts[0], accounts[1], accounts[2]
    members = list(accounts[3:6])
    token, tournament, committee = deploy_protocol(
        admin, admin=admin, operator=operator, guardian=guardian, members=members, threshold=2,
        dispute_window=600, treasury=admin)
    tid = send(tournament.createTournament, PARAMS, {"from": operator}).return_value
    staker = MassStaker.deploy(tournament, token, {"from": admin})
    send(token.transfer, staker, 3 * E18 * (SIZE + FOLLOW_BATCHES * FOLLOW_BATCH), {"from": admin})
    now = chain.time()
    rid = send(tournament.openRound, tid, b"\xda" * 32, now + 30 * 86400, now + 31 * 86400,
               {"from": operator}).return_value
    per_tx = max(1, min(11_111, int(web3.eth.get_block("latest").gasLimit * 0.9) // 90_000))
    started = time.monotonic()
    _enter(staker, rid, 0, SIZE, admin, per_tx)
    log(f"{SIZE:,} positions in {time.monotonic() - started:.1f} s")

    work = Path(tempfile.mkdtemp(prefix="crowdstake-index-bench-"))
    try:
        record = deployment_record(token, tournament, committee, block=0, admin=admin, operator=operator,
                                   guardian=guardian, members=[m.address for m in members], threshold=2)
        save_deployment(chain.id, record, work / "deployments")
        contracts = Contracts.load(connect(web3.provider.endpoint_uri, timeout=120), work / "deployments")
        db = work / "index.sqlite3"
        load_before = load()
        with open_index(db, identity(contracts), write=True) as opened:
            progress = Indexer(contracts, opened, confirmations=0).sync()
            log(f"backfill: {progress.events:,} events, {progress.pages} pages, {progress.seconds:.1f} s, "
                f"{progress.events_per_second:,.0f} events/s")

            # following: a batch of new positions lands, and a sync (what --follow runs each poll)
            # catches up with it; in --follow the wait for the next poll comes on top
            lags = []
            for b in range(FOLLOW_BATCHES):
                _enter(staker, rid, SIZE + b * FOLLOW_BATCH, FOLLOW_BATCH, admin, per_tx)
                mined = web3.eth.block_number
                t0 = time.monotonic()
                Indexer(contracts, opened, confirmations=0).sync()
                assert opened.cursor >= mined
                lags.append(time.monotonic() - t0)
        load_after = load()
        size_mb = sum(f.stat().st_size for f in work.glob("index.sqlite3*")) / 2**20  # closed: checkpointed
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lags.sort()
    result = {
        "benchmark": "crowdstake index: backfill of a round of real positions, then following the head",
        "command": "brownie run $PWD/benchmarks/index.py --network bench-anvil",
        "date": datetime.date.today().isoformat(),
        "positions": SIZE,
        "backfill": {"events": progress.events, "pages": progress.pages, "seconds": round(progress.seconds, 2),
                     "events_per_second": round(progress.events_per_second), "file_mb": round(size_mb, 1)},
        "follow": {"batches": FOLLOW_BATCHES, "positions_per_batch": FOLLOW_BATCH,
                   "note": "seconds from a batch's block being mined to the index's cursor passing it, one sync "
                           "(what --follow runs each poll; the wait for the next poll, at most --poll, comes on top)",
                   "catch_up_seconds_p50": round(statistics.median(lags), 3),
                   "catch_up_seconds_p95": round(lags[int(0.95 * (len(lags) - 1))], 3),
                   "catch_up_seconds_max": round(lags[-1], 3)},
        "machine": machine(load_before, load_after),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    log(json.dumps(result["backfill"]) + " " + json.dumps(result["follow"]))
    log(f"wrote {RESULTS}")
