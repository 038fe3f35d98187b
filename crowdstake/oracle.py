"""The oracle operator's job for one round: read the round's staked positions from the chain,
fetch each committed predictions file from the store and check it against its on-chain hash,
score every model, build the results tree and the score table, publish the table, vote, and
finalise once the dispute window has passed.

Every step is recorded in a journal (`<workdir>/round-<R>.json`, written atomically), and
the chain is the judge of what was done: run again after a crash at any point, the operator
recomputes nothing it already has, never votes twice (a vote sent but not yet mined is waited
for, not resent), and recognises rounds already voted, accepted, vetoed or finalised.
Independent operators given the same chain, files and targets produce byte-identical tables
and roots: positions are sorted, scoring is order- and thread-independent, floats are written
in round-trip form.
"""

from __future__ import annotations

import io
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd
from eth_account.signers.local import LocalAccount
from web3 import Web3

from crowdstake.chain import Protocol, TransactionFailed, send, wait_for, with_retries
from crowdstake.errors import ConfigError, CrowdstakeError, InvalidInputError
from crowdstake.journal import Journal
from crowdstake.merkle import Leaf, ResultsTree
from crowdstake.payout import payout_delta, payout_factor
from crowdstake.progress import Steps
from crowdstake.scoretable import Row, read_table, table_hash, write_table
from crowdstake.scoring import round_scores
from crowdstake.store import StoreNotFound

# A vote is estimated against the chain as it is, but if another member's vote lands first this
# one may be the vote that reaches the quorum and stores the result (~200k gas, not ~84k).
VOTE_GAS = 300_000


class OracleError(CrowdstakeError, RuntimeError):
    """The round cannot be scored or voted as asked; the message says why."""


@dataclass(frozen=True)
class Position:
    staker: str
    model_id: bytes
    stake: int
    predictions_hash: bytes

    @property
    def key(self) -> str:
        return f"{self.staker.lower()}:{self.model_id.hex()}"


@dataclass
class RoundResult:
    round_id: int
    table: bytes
    rows: list[Row]
    root: bytes
    total_reward: int
    total_burn: int

    @property
    def vote(self) -> tuple:
        """The committee's Result tuple."""
        return (self.root, table_hash(self.table), self.total_reward, self.total_burn, len(self.rows))


# ------------------------------------------------------------------ inputs


def read_positions(protocol: Protocol, round_id: int) -> list[Position]:
    """The round's staked positions, sorted by (staker, modelId), read from the contract's events
    (paged eth_getLogs, no call per position): stakes stay there once positions are settled."""
    stakes, hashes = protocol.stakes(roundId=round_id), protocol.predictions_hashes(roundId=round_id)
    positions = []
    for (rid, staker, mid), stake in sorted(stakes.items(), key=lambda kv: (kv[0][1].lower(), kv[0][2])):
        if stake:
            positions.append(Position(Web3.to_checksum_address(staker), mid, stake, hashes[rid, staker, mid]))
    return positions


def read_targets(path: Path) -> pd.Series:
    """Realised targets as the fund publishes them: a CSV `id,target`."""
    try:
        frame = pd.read_csv(path, dtype={"id": str})
    except FileNotFoundError:
        raise ConfigError(f"no targets file {path}: the fund publishes one per round as <round>.csv") from None
    if list(frame.columns) != ["id", "target"]:
        raise InvalidInputError(f"{path} needs the header id,target")
    return frame.set_index("id")["target"]


def _parse_predictions(data: bytes) -> tuple[pd.Series | None, str]:
    try:
        frame = pd.read_csv(io.BytesIO(data), dtype={"id": str})
    except Exception as e:  # pandas raises many types for a malformed file
        return None, f"malformed predictions file: {e.__class__.__name__}"
    if list(frame.columns) != ["id", "prediction"]:
        return None, "malformed predictions file: header is not id,prediction"
    values = pd.to_numeric(frame["prediction"], errors="coerce")
    return pd.Series(values.to_numpy(), index=frame["id"].to_numpy()), ""


