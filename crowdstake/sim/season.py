"""A whole tournament season on a local chain, with every real part: the fund builds an
obfuscated dataset per round, publishes it through the submission store and commits its hash,
data scientists train models and stake on them from their own wallets (permits), predictions go
through the store, the fund publishes each round's targets there and commits their hash once the
round resolves, a 3-member committee (k = 2) runs the oracle on those committed targets, results
pass the dispute window, and payouts are claimed and restaked into the next round while losses
burn. `crowdstake demo` runs it and writes a report.

A Signals tournament runs beside the classic one in the same season, through the same
contracts, store, committee and keeper: each day the fund also opens a Signals round on a
synthetic ticker universe (its neutralisers and sample weights published and committed as a
dataset), its participants (``crowdstake.sim.signals_cast``) submit a value per ticker, and the
round's forward returns are its targets.

Rounds overlap as Numerai's do: one opens every (chain) day, closes 12 hours later and resolves
a day after that, so while one round takes stakes the two before it are resolving and settling,
and payouts are restaked straight into the open round.

A seed replays a season, leaderboard and all: the dataset's salt, every wallet (`demo_account`),
the stakes and the models come from it; only the chain's clock (the dates) is the day's. The
season's checks (`crowdstake.sim.demo.outcomes`) are facts the smallest season
(`MIN_PARTICIPANTS`, `MIN_ROUNDS`) can show; `crowdstake demo` (`crowdstake.sim.demo.run_demo`)
exits 1 when one fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from eth_account import Account
from web3 import Web3

from crowdstake import oracle
from crowdstake.chain.deploy import deploy
from crowdstake.chain.tx import send
from crowdstake.config import OracleSettings
from crowdstake.fund.dataset import build_dataset, targets_csv
from crowdstake.fund.market import synth_market
from crowdstake.fund.signals_dataset import round_files
from crowdstake.fund.signals_market import synth_signals_market
from crowdstake.fund.operations import Fund
from crowdstake.participant import Participant
from crowdstake.results.merkle import model_id
from crowdstake.results.payout import payout_factor
from crowdstake.results.table import read_table
from crowdstake.scoring import numerai_corr, stake_weighted_meta_model
from crowdstake.sim.models import train_model
from crowdstake.sim.signals_cast import SIGNALS_CAST, signal_for
from crowdstake.store import local_store_for, predictions_csv, read_predictions
from crowdstake.store.signals_formats import signals_csv, signals_targets_csv

E18 = 10**18
DAY = 86_400
PARAMS = (2_000 * E18, E18, 5 * 10**16, 7 * DAY, 5000, 20000, 0, 0)  # threshold, min stake, cap 5%, window, weights
# Signals: Numerai's weights (0.3 alpha + 0.8 MPC), kind 1 (alpha), at least 100 tickers a file
SIGNALS_PARAMS = (2_000 * E18, E18, 5 * 10**16, 7 * DAY, 3000, 8000, 1, 100)
SIGNALS_TICKERS = 400
DISPUTE_WINDOW = 3_600


@dataclass
class Scientist:
    name: str
    kind: str  # good, mediocre, random, copycat, withholder
    account: object
    models: list[str]
    stake: int  # tokens per model per round
    copies: str | None = None
    fitted: dict = field(default_factory=dict)
    tournament: str = "classic"  # or "signals"
    noise: float = 0.0  # a Signals participant's own noise on the sentiment feed


FIXED_CAST = [("withholder", "withholder", 1), ("copycat", "copycat", 1), ("multi", "good", 3)]
KINDS = ["good", "good", "mediocre", "random"]
MIN_PARTICIPANTS = len(FIXED_CAST) + len(KINDS)  # fewer leaves a promised outcome with no one to check
# Round d-2 resolves on day d, just after round d opens (round d-1 closes as it resolves): a payout
# can only be restaked from round 3 on, so 2 rounds would fail "payouts were restaked".
MIN_ROUNDS = 3


def _cast(participants: int) -> list[tuple[str, str, int]]:
    """(name, kind, models) of the season's data scientists: at least one of every kind."""
    rest = [(f"{KINDS[i % len(KINDS)]}-{i:02d}", KINDS[i % len(KINDS)], 1) for i in range(participants - len(FIXED_CAST))]
    return rest + FIXED_CAST


def demo_account(seed: int, role: str, index: int = 0):
    """The demo's wallet for a role ("bank", "operator", "member", "scientist") and index: its key
    is keccak of the seed, role and index, so a seed replays a season to the address. Demo only:
    anyone can recompute these keys; a real wallet's key is random (`crowdstake wallet new`)."""
    key = Web3.keccak(text=f"crowdstake demo/{seed}/{role}/{index}")
    return Account.from_key(key)


