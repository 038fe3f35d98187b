"""Taking part in a tournament from Python or a notebook: submit predictions, stake with a
permit, decrease, claim (or claim and restake), and see rounds and positions. The CLI is a thin
shell over this module. Every check that can fail is made before anything is sent, so a mistake
changes nothing, on-chain or off."""

from __future__ import annotations

import io
from decimal import Decimal, InvalidOperation
from typing import Protocol as Interface

import pandas as pd
from eth_account.signers.local import LocalAccount

from crowdstake.chain import Protocol, TransactionFailed, send
from crowdstake.errors import CrowdstakeError, InvalidInputError
from crowdstake.merkle import Leaf, model_id, process_proof
from crowdstake.permit import sign_permit
from crowdstake.scoretable import read_table, table_hash

TOKEN = 10**18


class ParticipantError(CrowdstakeError, ValueError):
    """A participant's request cannot be done as asked; the message says why and what to do."""


class Store(Interface):
    def upload_predictions(self, account: LocalAccount, round_id: int, model_id: bytes, data: bytes) -> bytes: ...
    def get_score_table(self, round_id: int, table_hash: bytes | None = None) -> bytes: ...


def parse_amount(text: str | int | Decimal) -> int:
    """Token units ('12.5') to the token's smallest unit (18 decimals)."""
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        raise ParticipantError(f"amount {text!r} is not a number of tokens, e.g. 12.5") from None
    if value <= 0 or value != value.quantize(Decimal(1) / TOKEN):
        raise ParticipantError(f"amount {text!r} must be positive with at most 18 decimals")
    return int(value * TOKEN)


def predictions_csv(predictions: pd.DataFrame | pd.Series | bytes | str) -> bytes:
    """Predictions as the store's CSV (`id,prediction`): from a DataFrame/Series indexed by id,
    or the bytes or path of a CSV file."""
    if isinstance(predictions, pd.DataFrame):
        if predictions.shape[1] != 1:
            raise InvalidInputError("a predictions DataFrame needs exactly one column, indexed by id")
        predictions = predictions.iloc[:, 0]
    if isinstance(predictions, pd.Series):
        frame = pd.DataFrame({"id": predictions.index.astype(str), "prediction": predictions.to_numpy()})
        return frame.to_csv(index=False, float_format="%.17g").encode()
    if isinstance(predictions, str):
        try:
            with open(predictions, "rb") as f:
                return f.read()
        except OSError as e:
            raise InvalidInputError(f"cannot read predictions file {predictions}: {e.strerror}") from None
    return bytes(predictions)


def _check_csv(data: bytes) -> None:
    """Local validation before anything is uploaded or committed."""
    try:
        frame = pd.read_csv(io.BytesIO(data))
    except Exception as e:  # pandas raises many types for a malformed file
        raise InvalidInputError(f"predictions are not a readable CSV: {e}") from None
    if list(frame.columns) != ["id", "prediction"]:
        raise InvalidInputError(f"predictions need the header id,prediction, got {','.join(map(str, frame.columns))}")
    values = pd.to_numeric(frame["prediction"], errors="coerce")
    bad = frame.index[values.isna() | (values < 0) | (values > 1)]
    if len(bad):
        line = int(bad[0]) + 2
        raise InvalidInputError(f"line {line}: prediction {frame['prediction'].iloc[bad[0]]!r} is not a number in [0, 1]")
    if frame["id"].duplicated().any():
        raise InvalidInputError(f"id {frame['id'][frame['id'].duplicated()].iloc[0]!r} appears twice")


