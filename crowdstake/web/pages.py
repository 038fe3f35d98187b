"""Each page's HTML from its data, the dicts of `crowdstake.index.dashboard` (the same ones
`/api` answers): `leaderboard`, `rounds`, `round_`, `model`, `wallet`, `committee`. No page
reads anything itself; every value shown is escaped (`html.e`) or formatted by `html`."""

from __future__ import annotations

from urllib.parse import urlencode

from crowdstake._human import count, format_duration, format_percent, format_weight
from crowdstake.fund.params import KINDS, SCORE_NAMES
from crowdstake.index.dashboard import SORTS
from crowdstake.web import svg
from crowdstake.web.html import (amount, countdown, e, model_link, number, page, round_link, short, table, wallet_link,
                                 when)

_STANDING_COLUMNS = [("rank", "rank"), ("stake_now", "stake now"), ("rounds", "rounds"),
                     ("corr_recent", "CORR (last {n})"), ("mmc_recent", "MMC (last {n})"),
                     ("score_recent", "score (last {n})"), ("corr_all", "CORR (all)"), ("mmc_all", "MMC (all)"),
                     ("score_all", "score (all)"), ("payout", "payout"), ("burns", "burns")]


def _scores_named(kind) -> tuple[str, str]:
    """What a tournament of `kind` calls its two scores: CORR and MMC, a Signals tournament's
    alpha (or FNC) and MPC."""
    return SCORE_NAMES.get(kind, SCORE_NAMES[0])


def _kind_name(kind) -> str:
    return KINDS[kind] if kind is not None and 0 <= kind < len(KINDS) else str(kind)


def _standing_cells(r: dict) -> list[str]:
    return [str(r["rank"]), amount(r["stake_now_tokens"]), str(r["rounds"]), number(r["corr_recent"]),
            number(r["mmc_recent"]), number(r["score_recent"]), number(r["corr_all"]), number(r["mmc_all"]),
            number(r["score_all"]), amount(r["payout_tokens"]), amount(r["burns_tokens"])]


def leaderboard(data: dict) -> str:
    sort, n = data["sort"], data["last"]

    def link(key):
        return "/?" + urlencode({"sort": key, "last": n, "limit": data["limit"]}) if key in SORTS else None

    def more(shown: int, total: int) -> str:
        everything = "/?" + urlencode({"sort": sort, "last": n, "limit": total})
        return f'<p class="note">the first {shown} of {total}: <a href="{e(everything)}">show all</a></p>' \
            if shown < total else ""

    body = []
    for t in data["tournaments"]:
        p = t["tournament"]
        first, second = _scores_named(p["kind"])
        columns = [(k, t_.format(n=n).replace("CORR", first).replace("MMC", second)) for k, t_ in _STANDING_COLUMNS]
        body.append(f'<h2 id="tournament-{p["tournament_id"]}">Tournament {e(p["tournament_id"])} '
                    f'({e(_kind_name(p["kind"]))})</h2>'
                    f'<p class="note">threshold {amount(p["threshold_tokens"], 2)} tokens, cap '
                    f'{e(format_percent(int(p["cap"])))}, weights {first} {e(format_weight(p["corr_weight_bps"]))} '
                    f'{second} {e(format_weight(p["mmc_weight_bps"]))}; {len(t["resolved_rounds"])} resolved rounds</p>')
        body.append("<h3>Models</h3>")
        rows = [[wallet_link(r["staker"]), model_link(r["model_id"], r["staker"]), *_standing_cells(r)]
                for r in t["models"]]
        body.append(table([("staker", "participant"), ("model_id", "model"), *columns], rows, link, sort,
                          cls="standings models") + more(len(rows), t["counts"]["models"])
                    if rows else '<p class="note">No model has been scored yet.</p>')
        body.append("<h3>Participants</h3>")
        rows = [[wallet_link(r["staker"]), *_standing_cells(r)] for r in t["participants"]]
        body.append(table([("staker", "participant"), *columns], rows, link, sort, cls="standings participants")
                    + more(len(rows), t["counts"]["participants"])
                    if rows else '<p class="note">No participant has been scored yet.</p>')
    if not data["tournaments"]:
        body.append('<p class="note">The index has no tournament yet.</p>')
    return page("Leaderboard", "".join(body), f"over each tournament's resolved rounds; sorted by {e(sort)}")


