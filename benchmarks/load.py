"""A lean load generator for the store benchmarks: signed uploads sent over raw keep-alive
HTTP/1.1 connections from one asyncio loop, the requests' bytes built before the clock starts.

A real deadline rush comes from thousands of machines; here the clients share the store's two
cores, so they must cost it as little as possible: about 0.1 ms of CPU an upload, against
about 2 ms for `crowdstake.store.HttpStore` (requests) in a pool of threads. What is measured is
the server: parsing, checks, hashing, signature recovery, the fsynced writes, the replay memory.
"""

from __future__ import annotations

import asyncio
import json
import time
from urllib.parse import urlsplit

from crowdstake.store.auth import AUTH_HEADER


def upload_request(url: str, auth: dict, data: bytes) -> bytes:
    """The bytes of one signed upload to the store at `url` (what `HttpStore.put_predictions` sends)."""
    path = f"/rounds/{auth['roundId']}/predictions/{auth['staker']}/{auth['modelId']}"
    head = (f"PUT {path} HTTP/1.1\r\nHost: {urlsplit(url).netloc}\r\nContent-Type: text/csv\r\n"
            f"Content-Length: {len(data)}\r\n"
            f"{AUTH_HEADER}: {json.dumps(auth, separators=(',', ':'))}\r\n\r\n")
    return head.encode() + data


async def _connection(host: str, port: int, jobs: list, results: list, deadline: float) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while jobs and time.perf_counter() < deadline:
            index, request = jobs.pop()
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            body = await reader.readexactly(length)
            results.append((index, status, time.perf_counter() - start, body))
    finally:
        writer.close()


def send_all(url: str, requests: list[bytes], concurrency: int, seconds: float = 3600.0) -> list[tuple]:
    """Send `requests` over `concurrency` connections, each one request at a time, until all
    are sent or `seconds` passed. Returns (index, status, seconds, body) per answered request."""
    parts = urlsplit(url)
    jobs = list(enumerate(requests))[::-1]  # popped from the end: sent in order
    results: list[tuple] = []

    async def run():
        deadline = time.perf_counter() + seconds
        await asyncio.gather(*(_connection(parts.hostname, parts.port, jobs, results, deadline)
                               for _ in range(concurrency)))

    asyncio.run(run())
    return results


def quantiles(latencies: list[float]) -> dict:
    """p50, p95, p99 and max of latencies in seconds, as milliseconds."""
    latencies = sorted(latencies)
    q = lambda p: round(1000 * latencies[min(len(latencies) - 1, int(p * len(latencies)))], 2) if latencies else None
    return {"p50": q(0.50), "p95": q(0.95), "p99": q(0.99), "max": q(1.0)}
