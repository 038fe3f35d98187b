"""Upload throughput of the submission store over loopback HTTP, with 1, 2 and 3 worker processes.

    python benchmarks/store.py            # writes benchmarks/results/store.json

The store is `crowdstake.store.create_app` over a `LocalStore` on one temporary directory,
served by uvicorn in N forked worker processes accepting on one listening socket (what
`crowdstake store serve --workers N` runs; each worker has its own LocalStore on the shared
directory, so the replay memory and pointers are the SQLite file they share). Each upload is a
distinct wallet's (or model's) signed predictions file for the round's 5,000 live ids, and takes
the whole server path: the EIP-712 signature recovered (coincurve), the file validated, hashed,
then the file, the signature and the pointer committed in a fsynced SQLite transaction (the
worker's group commit, with the uploads waiting beside it). The chain is not what is measured:
the workers' `round_times` and `now` are in-process stubs (round 1 open for an hour, wall-clock
time), so no RPC round trips are included (`store_rush.py` has them). Files and signatures are
made before the clock starts. The clients are `load.py`'s raw keep-alive connections (about 0.1
ms of CPU an upload), since they share the store's two cores; one more level sends through
`HttpStore` (requests, a pool of threads), as a participant's own program would, to show what
that client costs. Each level stops at MAX_UPLOADS uploads or MAX_SECONDS and runs REPEATS
times, the worker counts taking turns (the summary has each level's median, min and max); every
answer's hash is checked, and afterwards every accepted file by its hash and its pointer. The
CPU seconds of the workers (user and system) and of the client are recorded per upload.
Signature recovery is also timed on its own with eth-keys' two backends, coincurve
(libsecp256k1) and pure Python.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import secrets
import shutil
import socket
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eth_account import Account
from eth_keys import KeyAPI

from load import quantiles, send_all, upload_request  # noqa: E402  (benchmarks/load.py)
from machine import load, machine  # noqa: E402  (benchmarks/machine.py)
from crowdstake import store as S
from crowdstake.store.auth import _typed, typed_digest
from crowdstake.store.replay import ReplayMemory

CHAIN_ID = 31337
IDENTITY = "benchmark-store"
IDS = [f"n{i:06d}" for i in range(5000)]
ROUND = 1
WORKERS = [1, 2, 3]
CONCURRENCY = [1, 8, 32]
QUICK = bool(os.environ.get("CROWDSTAKE_BENCH_QUICK"))  # `make bench-quick`: a short trial
MAX_UPLOADS = 150 if QUICK else 2000
MAX_SECONDS = 5.0 if QUICK else 20.0
REPEATS = 1 if QUICK else 3  # every level, the configurations taking turns to go first
HTTPSTORE_UPLOADS = 100 if QUICK else 600
# CROWDSTAKE_BENCH_RESULTS: write elsewhere (`make bench-quick` does, under results/quick/)
OUT = Path(os.environ.get("CROWDSTAKE_BENCH_RESULTS", Path(__file__).resolve().parent / "results" / "store.json"))
OPENED = int(time.time())


def round_times(round_id: int) -> tuple[int, int]:
    return (OPENED + 3600, OPENED + 7200) if round_id == ROUND else (0, 0)


def run_worker(directory: str, listening: socket.socket) -> None:
    import uvicorn

    local = S.LocalStore(directory, round_times, CHAIN_ID, IDENTITY, now=lambda: int(time.time()))
    # The inherited socket itself (uvicorn's `fd=` would take it for a Unix socket: no TCP_NODELAY).
    config = uvicorn.Config(S.create_app(local, None, None, None), log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[listening])


def start(workers: int) -> tuple[str, str, list]:
    directory = tempfile.mkdtemp(prefix="crowdstake-bench-store-")
    S.register_live_ids(directory, ROUND, IDS)
    listening = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listening.bind(("127.0.0.1", 0))
    listening.listen(2048)
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=run_worker, args=(directory, listening), daemon=True) for _ in range(workers)]
    for p in procs:
        p.start()
    url = f"http://127.0.0.1:{listening.getsockname()[1]}"
    listening.close()  # the workers hold it
    for _ in range(200):
        try:
            S.HttpStore(url, timeout=1).info()
            return directory, url, procs
        except S.StoreUnavailable:  # not listening yet
            time.sleep(0.05)
    raise SystemExit("the store's workers did not start")


def cpu_seconds(pids: list[int]) -> tuple[float, float]:
    """User and system CPU seconds of these processes so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    user = system = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        user, system = user + int(fields[11]) / ticks, system + int(fields[12]) / ticks
    return user, system


