"""A deadline rush on the submission store: `crowdstake store serve` with 1, 2 and 3 workers.

    python benchmarks/store_rush.py [--wallets 2000] [--anvil-port PORT]   # writes benchmarks/results/store_rush.json

The chain is real: an anvil the script starts (on a free port unless --anvil-port), the protocol
deployed on it, mining a block a second during the rush so the chain's clock, which the store
runs by, keeps wall-clock pace. For each configuration the store is `crowdstake store serve
--workers N` over a fresh directory, in its own processes; a round is opened closing WINDOW
seconds later, and every wallet (2,000 distinct ones, keys derived from their index: benchmark
only) uploads one signed predictions file for the round's 5,000 live ids, CONCURRENCY at a time,
over `load.py`'s raw keep-alive connections (the clients share the store's cores; see there).
Each upload is the whole server path: the chain's clock read (one RPC), the EIP-712 signature
recovered, the file validated and hashed, then the file, its pointer and the signature committed
in a fsynced SQLite transaction (the worker's group commit). Files and signatures
are made before the round opens and are not timed. An upload refused because the round had
closed is counted as refused, any other failure as an error. Afterwards the store is stopped
and every accepted upload's file is looked for in its directory's database: its hash, its
bytes, its pointer (nothing accepted lost). The two configurations run one after the other in one run,
each on a round of its own.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eth_account import Account
from eth_hash.auto import keccak
from web3 import Web3

from load import quantiles, send_all, upload_request  # noqa: E402  (benchmarks/load.py)
from machine import load, machine  # noqa: E402  (benchmarks/machine.py)
from crowdstake import store as S
from crowdstake._server import free_port
from crowdstake.chain import connect
from crowdstake.chain.deploy import deploy
from crowdstake.chain.localchain import local_chain
from crowdstake.chain.tx import send
from crowdstake.sim.season import PARAMS as SEASON_PARAMS
from crowdstake.store.replay import ReplayMemory

IDS = [f"n{i:06d}" for i in range(5000)]
WINDOW = 60  # seconds from the round's opening to its close: the rush
CONCURRENCY = 32
WORKERS = [1, 2, 3]
E18 = 10**18
# CROWDSTAKE_BENCH_RESULTS: write elsewhere (`make bench-quick` does, under results/quick/)
OUT = Path(os.environ.get("CROWDSTAKE_BENCH_RESULTS", Path(__file__).resolve().parent / "results" / "store_rush.json"))


def account(role: str, i: int = 0):
    """A benchmark wallet: its key is keccak of its role and index (anyone can recompute it)."""
    return Account.from_key(Web3.keccak(text=f"crowdstake bench store rush/{role}/{i}"))


def chain_now(w3) -> int:
    return int(w3.eth.get_block("latest")["timestamp"])


def protocol(w3, work: Path):
    """Deploy the protocol with a funded benchmark bank as admin, operator and treasury; a tournament."""
    bank = account("bank")
    w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": bank.address, "value": 100 * E18})
    members = [account("member", i).address for i in range(3)]
    contracts = deploy(w3, bank, operator=bank.address, guardian=bank.address, members=members, threshold=2,
                       dispute_window=3600, treasury=bank.address, directory=work / "deployments")
    send(w3, bank, contracts.tournament.functions.createTournament(SEASON_PARAMS))  # the demo's tournament
    return contracts, bank, contracts.tournament.functions.tournamentCount().call()


def start_store(url: str, work: Path, workers: int) -> tuple[str, Path, subprocess.Popen]:
    directory, port = work / f"store-{workers}", free_port()
    proc = subprocess.Popen([sys.executable, "-m", "crowdstake.cli", "store", "serve", "--dir", str(directory),
                             "--port", str(port), "--rpc-url", url, "--deployments", str(work / "deployments"),
                             "--workers", str(workers)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store_url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            S.HttpStore(store_url, timeout=1).info()
            return store_url, directory, proc
        except S.StoreUnavailable:  # not listening yet
            if proc.poll() is not None:
                raise SystemExit(f"`crowdstake store serve --workers {workers}` exited: run it by hand to see why")
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit("the store did not start")


def predictions(rng: random.Random) -> bytes:
    return ("id,prediction\n" + "".join(f"{i},{rng.random():.6f}\n" for i in IDS)).encode()


def rush(w3, contracts, bank, tournament_id: int, url: str, work: Path, workers: int, wallets: list) -> dict:
    store_url, directory, proc = start_store(url, work, workers)
    try:
        rid = contracts.tournament.functions.roundCount().call() + 1  # the round opened below
        rng = random.Random(workers)
        t0 = time.perf_counter()
        expiry = chain_now(w3) + 3600
        jobs = []
        for k, wallet in enumerate(wallets):
            data = predictions(rng)
            model = S.model_bytes(f"rush-{k}")
            jobs.append((wallet, model, data, S.sign_upload(wallet, w3.eth.chain_id, store_url, rid, model, data, expiry)))
        requests = [upload_request(store_url, auth, data) for _, _, data, auth in jobs]
        prepare_seconds = time.perf_counter() - t0

        w3.provider.make_request("evm_mine", [])  # the latest block's time is now, not the signing's start
        now = chain_now(w3)
        send(w3, bank, contracts.tournament.functions.openRound(tournament_id, keccak(b"rush dataset"),
                                                                now + WINDOW, now + WINDOW + 3600))
        assert contracts.tournament.functions.roundCount().call() == rid
        S.register_live_ids(directory, rid, IDS)  # the dataset is not in the store: the fund registers its ids
        close = contracts.tournament.functions.roundTimes(rid).call()[0]
        w3.provider.make_request("evm_setIntervalMining", [1])  # the chain's clock at wall-clock pace

        started_chain, start = chain_now(w3), time.perf_counter()
        answers = send_all(store_url, requests, CONCURRENCY)
        elapsed, ended_chain = time.perf_counter() - start, chain_now(w3)
        w3.provider.make_request("evm_setIntervalMining", [0])
        w3.provider.make_request("evm_setAutomine", [True])
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    outcomes = []  # (accepted | refused | the error, seconds, file hash)
    for index, status, seconds, body in answers:
        digest = S.file_hash(jobs[index][2])
        if status == 201 and json.loads(body)["hash"] == "0x" + digest.hex():
            outcomes.append(("accepted", seconds, digest))
        elif status == 403 and b"no longer accepted" in body:  # the round closed before it got in
            outcomes.append(("refused", seconds, None))
        else:
            outcomes.append((f"{status}: {body[:200].decode(errors='replace')}", seconds, None))
    outcomes += [("never sent", 0.0, None)] * (len(jobs) - len(answers))
    accepted = {bytes(d) for status, _, d in outcomes if status == "accepted"}
    positions = {S.file_hash(data): (wallet, model) for wallet, model, data, _ in jobs}
    replay = ReplayMemory(directory, lambda: 0)
    lost = []
    for digest in accepted:  # every accepted file, by its hash and by its pointer, once the store stopped
        wallet, model = positions[digest]
        data = replay.file(rid, digest)
        kept = data is not None and keccak(data) == digest and \
            replay.pointer(rid, wallet.address.lower(), model.hex()) == "0x" + digest.hex()
        if not kept:
            lost.append("0x" + digest.hex())
    errors = [status for status, _, _ in outcomes if status not in ("accepted", "refused")]
    shutil.rmtree(directory, ignore_errors=True)
    return {
        "workers": workers,
        "round": rid,
        "wallets": len(wallets),
        "accepted": len(accepted),
        "refused_after_close": sum(status == "refused" for status, _, _ in outcomes),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "seconds": round(elapsed, 2),
        "uploads_per_second": round(len(accepted) / elapsed, 1),
        "latency_ms": quantiles([t for status, t, _ in outcomes if status == "accepted"]),
        "chain_seconds_left_at_start": close - started_chain,
        "chain_seconds_left_at_end": close - ended_chain,
        "accepted_files_checked": len(accepted),
        "accepted_files_lost": len(lost),
        "first_lost": lost[0] if lost else None,
        "client_prepare_ms_per_upload": round(1000 * prepare_seconds / len(jobs), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wallets", type=int, default=2000, help="distinct wallets, one upload each (default 2000)")
    parser.add_argument("--anvil-port", type=int, default=None, help="the port of the anvil it starts (default: a free one)")
    args = parser.parse_args()
    wallets = [account("wallet", i) for i in range(args.wallets)]
    work = Path(tempfile.mkdtemp(prefix="crowdstake-bench-rush-"))
    load_before = load()
    try:
        with local_chain("anvil", port=args.anvil_port) as url:
            w3 = connect(url, timeout=60)
            contracts, bank, tournament_id = protocol(w3, work)
            results = [rush(w3, contracts, bank, tournament_id, url, work, n, wallets) for n in WORKERS]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report = {
        "benchmark": "crowdstake submission store: a deadline rush on `crowdstake store serve --workers N`",
        "command": "python benchmarks/store_rush.py" + (f" --wallets {args.wallets}" if args.wallets != 2000 else ""),
        "method": __doc__.strip().split("\n\n", 2)[2].replace("\n", " "),
        "file": {"live_ids": len(IDS), "bytes": len(predictions(random.Random(0)))},
        "window_seconds": WINDOW,
        "concurrency": CONCURRENCY,
        "chain": "anvil started by the script, one block a second during the rush",
        "machine": {**machine(load_before, load()), "fastapi": version("fastapi"), "uvicorn": version("uvicorn")},
        "configurations": results,
        "over_one_worker": {r["workers"]: round(r["uploads_per_second"] / results[0]["uploads_per_second"], 2)
                            for r in results[1:]} if results[0]["uploads_per_second"] else None,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2) + "\n")
    for r in results:
        print(f"{r['workers']} worker(s): {r['accepted']} accepted, {r['refused_after_close']} refused after close, "
              f"{r['errors']} errors in {r['seconds']} s = {r['uploads_per_second']}/s (p50 {r['latency_ms']['p50']} ms, "
              f"p95 {r['latency_ms']['p95']} ms, p99 {r['latency_ms']['p99']} ms); {r['accepted_files_lost']} of "
              f"{r['accepted_files_checked']} accepted files lost")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
