"""The pages' building blocks: escaping (every value shown goes through `e`), formatting of
numbers, amounts, times, hashes and addresses (with links to their pages), tables, and the
layout every page shares (its own small stylesheet, the navigation). Pure functions of their
arguments, returning HTML text."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from html import escape
from urllib.parse import quote, urlencode

from crowdstake._human import utc

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#222}
header{background:#123;color:#fff;padding:8px 16px}header a{color:#fff;margin-right:16px;text-decoration:none}
main{padding:8px 16px}table{border-collapse:collapse;margin:8px 0 16px}
th,td{border-bottom:1px solid #ddd;padding:3px 8px;text-align:right;white-space:nowrap}
th{background:#f3f3f3}th a{color:#123}.mono{font-family:monospace}
table.timeline td:first-child,table.summary td:first-child{text-align:left}
.neg{color:#b00}.note{color:#666}.ok{color:#070;font-weight:bold}.bad{color:#b00;font-weight:bold}
table.parameters td,table.responses td,table.fields td{text-align:left;white-space:normal;max-width:40em}
svg.chart{border:1px solid #ddd;margin:4px 8px 12px 0}svg text{font-size:10px;fill:#444}
svg .axis{stroke:#888}svg .zero{stroke:#bbb;stroke-dasharray:4 3}
"""
NAV = (("/", "Leaderboard"), ("/rounds", "Rounds"), ("/committee", "Committee"), ("/docs", "API"))


def e(value) -> str:
    """A value as escaped text ("" for None)."""
    return "" if value is None else escape(str(value))


def number(value, digits: int = 4) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def amount(value_tokens, digits: int = 4) -> str:
    """An amount in tokens, marked when negative."""
    if value_tokens is None:
        return ""
    shown = f"{value_tokens:,.{digits}f}"
    return f'<span class="neg">{shown}</span>' if value_tokens < 0 else shown


def when(timestamp) -> str:
    return "" if timestamp is None else e(utc(timestamp))


_SPANS = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))


def span(seconds: int) -> str:
    """A length of time in its largest unit and the next one, truncated: `3 h 12 min`, `2 h`,
    `1 d 4 h`, `45 s`."""
    seconds = abs(int(seconds))
    for (unit, size), (next_unit, next_size) in zip(_SPANS, _SPANS[1:] + (("", 1),)):
        if seconds >= size:
            count, rest = divmod(seconds, size)
            smaller = rest // next_size if next_unit else 0
            return f"{count} {unit}" + (f" {smaller} {next_unit}" if smaller else "")
    return "0 s"


def countdown(seconds) -> str:
    """How far a moment is from now (`seconds`: its time minus now): `in 3 h 12 min`, `2 h
    ago`, `now`; "" when either is not known."""
    if seconds is None:
        return ""
    return "now" if seconds == 0 else f"in {span(seconds)}" if seconds > 0 else f"{span(seconds)} ago"


def short(hex_text, keep: int = 10) -> str:
    """A hash shortened for a table, whole in its title."""
    if hex_text is None:
        return ""
    text = str(hex_text)
    shown = text if len(text) <= keep + 4 else f"{text[:keep]}…{text[-4:]}"
    return f'<span class="mono" title="{e(text)}">{e(shown)}</span>'


def wallet_link(address) -> str:
    return f'<a class="mono" href="/wallets/{quote(str(address))}">{short(address, 8)}</a>'


# Model names, where whoever renders knows them (the demo's report: its own season's names; a
# name is not on-chain, only its keccak): id (0x, lowercase) -> name. Set around one rendering.
MODEL_NAMES: ContextVar[Mapping[str, str]] = ContextVar("model_names", default={})


def model_link(model_id, staker=None) -> str:
    query = f"?{urlencode({'staker': staker})}" if staker else ""
    name = MODEL_NAMES.get().get(str(model_id).lower())
    label = e(name) if name else short(model_id, 10)
    return f'<a class="mono" href="/models/{quote(str(model_id))}{query}">{label}</a>'


def round_link(round_id) -> str:
    return f'<a href="/rounds/{int(round_id)}">{int(round_id)}</a>'


def table(columns: list[tuple[str, str]], rows: list[list[str]], sort_link=None, current: str | None = None,
          cls: str = "") -> str:
    """A table of already formatted cells. `columns`: (key, title). With `sort_link(key)` (None for an unsortable column), headers are
    links that sort by their column; `current` is marked."""
    head = []
    for key, title in columns:
        link = sort_link(key) if sort_link else None
        label = e(title) + (" ▼" if key == current else "")
        head.append(f'<th data-key="{e(key)}">' + (f'<a href="{e(link)}">{label}</a>' if link else label) + "</th>")
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{e(cls)}"><thead><tr>{"".join(head)}</tr></thead><tbody>{body}</tbody></table>'


def nav(links=NAV) -> str:
    """The navigation bar's links, (href, name) each."""
    return "".join(f'<a href="{e(href)}">{e(name)}</a>' for href, name in links)


def page(title: str, body: str, subtitle: str = "") -> str:
    """A whole page: the layout, the navigation, `body` (HTML)."""
    sub = f'<p class="note">{subtitle}</p>' if subtitle else ""
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{e(title)} · crowdstake</title>'
            f'<style>{STYLE}</style></head><body><header>{nav()}</header><main><h1>{e(title)}</h1>{sub}{body}</main>'
            "</body></html>")


def not_found(message: str) -> str:
    return page("Not found", f'<p>{e(message)}</p><p><a href="/">Back to the leaderboard</a></p>')
