"""Oracle benchmark: rounds of 10, 100 and 1,000 real positions (files in a store, commitments
and permit stakes on a local chain), scored and settled by the oracle code the operators run.

    brownie run $PWD/benchmarks/oracle.py --network bench-anvil      (`make bench` does)

Writes the "oracle" key of benchmarks/results/settlement.json: per round size, the wall time of
reading positions, fetching and checking files, scoring, building the tree and table, and of the
on-chain part (2 votes + finalise); the oracle's total gas per round; the mean claim gas per
position. The target: the oracle's gas per round does not grow with the number of positions.
"""

import atexit
import datetime
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from brownie import accounts, chain, web3
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from crowdstake import oracle
from crowdstake.chain import Contracts, connect, save_deployment, send
from crowdstake.config import OracleSettings
from crowdstake.oracle.journal import Journal
from crowdstake.participant import Participant
from crowdstake.results.table import read_table
from crowdstake.store import local_store_for, register_live_ids
from scripts.deploy import deploy_protocol, deployment_record

E18 = 10**18
SIZES = (10, 100, 1_000)
MODELS_PER_WALLET = 10  # fewer wallets to fund; positions are (round, staker, model) all the same
IDS = [f"s{i:05d}" for i in range(2_000)]
PARAMS = (10_000 * E18, E18, 5 * 10**16, 7 * 86400, 5000, 20000, 0, 0)
WINDOW = 600
RESULTS = Path(__file__).resolve().parent / "results" / "settlement.json"


def _sleep_until(timestamp):
    if chain.time() < timestamp:
        chain.sleep(timestamp - chain.time())
    chain.mine()


def _pay_eth(w3, bank, to, value):
    """A plain ether transfer signed by `bank` (brownie's receipt tracking is not needed here)."""
    tx = {"to": to, "value": value, "gas": 21_000, "gasPrice": w3.eth.gas_price, "chainId": w3.eth.chain_id,
          "nonce": w3.eth.get_transaction_count(bank.address, "pending")}
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(bank.sign_transaction(tx).raw_transaction))


def _account(label: str) -> LocalAccount:
    """A key derived from `label`: the same addresses every run, so the same roots and calldata,
    and gas that repeats to the unit."""
    return Account.from_key(keccak(text=f"oracle bench {label}"))


def _round(protocol, store, bank, tournament, operator, tid, n, rng, targets_dir, store_dir):
    now = chain.time()
    rid = tournament.openRound(tid, b"\xda" * 32, now + 100_000, now + 100_100, {"from": operator}).return_value
    register_live_ids(store_dir, rid, IDS)
    targets = rng.choice([0, 0.25, 0.5, 0.75, 1.0], size=len(IDS))
    for w in range((n + MODELS_PER_WALLET - 1) // MODELS_PER_WALLET):
        wallet = _account(f"round {n} wallet {w}")
        _pay_eth(protocol.w3, bank, wallet.address, E18)
        send(protocol.w3, bank, protocol.token.functions.transfer(wallet.address, 100 * MODELS_PER_WALLET * E18))
        p = Participant(protocol, wallet, store)
        for m in range(min(MODELS_PER_WALLET, n - w * MODELS_PER_WALLET)):
            quality = rng.uniform(-0.5, 1.5)
            preds = np.clip(0.5 + 0.1 * (quality * (targets - 0.5) * 4 + rng.normal(size=len(IDS))), 0, 1).round(4)
            p.submit(rid, f"model-{m}", ("id,prediction\n" + "".join(f"{i},{v}\n" for i, v in zip(IDS, preds))).encode())
            p.stake(rid, f"model-{m}", 10 + m)
    (targets_dir / f"{rid}.csv").write_text("id,target\n" + "".join(f"{i},{t}\n" for i, t in zip(IDS, targets)))
    return rid


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
    atexit.register(shutil.rmtree, work, True)  # rounds of 1,000 files: leave no disk behind
    record = deployment_record(token, tournament, committee, block=0, admin=admin, operator=operator,
                               guardian=guardian, members=[m.address for m in members], threshold=2)
    save_deployment(chain.id, record, work / "deployments")
    protocol = Contracts.load(connect(web3.provider.endpoint_uri), work / "deployments")
    store = local_store_for(work / "store", protocol)
    (work / "targets").mkdir()
    rng = np.random.default_rng(11)
    bank = _account("bank")  # pays for the participants and the claims through the package's runtime
    admin.transfer(bank.address, 1_000 * E18)
    token.transfer(bank.address, 1_000_000 * E18, {"from": admin})

    out = {}
    for n in SIZES:
        started = time.perf_counter()
        rid = _round(protocol, store, bank, tournament, operator, tid, n, rng, work / "targets", work / "store")
        setup = time.perf_counter() - started
        _sleep_until(tournament.roundTimes(rid)[1])
        timings = {}
        targets = oracle.read_targets(work / "targets" / f"{rid}.csv")
        oracle.compute_result(protocol, store, rid, targets, timings=timings)
        started = time.perf_counter()
        gas = 0
        for i, member in enumerate(members[:2]):
            settings = OracleSettings(targets=work / "targets", workdir=work / f"op{i}", finalize=False)
            gas += oracle.run_round(protocol, member, store, rid, settings).gas
        _sleep_until(committee.roundState(rid)["disputeEndsAt"])
        summary = oracle.run_round(protocol, members[0], store, rid, OracleSettings(targets=work / "targets", workdir=work / "op0"))
        assert summary.state == "finalized", summary
        on_chain = time.perf_counter() - started
        gas = summary.gas + Journal(work / "op1" / f"round-{rid}.json").get("gas")  # both members' votes + the finalise
        table = (work / "op0" / f"round-{rid}-scores.csv").read_bytes()
        claims = []
        for row in read_table(table):
            call = protocol.tournament.functions.claim(rid, row.staker, row.model_id, row.quantized, list(row.proof))
            claims.append(send(protocol.w3, bank, call)["gasUsed"])
        assert tournament.round(rid)["settledPositions"] == n
        out[str(n)] = {
            "positions": n,
            "setup_seconds": round(setup, 2),
            "seconds": {k: round(v, 4) for k, v in timings.items()} | {"two_operators_score_and_vote_then_finalise": round(on_chain, 2)},
            "oracle_gas_per_round": gas,
            "claim_gas_mean": round(sum(claims) / len(claims)),
            "claim_gas_max": max(claims),
        }
        print(f"{n:>5} positions: {json.dumps(out[str(n)])}")

    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data["oracle"] = {
        "command": "brownie run $PWD/benchmarks/oracle.py --network bench-anvil",
        "date": datetime.date.today().isoformat(),
        "note": "2 of 3 members vote, one finalises; gas counts every oracle transaction of the round; the oracle's gas grows only with the calldata bytes of the declared totals (larger numbers have fewer zero bytes)",
        "gas_ratio_1000_vs_10": round(out["1000"]["oracle_gas_per_round"] / out["10"]["oracle_gas_per_round"], 4),
        "rounds": out,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    print(f"wrote {RESULTS}")
