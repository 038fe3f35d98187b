"""Scoring a round: every model's CORR, MMC and quantised score (a Signals round's alpha or
FNC and MPC, in the same columns), the results tree over
(round, staker, modelId, score) leaves, the score table with each leaf's proof, and the
declared totals, computed exactly as the contract will compute the money."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd

from crowdstake._human import count
from crowdstake.chain.contracts import Contracts
from crowdstake.errors import OracleError
from crowdstake.oracle.inputs import (Position, classic_reader, fetch_predictions, read_positions, signals_reader,
                                     signals_round)
from crowdstake.progress import Steps
from crowdstake.results.merkle import Leaf, ResultsTree
from crowdstake.results.payout import payout_delta, payout_factor
from crowdstake.results.table import Row, table_hash, write_table
from crowdstake.scoring import round_scores
from crowdstake.scoring.signals_round import SIGNALS_SCORES, signals_round_scores
from crowdstake.store import Store
from crowdstake.store.signals_formats import SignalsRoundData


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
        """The committee's Result tuple: (root, table hash, totalReward, leafCount). The burns are
        not voted: each leaf's own, committed by the root and listed in the table."""
        return (self.root, table_hash(self.table), self.total_reward, len(self.rows))


def compute_result(contracts: Contracts, store: Store, round_id: int, targets: pd.Series, timings: dict | None = None,
                   steps: Steps = Steps()) -> RoundResult:
    """Score the round and build its tree, table and declared totals, exactly as the contract
    will compute the money. `timings`, if given, receives each phase's wall time in seconds;
    `steps` shows the long ones."""
    clock = _Clock(timings)
    fields = contracts.round(round_id)
    with steps.step(f"reading the {fields.stakedPositions} staked positions of round {round_id}"):
        positions = read_positions(contracts, round_id)
    clock.lap("read_positions")
    if len(positions) != fields.stakedPositions:
        raise OracleError(f"read {len(positions)} staked positions from events but the contract counts "
                          f"{fields.stakedPositions}: the node's logs are incomplete, try another node")
    if not positions:
        return RoundResult(round_id, write_table([]), [], b"\x00" * 32, 0, 0)
    signals = signals_round(store, round_id, fields.datasetHash) if fields.params.kind else None
    return score_positions(store, round_id, positions, targets, fields.params, fields.totalStake, signals, clock, steps)


def score_positions(store: Store, round_id: int, positions: list[Position], targets: pd.Series, params,
                    total_stake: int, signals: SignalsRoundData | None = None, clock: _Clock | None = None,
                    steps: Steps = Steps()) -> RoundResult:
    """The off-chain part of `compute_result`, from the round's positions (at least one), its
    params (the Tournament's tuple) and total stake: fetch and check the files, score, build the
    tree, table and totals. `clock` records the phases (benchmarks call this without a chain)."""
    clock = clock or _Clock(None)
    threshold, cap = params.threshold, params.cap
    w_corr, w_mmc = params.corrWeightBps, params.mmcWeightBps
    files = count(len(positions), "predictions file")
    with steps.step(f"fetching and checking {files}", total=len(positions)) as advance:
        read = signals_reader(signals, params.minTickers) if signals else classic_reader(targets)
        predictions, reasons = fetch_predictions(store, round_id, positions, advance, read=read)
    clock.lap("fetch_files")
    stakes = {p.key: p.stake / 10**18 for p in positions}
    weights = (w_corr / 10_000, w_mmc / 10_000)
    if signals:
        first = SIGNALS_SCORES[params.kind]
        with steps.step(f"scoring {count(len(predictions), 'Signals model')} ({first}, MPC, neutralised against "
                        f"{count(signals.neutralizers.shape[1], 'factor')})"):
            scores = signals_round_scores(predictions, signals.neutralizers, signals.sample_weights, targets, stakes,
                                          weights, score=first, min_tickers=params.minTickers)
    else:
        with steps.step(f"scoring {count(len(predictions), 'model')} (CORR, MMC against the meta model)"):
            scores = round_scores(predictions, targets, stakes, weights)
    clock.lap("scoring")
    factor = payout_factor(threshold, total_stake)
    with steps.step(f"building the results tree and score table of {count(len(positions), 'leaf', 'leaves')}"):
        at = scores.index.get_indexer([p.key for p in positions])  # one lookup, not a .loc per position
        corr, mmc, score = (scores[c].to_numpy(dtype=float) for c in ("corr", "mmc", "score"))
        quantized, why = scores["quantized"].to_numpy(), scores["reason"].to_numpy()
        leaves = [Leaf(round_id, p.staker, p.model_id, int(quantized[i])) for p, i in zip(positions, at)]
        tree = ResultsTree(leaves)
        rows = [
            Row(p.staker, p.model_id, p.stake, float(corr[i]), float(mmc[i]), float(score[i]), leaf.score,
                payout_delta(p.stake, leaf.score, factor, cap), reasons.get(p.key) or why[i], tuple(tree.proof(k)))
            for k, (p, i, leaf) in enumerate(zip(positions, at, leaves))
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
