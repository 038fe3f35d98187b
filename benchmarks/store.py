"""Upload throughput of the submission store over loopback HTTP.

    python benchmarks/store.py            # writes benchmarks/results/store.json

The store (crowdstake.store.create_app over a LocalStore in a temporary directory) runs under
uvicorn in its own process; the client is crowdstake.store.HttpStore in a pool of threads. Each
upload is a distinct wallet's (or model's) predictions file for the round's 5,000 live ids,
validated, hashed, checked against its EIP-712 signature and written atomically with fsync —
the whole server path. The chain is not what is measured: the server's `round_times` and `now`
are in-process stubs (round 1 open for an hour, wall-clock time), so no RPC round trips are
included; with a node, `now()` adds one eth_getBlockByNumber per upload (round times are cached).
Signatures are made before the clock starts and timed separately (client-side cost).
Each concurrency level stops at MAX_UPLOADS uploads or MAX_SECONDS, whichever comes first.
Two servers run side by side, one recovering signatures with eth-keys' pure-Python backend,
one with coincurve (libsecp256k1, the package's default since it is installed); each level is
run on both, alternating which goes first, and the JSON has the ratio of their throughputs.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import random
import secrets
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eth_account import Account

from crowdstake import store as S
from crowdstake._server import free_port

CHAIN_ID = 31337
IDENTITY = "benchmark-store"
IDS = [f"n{i:06d}" for i in range(5000)]
ROUND = 1
CONCURRENCY = [1, 8, 32]
QUICK = bool(os.environ.get("CROWDSTAKE_BENCH_QUICK"))  # `make bench-quick`: a short trial
MAX_UPLOADS = 100 if QUICK else 400
MAX_SECONDS = 5.0 if QUICK else 20.0
# CROWDSTAKE_BENCH_RESULTS: write elsewhere (`make bench-quick` does, under results/quick/)
OUT = Path(os.environ.get("CROWDSTAKE_BENCH_RESULTS", Path(__file__).resolve().parent / "results" / "store.json"))
OPENED = int(time.time())
BACKENDS = {"coincurve": "eth_keys.backends.CoinCurveECCBackend", "native": "eth_keys.backends.NativeECCBackend"}


def round_times(round_id: int) -> tuple[int, int]:
    return (OPENED + 3600, OPENED + 7200) if round_id == ROUND else (0, 0)


def run_server(directory: str, port: int, backend: str) -> None:
    import uvicorn

    os.environ["ECC_BACKEND_CLASS"] = backend  # eth-keys reads it at each signature recovery

    local = S.LocalStore(directory, round_times, CHAIN_ID, IDENTITY, now=lambda: int(time.time()))
    local.register_live_ids(ROUND, IDS)
    uvicorn.run(S.create_app(local, None, None, None), host="127.0.0.1", port=port, log_level="warning",
                access_log=False, backlog=1024)


def predictions(rng: random.Random) -> bytes:
    return ("id,prediction\n" + "".join(f"{i},{rng.random():.6f}\n" for i in IDS)).encode()


def level(url: str, concurrency: int, wallets: list, rng: random.Random) -> dict:
    jobs = []
    t0 = time.perf_counter()
    for k in range(MAX_UPLOADS):
        wallet = wallets[k % len(wallets)]
        data = predictions(rng)
        auth = S.sign_upload(wallet, CHAIN_ID, IDENTITY, ROUND, f"c{concurrency}-m{k}", data, int(time.time()) + 3600)
        jobs.append((data, auth))
    sign_seconds = time.perf_counter() - t0

    client = S.HttpStore(url)
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.perf_counter() + MAX_SECONDS

    def upload(job):
        if time.perf_counter() > deadline:
            return
        data, auth = job
        start = time.perf_counter()
        try:
            digest = client.put_predictions(data, auth)
            assert digest == S.file_hash(data)
            latencies.append(time.perf_counter() - start)
        except Exception as e:  # noqa: BLE001 - counted and reported
            errors.append(f"{e.__class__.__name__}: {e}")

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(upload, jobs))
    elapsed = time.perf_counter() - start
    latencies.sort()
    q = lambda p: round(1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))], 2)
    return {
        "concurrency": concurrency,
        "uploads": len(latencies),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "seconds": round(elapsed, 3),
        "uploads_per_second": round(len(latencies) / elapsed, 1),
        "megabytes_per_second": round(sum(len(d) for d, _ in jobs[: len(latencies)]) / elapsed / 2**20, 2),
        "latency_ms": {"p50": q(0.50), "p95": q(0.95), "max": q(1.0)},
        "client_signing_ms_per_upload": round(1000 * sign_seconds / len(jobs), 2),
    }


def start(backend: str) -> tuple[str, str, multiprocessing.Process]:
    directory = tempfile.mkdtemp(prefix="crowdstake-bench-store-")
    port = free_port()
    server = multiprocessing.get_context("fork").Process(target=run_server, args=(directory, port, backend),
                                                         daemon=True)
    server.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            S.HttpStore(url, timeout=1).info()
            return directory, url, server
        except S.StoreUnavailable:  # not listening yet
            time.sleep(0.05)
    raise SystemExit("the store server did not start")


def main() -> None:
    servers = {name: start(path) for name, path in BACKENDS.items()}
    rng = random.Random(7)
    wallets = [Account.from_key(secrets.token_bytes(32)) for _ in range(64)]
    load_before = os.getloadavg()
    results: dict[str, list] = {name: [] for name in BACKENDS}
    try:
        for i, c in enumerate(CONCURRENCY):
            for name in (list(BACKENDS) if i % 2 == 0 else list(BACKENDS)[::-1]):  # alternate who goes first
                results[name].append(level(servers[name][1], c, wallets, rng))
        stored = sum(len(list(Path(d, "rounds", str(ROUND), "files").glob("*.csv"))) for d, _, _ in servers.values())
    finally:
        for directory, _, server in servers.values():
            server.terminate()
            server.join()
            shutil.rmtree(directory, ignore_errors=True)
    size = len(predictions(random.Random(0)))
    report = {
        "benchmark": "crowdstake submission store: signed uploads over loopback HTTP",
        "command": "python benchmarks/store.py",
        "method": __doc__.strip().split("\n\n", 1)[1].replace("\n", " "),
        "file": {"live_ids": len(IDS), "bytes": size},
        "bounds": {"max_uploads_per_level": MAX_UPLOADS, "max_seconds_per_level": MAX_SECONDS},
        "server": "one uvicorn process (one event loop; checks and writes in its thread pool), fsync on every write",
        "chain": "stubbed in-process round_times/now (not measured)",
        "files_stored": stored,
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "fastapi": version("fastapi"),
            "uvicorn": version("uvicorn"),
            "load_average_1_5_15_before": [round(x, 2) for x in load_before],
            "load_average_1_5_15_after": [round(x, 2) for x in os.getloadavg()],
        },
        "levels": results["coincurve"],
        "levels_pure_python_signatures": results["native"],
        "coincurve_over_pure_python": [round(a["uploads_per_second"] / b["uploads_per_second"], 2)
                                       for a, b in zip(results["coincurve"], results["native"])],
        "best_uploads_per_second": max(r["uploads_per_second"] for r in results["coincurve"]),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2) + "\n")
    for r in results["coincurve"] + results["native"]:
        print(f"concurrency {r['concurrency']:>3}: {r['uploads']} uploads in {r['seconds']} s = "
              f"{r['uploads_per_second']}/s (p50 {r['latency_ms']['p50']} ms, p95 {r['latency_ms']['p95']} ms, "
              f"{r['errors']} errors)")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
