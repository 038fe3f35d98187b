"""The keeper: pays a whole finalised round, every position, in `claimMany` batches built from
the published score table. Anyone can run it (a keeper, the operator, a participant): each payout
goes to its own staker, to its wallet or (`to_balance`) to its internal balance in the
Tournament, from which it can be withdrawn or staked again without a token transfer.

Resumable: the chain is the journal. Each run first reads which positions are already settled
(by anyone: single claims, earlier batches, refunds) and only batches the rest. With a
`journal` file, transactions sent but not yet confirmed when a run stopped are waited for
before anything else is read, so a restart never sends a batch that is already on its way.

Batches are runs of neighbouring leaves in the tree (`ResultsTree.tree_order`): their
multiproofs share most of their paths, about two proof hashes per tree level per batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Callable

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.logs import DISCARD

from crowdstake._human import count
from crowdstake._units import to_tokens
from crowdstake.chain.contracts import Contracts
from crowdstake.chain.tx import send, wait_for
from crowdstake.config import KeeperSettings
from crowdstake.errors import KeeperError, TransactionFailed
from crowdstake.oracle.journal import Journal
from crowdstake.results.merkle import Leaf, ResultsTree, batch_size as fitting_batch_size
from crowdstake.results.table import read_table, table_hash
from crowdstake.store import Store

READ_PAGE = 500  # positions read per JSON-RPC batch request


@dataclass(frozen=True)
class PayoutSummary:
    """What a keeper's run paid: positions in the round, settled before it and by it, in how
    many transactions and how much gas, and the tokens paid to wallets, credited to internal
    balances and burned."""

    round: int
    positions: int
    already_settled: int
    settled: int
    transactions: int
    gas_used: int
    batch_size: int
    to_balance: bool
    paid: Decimal
    credited: Decimal
    burned: Decimal


def _round(contracts: Contracts, round_id: int):
    count = contracts.round_count()
    if not 1 <= round_id <= count:
        raise KeeperError(f"round {round_id} not found: rounds run from 1 to {count}")
    return contracts.round(round_id)


def load_tree(contracts: Contracts, store: Store, round_id: int) -> tuple[object, list[Leaf], ResultsTree]:
    """The round, its leaves from the store's score table, and their tree, each checked against
    the chain (table hash, root, leaf count)."""
    r = _round(contracts, round_id)
    if not r.finalized:
        raise KeeperError(f"round {round_id} is not finalised: nothing can be settled yet")
    data = store.get_score_table(round_id)
    if table_hash(data) != bytes(r.scoreTableHash):
        raise KeeperError(f"the store's score table for round {round_id} does not match the hash voted on-chain: use another store")
    leaves = [Leaf(round_id, Web3.to_checksum_address(row.staker), row.model_id, row.quantized) for row in read_table(data)]
    if not leaves:
        raise KeeperError(f"round {round_id} has no positions: nothing to settle")
    tree = ResultsTree(leaves)
    if tree.root != bytes(r.root) or len(leaves) != r.stakedPositions:
        raise KeeperError(f"the score table of round {round_id} does not rebuild the on-chain root "
                          f"({len(leaves)} rows, {r.stakedPositions} staked positions)")
    return r, leaves, tree


def settled_flags(contracts: Contracts, leaves: list[Leaf]) -> list[bool]:
    """Whether each leaf's position is settled on-chain (JSON-RPC batches of READ_PAGE calls)."""
    t, w3 = contracts.tournament, contracts.w3
    flags: list[bool] = []
    for lo in range(0, len(leaves), READ_PAGE):
        page = leaves[lo:lo + READ_PAGE]
        try:
            with w3.batch_requests() as batch:
                for l in page:
                    batch.add(t.functions.position(l.round_id, l.staker, l.model_id))
                results = batch.execute()
            flags += [res[0] == 0 for res in results]  # settling zeroes the stake
        except Exception:  # a node without batch requests: one call each
            flags += [contracts.position(l.round_id, l.staker, l.model_id).stake == 0 for l in page]
    return flags


