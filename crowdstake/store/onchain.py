"""What a store reads from the chain it serves: the clock it runs by and each round's times
(`chain_clock`), each round's committed dataset and targets hashes (`chain_commitments`) and its
kind, classic or Signals (`chain_round_kinds`), who
may publish score tables (the committee's members) and datasets and targets (the Tournament's
operators), and `local_store_for`, a `LocalStore` with all of them, as `serve` runs it. Each
reads on demand and caches only what can never change once set, so a store process started
before a round opened serves it; a dev chain reverted to a snapshot needs a new process."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from crowdstake.chain.contracts import Contracts
from crowdstake.store.local import ZERO, LocalStore, RoundHash, RoundTimes


def chain_clock(contracts: Contracts) -> tuple[RoundTimes, Callable[[], int]]:
    """(round_times, now) read from the chain: `Tournament.roundTimes` (cached once known: a
    round's times never change) and the latest block's timestamp."""
    cache: dict[int, tuple[int, int]] = {}
    fn = contracts.tournament.functions.roundTimes
    w3 = contracts.w3

    def round_times(round_id: int) -> tuple[int, int]:
        if round_id in cache:
            return cache[round_id]
        if not 0 <= round_id < 2**256:
            return (0, 0)
        close, resolve, _ = fn(round_id).call()
        if close:
            cache[round_id] = (close, resolve)
        return close, resolve

    def now() -> int:
        return int(w3.eth.get_block("latest")["timestamp"])

    return round_times, now


def chain_commitments(contracts: Contracts) -> tuple[RoundHash, RoundHash]:
    """(round_dataset, round_targets) read from the chain: a round's `datasetHash` and
    `targetsHash` from `Tournament.round` (each cached once set: neither ever changes after, on
    a chain that is never rewound; a dev chain reverted to a snapshot, which then reuses round
    numbers, needs a new store process, as for `chain_clock`'s round times). An unknown round
    commits nothing (zeros)."""
    from web3.exceptions import ContractLogicError

    datasets: dict[int, bytes] = {}
    targets: dict[int, bytes] = {}
    fn = contracts.tournament.functions.round

    def read(round_id: int, cache: dict, field: str) -> bytes:
        if round_id in cache:
            return cache[round_id]
        if not 0 <= round_id < 2**256:
            return ZERO
        try:
            value = bytes(getattr(fn(round_id).call(), field))
        except ContractLogicError:  # TournamentRoundUnknown: no round, no commitment
            return ZERO
        if value != ZERO:
            cache[round_id] = value
        return value

    return (lambda round_id: read(round_id, datasets, "datasetHash"),
            lambda round_id: read(round_id, targets, "targetsHash"))


def chain_round_kinds(contracts: Contracts) -> Callable[[int], tuple[int, int]]:
    """A round's (kind, minTickers) from the parameters it copied when it opened (cached: they
    never change after); (0, 0), classic, for a round not open yet."""
    from web3.exceptions import ContractLogicError

    cache: dict[int, tuple[int, int]] = {}
    fn = contracts.tournament.functions.round

    def round_kind(round_id: int) -> tuple[int, int]:
        if round_id not in cache:
            if not 0 <= round_id < 2**256:
                return (0, 0)
            try:
                r = fn(round_id).call()
            except ContractLogicError:  # TournamentRoundUnknown
                return (0, 0)
            cache[round_id] = (int(r.params.kind), int(r.params.minTickers))
        return cache[round_id]

    return round_kind


def tournament_operators(contracts: Contracts) -> Callable[[str], bool]:
    """The dataset and targets publishers: the Tournament's OPERATOR_ROLE holders (asked on-chain)."""
    t = contracts.tournament.functions
    role = []

    def is_operator(address: str) -> bool:
        if not role:
            role.append(t.OPERATOR_ROLE().call())
        return bool(t.hasRole(role[0], address).call())

    return is_operator


def committee_members(contracts: Contracts) -> Callable[[str], bool]:
    """The score-table publishers: the oracle committee's current members (asked on-chain)."""
    is_member = contracts.committee.functions.isMember
    return lambda address: bool(is_member(address).call())


def local_store_for(directory, contracts: Contracts, identity: str | None = None) -> LocalStore:
    """A LocalStore over `directory` on `contracts`'s chain and clock: score tables from the
    committee, datasets and targets from the Tournament's operators, as `serve` runs it."""
    return LocalStore(directory, chain_id=contracts.w3.eth.chain_id,
                      identity=identity or f"local:{Path(directory).resolve()}", **chain_rules(contracts))


def chain_rules(contracts: Contracts) -> dict:
    """A LocalStore's chain-given keywords: round times, clock, publishers, operators, commitments,
    each round's kind."""
    round_times, now = chain_clock(contracts)
    round_dataset, round_targets = chain_commitments(contracts)
    return {"round_times": round_times, "now": now, "publishers": committee_members(contracts),
            "operators": tournament_operators(contracts), "round_dataset": round_dataset,
            "round_targets": round_targets, "round_kind": chain_round_kinds(contracts)}