def fetch_predictions(store, round_id: int, positions: list[Position],
                      advance: Callable[[int], None] = lambda n=1: None) -> tuple[dict, dict]:
    """Each position's committed file, fetched by its on-chain hash and checked against it.
    Returns (predictions by key, reasons by key for the files that cannot be scored). Only a
    file the store does not have scores at the floor: a store or node that does not answer
    stops the run (scoring it as missing would vote a wrong root)."""
    predictions, reasons = {}, {}
    for p in positions:
        advance()
        try:
            data = store.get_file(round_id, p.predictions_hash)
        except StoreNotFound:
            reasons[p.key] = "committed file missing from the store"
            continue
        if Web3.keccak(data) != p.predictions_hash:
            reasons[p.key] = "file does not match its on-chain hash"
            continue
        series, reason = _parse_predictions(data)
        if series is None:
            reasons[p.key] = reason
        else:
            predictions[p.key] = series
    return predictions, reasons


# ------------------------------------------------------------------ scoring and the tree


def compute_result(protocol: Protocol, store, round_id: int, targets: pd.Series, timings: dict | None = None,
                   steps: Steps = Steps()) -> RoundResult:
    """Score the round and build its tree, table and declared totals, exactly as the contract
    will compute the money. `timings`, if given, receives each phase's wall time in seconds;
    `steps` shows the long ones."""
    clock = _Clock(timings)
    fields = protocol.round(round_id)
    params = fields["params"]
    threshold, cap = params["threshold"], params["cap"]
    w_corr, w_mmc = params["corrWeightBps"], params["mmcWeightBps"]
    with steps.step(f"reading the {fields['stakedPositions']} staked positions of round {round_id}"):
        positions = read_positions(protocol, round_id)
    clock.lap("read_positions")
    if len(positions) != fields["stakedPositions"]:
        raise OracleError(f"read {len(positions)} staked positions from events but the contract counts "
                          f"{fields['stakedPositions']}: the node's logs are incomplete, try another node")
    if not positions:
        return RoundResult(round_id, write_table([]), [], b"\x00" * 32, 0, 0)
    with steps.step(f"fetching and checking {len(positions)} predictions files", total=len(positions)) as advance:
        predictions, reasons = fetch_predictions(store, round_id, positions, advance)
    clock.lap("fetch_files")
    stakes = {p.key: p.stake / 10**18 for p in positions}
    with steps.step(f"scoring {len(predictions)} models (CORR, MMC against the meta model)"):
        scores = round_scores(predictions, targets, stakes, (w_corr / 10_000, w_mmc / 10_000))
    clock.lap("scoring")
    factor = payout_factor(threshold, fields["totalStake"])
    with steps.step(f"building the results tree and score table of {len(positions)} leaves"):
        leaves, partial = [], []
        for p in positions:
            s = scores.loc[p.key]
            quantized = int(s["quantized"])
            leaves.append(Leaf(round_id, p.staker, p.model_id, quantized))
            partial.append((p, s, quantized, payout_delta(p.stake, quantized, factor, cap),
                            reasons.get(p.key) or s["reason"]))
        tree = ResultsTree(leaves)
        rows = [
            Row(p.staker, p.model_id, p.stake, float(s["corr"]), float(s["mmc"]), float(s["score"]), q, delta, reason,
                tuple(tree.proof(i)))
            for i, (p, s, q, delta, reason) in enumerate(partial)
        ]
        reward = sum(row.delta for row in rows if row.delta > 0)
        burn = -sum(row.delta for row in rows if row.delta < 0)
        table = write_table(rows)
    clock.lap("tree_and_table")
    return RoundResult(round_id, table, rows, tree.root, reward, burn)


class _Clock:
    def __init__(self, timings: dict | None):
        self.timings, self.last = timings, time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        if self.timings is not None:
            self.timings[name] = now - self.last
        self.last = now


# ------------------------------------------------------------------ the operator's run


