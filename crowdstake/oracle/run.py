"""The oracle operator's job for one round: score it (`compute`), publish the score table, vote,
and finalise once the dispute window has passed; `watch` does it for every round as it
resolves, `verify_round` lets anyone recompute a round and compare it with the chain.

Every step is recorded in a journal (`<workdir>/round-<R>.json`, written atomically), and
the chain is the judge of what was done: run again after a crash at any point, the operator
recomputes nothing it already has, never votes twice (a vote sent but not yet mined is waited
for, not resent), and recognises rounds already voted, accepted, vetoed or finalised. It never
votes a result that could not be finalised (the reward pool too small for it, or the round's
results deadline too near for a dispute window): it says so in one line and sends nothing.
Independent operators given the same chain, files and targets produce byte-identical tables
and roots: positions are sorted, scoring is order- and thread-independent, floats are written
in round-trip form. Once the fund commits a round's targets on-chain, every operator scores
those bytes and no others (`crowdstake.oracle.inputs.round_targets`: from the store by their
hash, or an operator's own file checked against it); a journal's result scored from other
targets is scored again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Callable

from eth_account.signers.local import LocalAccount
from web3 import Web3

from crowdstake._fs import atomic_write
from crowdstake._human import utc, when
from crowdstake._units import to_tokens
from crowdstake.chain.contracts import Contracts
from crowdstake.chain.rpc import with_retries
from crowdstake.chain.tx import send, wait_for
from crowdstake.config import OracleSettings
from crowdstake.errors import CrowdstakeError, MissingSetting, OracleError, ResultsTooLate, TransactionFailed
from crowdstake.oracle.compute import RoundResult, compute_result
from crowdstake.oracle.inputs import ZERO, round_targets, targets_ready
from crowdstake.oracle.journal import Journal
from crowdstake.progress import Steps
from crowdstake.results.table import read_table, table_hash
from crowdstake.store import Store

# A vote is estimated against the chain as it is, but if another member's vote lands first this
# one may be the vote that reaches the quorum and stores the result (~200k gas, not ~84k).
VOTE_GAS = 300_000
# The chain's refusals that mean a round can no longer be finalised: its stakes are refunded.
TOO_LATE = ("TournamentResultsTooLate", "OracleCommitteeTooLateToFinalize")


@dataclass(frozen=True)
class RoundSummary:
    """What a run did and where the round stands: `state` is voting, accepted or finalized
    (None after a dry run, which sends nothing and fills `would_vote` instead)."""

    round: int
    positions: int
    root: str
    table_hash: str
    total_reward: Decimal
    total_burn: Decimal
    floors: dict[str, str]
    state: str | None = None
    gas: int = 0
    would_vote: tuple | None = None


@dataclass(frozen=True)
class Difference:
    staker: str
    model_id: str
    recomputed: int
    published: int | None


@dataclass(frozen=True)
class Verification:
    round: int
    onchain_root: str
    recomputed_root: str
    matches: bool
    differences: list[Difference] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)  # the table hash or a declared total, when they differ


def run_round(contracts: Contracts, account: LocalAccount | None, store: Store, round_id: int,
              settings: OracleSettings = OracleSettings(), *, on_step: Callable[[str], None] = lambda step: None,
              log: Callable[[str], None] = lambda m: None, steps: Steps | None = None,
              timings: dict | None = None) -> RoundSummary:
    """Score round `round_id`, publish its table, vote, and finalise when possible. Safe to run
    again at any point; returns what the round's state now is. Long steps are shown by `steps`
    (default: a line each through `log`); `timings`, if given, receives the wall time of each
    phase scored (`compute_result`'s), of publishing and of voting, in seconds."""
    steps = steps or Steps(log)
    w3, committee = contracts.w3, contracts.committee
    confirmations, workdir = settings.confirmations, Path(settings.workdir)
    if not 1 <= round_id <= contracts.round_count():
        raise OracleError(f"round {round_id} not found")
    _, resolve, deadline = contracts.round_times(round_id)
    now = w3.eth.get_block("latest")["timestamp"]
    if now < resolve:
        raise OracleError(f"round {round_id} resolves at {when(resolve, now)} by the chain's clock: too early to score")
    journal = Journal(workdir / f"round-{round_id}.json", owner=contracts.identity())

    # 1. score (or reuse the scored result: the same inputs give the same bytes), with the
    #    targets the round commits when it does
    table_path = workdir / f"round-{round_id}-scores.csv"
    committed = bytes(contracts.round(round_id).targetsHash)
    scored_with = journal.get("targetsHash")
    stale = journal.get("root") and committed != ZERO and scored_with != committed.hex()
    if stale:
        log(f"round {round_id}: scored before with targets other than the {Web3.to_hex(committed)} committed "
            "on-chain: scoring it again")
    if journal.get("root") and table_path.exists() and not stale:
        table = table_path.read_bytes()
        result = RoundResult(round_id, table, read_table(table), bytes.fromhex(journal.get("root")),
                             journal.get("totalReward"), journal.get("totalBurn"))
    else:
        targets = round_targets(contracts, store, round_id, settings.targets)
        log(f"scoring round {round_id} with the targets from {targets.source}")
        result = compute_result(contracts, store, round_id, targets.values, timings=timings, steps=steps)
        atomic_write(table_path, result.table)
        journal.record(root=result.root.hex(), tableHash=table_hash(result.table).hex(),
                       totalReward=result.total_reward, totalBurn=result.total_burn, leafCount=len(result.rows),
                       targetsHash=targets.digest.hex(), published=False)
    on_step("scored")
    scored = dict(round=round_id, positions=len(result.rows), root="0x" + result.root.hex(),
                  table_hash="0x" + table_hash(result.table).hex(), total_reward=to_tokens(result.total_reward),
                  total_burn=to_tokens(result.total_burn),
                  floors={f"{r.staker}:0x{r.model_id.hex()[:12]}": r.reason for r in result.rows if r.reason})
    if settings.dry_run:
        return RoundSummary(**scored, would_vote=result.vote)  # the vote is the result's, whoever would send it
    if account is None:
        raise MissingSetting("voting needs the member's wallet or key", "wallet")

    def summary(state: str) -> RoundSummary:
        return RoundSummary(**scored, state=state, gas=journal.get("gas", 0))

    # 2. publish the table (idempotent: the same bytes under the same hash), unless a vote is due
    #    and could not be finalised: then nothing is published or sent
    state = contracts.round_state(round_id)
    if not state.finalized and state.disputeEndsAt == 0:
        _require_finalizable(contracts, round_id, result.total_reward, deadline)
    started = time.perf_counter()
    if not journal.get("published"):
        if result.rows:
            store.publish_score_table(account, round_id, result.table)
        journal.record(published=True)
    on_step("published")
    if timings is not None:
        timings["publish"] = time.perf_counter() - started

    # 3. vote, once per epoch; a vote already sent is waited for, never sent again
    epoch_key = f"vote-{state.restarts}"
    if state.finalized:
        return summary("finalized")
    dispute_ends = state.disputeEndsAt
    if dispute_ends == 0:
        sent = journal.get(epoch_key)
        if sent:
            try:
                with steps.step(f"waiting for the receipt of vote {sent}"):
                    _count_gas(journal, _wait_for_sent(w3, journal, epoch_key, confirmations))
            except TransactionFailed:  # reverted or dropped (the chain moved on): look again, maybe vote again
                journal.record(**{epoch_key: None, f"{epoch_key}-raw": None})
                sent = None
        # Not voted in this epoch: never, or a vote mined before a membership change cancelled it.
        if not contracts.call(committee.functions.hasVoted(round_id, account.address)):
            log(f"voting root 0x{result.root.hex()[:16]}…")
            with steps.step("sending the vote and waiting for its receipt"):
                receipt = send(w3, account, committee.functions.vote(round_id, result.vote), min_gas=VOTE_GAS,
                               confirmations=confirmations, on_sent=_journal_sent(journal, epoch_key, on_step))
            _count_gas(journal, receipt)
        on_step("voted")
        if timings is not None:
            timings["vote"] = time.perf_counter() - started - timings["publish"]
        dispute_ends = contracts.round_state(round_id).disputeEndsAt

    # 4. finalise once the dispute window has passed (anyone may; one succeeds)
    now = w3.eth.get_block("latest")["timestamp"]
    if settings.finalize and dispute_ends and now >= dispute_ends:
        sent = journal.get("finalize")
        try:
            with steps.step(f"finalising round {round_id} and waiting for the receipt"):
                if sent:
                    _count_gas(journal, _wait_for_sent(w3, journal, "finalize", confirmations))
                else:
                    receipt = send(w3, account, committee.functions.finalize(round_id), confirmations=confirmations,
                                   on_sent=_journal_sent(journal, "finalize", on_step))
                    _count_gas(journal, receipt)
        except TransactionFailed as e:
            if e.error != "OracleCommitteeAlreadyFinalized" and not contracts.round_state(round_id).finalized:
                raise
    state = contracts.round_state(round_id)
    if dispute_ends and not state.disputeEndsAt and not state.finalized:
        log(f"round {round_id}: the Tournament refused the accepted result (see the ResultRefused event); "
            "the members vote again")
    return summary("finalized" if state.finalized else ("accepted" if state.disputeEndsAt else "voting"))


def _require_finalizable(contracts: Contracts, round_id: int, reward: int, deadline: int) -> None:
    """Refuse to vote a result the Tournament could not take: one accepted now must see its
    dispute window end by the round's results deadline, and the pool must hold its reward."""
    now = contracts.w3.eth.get_block("latest")["timestamp"]
    ends = now + contracts.call(contracts.committee.functions.disputeWindow())
    if ends > deadline:
        raise ResultsTooLate(f"round {round_id}: too late to vote: a result accepted now could be finalised "
                             f"{when(ends, now)}, after the round's results deadline {when(deadline, now)}; its "
                             "stakes are refunded from then on")
    pool = contracts.call(contracts.tournament.functions.rewardPool())
    if reward > pool:
        raise OracleError(f"round {round_id} pays {to_tokens(reward)} in rewards but the reward pool holds "
                          f"{to_tokens(pool)}: fund the pool (Tournament.fundRewards), then run again; nothing was sent")


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


def _count_gas(journal: Journal, receipt) -> None:
    """Add a receipt's gas to the journal's total, once per transaction."""
    counted = set(journal.get("counted", []))
    tx = Web3.to_hex(receipt["transactionHash"])
    if tx not in counted:
        journal.record(gas=journal.get("gas", 0) + receipt["gasUsed"], counted=sorted(counted | {tx}))


def verify_round(contracts: Contracts, store: Store, round_id: int, targets: Path | None = None,
                 steps: Steps = Steps()) -> Verification:
    """Recompute a round from the published files, its targets (the ones it commits on-chain,
    from the store or `targets/<round>.csv` checked against them; without a committed hash,
    `targets/<round>.csv`) and the chain's state, and compare with the accepted or finalised
    result on-chain: which leaves differ, if any, and whether the table hash and the declared
    totals (reward, leaf count) are the recomputed ones."""
    r = contracts.round(round_id)
    state = contracts.round_state(round_id)
    if r.finalized:  # finalisation checked the leaf count against the staked positions
        root, table_digest, reward, leaves = r.root, r.scoreTableHash, r.totalReward, r.stakedPositions
    elif state.disputeEndsAt:
        a = state.accepted
        root, table_digest, reward, leaves = a.root, a.scoreTableHash, a.totalReward, a.leafCount
    else:
        raise OracleError(f"round {round_id} has no accepted or finalized result to verify yet")
    mine = compute_result(contracts, store, round_id, round_targets(contracts, store, round_id, targets).values,
                          steps=steps)
    # the root and table can be honest while the declared reward is not: too low, it pays the
    # gains first come, first served; so the table's hash and the totals are compared too
    mismatches = [f"{name}: declared {declared}, recomputed {recomputed}"
                  for name, declared, recomputed in (
                      ("scoreTableHash", "0x" + bytes(table_digest).hex(), "0x" + table_hash(mine.table).hex()),
                      ("totalReward (wei)", reward, mine.total_reward), ("leafCount", leaves, len(mine.rows)))
                  if declared != recomputed]
    matches = mine.root == root and not mismatches
    differences = []
    if mine.root != root:
        try:
            published = {(row.staker.lower(), row.model_id): row
                         for row in read_table(store.get_score_table(round_id, table_digest))}
        except CrowdstakeError:
            published = {}
        for row in mine.rows:
            theirs = published.get((row.staker.lower(), row.model_id))
            if theirs is None or theirs.quantized != row.quantized:
                differences.append(Difference(row.staker, "0x" + row.model_id.hex(), row.quantized,
                                              None if theirs is None else theirs.quantized))
    return Verification(round_id, "0x" + root.hex(), "0x" + mine.root.hex(), matches, differences, mismatches)


def watch(contracts: Contracts, account: LocalAccount, store: Store, settings: OracleSettings = OracleSettings(), *,
          report: Callable[[RoundSummary], None] = lambda summary: None, log: Callable[[str], None] = lambda m: None,
          rounds_limit: int | None = None, steps: Steps | None = None,
          on_finalized: Callable[[int], None] = lambda round_id: None) -> None:
    """Keep going: score and vote every round once it has resolved and its targets are committed
    on-chain (or, before that, in the operator's own `settings.targets/<round>.csv`), and
    finalise rounds whose dispute window has passed; `on_finalized(round)` runs once for each
    finalised round (a keeper pays its positions there). Stops after `rounds_limit` rounds are
    finalised (tests), else runs until interrupted."""
    done: set[int] = set()
    said: dict[tuple[int, str], object] = {}  # (round, topic): what was last told; news is told once, not every interval

    def once(rid: int, topic: str, news, tell: Callable[[], None]) -> None:
        if said.get((rid, topic)) != news:
            said[rid, topic] = news
            tell()

    def finished(rid: int) -> None:
        try:
            on_finalized(rid)
        except CrowdstakeError as e:  # the round is done either way; the keeper can finish it later
            log(f"round {rid}: {e}")
        done.add(rid)

    log(f"watching the Tournament {contracts.tournament.address} as {account.address}, every {settings.interval:g} s")
    while rounds_limit is None or len(done) < rounds_limit:
        now = with_retries(lambda: contracts.w3.eth.get_block("latest")["timestamp"], policy=contracts.retry)
        for rid in range(1, contracts.round_count() + 1):
            if rid in done:
                continue
            resolve = contracts.round_times(rid)[1]
            if now < resolve:
                message = f"round {rid} resolves at {utc(resolve)}: waiting"
                once(rid, "news", message, lambda: log(message))
                continue
            if not targets_ready(contracts, rid, settings.targets):
                message = f"round {rid} resolved: waiting for its targets to be committed (`crowdstake fund publish-targets`)"
                once(rid, "news", message, lambda: log(message))
                continue
            if contracts.round_state(rid).finalized:
                finished(rid)
                continue
            try:
                summary = run_round(contracts, account, store, rid, settings, log=log, steps=steps)
            except (OracleError, TransactionFailed) as e:
                message = f"round {rid}: {e}"
                once(rid, "news", message, lambda: log(message))
                if isinstance(e, ResultsTooLate) or getattr(e, "error", None) in TOO_LATE:
                    done.add(rid)  # the window lapsed: stakers get refunds
                continue  # anything else (a pool to fund, a node hiccup): look again next time
            once(rid, "summary", (summary.state, summary.root), lambda: report(summary))
            if summary.state == "accepted":
                ends = contracts.round_state(rid).disputeEndsAt
                message = f"round {rid} accepted, finalisable after {utc(ends)}"
                once(rid, "news", message, lambda: log(message))
            if summary.state == "finalized":
                finished(rid)
        time.sleep(settings.interval)
