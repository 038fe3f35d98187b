"""The store as an HTTP service: a FastAPI app over a LocalStore (every rule lives there),
answering each refusal with its StoreError's status and message, never a 5xx for bad input."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from eth_hash.auto import keccak
from starlette.requests import ClientDisconnect, Request

from crowdstake.errors import StoreBadRequest, StoreError, StoreTooLarge, StoreUnauthorized
from crowdstake.store.auth import AUTH_HEADER, DOMAIN_VERSION, MAX_EXPIRY, _hex
from crowdstake.store.formats import MAX_BYTES
from crowdstake.store.local import MAX_DATASET_BYTES, LocalStore, RoundTimes


def create_app(directory, round_times: RoundTimes, chain_id: int, identity: str, *,
               now: Callable[[], int] | None = None, publishers=None, operators=None, round_dataset=None,
               round_targets=None, max_bytes: int = MAX_BYTES, max_expiry: int = MAX_EXPIRY,
               max_dataset_bytes: int = MAX_DATASET_BYTES):
    """The store as an ASGI app (FastAPI) over a LocalStore (`directory`, or a LocalStore given
    as it). Routes:

    GET  /info                                         chainId, identity, now, limits
    PUT  /rounds/{r}/predictions/{staker}/{modelId}    body: the CSV; header X-Crowdstake-Auth: sign_upload(...) as JSON
    GET  /rounds/{r}/predictions/{staker}/{modelId}    the file (after close)
    GET  /rounds/{r}/files/{hash}                      a file by hash (after close)
    GET  /rounds/{r}/submissions                       [{staker, modelId, hash}] (after close)
    GET  /rounds/{r}/live-ids                          the live ids file
    PUT  /rounds/{r}/score-table                       body: the table; header: sign_score_table(...) as JSON
    GET  /rounds/{r}/score-table[/{hash}]              the latest (or that) published table
    PUT  /datasets/files/{hash}                        body: a dataset file; header: sign_dataset_file(...) (operators)
    GET  /datasets/files/{hash}                        a dataset file by hash (anyone, any time)
    PUT  /datasets/{hash}                              body: the manifest; header: sign_dataset(...) (operators)
    GET  /datasets/{hash}                              a dataset's manifest by its hash (anyone, any time)
    PUT  /rounds/{r}/targets                           body: id,target; header: sign_targets(...) (operators, from resolve)
    GET  /rounds/{r}/targets[/{hash}]                  the round's targets (anyone, from resolve)

    Errors answer {"detail": message} with the status of the StoreError raised."""
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse, Response
    from starlette.concurrency import run_in_threadpool

    store = directory if isinstance(directory, LocalStore) else LocalStore(
        directory, round_times, chain_id, identity, now=now, publishers=publishers, operators=operators,
        round_dataset=round_dataset, round_targets=round_targets, max_bytes=max_bytes, max_expiry=max_expiry,
        max_dataset_bytes=max_dataset_bytes)
    app = FastAPI(title="crowdstake submission store", version=DOMAIN_VERSION)
    app.state.store = store

    @app.exception_handler(StoreError)
    async def _refused(request, exc: StoreError):
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    async def body(request: Request, limit: int | None = None) -> bytes:
        return await _body(request.receive, request.headers.get("content-length"), limit or store.max_bytes)

    def auth_of(request: Request) -> dict:
        return _auth(request.headers.get(AUTH_HEADER))

    def csv(data: bytes, digest: str | None = None, media_type: str = "text/csv") -> Response:
        headers = {"X-Crowdstake-Hash": digest or _hex(keccak(data))}
        return Response(data, media_type=media_type, headers=headers)

    @app.get("/info")
    async def info():
        return await run_in_threadpool(store.info)

    @app.put("/rounds/{round_id}/predictions/{staker}/{model}", status_code=201)
    async def upload(round_id: int, staker: str, model: str, request: Request):
        data = await body(request)
        digest = await run_in_threadpool(store.put_predictions, data, auth_of(request), round_id, staker, model)
        return {"hash": _hex(digest)}

    @app.get("/rounds/{round_id}/predictions/{staker}/{model}")
    async def predictions(round_id: int, staker: str, model: str):
        return csv(await run_in_threadpool(store.get_predictions, round_id, staker, model))

    @app.get("/rounds/{round_id}/files/{digest}")
    async def file(round_id: int, digest: str):
        return csv(await run_in_threadpool(store.get_file, round_id, digest))

    @app.get("/rounds/{round_id}/submissions")
    async def submissions(round_id: int):
        return await run_in_threadpool(store.submissions, round_id)

    @app.get("/rounds/{round_id}/live-ids")
    async def live_ids(round_id: int):
        ids = await run_in_threadpool(store.live_ids, round_id)
        return Response(("id\n" + "".join(f"{i}\n" for i in ids)).encode(), media_type="text/csv")

    @app.put("/rounds/{round_id}/score-table", status_code=201)
    async def publish(round_id: int, request: Request):
        data = await body(request)
        digest = await run_in_threadpool(store.put_score_table, data, auth_of(request), round_id)
        return {"hash": _hex(digest)}

    @app.get("/rounds/{round_id}/score-table")
    async def table(round_id: int):
        return csv(await run_in_threadpool(store.get_score_table, round_id))

    @app.get("/rounds/{round_id}/score-table/{digest}")
    async def table_by_hash(round_id: int, digest: str):
        return csv(await run_in_threadpool(store.get_score_table, round_id, digest))

    @app.put("/datasets/files/{digest}", status_code=201)
    async def put_dataset_file(digest: str, request: Request):
        data = await body(request, store.max_dataset_bytes)
        return {"hash": _hex(await run_in_threadpool(store.put_dataset_file, data, auth_of(request), digest))}

    @app.get("/datasets/files/{digest}")
    async def dataset_file(digest: str):
        return csv(await run_in_threadpool(store.get_dataset_file, digest), media_type="application/octet-stream")

    @app.put("/datasets/{digest}", status_code=201)
    async def put_manifest(digest: str, request: Request):
        data = await body(request)
        return {"hash": _hex(await run_in_threadpool(store.put_manifest, data, auth_of(request), digest))}

    @app.get("/datasets/{digest}")
    async def manifest(digest: str):
        return csv(await run_in_threadpool(store.get_manifest, digest))

    @app.put("/rounds/{round_id}/targets", status_code=201)
    async def put_targets(round_id: int, request: Request):
        data = await body(request)
        return {"hash": _hex(await run_in_threadpool(store.put_targets, data, auth_of(request), round_id))}

    @app.get("/rounds/{round_id}/targets")
    async def targets(round_id: int):
        return csv(await run_in_threadpool(store.get_targets, round_id))

    @app.get("/rounds/{round_id}/targets/{digest}")
    async def targets_by_hash(round_id: int, digest: str):
        return csv(await run_in_threadpool(store.get_targets, round_id, digest))

    return FastUploads(app, store)


async def _body(receive, declared: str | None, limit: int) -> bytes:
    """A request's body, refused (413) as soon as it is known to be over `limit` bytes."""
    if declared and declared.isdigit() and int(declared) > limit:
        raise StoreTooLarge(f"the body is {int(declared):,} bytes, over the store's limit of {limit:,}")
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise StoreTooLarge(f"the body is over the store's limit of {limit:,} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _auth(raw: str | None) -> dict:
    if not raw:
        raise StoreUnauthorized(f"no {AUTH_HEADER} header: sign the request (crowdstake.store.sign_upload)")
    try:
        return json.loads(raw)
    except ValueError:
        raise StoreBadRequest(f"the {AUTH_HEADER} header is not JSON") from None


_UPLOAD = re.compile(r"/rounds/([0-9]+)/predictions/([^/]+)/([^/]+)")
_AUTH = AUTH_HEADER.lower().encode()


class FastUploads:
    """The app, with its one hot route, an upload (PUT /rounds/{r}/predictions/{staker}/{model}),
    answered without FastAPI's per-request machinery (routing, parameter validation, dependency
    solving, its middleware): 0.6 ms of the 3 ms of CPU a 5,000-id upload costs the server.
    The same checks (all in `LocalStore.put_predictions`), the same answers (201 {"hash"}, or
    the StoreError's status and {"detail"}); every other request, and an upload whose round is
    not a number, goes to the FastAPI app. The check runs in a thread pool, so fsyncs overlap."""

    def __init__(self, app, store: LocalStore, threads: int = 4):
        self.app, self.store, self.state = app, store, app.state
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="upload")

    async def __call__(self, scope, receive, send):
        route = _UPLOAD.fullmatch(scope["path"]) if scope["type"] == "http" and scope["method"] == "PUT" else None
        if route is None:
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        try:
            declared = (headers.get(b"content-length") or b"").decode("latin-1")
            data = await _body(receive, declared, self.store.max_bytes)
            auth = _auth(headers[_AUTH].decode("latin-1") if _AUTH in headers else None)
            digest = await asyncio.get_running_loop().run_in_executor(
                self._pool, self.store.put_predictions, data, auth, int(route[1]), route[2], route[3])
            status, answer = 201, {"hash": _hex(digest)}
        except StoreError as e:
            status, answer = e.status, {"detail": str(e)}
        except ClientDisconnect:
            return
        content = json.dumps(answer, separators=(",", ":")).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())]})
        await send({"type": "http.response.body", "body": content})