def run_round(protocol: Protocol, account: LocalAccount | None, store, round_id: int, targets_dir: Path,
              workdir: Path, *, dry_run: bool = False, finalize: bool = True, confirmations: int = 0,
              on_step: Callable[[str], None] = lambda step: None, log: Callable[[str], None] = lambda m: None,
              steps: Steps | None = None) -> dict:
    """Score round `round_id`, publish its table, vote, and finalise when possible. Safe to run
    again at any point; returns a summary of what the round's state now is. Long steps are
    shown by `steps` (default: a line each through `log`)."""
    steps = steps or Steps(log)
    w3, committee, tournament = protocol.w3, protocol.committee, protocol.tournament
    if not 1 <= round_id <= tournament.functions.roundCount().call():
        raise OracleError(f"round {round_id} not found")
    close, resolve = tournament.functions.roundTimes(round_id).call()
    now = w3.eth.get_block("latest")["timestamp"]
    if now < resolve:
        raise OracleError(f"round {round_id} resolves at {resolve}, {resolve - now} s from the chain's now: too early to score")
    journal = Journal(Path(workdir) / f"round-{round_id}.json", owner=protocol.identity())
    summary = {"round": round_id, "gas": journal.get("gas", 0)}

    # 1. score (or reuse the scored result: the same inputs give the same bytes)
    table_path = Path(workdir) / f"round-{round_id}-scores.csv"
    if journal.get("root") and table_path.exists():
        table = table_path.read_bytes()
        rows = read_table(table)
        result = RoundResult(round_id, table, rows, bytes.fromhex(journal.get("root")), journal.get("totalReward"),
                             journal.get("totalBurn"))
    else:
        log(f"scoring round {round_id}")
        result = compute_result(protocol, store, round_id, read_targets(Path(targets_dir) / f"{round_id}.csv"),
                                steps=steps)
        tmp = table_path.with_suffix(".tmp")
        tmp.write_bytes(result.table)
        os.replace(tmp, table_path)
        journal.record(root=result.root.hex(), tableHash=table_hash(result.table).hex(),
                       totalReward=result.total_reward, totalBurn=result.total_burn, leafCount=len(result.rows))
    on_step("scored")
    summary.update(positions=len(result.rows), root="0x" + result.root.hex(), tableHash="0x" + table_hash(result.table).hex(),
                   totalReward=result.total_reward, totalBurn=result.total_burn,
                   floors={f"{r.staker}:0x{r.model_id.hex()[:12]}": r.reason for r in result.rows if r.reason})
    if dry_run:
        summary["would_send"] = {"publish": summary["tableHash"], "vote": result.vote if account else None}
        return summary
    if account is None:
        raise ConfigError("voting needs the member's wallet: pass --wallet or --key-env")

    # 2. publish the table (idempotent: the same bytes under the same hash)
    if not journal.get("published"):
        if result.rows:
            store.publish_score_table(account, round_id, result.table)
        journal.record(published=True)
    on_step("published")

    # 3. vote, once per epoch; a vote already sent is waited for, never sent again
    state = committee.functions.roundState(round_id).call()
    vetoes, dispute_ends, finalized = state[0], state[1], state[2]
    epoch_key = f"vote-{vetoes}"
    if finalized:
        summary["state"] = "finalised"
        return summary
    if dispute_ends == 0:
        sent = journal.get(epoch_key)
        if sent:
            try:
                with steps.step(f"waiting for the receipt of vote {sent}"):
                    _gas(journal, summary, _wait_for_sent(w3, journal, epoch_key, confirmations))
            except TransactionFailed:  # reverted or dropped (the chain moved on): look again, maybe vote again
                journal.record(**{epoch_key: None, f"{epoch_key}-raw": None})
                sent = None
        if not sent and not committee.functions.hasVoted(round_id, account.address).call():
            log(f"voting root 0x{result.root.hex()[:16]}…")
            with steps.step("sending the vote and waiting for its receipt"):
                receipt = send(w3, account, committee.functions.vote(round_id, result.vote), min_gas=VOTE_GAS,
                               confirmations=confirmations, on_sent=_journal_sent(journal, epoch_key, on_step))
            _gas(journal, summary, receipt)
        on_step("voted")
        state = committee.functions.roundState(round_id).call()
        dispute_ends = state[1]

    # 4. finalise once the dispute window has passed (anyone may; one succeeds)
    now = w3.eth.get_block("latest")["timestamp"]
    if finalize and dispute_ends and now >= dispute_ends:
        sent = journal.get("finalize")
        try:
            with steps.step(f"finalising round {round_id} and waiting for the receipt"):
                if sent:
                    _gas(journal, summary, _wait_for_sent(w3, journal, "finalize", confirmations))
                else:
                    receipt = send(w3, account, committee.functions.finalize(round_id), confirmations=confirmations,
                                   on_sent=_journal_sent(journal, "finalize", on_step))
                    _gas(journal, summary, receipt)
        except TransactionFailed as e:
            if e.error != "OracleCommitteeAlreadyFinalized" and not committee.functions.roundState(round_id).call()[2]:
                raise
    state = committee.functions.roundState(round_id).call()
    summary["state"] = "finalised" if state[2] else ("accepted" if state[1] else "voting")
    summary["gas"] = journal.get("gas", 0)
    return summary