def recruit(participants: int, seed: int, rng: np.random.Generator, train: pd.DataFrame) -> list[Scientist]:
    """The season's data scientists, decided by the seed alone (wallets) and `rng` (stakes, model
    seeds and noise, drawn in cast order), with their models trained on `train`. No chain."""
    cast = []
    for i, (name, kind, n_models) in enumerate(_cast(participants)):
        s = Scientist(name, kind, demo_account(seed, "scientist", i), [f"{name}-m{j}" for j in range(n_models)],
                      stake=int(rng.integers(50, 300)))
        for j, m in enumerate(s.models):
            if kind != "copycat":  # each model its own noise: an ensemble of them beats the typical one
                s.fitted[m] = train_model("good" if kind == "withholder" else kind, train,
                                          seed=int(rng.integers(1 << 30)) + j, noise=float(rng.uniform(0.5, 1.5)))
        cast.append(s)
    leader = next(s for s in cast if s.kind == "good")
    for s in cast:
        if s.kind == "copycat":  # copies the first good model's predictions
            s.copies = leader.models[0]
            s.fitted[s.models[0]] = train_model("copycat", train, seed=1, source=leader.fitted[s.copies])
    return cast


def recruit_signals(seed: int, rng: np.random.Generator) -> list[Scientist]:
    """The season's Signals participants (`SIGNALS_CAST`): wallets from the seed, stakes and
    each sentiment participant's noise from `rng`, drawn in cast order. No chain."""
    cast = []
    for i, (name, kind) in enumerate(SIGNALS_CAST):
        cast.append(Scientist(name, kind, demo_account(seed, "signals", i), [f"{name}-s0"],
                              stake=int(rng.integers(50, 300)), tournament="signals",
                              noise=float(rng.uniform(0.3, 1.0))))
    leader = next(s for s in cast if s.kind == "sentiment")
    for s in cast:
        if s.kind == "copycat":
            s.copies = leader.models[0]
    return cast


