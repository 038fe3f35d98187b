"""Oracle benchmark: rounds of 10, 100, 1,000 and 10,000 real positions (files uploaded to a
store, commitments and stakes on a local chain), scored, published, voted and settled by the
oracle code the operators run; and the same 10,000-position round's off-chain part without a
chain (`offchain_round`: the store's files written directly, the positions listed in memory).

    brownie run $PWD/benchmarks/oracle.py --network bench-anvil      (`make bench` does)
    CROWDSTAKE_BENCH_QUICK=1 brownie run ...                         (a trial: 10 and 100 positions)

Writes the "oracle" key of benchmarks/results/settlement.json: per round size, the setup time,
the wall time of each step of one member's run (read positions, fetch and check files, score,
tree and table, publish, vote) and of the whole on-chain part (2 votes + finalise); the oracle's
total gas per round; the mean claim gas per position (claims up to 1,000 positions: 10,000 are
the keeper's job, not this benchmark's); the load average around each round (a shared machine).
The targets: the oracle's gas per round does not grow with the number of positions; a round of
10,000 positions takes at most 15 s end to end on two cores.

Setting a round up sends every participant's transactions without waiting for each receipt
(signed here, sent in JSON-RPC batches to the node's automine), each wallet holding
MODELS_PER_WALLET positions: the oracle reads the same events either way.
"""

import atexit
import datetime
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import requests
from brownie import accounts, chain, web3
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from crowdstake import oracle, scoring
from crowdstake.chain import Contracts, connect, save_deployment, send
from crowdstake.config import OracleSettings
from crowdstake.oracle.compute import _Clock, score_positions
from crowdstake.oracle.inputs import Position
from crowdstake.oracle.journal import Journal
from crowdstake.results.merkle import model_id
from crowdstake.results.table import read_table
from crowdstake.store import LocalStore, local_store_for, register_live_ids
from crowdstake.store.auth import sign_upload
from scripts.deploy import deploy_protocol, deployment_record

E18 = 10**18
# CROWDSTAKE_BENCH_QUICK (`make bench-quick`): 10 and 100 positions only
SIZES = (10, 100) if os.environ.get("CROWDSTAKE_BENCH_QUICK") else (10, 100, 1000, 10000)
CLAIMED_UP_TO = 1_000  # rounds this size or smaller are claimed position by position
MODELS_PER_WALLET = 100  # fewer wallets to fund; positions are (round, staker, model) all the same
IDS = [f"s{i:05d}" for i in range(2_000)]
PARAMS = (10_000 * E18, E18, 5 * 10**16, 7 * 86400, 5000, 20000, 0, 0)
WINDOW = 600
BATCH = 500  # transactions per JSON-RPC batch
RESULTS = Path(os.environ.get("CROWDSTAKE_BENCH_RESULTS", Path(__file__).resolve().parent / "results" / "settlement.json"))


def _sleep_until(timestamp):
    if chain.time() < timestamp:
        chain.sleep(timestamp - chain.time())
    chain.mine()


def _account(label: str) -> LocalAccount:
    """A key derived from `label`: the same addresses every run, so the same roots and calldata,
    and gas that repeats to the unit."""
    return Account.from_key(keccak(text=f"oracle bench {label}"))


def _load() -> float:
    return round(os.getloadavg()[0], 2)