def predictions(rng: random.Random) -> bytes:
    return ("id,prediction\n" + "".join(f"{i},{rng.random():.6f}\n" for i in IDS)).encode()


def signed_uploads(n: int, tag: str, wallets: list, rng: random.Random) -> list[tuple[bytes, dict]]:
    jobs = []
    for k in range(n):
        data = predictions(rng)
        jobs.append((data, S.sign_upload(wallets[k % len(wallets)], CHAIN_ID, IDENTITY, ROUND, f"{tag}-m{k}", data,
                                         int(time.time()) + 3600)))
    return jobs


def measured(jobs: list, answered: int, errors: list[str], latencies: list[float], seconds: float, pids: list[int],
             cpu_before: tuple, client_cpu: float) -> dict:
    user, system = (after - before for after, before in zip(cpu_seconds(pids), cpu_before))
    per = lambda x: round(1000 * x / max(answered, 1), 3)
    return {
        "uploads": answered,
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "seconds": round(seconds, 3),
        "uploads_per_second": round(answered / seconds, 1),
        "megabytes_per_second": round(sum(len(d) for d, _ in jobs[:answered]) / seconds / 2**20, 2),
        "latency_ms": quantiles(latencies),
        "server_cpu_ms_per_upload": {"user": per(user), "system": per(system)},
        "client_cpu_ms_per_upload": per(client_cpu),
    }


def level(url: str, pids: list[int], workers: int, concurrency: int, repeat: int, wallets: list, rng: random.Random,
          accepted: list) -> dict:
    jobs = signed_uploads(MAX_UPLOADS, f"w{workers}-c{concurrency}-r{repeat}", wallets, rng)  # new models: no pointer moves
    requests = [upload_request(url, auth, data) for data, auth in jobs]
    cpu_before, client_before, start = cpu_seconds(pids), time.process_time(), time.perf_counter()
    answers = send_all(url, requests, concurrency, MAX_SECONDS)
    seconds, client_cpu = time.perf_counter() - start, time.process_time() - client_before
    errors, latencies = [], []
    for index, status, latency, body in answers:
        data, auth = jobs[index]
        if status == 201 and json.loads(body)["hash"] == "0x" + S.file_hash(data).hex():
            latencies.append(latency)
            accepted.append((data, auth))
        else:
            errors.append(f"{status}: {body[:200].decode(errors='replace')}")
    done = len(latencies)
    return {"workers": workers, "concurrency": concurrency, "client": "load.py",
            **measured(jobs, done, errors, latencies, seconds, pids, cpu_before, client_cpu)}


def httpstore_level(url: str, pids: list[int], workers: int, wallets: list, rng: random.Random,
                    accepted: list) -> dict:
    """The same uploads through crowdstake.store.HttpStore in 32 threads (the client shares the cores)."""
    jobs = signed_uploads(HTTPSTORE_UPLOADS, f"w{workers}-httpstore", wallets, rng)
    client = S.HttpStore(url)
    latencies, errors = [], []

    def upload(job):
        data, auth = job
        begin = time.perf_counter()
        try:
            if client.put_predictions(data, auth) == S.file_hash(data):
                latencies.append(time.perf_counter() - begin)
                accepted.append(job)
        except S.StoreError as e:
            errors.append(str(e))

    cpu_before, client_before, start = cpu_seconds(pids), time.process_time(), time.perf_counter()
    with ThreadPoolExecutor(max_workers=32) as pool:
        list(pool.map(upload, jobs))
    seconds, client_cpu = time.perf_counter() - start, time.process_time() - client_before
    return {"workers": workers, "concurrency": 32, "client": "HttpStore (requests, 32 threads)",
            **measured(jobs, len(latencies), errors, latencies, seconds, pids, cpu_before, client_cpu)}


def kept(directory: str, accepted: list) -> tuple[int, list[str]]:
    """Every accepted upload's file by its hash and its bytes, and its pointer: (checked, lost)."""
    replay, lost = ReplayMemory(directory, lambda: 0), []
    for data, auth in accepted:
        digest = S.file_hash(data)
        pointer = replay.pointer(ROUND, auth["staker"].lower(), auth["modelId"].removeprefix("0x"))
        if not (replay.file(ROUND, digest) == data and pointer == "0x" + digest.hex()):
            lost.append("0x" + digest.hex())
    replay.close()
    return len(accepted), lost