def rounds(data: list[dict]) -> str:
    rows = [[round_link(r["round_id"]), e(r["tournament_id"]), e(r["status"]), when(r["opened_at"]),
             when(r["close_time"]), when(r["resolve_time"]), str(r["staked_positions"]),
             amount(r["total_stake_tokens"], 2), amount(r["total_reward_tokens"]), when(r["finalized_at"])]
            for r in data]
    columns = [("round_id", "round"), ("tournament_id", "tournament"), ("status", "status"), ("opened", "opened"),
               ("close", "closes"), ("resolve", "resolves"), ("positions", "staked positions"), ("stake", "stake"),
               ("reward", "reward"), ("finalized", "finalized")]
    body = table(columns, rows, cls="rounds") if rows else '<p class="note">No round has been opened yet.</p>'
    return page("Rounds", body)


def _verify_form(round_id: int, can_verify: bool, hint: str = "") -> str:
    if not can_verify:
        return ('<p class="note" id="verify">Verification recomputes the round from the store\'s files and compares '
                'it with the chain: it needs a store and a node' + (f" ({e(hint)})" if hint else "") + '.</p>')
    return (f'<form id="verify" method="post" action="/rounds/{round_id}/verify">'
            '<button type="submit">Verify this round against the chain</button></form>')


def _verdict(report: dict) -> str:
    """A verification's outcome: matches or not, both roots, the leaves that differ (or why it
    could not be done: `error`)."""
    if report.get("error"):
        return f'<p class="bad">could not verify: {e(report["error"])}</p>'
    verdict = ('<p class="ok">matches</p>' if report["matches"] else
               f'<p class="bad">does not match: {count(len(report["differences"]), "leaf", "leaves")} '
               f'{"differs" if len(report["differences"]) == 1 else "differ"}</p>')
    rows = [[wallet_link(d["staker"]), model_link(d["model_id"]), e(d["recomputed"]), e(d["published"])]
            for d in report["differences"]]
    return (f'{verdict}<p>on-chain root {short(report["onchain_root"], 66)}<br>recomputed root '
            f'{short(report["recomputed_root"], 66)}</p>'
            + "".join(f'<p class="bad">{e(t)}</p>' for t in report.get("mismatches", []))
            + (table([("staker", "staker"), ("model", "model"), ("r", "recomputed"), ("p", "published")], rows)
               if rows else ""))


def verification(round_id: int, report: dict) -> str:
    return page(f"Round {round_id}: verification",
                _verdict(report) + f'<p><a href="/rounds/{round_id}">Back to round {round_id}</a></p>')


def _pager(data: dict) -> str:
    """Which of the round's positions the scores table shows, with links to the pages before
    and after (none when it shows them all)."""
    first, shown, count, limit = data["positions_offset"], len(data["positions"]), data["position_count"], \
        data["positions_limit"]
    if first == 0 and shown >= count:
        return ""

    def link(offset: int, text: str) -> str:
        url = f'/rounds/{data["round_id"]}?{urlencode({"offset": offset, "limit": limit})}'
        return f'<a href="{e(url)}">{text}</a>'

    links = ([link(max(0, first - limit), "previous")] if first > 0 else []) + \
        ([link(first + shown, "next")] if first + shown < count else [])
    return (f'<p class="note" id="pager">positions {first + 1:,} to {first + shown:,} of {count:,}: '
            f'{" ".join(links)}</p>' if shown else f'<p class="note" id="pager">no positions from {first + 1:,} '
            f'(the round has {count:,}): {" ".join(links)}</p>')


