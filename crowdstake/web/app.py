"""The dashboard as an ASGI app: `create_app(index_path, verify=None, identity=None, verify_hint="")`.

HTML pages and, under `/api`, the same data as JSON (listed at `/docs`, a page rendered here from
the OpenAPI schema, which `/openapi.json` serves; FastAPI's Swagger page, which loads from a CDN,
is off):

    GET  /                      /api/leaderboard          standings per tournament (?sort=, ?last=, ?limit=)
    GET  /rounds                /api/rounds               every round
    GET  /rounds/{id}           /api/rounds/{id}          a round: timeline, totals, votes, scores (?offset=, ?limit=)
    POST /rounds/{id}/verify    /api/rounds/{id}/verify   recompute the round, compare with the chain
    GET  /models/{model_id}     /api/models/{model_id}    a model's rounds (?staker=)
    GET  /wallets/{address}     /api/wallets/{address}    a wallet's rounds and balance moves
    GET  /committee             /api/committee            members, threshold, votes and gas per round

The index is opened read-only (`open_index`, which refuses a missing file or another
deployment's when `identity` is given), one connection per worker thread; each request reads in
one transaction, so a page is one consistent snapshot while an indexer writes the file. A page's
data is kept until the index changes (`cache`).

Errors: an unknown round, model or wallet is a 404 (an HTML page, or {"detail"} under /api); a
malformed id or query is a 404 or 422 (bad `sort`: 422; an HTML page for a page's URL, JSON under
/api); never a 5xx, never a stack trace, for bad input. `verify(round_id)` (a
`crowdstake.oracle.Verification`), when given, backs the verify action; without it the action
answers 409 saying it needs a store and a node (and `verify_hint`, the caller's words for how to
give them: the CLI names its flags). A round without a result to verify is a 409; a node or store
that does not answer, 503."""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Callable
from pathlib import Path

from crowdstake.errors import CrowdstakeError, NodeUnavailable, StoreUnavailable
from crowdstake.index import dashboard
from crowdstake.index.schema import open_index
from crowdstake.web import apidoc, html, pages
from crowdstake.web.cache import PageCache

_ROUND = re.compile(r"[0-9]{1,18}")  # an int64, with room to spare
_MODEL = re.compile(r"0x[0-9a-fA-F]{1,64}")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
ROUND_ROWS = 200  # a round page's positions at most, by default (`?offset=`, `?limit=` page through them)
NO_VERIFIER = "verification needs a store and a node, and this dashboard was started without them"


class NotFound(Exception):
    """An id the index does not know, or that cannot be one: a 404."""


class Refused(Exception):
    """A request that cannot be done: its status and message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def round_id_of(text: str) -> int:
    if not _ROUND.fullmatch(text):
        raise NotFound(f"{text[:80]!r} is not a round number")
    return int(text)


def model_id_of(text: str) -> str:
    if not _MODEL.fullmatch(text):
        raise NotFound(f"{text[:80]!r} is not a model id (0x and up to 64 hex digits)")
    return text.lower()


def address_of(text: str) -> str:
    if not _ADDRESS.fullmatch(text):
        raise NotFound(f"{text[:80]!r} is not an address (0x and 40 hex digits)")
    return text


def _found(value, what: str):
    if value is None:
        raise NotFound(f"the index has no {what}")
    return value


def shown_leaderboard(data: dict, limit: int) -> dict:
    """`dashboard.leaderboard_page` as a page shows it: each table's first `limit` rows, with counts."""
    shown = [{**t, "models": t["models"][:limit], "participants": t["participants"][:limit],
              "counts": {"models": len(t["models"]), "participants": len(t["participants"])}}
             for t in data["tournaments"]]
    return {**data, "limit": limit, "tournaments": shown}


