"""The dashboard's pages as files: `write_site(index_path, out_dir, extra=(), verify=None)`.

The pages `crowdstake web` serves, rendered by the same code (each page's data from
`crowdstake.index.dashboard`, its HTML from `crowdstake.web.pages`) out of one read transaction
of the index, and written with every link made relative to the file of its page, so the folder
reads from disk or from any static server:

    index.html                      the leaderboard, every row (leaderboard-<sort>.html: each other order)
    rounds.html, rounds/<id>.html   the rounds; each round, with its verification when `verify` is given
    models/<id>.html                a model id's positions (models/<id>/<staker>.html: one participant's)
    wallets/<address>.html          a wallet
    committee.html                  the committee

Which pages exist is found by following the links from the leaderboard, the rounds and the
committee, so every link of the folder reaches a file: one the index knows nothing of (a member
that never staked) is the server's not-found page. The API is not written, and the navigation
drops its link. `extra` pages, (file name, navigation title, HTML body), are laid out as the
others and join every page's navigation: the demo's season page (written alone when there is no
index).

`verify(round_id)` (as `create_app` takes it) is called for each round that has a result; an
error it raises (a store or node that does not answer) is shown on the round's page. The
folders rounds/, models/ and wallets/ are written afresh; other files in `out_dir` are left."""

from __future__ import annotations

import dataclasses
import html as text_html
import re
import shutil
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from web3 import Web3

from crowdstake.errors import CrowdstakeError
from crowdstake.index import dashboard
from crowdstake.index.schema import open_index
from crowdstake.web import html, pages
from crowdstake.web.app import NotFound, address_of, model_id_of, round_id_of, shown_leaderboard

_LINK = re.compile(r'(href|action)="(/[^"]*)"')
_FOLDERS = ("rounds", "models", "wallets")
EVERY_ROW = 10**9
RECENT = 20  # the leaderboard's "last N resolved rounds", as the server's default


def file_of(url: str, extra: frozenset[str] = frozenset()) -> str | None:
    """The file, relative to the site's folder, of a dashboard URL (None: a page not written)."""
    parts = urlsplit(text_html.unescape(url))
    query = parse_qs(parts.query)
    kind, _, rest = parts.path.strip("/").partition("/")
    if not kind:
        sort = query.get("sort", ["rank"])[0]
        return "index.html" if sort == "rank" else f"leaderboard-{sort}.html" if sort in dashboard.SORTS else None
    if kind in extra and not rest:
        return kind
    if kind in ("rounds", "committee") and not rest:
        return f"{kind}.html"
    if kind == "rounds" and rest.isdigit():
        return f"rounds/{int(rest)}.html"
    if kind == "models" and re.fullmatch(r"0x[0-9a-fA-F]{1,64}", rest):
        staker = query.get("staker", [None])[0]
        return f"models/{rest.lower()}/{staker}.html" if staker else f"models/{rest.lower()}.html"
    if kind == "wallets" and Web3.is_address(rest):
        return f"wallets/{Web3.to_checksum_address(rest)}.html"
    return None


def _render(db, url: str, verify: Callable[[int], object] | None) -> str:
    """The page at dashboard `url`, as the server answers it (a not-found page for an id the
    index does not know)."""
    parts = urlsplit(text_html.unescape(url))
    query = parse_qs(parts.query)
    kind, _, rest = parts.path.strip("/").partition("/")
    try:
        if not kind:
            return pages.leaderboard(shown_leaderboard(
                dashboard.leaderboard_page(db, query.get("sort", ["rank"])[0], RECENT), EVERY_ROW))
        if kind == "rounds" and not rest:
            return pages.rounds(dashboard.rounds_list(db))
        if kind == "committee":
            return pages.committee(dashboard.committee_page(db))
        if kind == "rounds":
            data = _found(dashboard.with_countdowns(db, dashboard.round_page(db, round_id_of(rest))), f"round {rest}")
            return pages.round_(data, False, _verified(verify, data["round_id"]) if verify and data["root"] else None)
        if kind == "models":
            staker = query.get("staker", [None])[0]
            data = dashboard.model_page(db, model_id_of(rest), address_of(staker) if staker else None)
            return pages.model(_found(data, f"model {rest}" + (f" of {staker}" if staker else "")))
        if kind == "wallets":
            return pages.wallet(_found(dashboard.wallet_page(db, address_of(rest)), f"wallet {rest}"))
    except NotFound as e:
        return html.not_found(str(e))
    raise ValueError(f"no page at {url}")


def _found(value, what: str):
    if value is None:
        raise NotFound(f"the index has no {what}")
    return value


def _verified(verify: Callable[[int], object], round_id: int) -> dict:
    try:
        return dataclasses.asdict(verify(round_id))
    except CrowdstakeError as e:  # shown where the verdict would be
        return {"error": str(e)}


def _relative(page: str, name: str, extra: frozenset[str]) -> str:
    """`page` (the file `name`) with each dashboard link made relative to it."""
    up = "../" * name.count("/")

    def link(match: re.Match) -> str:
        target = file_of(match.group(2), extra)
        return f'{match.group(1)}="{up}{target}"' if target else match.group(0)

    return _LINK.sub(link, page)


def write_site(index_path, out_dir, *, extra: tuple[tuple[str, str, str], ...] = (),
               verify: Callable[[int], object] | None = None, identity=None,
               model_names: Mapping[str, str] | None = None) -> Path:
    """Write the dashboard's pages of the index at `index_path` into `out_dir` and return its
    index.html; with no index (None), only the `extra` pages, and return the first. Models are
    shown by name where `model_names` (0x id -> name) knows them, else by id.
    @raise ConfigError for a missing index (or, with `identity`, another deployment's)."""
    token = html.MODEL_NAMES.set({k.lower(): v for k, v in (model_names or {}).items()})
    try:
        return _write_site(index_path, out_dir, extra, verify, identity)
    finally:
        html.MODEL_NAMES.reset(token)


def _write_site(index_path, out_dir, extra, verify, identity) -> Path:
    out = Path(out_dir)
    for folder in _FOLDERS:
        shutil.rmtree(out / folder, ignore_errors=True)
    names = frozenset(name for name, _, _ in extra)
    menu = [(href, title) for href, title in html.NAV if index_path is not None and file_of(href)] + \
        [(f"/{n}", t) for n, t, _ in extra]
    served, static = html.nav(), html.nav(menu)

    def write(name: str, page: str) -> list[str]:
        """Write the page; returns the dashboard links it has."""
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        page = page.replace(served, static, 1)
        path.write_text(_relative(page, name, names), encoding="utf-8")
        return [m.group(2) for m in _LINK.finditer(page)]

    pending = deque(["/", "/rounds", "/committee"])
    for name, title, body in extra:
        pending.extend(write(name, html.page(title, body)))
    if index_path is None:
        return out / extra[0][0]
    written: set[str] = set(names)
    with open_index(index_path, identity) as opened:
        db = opened.db
        db.execute("BEGIN")  # one snapshot of an index that an indexer may be writing
        try:
            while pending:
                url = pending.popleft()
                name = file_of(url, names)
                if name is None or name in written:
                    continue
                written.add(name)
                pending.extend(write(name, _render(db, url, verify)))
        finally:
            db.execute("COMMIT")
    return out / "index.html"