class Season:
    """One season's state: the chain, the fund's data, the store and everyone's wallets."""

    def __init__(self, w3: Web3, workdir: Path, participants: int, rounds: int, seed: int, log: Callable):
        self.w3, self.workdir, self.rounds, self.log = w3, Path(workdir), rounds, log
        self.seed, self.rng = seed, np.random.default_rng(seed)
        self.bank = self._funded_account(500 * E18, "bank")  # ganache gives its accounts 1,000 ether
        self.operator = self._funded_account(10 * E18, "operator")
        self.members = [self._funded_account(10 * E18, "member", i) for i in range(3)]
        self.contracts = deploy(w3, self.bank, operator=self.operator.address, guardian=self.bank.address,
                               members=[m.address for m in self.members], threshold=2,
                               dispute_window=DISPUTE_WINDOW, treasury=self.bank.address,
                               directory=self.workdir / "deployments")
        self.store = local_store_for(self.workdir / "store", self.contracts)
        self.targets_dir = self.workdir / "targets"
        self.targets_dir.mkdir(parents=True, exist_ok=True)
        t = self.contracts.tournament
        send(w3, self.bank, self.contracts.token.functions.approve(t.address, 200_000 * E18))
        send(w3, self.bank, t.functions.fundRewards(200_000 * E18))
        send(w3, self.operator, t.functions.createTournament(PARAMS))
        self.tournament_id = t.functions.tournamentCount().call()
        send(w3, self.operator, t.functions.createTournament(SIGNALS_PARAMS))
        self.signals_tournament_id = t.functions.tournamentCount().call()
        # Signals draws come from a generator of their own, so the classic half of a seed's season
        # is the same with or without them.
        self.signals_rng = np.random.default_rng([seed, 1])
        self.market = synth_signals_market(tickers=SIGNALS_TICKERS, rounds=rounds, seed=seed)
        raw = synth_market(eras=rounds + 40, stocks=400, seed=seed)
        # The demo's salt comes from its seed, so a seed replays a season (a real salt is random).
        self.dataset = build_dataset(raw, self.rng.bytes(16), live_eras=rounds)
        self.pending_targets: dict[int, tuple[bytes, pd.Series]] = {}  # round -> its targets' file, values
        self.tournament_of: dict[int, str] = {}  # round id -> "classic" or "signals"
        self.scientists = self._recruit(participants)
        self.records: list[dict] = []
        self.burned_wei = 0  # every loss the contract burned, to the wei
        self.round_rows: list[dict] = []
        self.supply: list[dict] = []
        self.open_rounds: dict[str, int] = {}  # tournament -> its round taking stakes, if any

    # ------------------------------------------------------------------ set-up

    def _funded_account(self, wei: int, role: str, index: int = 0):
        account = demo_account(self.seed, role, index)
        self.w3.eth.send_transaction({"from": self.w3.eth.accounts[0], "to": account.address, "value": wei})
        return account

    def _recruit(self, participants: int) -> list[Scientist]:
        cast = recruit(participants, self.seed, self.rng, self.dataset.public["train"])
        cast += recruit_signals(self.seed, self.signals_rng)
        for s in cast:
            self.w3.eth.send_transaction({"from": self.w3.eth.accounts[0], "to": s.account.address, "value": E18})
            # every round's stake comes from the wallet (payouts are restaked, never back in it): a
            # three-model scientist staking 257 a round needs 6,168 for 8 rounds, more than 5,000
            tokens = max(5_000, s.stake * len(s.models) * self.rounds)
            send(self.w3, self.bank, self.contracts.token.functions.transfer(s.account.address, tokens * E18))
        signals = sum(s.tournament == "signals" for s in cast)
        self.log(f"{len(cast) - signals} data scientists, {sum(len(s.models) for s in cast) - signals} models; "
                 f"{signals} Signals participants")
        return cast

    # ------------------------------------------------------------------ a day of the season

    def now(self) -> int:
        return self.w3.eth.get_block("latest")["timestamp"]

    def advance(self, seconds: int) -> None:
        self.w3.provider.make_request("evm_increaseTime", [seconds])
        self.w3.provider.make_request("evm_mine", [])

    def open_round(self, index: int) -> list[int]:
        """Open the day's classic round and Signals round (the same times); each participant
        submits and stakes. @return their round ids."""
        dataset = self.dataset.for_era(self.dataset.live_eras[index])
        rid = self._open(self.tournament_id, dataset.public_files(), "classic")
        # the fund keeps the live targets; they are "realised" and published at resolve time
        self.pending_targets[rid] = (targets_csv(dataset.live_targets), dataset.live_targets)
        live = dataset.public["live"]
        for s in self._cast("classic"):
            p = Participant(self.contracts, s.account, self.store)
            for m in s.models:
                self._enter(p, s, rid, m, s.fitted[m].predict(live), predictions_csv)
        k = index + 1  # the market's rounds are 1..R
        sid = self._open(self.signals_tournament_id, round_files(self.market, k), "signals")
        returns = self.market.round(k).returns
        self.pending_targets[sid] = (signals_targets_csv(returns), returns)
        signals = {}
        for s in self._cast("signals"):  # the copycat after its leader: SIGNALS_CAST's order
            m = s.models[0]
            signals[m] = signals[s.copies] if s.copies else signal_for(s.kind, self.market, k, s.noise,
                                                                        self.signals_rng)
            self._enter(Participant(self.contracts, s.account, self.store), s, sid, m, signals[m], signals_csv)
        self.log(f"rounds {rid} and {sid} (Signals) open: {self._positions('classic')} and "
                 f"{self._positions('signals')} positions staked")
        return [rid, sid]

    def _open(self, tournament_id: int, files: dict, tournament: str) -> int:
        digest = self.store.publish_dataset(self.operator, files)  # the round's live ids come with it
        now = self.now()
        send(self.w3, self.operator, self.contracts.tournament.functions.openRound(
            tournament_id, digest, now + DAY // 2, now + DAY // 2 + DAY))
        rid = self.contracts.round_count()
        self.tournament_of[rid] = tournament
        self.open_rounds[tournament] = rid
        return rid

    def _enter(self, p: Participant, s: Scientist, rid: int, model: str, values, to_csv: Callable) -> None:
        if s.kind == "withholder":  # commits a hash, never uploads the file
            digest = Web3.keccak(to_csv(values))
            send(self.w3, s.account, self.contracts.tournament.functions.submit(rid, model_id(model), digest))
        else:
            p.submit(rid, model, values)
        p.stake(rid, model, s.stake)

    def _cast(self, tournament: str) -> list[Scientist]:
        return [s for s in self.scientists if s.tournament == tournament]

    def _positions(self, tournament: str) -> int:
        return sum(len(s.models) for s in self._cast(tournament))

    def resolve(self, rid: int) -> None:
        """Publish the targets (the store, then their hash on-chain), let the committee score and
        vote, wait out the dispute window, finalise, then everyone claims, restaking into the open
        round of its tournament when there is one."""
        data, targets = self.pending_targets.pop(rid)
        path = self.targets_dir / f"round-{rid}.csv"
        path.write_bytes(data)
        Fund(self.contracts, self.operator, self.store).publish_targets(rid, path)
        for i, member in enumerate(self.members):
            oracle.run_round(self.contracts, member, self.store, rid, self._operator(i, finalize=False))
        ends = self.contracts.round_state(rid).disputeEndsAt
        self.advance(max(ends - self.now(), 0) + 1)
        summary = oracle.run_round(self.contracts, self.members[0], self.store, rid, self._operator(0))
        table = read_table((self.workdir / "operator0" / f"round-{rid}-scores.csv").read_bytes())
        self._record(rid, table, targets, summary)
        tournament = self.tournament_of[rid]
        into = self.open_rounds.get(tournament)
        into = into if into and self._is_open(into) else None
        for s in self._cast(tournament):
            Participant(self.contracts, s.account, self.store).claim(rid, restake_into=into)
        self.log(f"{'Signals ' if tournament == 'signals' else ''}round {rid} finalised and claimed: "
                 f"reward {summary.total_reward:,.2f}, burn {summary.total_burn:,.2f}"
                 + (f", payouts restaked into round {into}" if into else ""))

    def _operator(self, member: int, finalize: bool = True) -> OracleSettings:
        return OracleSettings(workdir=self.workdir / f"operator{member}", finalize=finalize)  # the committed targets

    def _is_open(self, rid: int) -> bool:
        return self.now() < self.contracts.round_times(rid).closeTime

    def _record(self, rid: int, table, targets: pd.Series, summary: oracle.RoundSummary) -> None:
        """The round's positions and totals for the report. A Signals round's corr and mmc are its
        alpha and MPC; the meta model's CORR is a classic round's only (NaN for Signals)."""
        tournament = self.tournament_of[rid]
        owner = {model_id(m).hex(): (s, m) for s in self.scientists for m in s.models}
        files, stakes = {}, {}
        for row in table:
            self.burned_wei += max(-row.delta, 0)
            s, m = owner[row.model_id.hex()]
            self.records.append({"round": rid, "participant": s.name, "kind": s.kind, "model": m,
                                 "stake": row.stake / E18, "corr": row.corr, "mmc": row.mmc,
                                 "score": row.quantized / 1e6, "payout": row.delta / E18,
                                 "burn": max(-row.delta, 0) / E18, "reason": row.reason, "tournament": tournament})
            if not row.reason and tournament == "classic":
                digest = self.contracts.position(rid, row.staker, row.model_id).predictionsHash
                files[m] = read_predictions(self.store.get_file(rid, digest))
                stakes[m] = row.stake / E18
        meta_corr = median_corr = float("nan")
        if tournament == "classic":
            meta_corr = float(numerai_corr(stake_weighted_meta_model(pd.DataFrame(files), stakes), targets))
            median_corr = float(np.median([r["corr"] for r in self.records if r["round"] == rid and not r["reason"]]))
        total = self.contracts.round(rid).totalStake
        self.round_rows.append({"round": rid, "reward": float(summary.total_reward), "burn": float(summary.total_burn),
                                "meta_corr": meta_corr, "median_corr": median_corr, "total_stake": total / E18,
                                "payout_factor": payout_factor(self.params(tournament)[0], total) / E18, "tournament": tournament})

    @staticmethod
    def params(tournament: str) -> tuple:
        return SIGNALS_PARAMS if tournament == "signals" else PARAMS

    def snapshot_supply(self) -> None:
        self.supply.append({"time": self.now(), "supply": self.contracts.token.functions.totalSupply().call() / E18})

    def run(self) -> None:
        """Open a round a day; resolve each round two and a half days after it opened."""
        opened: list[int] = []
        self.snapshot_supply()
        for day in range(self.rounds + 3):
            if day < self.rounds:
                opened.extend(self.open_round(day))
            for rid in [r for r in opened if self.contracts.round_times(r).resolveTime <= self.now()]:
                self.resolve(rid)
                opened.remove(rid)
            self.snapshot_supply()
            self.advance(DAY)
            self.open_rounds = {t: r for t, r in self.open_rounds.items() if self._is_open(r)}
        for rid in opened:  # whatever is still in flight resolves at the end
            self.advance(max(self.contracts.round_times(rid).resolveTime - self.now(), 0) + 1)
            self.resolve(rid)
        self.snapshot_supply()