def _journal_sent(journal: Journal, key: str, on_step: Callable[[str], None]):
    """The `on_sent` of a transaction the journal must remember: its hash, and the signed
    transaction itself (public once sent, no key in it) to give again to a node that lost it."""

    def sent(tx_hash, raw_tx) -> None:
        journal.record(**{key: Web3.to_hex(tx_hash), f"{key}-raw": Web3.to_hex(raw_tx)})
        on_step(f"{key.split('-')[0]}-sent")

    return sent


def _wait_for_sent(w3: Web3, journal: Journal, key: str, confirmations: int):
    """The receipt of the transaction a previous run sent (and recorded under `key`)."""
    raw = journal.get(f"{key}-raw")
    return wait_for(w3, journal.get(key), confirmations=confirmations,
                    raw_tx=bytes.fromhex(raw.removeprefix("0x")) if raw else None)


def _gas(journal: Journal, summary: dict, receipt) -> None:
    counted = set(journal.get("counted", []))
    tx = Web3.to_hex(receipt["transactionHash"])
    if tx not in counted:
        journal.record(gas=journal.get("gas", 0) + receipt["gasUsed"], counted=sorted(counted | {tx}))
    summary["gas"] = journal.get("gas", 0)


def verify_round(protocol: Protocol, store, round_id: int, targets_dir: Path, steps: Steps = Steps()) -> dict:
    """Recompute a round from the published files, targets and chain state, and compare with
    the accepted or finalised result on-chain: which leaves differ, if any."""
    r = protocol.round(round_id)
    state = protocol.committee.functions.roundState(round_id).call()
    if r["finalized"]:
        root, table_digest = r["root"], r["scoreTableHash"]
    elif state[1]:
        root, table_digest = state[4][0], state[4][1]
    else:
        raise OracleError(f"round {round_id} has no accepted or finalised result to verify yet")
    mine = compute_result(protocol, store, round_id, read_targets(Path(targets_dir) / f"{round_id}.csv"), steps=steps)
    report = {"round": round_id, "onchainRoot": "0x" + root.hex(), "recomputedRoot": "0x" + mine.root.hex(),
              "matches": mine.root == root and table_hash(mine.table) == table_digest, "differences": []}
    if not report["matches"]:
        try:
            published = {(row.staker.lower(), row.model_id): row for row in read_table(store.get_score_table(round_id, table_digest))}
        except CrowdstakeError:
            published = {}
        for row in mine.rows:
            theirs = published.get((row.staker.lower(), row.model_id))
            if theirs is None or theirs.quantized != row.quantized:
                report["differences"].append({"staker": row.staker, "modelId": "0x" + row.model_id.hex(),
                                              "recomputed": row.quantized,
                                              "published": None if theirs is None else theirs.quantized})
    return report


def watch(protocol: Protocol, account: LocalAccount, store, targets_dir: Path, workdir: Path, *,
          interval: float = 15.0, report=lambda summary: None, log=lambda m: None, rounds_limit: int | None = None,
          confirmations: int = 0, steps: Steps | None = None,
          on_finalised: Callable[[int], None] = lambda round_id: None) -> None:
    """Keep going: score and vote every round once it has resolved and its targets are published,
    and finalise rounds whose dispute window has passed; `on_finalised(round)` runs once for each
    finalised round (a keeper settles it there). Stops after `rounds_limit` rounds are finalised
    (tests), else runs until interrupted."""
    done: set[int] = set()

    def finished(rid: int) -> None:
        try:
            on_finalised(rid)
        except CrowdstakeError as e:  # the round is done either way; `crowdstake settle` can finish it
            log(f"round {rid}: {e}")
        done.add(rid)

    while rounds_limit is None or len(done) < rounds_limit:
        now = with_retries(lambda: protocol.w3.eth.get_block("latest")["timestamp"])
        for rid in range(1, protocol.tournament.functions.roundCount().call() + 1):
            if rid in done:
                continue
            _, resolve = protocol.tournament.functions.roundTimes(rid).call()
            if now < resolve or not (Path(targets_dir) / f"{rid}.csv").exists():
                continue
            if protocol.committee.functions.roundState(rid).call()[2]:
                finished(rid)
                continue
            try:
                summary = run_round(protocol, account, store, rid, targets_dir, workdir, log=log,
                                    confirmations=confirmations, steps=steps)
            except TransactionFailed as e:
                log(f"round {rid}: {e}")
                if e.error == "TournamentResultsTooLate":  # the window lapsed: stakers get refunds
                    done.add(rid)
                continue  # anything else: look again next time
            report(summary)
            if summary.get("state") == "finalised":
                finished(rid)
        time.sleep(interval)