def pay_round(contracts: Contracts, account: LocalAccount, store: Store, round_id: int,
              settings: KeeperSettings = KeeperSettings(), progress: Callable[[int, int], None] | None = None,
              journal: Path | str | None = None) -> PayoutSummary:
    """Pay every unsettled position of finalised round `round_id` with claimMany batches sent
    from `account`; payouts to the stakers' wallets, or (`settings.to_balance`) to their
    internal balances.

    `settings.batch_size` defaults to what fits half a block (crowdstake.results.merkle.batch_size). A batch
    that would revert because someone settled one of its positions meanwhile is rebuilt from
    the chain's state; a batch too large for the node is halved. `progress(done, total)` is
    called after each batch. Returns a summary: positions, already settled, settled now,
    transactions, gas used, and the tokens paid, credited and burned."""
    w3, t = contracts.w3, contracts.tournament
    to_balance = settings.to_balance
    jr = Journal(journal, owner=contracts.identity() if journal else None)
    pending = list(jr.get("pending", []))

    def sent(tx_hash, raw_tx) -> None:  # pending ones are re-derived from chain state, not resent
        pending.append(Web3.to_hex(tx_hash))
        jr.record(pending=pending)

    def landed(tx_hash) -> None:
        pending.remove(Web3.to_hex(tx_hash))
        jr.record(pending=pending)

    for h in list(pending):  # a previous run's transactions: let them land first
        try:
            wait_for(w3, h)
        except TransactionFailed:
            pass
        landed(h)
    r, leaves, tree = load_tree(contracts, store, round_id)
    settled = settled_flags(contracts, leaves)
    already = sum(settled)
    todo = [i for i in tree.tree_order() if not settled[i]]
    size = settings.batch_size or fitting_batch_size(w3.eth.get_block("latest")["gasLimit"], len(leaves), to_balance=to_balance)
    if size < 1:
        raise KeeperError(f"batch size must be at least 1, got {size}")
    summary = {"round": round_id, "positions": len(leaves), "already_settled": already, "settled": 0,
               "transactions": 0, "gas_used": 0, "batch_size": size, "to_balance": bool(to_balance),
               "paid": 0, "credited": 0, "burned": 0}
    total = len(todo)
    done = 0
    while todo:
        chunk = todo[:size]
        order, proof, flags = tree.multiproof(chunk)
        batch = [(leaves[i].staker, leaves[i].model_id, leaves[i].score) for i in order]
        call = t.functions.claimMany(round_id, batch, proof, flags, bool(to_balance))
        try:
            receipt = send(w3, account, call, on_sent=sent)
        except TransactionFailed as e:
            if e.error in ("TournamentAlreadySettled", "TournamentNothingStaked"):
                # settled by someone else meanwhile: drop what is settled now, rebuild the batch
                now_settled = settled_flags(contracts, [leaves[i] for i in chunk])
                gone = {i for i, s in zip(chunk, now_settled) if s}
                if not gone:
                    raise
                todo = [i for i in todo if i not in gone]
                summary["already_settled"] += len(gone)
                total -= len(gone)
                continue
            if e.error is None and size > 1:  # too large for the node or the block: halve
                size = max(1, size // 2)
                summary["batch_size"] = size
                continue
            raise KeeperError(f"batch of {count(len(chunk), 'position')} of round {round_id} failed: {e}") from None
        landed(receipt["transactionHash"])
        for ev in t.events.ClaimedMany().process_receipt(receipt, errors=DISCARD):
            for key in ("paid", "credited", "burned"):
                summary[key] += ev["args"][key]
        todo = todo[len(chunk):]
        done += len(chunk)
        summary["settled"] += len(chunk)
        summary["transactions"] += 1
        summary["gas_used"] += receipt["gasUsed"]
        if progress:
            progress(done, total)
    return PayoutSummary(**{k: to_tokens(v) if k in ("paid", "credited", "burned") else v for k, v in summary.items()})