class _Sender:
    """Signed transactions sent in JSON-RPC batches, nonces counted here, no receipt awaited per
    transaction: the node's automine is off while they are sent (mining a block per transaction
    slowed anvil to ~13 a second past a few thousand blocks), then `wait` mines full blocks until
    its pool is empty. `flush` raises on any refusal."""

    def __init__(self, w3):
        self.w3, self.url, self.pending, self.nonces, self.sent = w3, w3.provider.endpoint_uri, [], {}, []
        self.gas_price, self.chain_id = 2 * w3.eth.gas_price, w3.eth.chain_id
        self._rpc("evm_setAutomine", False)

    def _rpc(self, method: str, *params):
        answer = self.w3.provider.make_request(method, list(params))
        assert "error" not in answer, answer
        return answer["result"]

    def add(self, account: LocalAccount, to: str, data: bytes = b"", value: int = 0, gas: int = 300_000) -> None:
        nonce = self.nonces.get(account.address)
        if nonce is None:
            nonce = self.w3.eth.get_transaction_count(account.address, "pending")
        self.nonces[account.address] = nonce + 1
        tx = {"to": to, "data": data, "value": value, "gas": gas, "gasPrice": self.gas_price, "nonce": nonce,
              "chainId": self.chain_id}
        self.pending.append("0x" + account.sign_transaction(tx).raw_transaction.hex().removeprefix("0x"))
        if len(self.pending) >= BATCH:
            self.flush()

    def flush(self) -> None:
        batch = [{"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [raw]}
                 for i, raw in enumerate(self.pending)]
        self.pending = []
        if batch:
            answers = requests.post(self.url, json=batch, timeout=600).json()
            refused = [r for r in answers if "error" in r]
            assert not refused, refused[:3]
            self.sent += [r["result"] for r in answers]

    def wait(self) -> None:
        """Everything sent so far mined (automine back on)."""
        self.flush()
        while int(self._rpc("txpool_status")["pending"], 16):
            self._rpc("evm_mine")
        self._rpc("evm_setAutomine", True)

    def first_failure(self):
        """The receipt of the first transaction sent that reverted (None if none did)."""
        for tx in self.sent:
            receipt = self.w3.eth.get_transaction_receipt(tx)
            if receipt["status"] != 1:
                return receipt


def _predictions(rng, targets) -> bytes:
    quality = rng.uniform(-0.5, 1.5)
    preds = np.clip(0.5 + 0.1 * (quality * (targets - 0.5) * 4 + rng.normal(size=len(IDS))), 0, 1).round(4)
    return ("id,prediction\n" + "".join(f"{i},{v}\n" for i, v in zip(IDS, preds))).encode()


def _round(protocol, store, bank, tournament, operator, tid, n, rng, targets_dir, store_dir):
    now = chain.time()
    rid = tournament.openRound(tid, b"\xda" * 32, now + 100_000, now + 100_100, {"from": operator}).return_value
    register_live_ids(store_dir, rid, IDS)
    targets = rng.choice([0, 0.25, 0.5, 0.75, 1.0], size=len(IDS))
    t, token = protocol.tournament, protocol.token
    sender = _Sender(protocol.w3)
    wallets = [_account(f"round {n} wallet {w}") for w in range((n + MODELS_PER_WALLET - 1) // MODELS_PER_WALLET)]
    for wallet in wallets:
        sender.add(bank, wallet.address, value=E18, gas=21_000)
        sender.add(bank, token.address, token.functions.transfer(wallet.address, 100 * MODELS_PER_WALLET * E18)._encode_transaction_data())
    sender.wait()  # the wallets hold their ether before they send
    sender = _Sender(protocol.w3)
    info = store.info()
    for w, wallet in enumerate(wallets):
        sender.add(wallet, token.address, token.functions.approve(t.address, 2**256 - 1)._encode_transaction_data())
        for m in range(min(MODELS_PER_WALLET, n - w * MODELS_PER_WALLET)):
            data, mid = _predictions(rng, targets), model_id(f"model-{m}")
            store.put_predictions(data, sign_upload(wallet, info["chainId"], info["identity"], rid, mid, data,
                                                    info["now"] + 3600))
            sender.add(wallet, t.address, t.functions.submit(rid, mid, keccak(data))._encode_transaction_data())
            sender.add(wallet, t.address, t.functions.stake(rid, mid, (10 + m % 10) * E18)._encode_transaction_data())
    sender.wait()
    assert tournament.round(rid)["stakedPositions"] == n, f"a transaction of the setup reverted: {sender.first_failure()}"
    (targets_dir / f"{rid}.csv").write_text("id,target\n" + "".join(f"{i},{t}\n" for i, t in zip(IDS, targets)))
    return rid


def offchain_round(n: int, work: Path) -> dict:
    """The off-chain part of a round of `n` positions through the oracle's own functions
    (`score_positions`: fetch and check every file from a LocalStore, score, tree and table),
    its files written into the store's directory and its positions listed here: no chain, so
    10,000 positions are set up in seconds. Returns the setup time and each phase's time."""
    rng = np.random.default_rng(17)
    targets = rng.choice([0, 0.25, 0.5, 0.75, 1.0], size=len(IDS))
    store = LocalStore(work, round_times=lambda rid: (1, 2), chain_id=1, identity="offchain", now=lambda: 3)
    files = work / "rounds" / "1" / "files"
    files.mkdir(parents=True)
    started = time.perf_counter()
    positions = []
    for k in range(n):
        data = _predictions(rng, targets)
        (files / f"{keccak(data).hex()}.csv").write_bytes(data)
        staker = _account(f"offchain wallet {k // MODELS_PER_WALLET}").address
        positions.append(Position(staker, model_id(f"model-{k % MODELS_PER_WALLET}"), (10 + k % 10) * E18, keccak(data)))
    positions.sort(key=lambda p: (p.staker.lower(), p.model_id))  # as read_positions gives them
    setup = time.perf_counter() - started
    params = SimpleNamespace(threshold=PARAMS[0], cap=PARAMS[2], corrWeightBps=PARAMS[4], mmcWeightBps=PARAMS[5],
                             kind=0, minTickers=0)
    timings, load = {}, _load()
    result = score_positions(store, 1, positions, pd.Series(targets, index=IDS), params,
                             sum(p.stake for p in positions), clock=_Clock(timings))
    return {"positions": n, "setup_seconds": round(setup, 2), "load_before": load, "load_after": _load(),
            "seconds": {k: round(v, 3) for k, v in timings.items()}, "root": "0x" + result.root.hex()}


def _warm_up_scoring():
    """Score a tiny round once: the scoring kernels compile on a machine's first use (a few
    seconds, then cached on disk), which is not a round's cost."""
    ids = [f"w{i}" for i in range(50)]
    preds = pd.DataFrame({"a": np.linspace(0, 1, 50), "b": np.round(np.linspace(1, 0, 50), 1)}, index=ids)
    scoring.round_scores(preds, pd.Series(np.linspace(0, 1, 50) ** 2, index=ids), {"a": 1.0, "b": 2.0}, (0.5, 2.0))


def main():
    admin, operator, guardian = accounts[0], accounts[1], accounts[2]
    members = [_account(f"member {i}") for i in range(3)]
    for m in members:
        admin.transfer(m.address, 10 * E18)
    token, tournament, committee = deploy_protocol(
        admin, admin=admin, operator=operator, guardian=guardian, members=[m.address for m in members],
        threshold=2, dispute_window=WINDOW, treasury=admin,
    )
    token.approve(tournament, 1_000_000 * E18, {"from": admin})
    tournament.fundRewards(1_000_000 * E18, {"from": admin})
    tid = tournament.createTournament(PARAMS, {"from": operator}).return_value
    work = Path(tempfile.mkdtemp(prefix="crowdstake-bench-"))
    atexit.register(shutil.rmtree, work, True)  # rounds of 10,000 files: leave no disk behind
    record = deployment_record(token, tournament, committee, block=0, admin=admin, operator=operator,
                               guardian=guardian, members=[m.address for m in members], threshold=2)
    save_deployment(chain.id, record, work / "deployments")
    protocol = Contracts.load(connect(web3.provider.endpoint_uri), work / "deployments")
    store = local_store_for(work / "store", protocol)
    (work / "targets").mkdir()
    rng = np.random.default_rng(11)
    bank = _account("bank")  # pays for the participants and the claims through the package's runtime
    admin.transfer(bank.address, 1_000 * E18)
    token.transfer(bank.address, 2_000_000 * E18, {"from": admin})

    _warm_up_scoring()
    out = {}
    for n in SIZES:
        started, load = time.perf_counter(), _load()
        rid = _round(protocol, store, bank, tournament, operator, tid, n, rng, work / "targets", work / "store")
        setup = time.perf_counter() - started
        _sleep_until(tournament.roundTimes(rid)[1])
        timings, load_run = {}, _load()
        started = time.perf_counter()
        gas = 0
        for i, member in enumerate(members[:2]):
            settings = OracleSettings(targets=work / "targets", workdir=work / f"op{i}", finalize=False)
            oracle.run_round(protocol, member, store, rid, settings, timings=timings if i == 0 else None)
        _sleep_until(committee.roundState(rid)["disputeEndsAt"])
        summary = oracle.run_round(protocol, members[0], store, rid, OracleSettings(targets=work / "targets", workdir=work / "op0"))
        assert summary.state == "finalized", summary
        on_chain = time.perf_counter() - started
        gas = summary.gas + Journal(work / "op1" / f"round-{rid}.json").get("gas")  # both members' votes + the finalise
        out[str(n)] = {
            "positions": n,
            "setup_seconds": round(setup, 2),
            "seconds": {k: round(v, 4) for k, v in timings.items()} | {
                "one_member_end_to_end": round(sum(timings.values()), 2),
                "two_operators_score_and_vote_then_finalise": round(on_chain, 2)},
            "load_average_1min": {"setup": load, "run": load_run, "after": _load()},
            "oracle_gas_per_round": gas,
        }
        if n <= CLAIMED_UP_TO:
            table = (work / "op0" / f"round-{rid}-scores.csv").read_bytes()
            claims = []
            for row in read_table(table):
                call = protocol.tournament.functions.claim(rid, row.staker, row.model_id, row.quantized, list(row.proof))
                claims.append(send(protocol.w3, bank, call)["gasUsed"])
            assert tournament.round(rid)["settledPositions"] == n
            out[str(n)] |= {"claim_gas_mean": round(sum(claims) / len(claims)), "claim_gas_max": max(claims)}
        print(f"{n:>5} positions: {json.dumps(out[str(n)])}")

    offchain = offchain_round(SIZES[-1], work / "offchain")
    print(f"{SIZES[-1]:,} positions without a chain: {json.dumps(offchain)}")
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data["oracle"] = {
        "command": "brownie run $PWD/benchmarks/oracle.py --network bench-anvil",
        "date": datetime.date.today().isoformat(),
        "cores": os.cpu_count(),
        "note": "2 of 3 members vote, one finalises; gas counts every oracle transaction of the round; the oracle's gas grows "
                "only with the calldata bytes of the declared totals (larger numbers have fewer zero bytes); seconds: "
                "member 0's run (its compute_result phases, publish, vote); the machine is shared, see the load averages",
        f"gas_ratio_{SIZES[-1]}_vs_{SIZES[0]}": round(out[str(SIZES[-1])]["oracle_gas_per_round"]
                                                    / out[str(SIZES[0])]["oracle_gas_per_round"], 4),
        "rounds": out,
        f"offchain_{SIZES[-1]}": offchain,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    print(f"wrote {RESULTS}")