def create_app(index_path, verify: Callable[[int], object] | None = None, identity=None, title: str = "crowdstake",
               cache_size: int = 256, verify_hint: str = "", problem: Callable[[], str | None] | None = None):
    """The dashboard over the index at `index_path` (checked now: a missing file, another
    schema's or, with `identity`, another deployment's is a ConfigError). Page data is kept
    while the index does not change (`cache.PageCache`, `cache_size` answers; 0: none).
    `problem()`, when given, says what is wrong with the index's upkeep (the follower of `web
    --follow` stopped), or None: every page then says it at its top, and every answer in the
    header X-Index-Problem, so that no one takes the file's old state for the chain's."""
    from fastapi import FastAPI, Query, Request
    from fastapi import Path as Path_
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import HTMLResponse, JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    index_path = Path(index_path)
    open_index(index_path, identity).close()
    local = threading.local()
    cache = PageCache(cache_size)

    def read(function, *args, then=None):
        """`function(db, *args)` in one read transaction of this thread's connection (from the
        cache while the index is unchanged), and `then(db, answer)` in the same one, uncached."""
        opened = getattr(local, "index", None)
        if opened is None:
            opened = local.index = open_index(index_path, identity)
        db = opened.db
        db.execute("BEGIN")
        try:
            answer = cache.get(db, function, *args)
            return answer if then is None else then(db, answer)
        finally:
            db.execute("COMMIT")

    app = FastAPI(title=f"{title} dashboard", description="The tournament's dashboard: each page's data as JSON.",
                  version="1", docs_url=None, redoc_url=None)
    app.state.index_path, app.state.cache = index_path, cache

    def is_api(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    def shown(page: str) -> str:
        """A page, with the index's problem at its top when there is one."""
        said = problem() if problem is not None else None
        return page if not said else page.replace("<main>", f'<main><p class="bad" id="index-problem">'
                                                             f'{html.e(said)}</p>', 1)

    if problem is not None:
        @app.middleware("http")
        async def _problem_header(request, call_next):
            response = await call_next(request)
            said = problem()
            if said:
                response.headers["X-Index-Problem"] = said.encode("ascii", "replace").decode()
            return response

    def answer(request: Request, status: int, message: str, detail=None):
        if is_api(request):
            return JSONResponse({"detail": message if detail is None else detail}, status_code=status)
        return HTMLResponse(shown(html.not_found(message) if status == 404 else
                                  html.page(f"Error {status}", f"<p>{html.e(message)}</p>")), status_code=status)

    @app.exception_handler(NotFound)
    async def _not_found(request, exc):
        return answer(request, 404, str(exc))

    @app.exception_handler(Refused)
    async def _refused(request, exc):
        return answer(request, exc.status, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request, exc):
        """A malformed query: under /api FastAPI's list of errors; a page says each in a line."""
        from fastapi.encoders import jsonable_encoder

        errors = exc.errors()
        said = "; ".join(f"{'.'.join(str(x) for x in e.get('loc', ())[1:]) or 'the request'}: {e.get('msg', '')}"
                         for e in errors)
        return answer(request, 422, f"not a request this page answers: {said}", jsonable_encoder(errors))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request, exc):
        return answer(request, exc.status_code, "no such page" if exc.status_code == 404 else str(exc.detail))

    def sort_of(sort: str) -> str:
        if sort not in dashboard.SORTS:
            raise Refused(422, f"sort by {sort[:40]!r}? one of {', '.join(dashboard.SORTS)}")
        return sort

    Sort = Query("rank", description=f"the column to sort by: {', '.join(dashboard.SORTS)} (descending; rank ascending)")
    Last = Query(20, ge=1, le=10_000, description="how many of the latest resolved rounds the *_recent means cover")
    Limit = Query(100, ge=1, le=100_000, description="rows per table at most (the first, in the sort order)")
    Offset = Query(0, ge=0, description="the first position shown (positions are ordered by participant and model)")
    Rows = Query(ROUND_ROWS, ge=1, le=100_000, description="positions shown at most")

    # ---------------------------------------------------------------- data, shared by pages and /api

    def leaderboard_data(sort: str, last: int, limit: int) -> dict:
        return shown_leaderboard(read(dashboard.leaderboard_page, sort_of(sort), last), limit)

    def round_data(round_id: str, offset: int = 0, limit: int = ROUND_ROWS) -> dict:
        rid = round_id_of(round_id)
        return _found(read(dashboard.round_page, rid, offset, limit, then=dashboard.with_countdowns), f"round {rid}")

    def model_data(model_id: str, staker: str | None) -> dict:
        mid = model_id_of(model_id)
        return _found(read(dashboard.model_page, mid, address_of(staker) if staker else None), f"model {mid}"
                      + (f" of {staker}" if staker else ""))

    def wallet_data(address: str) -> dict:
        return _found(read(dashboard.wallet_page, address_of(address)), f"wallet {address}")

    def verification(round_id: str) -> dict:
        rid = round_id_of(round_id)
        _found(read(dashboard.round_page, rid, 0, 1), f"round {rid}")
        if verify is None:
            raise Refused(409, f"{NO_VERIFIER} ({verify_hint})" if verify_hint else NO_VERIFIER)
        try:
            report = verify(rid)
        except (NodeUnavailable, StoreUnavailable) as e:
            raise Refused(503, str(e)) from None
        except CrowdstakeError as e:
            raise Refused(409, str(e)) from None
        return dataclasses.asdict(report)

    # ---------------------------------------------------------------- /api

    def unknown(what: str) -> dict:
        return {404: {"description": f"no such {what} in the index, or not one ({{\"detail\"}})"}}

    RoundId = Path_(description="the round's number")
    ModelId = Path_(description="a model id: 0x and up to 64 hex digits (the keccak of its name)")
    Address = Path_(description="a wallet: 0x and 40 hex digits")

    @app.get("/api/leaderboard", tags=["api"], summary="Standings per tournament, by model and by participant",
             description="`tournaments`: each with `tournament` (its parameters), `resolved_rounds`, `models` and "
                         "`participants` (rows as on the page) and `counts` (rows before the limit).",
             responses={422: {"description": "a bad sort, last or limit ({\"detail\"})"}})
    def api_leaderboard(sort: str = Sort, last: int = Last, limit: int = Limit) -> dict:
        return leaderboard_data(sort, last, limit)

    @app.get("/api/rounds", tags=["api"], summary="Every round, newest first",
             description="Each round's tournament, status, times, staked positions, stake and reward.")
    def api_rounds() -> list[dict]:
        return read(dashboard.rounds_list)

    @app.get("/api/rounds/{round_id}", tags=["api"], summary="A round: timeline, totals, votes, vetoes, scores",
             description="The round's detail, `positions` (`limit` of them from `offset`; `position_count`: all), "
                         "`timeline` (in time order, each moment's `in_seconds` from `now`, the index's chain "
                         "time), `totals`, `payout_factor`, `settlement`, `accepted`, `tournament`.",
             responses=unknown("round"))
    def api_round(round_id: str = RoundId, offset: int = Offset, limit: int = Rows) -> dict:
        return round_data(round_id, offset, limit)

    @app.post("/api/rounds/{round_id}/verify", tags=["api"], summary="Recompute a round and compare with the chain",
              description="`round`, `onchain_root`, `recomputed_root`, `matches`, `differences` (as `crowdstake "
                          "oracle verify`).",
              responses={**unknown("round"), 409: {"description": "no store and node to verify with, or no result "
                                                                  "to verify yet ({\"detail\"})"},
                         503: {"description": "the node or the store did not answer ({\"detail\"})"}})
    def api_verify(round_id: str = RoundId) -> dict:
        return verification(round_id)

    @app.get("/api/models/{model_id}", tags=["api"], summary="A model's positions round by round",
             description="`model_id`, `stakers`, `positions` (each with `cumulative_payout_tokens`), `kinds`.",
             responses=unknown("model"))
    def api_model(model_id: str = ModelId,
                  staker: str | None = Query(None, description="only this participant's")) -> dict:
        return model_data(model_id, staker)

    @app.get("/api/wallets/{address}", tags=["api"], summary="A wallet's positions and internal balance moves",
             description="Its positions (with `cumulative_payout_tokens`), `internal_balance`, `credited`, "
                         "`withdrawals`, `staked_from_balance`, `kinds`.", responses=unknown("wallet"))
    def api_wallet(address: str = Address) -> dict:
        return wallet_data(address)

    @app.get("/api/committee", tags=["api"], summary="The committee: members, threshold, votes and gas per round",
             description="`members`, `threshold`, `dispute_window`, `member_count`, `membership_version`, "
                         "`rounds` (votes, gas, vetoes of each) and `vetoes`.")
    def api_committee() -> dict:
        return read(dashboard.committee_page)

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def api_docs():
        return shown(apidoc.api_page(app.openapi()))

    # ---------------------------------------------------------------- pages

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home(sort: str = Sort, last: int = Last, limit: int = Limit):
        return shown(pages.leaderboard(leaderboard_data(sort, last, limit)))

    @app.get("/rounds", response_class=HTMLResponse, include_in_schema=False)
    def rounds():
        return shown(pages.rounds(read(dashboard.rounds_list)))

    @app.get("/rounds/{round_id}", response_class=HTMLResponse, include_in_schema=False)
    def round_page(round_id: str, offset: int = Offset, limit: int = Rows):
        return shown(pages.round_(round_data(round_id, offset, limit), verify is not None, verify_hint=verify_hint))

    @app.post("/rounds/{round_id}/verify", response_class=HTMLResponse, include_in_schema=False)
    def verify_page(round_id: str):
        return shown(pages.verification(round_id_of(round_id), verification(round_id)))

    @app.get("/models/{model_id}", response_class=HTMLResponse, include_in_schema=False)
    def model(model_id: str, staker: str | None = None):
        return shown(pages.model(model_data(model_id, staker)))

    @app.get("/wallets/{address}", response_class=HTMLResponse, include_in_schema=False)
    def wallet(address: str):
        return shown(pages.wallet(wallet_data(address)))

    @app.get("/committee", response_class=HTMLResponse, include_in_schema=False)
    def committee():
        return shown(pages.committee(read(dashboard.committee_page)))

    return app