class Participant:
    """One wallet's view of the tournament."""

    def __init__(self, protocol: Protocol, account: LocalAccount, store: Store | None = None):
        self.protocol, self.account, self.store = protocol, account, store
        self.w3, self.tournament, self.token = protocol.w3, protocol.tournament, protocol.token

    # ------------------------------------------------------------------ reading

    def now(self) -> int:
        return self.w3.eth.get_block("latest")["timestamp"]

    def round(self, round_id: int) -> dict:
        count = self.tournament.functions.roundCount().call()
        if not 1 <= round_id <= count:
            raise ParticipantError(f"round {round_id} not found: rounds run from 1 to {count} (see `crowdstake rounds`)")
        out = self.protocol.round(round_id)
        out["state"] = self._state(out)
        return out

    def _state(self, r: dict) -> str:
        now = self.now()
        if r["finalized"]:
            return "finalised"
        if now < r["closeTime"]:
            return "open"
        if now < r["resolveTime"]:
            return "closed"
        if now > r["resolveTime"] + r["params"]["resultsWindow"]:
            return "refundable"
        return "resolving"

    def rounds(self) -> pd.DataFrame:
        """Every round: times, state and totals."""
        rows = []
        for rid in range(1, self.tournament.functions.roundCount().call() + 1):
            r = self.round(rid)
            rows.append({
                "round": rid, "tournament": r["tournamentId"], "state": r["state"],
                "closeTime": r["closeTime"], "resolveTime": r["resolveTime"],
                "totalStake": r["totalStake"] / TOKEN, "positions": r["stakedPositions"],
                "totalReward": r["totalReward"] / TOKEN, "totalBurn": r["totalBurn"] / TOKEN,
            })
        return pd.DataFrame(rows, columns=["round", "tournament", "state", "closeTime", "resolveTime",
                                           "totalStake", "positions", "totalReward", "totalBurn"])

    def _open_round(self, round_id: int) -> dict:
        r = self.round(round_id)
        if r["state"] != "open":
            raise ParticipantError(f"round {round_id} is {r['state']}: submissions and stakes closed at {r['closeTime']}")
        return r

    def status(self) -> pd.DataFrame:
        """The wallet's positions: round, model, stake, score, payout, state."""
        me = self.account.address
        claims = {(e["args"]["roundId"], e["args"]["modelId"]): e["args"] for e in self.protocol.logs("Claimed", staker=me)}
        refunds = {(e["args"]["roundId"], e["args"]["modelId"]) for e in self.protocol.logs("Refunded", staker=me)}
        rows = []
        for (rid, _, mid), stake in sorted(self.protocol.stakes(staker=me).items()):
            if stake == 0:
                continue
            claim = claims.get((rid, mid))
            r = self.round(rid)
            state = "claimed" if claim else ("refunded" if (rid, mid) in refunds else
                     "claimable" if r["state"] == "finalised" else r["state"])
            rows.append({
                "round": rid, "model": "0x" + mid.hex()[:12], "stake": stake / TOKEN,
                "score": claim["score"] / 1e6 if claim else None,
                "payout": claim["delta"] / TOKEN if claim else None, "state": state,
            })
        return pd.DataFrame(rows, columns=["round", "model", "stake", "score", "payout", "state"])

    def balance(self) -> dict:
        me = self.account.address
        return {"address": me, "eth": self.w3.eth.get_balance(me) / TOKEN,
                "tokens": self.token.functions.balanceOf(me).call() / TOKEN}

    # ------------------------------------------------------------------ acting

    def submit(self, round_id: int, model: str, predictions) -> dict:
        """Validate, upload to the store, and commit the file's hash on-chain."""
        if self.store is None:
            raise ParticipantError("no submission store given: pass --store URL (or directory)")
        data = predictions_csv(predictions)
        _check_csv(data)
        self._open_round(round_id)
        mid = model_id(model)
        digest = self.store.upload_predictions(self.account, round_id, mid, data)
        receipt = self._send(self.tournament.functions.submit(round_id, mid, digest))
        return {"round": round_id, "model": model, "hash": "0x" + digest.hex(), "tx": receipt["transactionHash"].hex()}

    def stake(self, round_id: int, model: str, amount) -> dict:
        """Add `amount` tokens to the position with a permit: one transaction, no approve."""
        wei = parse_amount(amount)
        r = self._open_round(round_id)
        mid = model_id(model)
        stake, predictions = self.tournament.functions.position(round_id, self.account.address, mid).call()
        if predictions == bytes(32):
            raise ParticipantError(f"model {model} has no submission in round {round_id}: `crowdstake submit` first")
        if stake + wei < r["params"]["minStake"]:
            raise ParticipantError(f"stake {(stake + wei) / TOKEN} is below the tournament minimum {r['params']['minStake'] / TOKEN}")
        held = self.token.functions.balanceOf(self.account.address).call()
        if held < wei:
            raise ParticipantError(f"insufficient balance: the wallet holds {held / TOKEN} tokens, the stake needs {wei / TOKEN}")
        deadline = self.now() + 3600
        v, rr, s = sign_permit(
            self.account.key, token_name=self.token.functions.name().call(), token_address=self.token.address,
            chain_id=self.w3.eth.chain_id, owner=self.account.address, spender=self.tournament.address,
            value=wei, nonce=self.token.functions.nonces(self.account.address).call(), deadline=deadline,
        )
        receipt = self._send(self.tournament.functions.stakeWithPermit(round_id, mid, wei, deadline, v, rr, s))
        return {"round": round_id, "model": model, "stake": (stake + wei) / TOKEN, "tx": receipt["transactionHash"].hex()}

    def decrease(self, round_id: int, model: str, amount) -> dict:
        """Withdraw `amount` tokens of the position before the round closes."""
        wei = parse_amount(amount)
        r = self._open_round(round_id)
        mid = model_id(model)
        stake = self.tournament.functions.position(round_id, self.account.address, mid).call()[0]
        if wei > stake:
            raise ParticipantError(f"cannot withdraw {wei / TOKEN}: the position holds {stake / TOKEN}")
        if 0 < stake - wei < r["params"]["minStake"]:
            raise ParticipantError(f"the {(stake - wei) / TOKEN} left would be below the minimum {r['params']['minStake'] / TOKEN}: withdraw all or less")
        receipt = self._send(self.tournament.functions.decreaseStake(round_id, mid, wei))
        return {"round": round_id, "model": model, "stake": (stake - wei) / TOKEN, "tx": receipt["transactionHash"].hex()}

    def claim(self, round_id: int, model: str | None = None, restake_into: int | None = None) -> list[dict]:
        """Claim the wallet's positions in a finalised round (one model, or all of them), paying
        to the wallet or restaking the whole payout into an open round."""
        r = self.round(round_id)
        if not r["finalized"]:
            raise ParticipantError(f"round {round_id} is {r['state']}, not finalised: nothing can be claimed yet")
        rows = self._my_rows(round_id, r)
        if model is not None:
            mid = model_id(model)
            rows = [row for row in rows if row.model_id == mid]
        rows = [row for row in rows if self.tournament.functions.position(round_id, self.account.address, row.model_id).call()[0]]  # unsettled
        if not rows:
            raise ParticipantError(f"nothing to claim in round {round_id} for {self.account.address}" + (f" model {model}" if model else ""))
        if restake_into is not None:
            self._open_round(restake_into)
        done = []
        for row in rows:
            proof = list(row.proof)
            if restake_into is None:
                call = self.tournament.functions.claim(round_id, self.account.address, row.model_id, row.quantized, proof)
            else:
                call = self.tournament.functions.claimAndRestake(round_id, row.model_id, row.quantized, proof, restake_into)
            receipt = self._send(call)
            done.append({"round": round_id, "model": "0x" + row.model_id.hex()[:12], "delta": row.delta / TOKEN,
                         "restaked_into": restake_into, "tx": receipt["transactionHash"].hex()})
        return done

    def _my_rows(self, round_id: int, r: dict):
        if self.store is None:
            raise ParticipantError("no submission store given: pass --store URL (or directory) to read the score table")
        data = self.store.get_score_table(round_id, r["scoreTableHash"])  # the one the committee voted
        if table_hash(data) != r["scoreTableHash"]:
            raise ParticipantError(f"the store's score table for round {round_id} does not match the hash voted on-chain: use another store")
        me = self.account.address.lower()
        rows = [row for row in read_table(data) if row.staker.lower() == me]
        for row in rows:  # a table that does not prove its leaves is useless: say so before sending
            leaf = Leaf(round_id, self.account.address, row.model_id, row.quantized).hash()
            if process_proof(leaf, row.proof) != r["root"]:
                raise ParticipantError(f"the score table's proof for model 0x{row.model_id.hex()[:12]} does not match the on-chain root")
        return rows

    def _send(self, call):
        try:
            return send(self.w3, self.account, call)
        except TransactionFailed as e:
            raise ParticipantError(f"the contract refused: {e}") from None