def round_(data: dict, can_verify: bool, verified: dict | None = None, verify_hint: str = "") -> str:
    """A round's page; its verify section is the action (`can_verify`) or a note (with
    `verify_hint`, how to give a store and a node), or, given `verified` (a verification done
    beforehand: the static site's), its outcome."""
    rid = data["round_id"]
    timeline = table([("event", "event"), ("time", "time (UTC)"), ("countdown", "from now"), ("block", "block")],
                     [[e(t["event"]) + (f" to {when(t['until'])}" if t.get("until") else ""),
                       when(t["time"]) or '<span class="note">not yet</span>', e(countdown(t.get("in_seconds"))),
                       e(t["block"])] for t in data["timeline"]], cls="timeline")
    clock = (f'<p class="note" id="clock">from now: from the index\'s chain time, {when(data["now"])} (its last '
             f'indexed block)</p>' if data.get("now") is not None else "")
    totals, factor, settle = data["totals"], data["payout_factor"], data["settlement"]
    summary = table([("k", "what"), ("v", "value")], [
        ["status", e(data["status"])], ["tournament", f'{e(data["tournament_id"])} ({e(_kind_name(data["tournament"]["kind"]))})'
                       if data["tournament"] else e(data["tournament_id"])],
        ["total stake", amount(totals["stake_tokens"])], ["staked positions", e(data["staked_positions"])],
        ["payout factor", number(factor["value"], 6) if factor else ""],
        ["reward (score table)", amount(totals["reward_tokens"])], ["burn (score table)", amount(totals["burn_tokens"])],
        ["total reward (finalised)", amount(data["total_reward_tokens"])],
        ["settled / staked", f'<span id="settlement">{settle["settled"]} / {settle["staked"]}</span>'],
        ["dataset", short(data["dataset_hash"], 18)], ["targets", short(data["targets_hash"], 18)],
        ["root", short(data["root"], 18)], ["score table", short(data["score_table"], 18)]], cls="summary")
    votes = table([("member", "member"), ("result", "result"), ("root", "root"), ("time", "when"),
                   ("epoch", "epoch (restarts, membership)"), ("tally", "tally"), ("gas", "gas")],
                  [[wallet_link(v["member"]), short(v["result_hash"]), short(v["root"]), when(v["time"]),
                    f'{e(v["restarts"])}, {e(v["membership_version"])}', e(v["votes"]), e(v["gas_used"])]
                   for v in data["votes"]], cls="votes") if data["votes"] else '<p class="note">No vote yet.</p>'
    vetoes = table([("result", "result vetoed"), ("time", "when"), ("n", "vetoes")],
                   [[short(v["result_hash"]), when(v["time"]), e(v["vetoes"])] for v in data["vetoes"]],
                   cls="vetoes") if data["vetoes"] else '<p class="note">No veto.</p>'
    status = data["score_table_status"]
    if status is None or status["status"] != "stored":
        why = "no result names one yet" if data["score_table"] is None else (
            f"{status['status']} after {status['attempts']} attempts" if status else "not fetched yet")
        scores_note = f'<p class="note" id="no-score-table">The score table is not stored yet ({e(why)}).</p>'
    else:
        scores_note = ""
    first, second = _scores_named(data["tournament"]["kind"] if data["tournament"] else None)
    scores = table([("staker", "participant"), ("model", "model"), ("stake", "stake"), ("state", "state"),
                    ("corr", first), ("mmc", second), ("score", "score"), ("payout", "payout"), ("reason", "note")],
                   [[wallet_link(p["staker"]), model_link(p["model_id"], p["staker"]), amount(p["stake_tokens"]),
                     e(p["state"]), number(p["corr"]), number(p["mmc"]), number(p["table_score"]),
                     amount(p["table_delta_tokens"]), e(p["reason"])] for p in data["positions"]], cls="scores")
    verify = f'<div id="verify">{_verdict(verified)}</div>' if verified else _verify_form(rid, can_verify, verify_hint)
    body = (f"<h2>Timeline</h2>{clock}{timeline}<h2>Totals</h2>{summary}<h2>Votes</h2>{votes}<h2>Vetoes</h2>{vetoes}"
            f"<h2>Scores</h2>{scores_note}{scores}{_pager(data)}<h2>Verify</h2>{verify}")
    return page(f"Round {rid}", body)


