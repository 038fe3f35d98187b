"""Taking part in a tournament from Python or a notebook: download a round's dataset (checked
against the hash the round commits on-chain), submit predictions, stake with a permit or from
the internal balance, decrease, claim (or claim and restake), withdraw the internal balance,
take a refund from a round that got no results, and see rounds, positions (scored as soon as
the committee accepts a table, marked provisional until it is final) and a round's score
table. Models are shown by the names this machine's book knows (`crowdstake.models`), else by
id. The CLI is a thin shell over this module. Every check that can fail is made before
anything is sent, so a mistake changes nothing, on-chain or off. Results are small frozen
dataclasses (`crowdstake.receipts`), token amounts exact `Decimal`s; tables (rounds,
positions) are DataFrames."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
from eth_account.signers.local import LocalAccount

from crowdstake._human import when
from crowdstake._units import TOKEN, format_amount, parse_amount, to_tokens
from crowdstake.chain.contracts import Contracts
from crowdstake.chain.permit import sign_permit
from crowdstake.chain.tx import prepare, refused_as, send, tx_hash
from crowdstake.downloads import Download, download_dataset
from crowdstake.errors import InvalidInputError, MissingSetting, ParticipantError, StoreNotFound, TransactionFailed
from crowdstake.models import ModelBook
from crowdstake.receipts import Balance, Claim, Refund, Scores, StakeChange, Submission, Withdrawal
from crowdstake.results.merkle import Leaf, process_proof
from crowdstake.results.table import Row, read_table, table_hash
from crowdstake.store import Store, file_hash
from crowdstake.store.formats import predictions_csv, validate_predictions
from crowdstake.store.signals_formats import read_signals, signals_csv


# claimAndRestake's refusals of the payout itself: it is paid to the wallet instead
_UNRESTAKABLE = {"TournamentZeroAmount": "nothing is left to restake (the whole stake was burned)",
                 "TournamentStakeBelowMinimum": "it is below the minimum stake of round {into}"}


def _amount(text) -> int:
    try:
        return parse_amount(text)
    except InvalidInputError as e:
        raise ParticipantError(str(e)) from None


CLAIM_WINDOW = 180 * 86_400  # Tournament.CLAIM_WINDOW: a finalised round's unsettled positions refund after it
SCORE_COLUMNS = ["staker", "model", "stake", "corr", "mmc", "score", "payout", "reason", "mine"]


def round_phase(now: int, finalized: bool, close_time: int, resolve_time: int, results_window: int) -> str:
    """A round's phase at chain time `now`: open, closed, resolving, refundable or finalized."""
    if finalized:
        return "finalized"
    if now < close_time:
        return "open"
    if now < resolve_time:
        return "closed"
    if now > resolve_time + results_window:
        return "refundable"
    return "resolving"


def position_state(phase: str, claimed: bool, refunded: bool, provisional: bool) -> str:
    """What `status` calls a position: claimed, refunded, claimable, accepted (a table voted, in
    its dispute window) or its round's phase."""
    return ("claimed" if claimed else "refunded" if refunded else "claimable" if phase == "finalized"
            else "accepted" if provisional else phase)


STATUS_COLUMNS = ["round", "model", "stake", "state", "corr", "mmc", "score", "payout", "provisional"]
ROUND_COLUMNS = ["round", "tournament", "state", "close_time", "resolve_time", "total_stake", "positions", "total_reward"]