def summarised(levels: list[dict]) -> list[dict]:
    """Each (workers, concurrency) of the load.py levels: the median, min and max of its runs."""
    out = []
    for workers in WORKERS:
        for concurrency in CONCURRENCY:
            runs = [r for r in levels if (r["workers"], r["concurrency"], r["client"]) == (workers, concurrency, "load.py")]
            spread = lambda xs: {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}
            out.append({"workers": workers, "concurrency": concurrency, "runs": len(runs),
                        "uploads_per_second": spread([r["uploads_per_second"] for r in runs]),
                        "latency_ms_p95": spread([r["latency_ms"]["p95"] for r in runs]),
                        "latency_ms_p99": spread([r["latency_ms"]["p99"] for r in runs]),
                        "server_cpu_ms_per_upload": statistics.median(
                            r["server_cpu_ms_per_upload"]["user"] + r["server_cpu_ms_per_upload"]["system"] for r in runs)})
    return out


def recovery_ms(backend: str, n: int = 100) -> float:
    """Milliseconds to recover one signer with eth-keys' `backend`."""
    keys, wallet = KeyAPI(backend), Account.create()  # keys.ecdsa_recover: by this backend
    message = {"store": IDENTITY, "staker": wallet.address, "roundId": 1, "modelId": bytes(32), "fileHash": bytes(32),
               "expiry": 1, "nonce": 1}
    digest = typed_digest("upload", CHAIN_ID, message)
    signature = bytes(wallet.sign_message(_typed("upload", CHAIN_ID, message)).signature)
    standard = keys.Signature(signature[:64] + bytes([signature[64] - 27]))
    start = time.perf_counter()
    for _ in range(n):
        keys.ecdsa_recover(digest, standard)
    return round(1000 * (time.perf_counter() - start) / n, 3)


def main() -> None:
    rng = random.Random(7)
    wallets = [Account.from_key(secrets.token_bytes(32)) for _ in range(64)]
    load_before = load()
    servers = {workers: start(workers) for workers in WORKERS}  # idle between their turns
    accepted: dict[int, list] = {workers: [] for workers in WORKERS}
    levels, checks = [], []
    try:
        for repeat in range(REPEATS):
            for workers in WORKERS[repeat % len(WORKERS):] + WORKERS[:repeat % len(WORKERS)]:
                _, url, procs = servers[workers]
                for concurrency in CONCURRENCY:
                    levels.append(level(url, [p.pid for p in procs], workers, concurrency, repeat, wallets, rng,
                                        accepted[workers]))
        for workers, (_, url, procs) in servers.items():
            levels.append(httpstore_level(url, [p.pid for p in procs], workers, wallets, rng, accepted[workers]))
    finally:
        for _, _, procs in servers.values():
            for p in procs:
                p.terminate()
                p.join()
    for workers, (directory, _, _) in servers.items():
        checked, lost = kept(directory, accepted[workers])
        checks.append({"workers": workers, "accepted_files_checked": checked, "accepted_files_lost": len(lost),
                       "first_lost": lost[0] if lost else None})
        shutil.rmtree(directory, ignore_errors=True)
    recovery = {name: recovery_ms(f"eth_keys.backends.{cls}")
                for name, cls in (("coincurve", "CoinCurveECCBackend"), ("pure_python", "NativeECCBackend"))}
    summary = summarised(levels)
    best = max(summary, key=lambda r: r["uploads_per_second"]["median"])
    report = {
        "benchmark": "crowdstake submission store: signed uploads over loopback HTTP",
        "command": "python benchmarks/store.py",
        "method": __doc__.strip().split("\n\n", 1)[1].replace("\n", " "),
        "file": {"live_ids": len(IDS), "bytes": len(predictions(random.Random(0)))},
        "bounds": {"max_uploads_per_level": MAX_UPLOADS, "max_seconds_per_level": MAX_SECONDS},
        "chain": "stubbed in-process round_times/now (not measured)",
        "machine": {**machine(load_before, load()), "fastapi": version("fastapi"), "uvicorn": version("uvicorn")},
        "summary": summary,
        "best": best,
        "files_checked": checks,
        "signature_recovery_ms": recovery,
        "levels": levels,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2) + "\n")
    for r in levels:
        print(f"{r['workers']} worker(s), concurrency {r['concurrency']:>2}, {r['client']}: {r['uploads']} uploads in "
              f"{r['seconds']} s = {r['uploads_per_second']}/s (p50 {r['latency_ms']['p50']} ms, p95 "
              f"{r['latency_ms']['p95']} ms), server CPU {r['server_cpu_ms_per_upload']} ms, client "
              f"{r['client_cpu_ms_per_upload']} ms an upload, {r['errors']} errors")
    for r in summary:
        print(f"{r['workers']} worker(s), concurrency {r['concurrency']:>2}: median {r['uploads_per_second']} "
              f"uploads/s, p95 {r['latency_ms_p95']} ms")
    print(f"files: {checks}; recovery: {recovery}")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