def _history(positions: list[dict], with_staker: bool, kinds: dict) -> str:
    """The positions' table, one per tournament (each names its own scores), headed by its
    tournament when there are several."""
    tournaments = sorted({p["tournament_id"] for p in positions})
    out = []
    for tid in tournaments:
        first, second = _scores_named(kinds.get(tid))
        columns = [("round", "round")] + ([("staker", "participant")] if with_staker else []) + \
            [("model", "model"), ("stake", "stake"), ("corr", first), ("mmc", second), ("score", "score"),
             ("payout", "payout"), ("cumulative", "cumulative payout"), ("state", "state")]
        rows = [[round_link(p["round_id"])] + ([wallet_link(p["staker"])] if with_staker else []) +
                [model_link(p["model_id"], p["staker"]), amount(p["stake_tokens"]), number(p["corr"]),
                 number(p["mmc"]), number(p["table_score"]), amount(p["table_delta_tokens"]),
                 amount(p["cumulative_payout_tokens"]), e(p["state"])]
                for p in positions if p["tournament_id"] == tid]
        heading = f"<h3>Tournament {e(tid)} ({e(_kind_name(kinds.get(tid)))})</h3>" if len(tournaments) > 1 else ""
        out.append(heading + table(columns, rows, cls="history"))
    return "".join(out)


def _charts(positions: list[dict], name) -> str:
    """The cumulative payout of each series (from 0 before its first scored round) and the score
    of each scored position, by round."""
    cumulative, scores = {}, []
    for p in positions:
        if p["table_delta_tokens"] is None:
            continue
        series = cumulative.setdefault(name(p), [(p["round_id"] - 1, 0.0)])
        series.append((p["round_id"], p["cumulative_payout_tokens"]))
        scores.append((p["round_id"], p["table_score"]))
    return svg.lines("cumulative payout (tokens) by round", cumulative) + svg.bars("score of each position by round",
                                                                                scores)


def model(data: dict) -> str:
    several = len(data["stakers"]) > 1
    body = (f'<p>model id {short(data["model_id"], 66)}; participants: '
            f'{", ".join(wallet_link(s) for s in data["stakers"])}</p>'
            f'<h2>Charts</h2>{_charts(data["positions"], lambda p: p["staker"][:10])}'
            f'<h2>History</h2>{_history(data["positions"], several, data["kinds"])}')
    return page("Model " + data["model_id"][:18], body)


def wallet(data: dict) -> str:
    moves = table([("kind", "move"), ("block", "block"), ("round", "round"), ("amount", "amount")],
                  [[e(k), e(m["block"]), round_link(m["round_id"]) if m.get("round_id") is not None else "",
                    amount(int(m["amount"]) / 10**18)]
                   for k, key in (("credited", "credited"), ("withdrawn", "withdrawals"),
                                  ("staked from balance", "staked_from_balance")) for m in data[key]], cls="moves")
    body = (f'<p>internal balance now: <span id="internal-balance">{amount(data["internal_balance_tokens"])}</span> '
            f'tokens</p><h2>Charts</h2>{_charts(data["positions"], lambda p: p["model_id"][:10])}'
            f'<h2>History</h2>{_history(data["positions"], False, data["kinds"])}<h2>Internal balance moves</h2>{moves}')
    return page("Wallet " + data["address"], body)


def committee(data: dict) -> str:
    members = "".join(f"<li>{wallet_link(m)}</li>" for m in data["members"])
    window = format_duration(data["dispute_window"]) if data["dispute_window"] is not None else "unknown"
    rounds = table([("round", "round"), ("votes", "votes"), ("gas", "gas of its votes"), ("vetoes", "vetoes"),
                    ("voters", "voters")],
                   [[round_link(r["round_id"]), str(len(r["votes"])), f'{r["gas"]:,}', str(len(r["vetoes"])),
                     " ".join(wallet_link(v["member"]) for v in r["votes"])] for r in data["rounds"]], cls="rounds")
    vetoes = table([("round", "round"), ("result", "result"), ("time", "when")],
                   [[round_link(v["round_id"]), short(v["result_hash"]), when(v["time"])] for v in data["vetoes"]],
                   cls="vetoes") if data["vetoes"] else '<p class="note">No veto.</p>'
    gas = svg.bars("gas of each round's votes", [(r["round_id"], r["gas"]) for r in reversed(data["rounds"])])
    body = (f'<p>threshold <b id="threshold">{e(data["threshold"])}</b> of <b>{e(data["member_count"])}</b> members; '
            f'dispute window {e(window)}; membership version {e(data["membership_version"])}</p>'
            f'<h2>Members</h2><ul class="members">{members}</ul><h2>Votes per round</h2>{gas}{rounds}'
            f'<h2>Vetoes</h2>{vetoes}')
    return page("Committee", body)