class Participant:
    """One wallet's view of the tournament, with the book of its model names (in memory when
    none is given)."""

    def __init__(self, contracts: Contracts, account: LocalAccount, store: Store | None = None,
                 models: ModelBook | None = None):
        self.contracts, self.account, self.store = contracts, account, store
        self.models = models if models is not None else ModelBook(None)
        self.w3, self.tournament, self.token = contracts.w3, contracts.tournament, contracts.token

    # ------------------------------------------------------------------ reading

    def now(self) -> int:
        return self.w3.eth.get_block("latest")["timestamp"]

    def round(self, round_id: int):
        """A round's on-chain state (`closeTime`, `params.minStake`, ...), or a ParticipantError."""
        count = self.contracts.round_count()
        if not 1 <= round_id <= count:
            raise ParticipantError(f"round {round_id} not found: rounds run from 1 to {count} (see `crowdstake rounds`)")
        return self.contracts.round(round_id)

    def state(self, r) -> str:
        """A round's phase by the chain's clock: open, closed, resolving, refundable or finalized."""
        return round_phase(self.now(), r.finalized, r.closeTime, r.resolveTime, r.params.resultsWindow)

    def rounds(self) -> pd.DataFrame:
        """Every round: times (unix seconds), state and totals (tokens, exact Decimals)."""
        rows = []
        for rid in range(1, self.contracts.round_count() + 1):
            r = self.round(rid)
            rows.append({
                "round": rid, "tournament": r.tournamentId, "state": self.state(r),
                "close_time": r.closeTime, "resolve_time": r.resolveTime,
                "total_stake": to_tokens(r.totalStake), "positions": r.stakedPositions,
                "total_reward": to_tokens(r.totalReward),
            })
        return pd.DataFrame(rows, columns=ROUND_COLUMNS)

    def _open_round(self, round_id: int):
        r = self.round(round_id)
        state = self.state(r)
        if state != "open":
            raise ParticipantError(f"round {round_id} is {state}: submissions and stakes closed "
                                   f"{when(r.closeTime, self.now())}")
        return r

    def status(self) -> pd.DataFrame:
        """The wallet's positions: round, model (its name when known), stake, state and, once the
        committee accepted a score table (and the store holds it), CORR, MMC, the score and the
        payout it implies, `provisional` until the round is finalised; a settled position's
        payout is the one realised on-chain. Stakes and payouts are tokens, exact Decimals."""
        me = self.account.address
        claims = {(e["args"]["roundId"], e["args"]["modelId"]): e["args"] for e in self.contracts.logs("Claimed", staker=me)}
        refunds = {(e["args"]["roundId"], e["args"]["modelId"]) for e in self.contracts.logs("Refunded", staker=me)}
        tables: dict[int, tuple[dict, bool] | None] = {}
        rows = []
        for (rid, _, mid), stake in sorted(self.contracts.stakes(staker=me).items()):
            if stake == 0:
                continue
            r = self.round(rid)
            if rid not in tables:
                tables[rid] = self._voted_rows(rid, r)
            scored, provisional = tables[rid] or ({}, False)
            row, claim = scored.get(mid), claims.get((rid, mid))
            state = position_state(self.state(r), bool(claim), (rid, mid) in refunds, provisional)
            payout = claim["delta"] if claim else (row.delta if row else None)
            rows.append({
                "round": rid, "model": self.models.label(mid), "stake": to_tokens(stake), "state": state,
                "corr": row.corr if row else None, "mmc": row.mmc if row else None,
                "score": row.score if row else (claim["score"] / 1e6 if claim else None),
                "payout": None if payout is None else to_tokens(payout), "provisional": bool(row) and provisional,
            })
        return pd.DataFrame(rows, columns=STATUS_COLUMNS)

    def scores(self, round_id: int) -> Scores:
        """Round `round_id`'s voted score table (the finalised one, or the one accepted and still
        in its dispute window, provisional), the wallet's models first, names where known."""
        r = self.round(round_id)
        voted = self._voted_hash(round_id, r)
        if voted is None:
            raise ParticipantError(f"round {round_id} is {self.state(r)} and has no accepted score table yet: the "
                                   "committee votes once the round resolves and its targets are published")
        digest, provisional = voted
        rows = self._table(round_id, digest)
        me = self.account.address.lower()
        table = pd.DataFrame([{
            "staker": row.staker, "model": self.models.label(row.model_id), "stake": to_tokens(row.stake),
            "corr": row.corr, "mmc": row.mmc, "score": row.score, "payout": to_tokens(row.delta), "reason": row.reason,
            "mine": row.staker.lower() == me,
        } for row in rows], columns=SCORE_COLUMNS)
        table = table.sort_values(["mine", "score"], ascending=[False, False], kind="stable").reset_index(drop=True)
        return Scores(round_id, provisional, "0x" + digest.hex(), table)

    def _voted_hash(self, round_id: int, r) -> tuple[bytes, bool] | None:
        """(the voted table's hash, provisional) or None: the finalised table, else the accepted one."""
        if r.finalized:
            return bytes(r.scoreTableHash), False
        state = self.contracts.round_state(round_id)  # acceptedHash: the hash of the accepted result, 0 when none
        return (bytes(state.accepted.scoreTableHash), True) if bytes(state.acceptedHash) != bytes(32) else None

    def _table(self, round_id: int, digest: bytes) -> list[Row]:
        data = self._need_store("reading the score table").get_score_table(round_id, digest)
        if table_hash(data) != digest:
            raise ParticipantError(f"the store's score table for round {round_id} does not match the hash voted "
                                   "on-chain: use another store")
        return read_table(data)

    def _voted_rows(self, round_id: int, r) -> tuple[dict, bool] | None:
        """The wallet's rows of the voted table by model id, and whether it is provisional; None
        when no table is voted, no store is given, or the store does not hold it."""
        voted = self._voted_hash(round_id, r)
        if voted is None or self.store is None:
            return None
        try:
            rows = self._table(round_id, voted[0])
        except StoreNotFound:
            return None
        me = self.account.address.lower()
        return {row.model_id: row for row in rows if row.staker.lower() == me}, voted[1]

    def balance(self) -> Balance:
        me = self.account.address
        return Balance(me, to_tokens(self.contracts.call(self.token.functions.balanceOf(me))),
                       to_tokens(self.w3.eth.get_balance(me)),
                       to_tokens(self.contracts.call(self.tournament.functions.internalBalance(me))))

    def download(self, round_id: int, out) -> Download:
        """Fetch round `round_id`'s dataset into the directory `out`, every file checked against
        the hash the round commits on-chain (`crowdstake.downloads`); nothing is written on a
        mismatch, and files already there with the right bytes are kept."""
        committed = bytes(self.round(round_id).datasetHash)
        return download_dataset(self._need_store("downloading a round's dataset"), round_id, committed, out)

    def diagnostics(self, dataset, predictions, example=None, *, round_id: int | None = None,
                    corr_weight=None, mmc_weight=None, cap=None):
        """Validation predictions scored per era before staking (`crowdstake.diagnostics`): a
        `Diagnostics` (per-era DataFrame and summary). With `round_id`, the weights and cap not
        given come from that round's on-chain parameters; else the tournament defaults (0.5, 2, 5%)."""
        from crowdstake.diagnostics import diagnostics
        from crowdstake.results.payout import WAD

        if round_id is not None:
            params = self.round(round_id).params
            corr_weight = params.corrWeightBps / 10_000 if corr_weight is None else corr_weight
            mmc_weight = params.mmcWeightBps / 10_000 if mmc_weight is None else mmc_weight
            cap = f"{Decimal(params.cap) / WAD}" if cap is None else cap  # exact: the cap is a WAD fraction
        defaults = {"corr_weight": 0.5, "mmc_weight": 2.0, "cap": 0.05}
        given = {"corr_weight": corr_weight, "mmc_weight": mmc_weight, "cap": cap}
        return diagnostics(dataset, predictions, example,
                           **{k: defaults[k] if v is None else v for k, v in given.items()})

    # ------------------------------------------------------------------ acting

    def submit(self, round_id: int, model: str, predictions) -> Submission:
        """Validate, upload to the store, and commit the file's hash on-chain."""
        store = self._need_store("uploading predictions")
        params = self.round(round_id).params
        dropped: tuple[str, ...] = ()
        if params.kind:  # a Signals round: a value per ticker of its universe
            data = signals_csv(predictions)
            dropped = tuple(read_signals(data, store.live_ids(round_id), params.minTickers).dropped)  # the store's verdict
        else:
            data = predictions_csv(predictions)
            validate_predictions(data, store.live_ids(round_id))  # the store's own verdict, before anything is sent
        self._open_round(round_id)
        mid = self.models.resolve(model)
        commit = self.tournament.functions.submit(round_id, mid, file_hash(data))
        self._checked(lambda: prepare(self.w3, self.account, commit))  # it would land, and the gas is paid for
        digest = store.upload_predictions(self.account, round_id, mid, data)
        receipt = self._send(commit)
        self.models.remember(model)
        return Submission(round_id, model, "0x" + digest.hex(), tx_hash(receipt), dropped)

    def stake(self, round_id: int, model: str, amount, from_balance: bool = False) -> StakeChange:
        """Add `amount` tokens to the position: from the wallet with a permit (one transaction,
        no approve), or (`from_balance`) from the wallet's internal balance in the Tournament."""
        wei = _amount(amount)
        r = self._open_round(round_id)
        mid = self.models.resolve(model)
        position = self.contracts.position(round_id, self.account.address, mid)
        if position.predictionsHash == bytes(32):
            raise ParticipantError(f"model {model} has no submission in round {round_id}: `crowdstake submit` first")
        if position.stake + wei < r.params.minStake:
            raise ParticipantError(f"stake {to_tokens(position.stake + wei)} is below the tournament minimum "
                                   f"{to_tokens(r.params.minStake)}")
        if from_balance:
            held = self.contracts.call(self.tournament.functions.internalBalance(self.account.address))
            if held < wei:
                raise ParticipantError(f"insufficient internal balance: the wallet has {to_tokens(held)} tokens in the "
                                       f"Tournament, the stake needs {to_tokens(wei)} (stake from the wallet instead)")
            receipt = self._send(self.tournament.functions.stakeFromBalance(round_id, mid, wei))
            return StakeChange(round_id, model, to_tokens(position.stake + wei), tx_hash(receipt))
        held = self.contracts.call(self.token.functions.balanceOf(self.account.address))
        if held < wei:
            raise ParticipantError(f"insufficient balance: the wallet holds {to_tokens(held)} tokens, "
                                   f"the stake needs {to_tokens(wei)}")
        deadline = self.now() + 3600
        v, rr, s = sign_permit(
            self.account.key, token_name=self.contracts.call(self.token.functions.name()),
            token_address=self.token.address, chain_id=self.w3.eth.chain_id, owner=self.account.address,
            spender=self.tournament.address, value=wei,
            nonce=self.contracts.call(self.token.functions.nonces(self.account.address)), deadline=deadline,
        )
        receipt = self._send(self.tournament.functions.stakeWithPermit(round_id, mid, wei, deadline, v, rr, s))
        return StakeChange(round_id, model, to_tokens(position.stake + wei), tx_hash(receipt))

    def decrease(self, round_id: int, model: str, amount) -> StakeChange:
        """Withdraw `amount` tokens of the position before the round closes."""
        wei = _amount(amount)
        r = self._open_round(round_id)
        mid = self.models.resolve(model)
        stake = self.contracts.position(round_id, self.account.address, mid).stake
        if wei > stake:
            raise ParticipantError(f"cannot withdraw {to_tokens(wei)}: the position holds {to_tokens(stake)}")
        if 0 < stake - wei < r.params.minStake:
            raise ParticipantError(f"the {to_tokens(stake - wei)} left would be below the minimum "
                                   f"{to_tokens(r.params.minStake)}: withdraw all or less")
        receipt = self._send(self.tournament.functions.decreaseStake(round_id, mid, wei))
        return StakeChange(round_id, model, to_tokens(stake - wei), tx_hash(receipt))

    def claim(self, round_id: int, model: str | None = None, restake_into: int | None = None) -> list[Claim]:
        """Claim the wallet's positions in a finalised round (one model, or all of them), paying
        to the wallet or restaking the whole payout into an open round."""
        r = self.round(round_id)
        if not r.finalized:
            raise ParticipantError(f"round {round_id} is {self.state(r)}, not finalized: nothing can be claimed yet")
        rows = self._my_rows(round_id, r)
        if model is not None:
            mid = self.models.resolve(model)
            rows = [row for row in rows if row.model_id == mid]
        rows = [row for row in rows if self.contracts.position(round_id, self.account.address, row.model_id).stake]  # unsettled
        if not rows:
            raise ParticipantError(f"nothing to claim in round {round_id} for {self.account.address}" + (f" model {model}" if model else ""))
        if restake_into is not None:
            self._open_round(restake_into)
            for row in rows:  # a payout is restaked into the same model's position, which needs a submission
                if self.contracts.position(restake_into, self.account.address, row.model_id).predictionsHash == bytes(32):
                    name = self.models.label(row.model_id)
                    raise ParticipantError(f"model {name} has no submission in round {restake_into}, so its payout cannot "
                                           f"be restaked there: submit its predictions to round {restake_into} first, "
                                           "or claim without restaking; nothing was sent") \
                        .with_setting("restake_into", round=restake_into, model=name)
        done = []
        for row in rows:
            proof = list(row.proof)
            into, note = restake_into, ""
            call = self.tournament.functions.claim(round_id, self.account.address, row.model_id, row.quantized, proof)
            if into is not None:
                restake = self.tournament.functions.claimAndRestake(round_id, row.model_id, row.quantized, proof, into)
                try:
                    prepare(self.w3, self.account, restake)
                    call = restake
                except TransactionFailed as e:
                    if e.error not in _UNRESTAKABLE:
                        raise ParticipantError(f"the contract refused: {e}", e.error, e.error_args) from None
                    payout = format_amount(to_tokens(row.stake + row.delta))  # as the claim's line shows amounts
                    into, note = None, (f"the payout {payout} was not restaked: {_UNRESTAKABLE[e.error]}"
                                        .format(into=restake_into))
            receipt = self._send(call)
            done.append(Claim(round_id, self.models.label(row.model_id), to_tokens(row.delta), into,
                              tx_hash(receipt), note, to_tokens(row.stake + row.delta)))
        return done

    def withdraw(self, amount=None) -> Withdrawal:
        """Send `amount` tokens (None: all) of the wallet's internal balance to the wallet."""
        me = self.account.address
        held = self.contracts.call(self.tournament.functions.internalBalance(me))
        if held == 0:
            raise ParticipantError(f"nothing to withdraw: {me} has no internal balance in the Tournament (payouts go "
                                   "there only when the keeper pays to the internal balance)") \
                .with_setting("to_balance")
        wei = held if amount is None else _amount(amount)
        if wei > held:
            raise ParticipantError(f"cannot withdraw {to_tokens(wei)}: the internal balance is {to_tokens(held)}")
        receipt = self._send(self.tournament.functions.withdraw(wei))
        return Withdrawal(to_tokens(wei), to_tokens(held - wei), tx_hash(receipt))

    def refund(self, round_id: int, model: str | None = None) -> list[Refund]:
        """Take back the whole stake of the wallet's positions (one model, or all) in a round that
        got no results by its deadline, or that left them unsettled CLAIM_WINDOW after it."""
        r = self.round(round_id)
        deadline = self.contracts.round_times(round_id)[2]
        opens = deadline + 1 + (CLAIM_WINDOW if r.finalized else 0)
        now = self.now()
        if now < opens:
            why = (f"round {round_id} is finalized: claim its positions instead; only "
                   "those still unsettled 180 days after its results deadline are refunded" if r.finalized else
                   f"round {round_id} may still get its results until {when(deadline, now)}; if none is finalised by "
                   "then every stake is refunded")
            refused = ParticipantError(f"refunds of round {round_id} open {when(opens, now)}: {why}; nothing was sent")
            raise refused.with_setting("claim", round=round_id) if r.finalized else refused
        me = self.account.address
        mids = [mid for (rid, _, mid), stake in sorted(self.contracts.stakes(staker=me, roundId=round_id).items())
                if rid == round_id and stake and self.contracts.position(round_id, me, mid).stake]
        if model is not None:
            wanted = self.models.resolve(model)
            mids = [mid for mid in mids if mid == wanted]
        if not mids:
            raise ParticipantError(f"nothing to refund in round {round_id} for {me}" + (f" model {model}" if model else "")
                                   + ": no unsettled stake")
        done = []
        for mid in mids:
            amount = self.contracts.position(round_id, me, mid).stake
            receipt = self._send(self.tournament.functions.refund(round_id, me, mid))
            done.append(Refund(round_id, self.models.label(mid), to_tokens(amount), tx_hash(receipt)))
        return done

    def _need_store(self, what: str) -> Store:
        if self.store is None:
            raise MissingSetting(f"no submission store given: {what} needs one (a URL or a directory)", "store")
        return self.store

    def _my_rows(self, round_id: int, r):
        me = self.account.address.lower()
        rows = [row for row in self._table(round_id, bytes(r.scoreTableHash)) if row.staker.lower() == me]
        for row in rows:  # a table that does not prove its leaves is useless: say so before sending
            leaf = Leaf(round_id, self.account.address, row.model_id, row.quantized).hash()
            if process_proof(leaf, row.proof) != r.root:
                raise ParticipantError(f"the score table's proof for model {self.models.label(row.model_id)} does not "
                                       "match the on-chain root")
        return rows

    def _send(self, call):
        return self._checked(lambda: send(self.w3, self.account, call))

    @staticmethod
    def _checked(step):
        return refused_as(ParticipantError, step)
