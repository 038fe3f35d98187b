"""Settlement benchmark: total gas to settle every position of a round, written to
benchmarks/results/settlement.json under the key "claims" (other keys of the file are kept).

    brownie run $PWD/benchmarks/settlement.py --network bench-anvil

For rounds of 100, 1,000 and 10,000 real staked positions (MassStaker, as benchmarks/gas.py:
every position's staker is the MassStaker contract, which keeps a token balance), each round
finalised by a 2-of-3 committee with a real root, every position is settled three ways, each in
its own copy of the round:

- single: one `claim` transaction per position (a third party, paying the staker's wallet);
- claimMany to internal balances, and claimMany to wallets: batches of neighbouring leaves in
  the tree, as crowdstake.oracle.keeper sends them, sized by crowdstake.results.merkle.batch_size for half of a
  30,000,000-gas block (a mainnet block), not for bench-anvil's 1e9.

Then the same with distinct stakers (one fresh wallet per position, whose token balance and
internal balance both start at zero: the costly case for storage) in a round of 100 positions.
Every figure is the sum of real receipts' gasUsed; ratios are to Numerai's batch path, 41,938
gas per stake (TournamentV3.batchResolveStake, 100 stakes a transaction, measured on anvil).
"""

import datetime
import json
import os
import random
import sys
import time
from pathlib import Path

from brownie import MassStaker, accounts, chain, network, web3
from eth_account import Account
from eth_hash.auto import keccak

# this folder's helpers (a site-packages module is also called `benchmarks`, so not as a package)
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_tools import logger, mass_model_id, send, send_windowed  # noqa: E402

from crowdstake.results.merkle import Leaf, ResultsTree, batch_size
from crowdstake.results.payout import payout_factor, round_totals
from scripts.deploy import deploy_protocol

SIZES = tuple(int(x) for x in os.environ.get("CROWDSTAKE_BENCH_SIZES", "100,1000,10000").split(","))
DISTINCT = int(os.environ.get("CROWDSTAKE_BENCH_DISTINCT", "100"))
SEED = 20240602
NUMERAI_BATCH = 41_938
NUMERAI_SINGLE = 89_807
TARGET = 25_000
MAINNET_BLOCK = 30_000_000

TOKEN = 10**18
CAP = 5 * 10**16
THRESHOLD = 1_000 * TOKEN
PARAMS = (THRESHOLD, TOKEN, CAP, 7 * 86400, 5000, 20000, 0, 0)
PREDICTIONS = b"\x11" * 32
BASE, STEP = TOKEN, TOKEN // 2
log = logger("settle-bench")
RESULTS = Path(os.environ.get("CROWDSTAKE_BENCH_RESULTS", "benchmarks/results/settlement.json"))
MODES = ("single", "many_to_balance", "many_to_wallet")


def random_score(rng):
    return int(round(rng.gauss(0.0, 0.04) * 1_000_000)) or 1


def until(timestamp):
    if chain.time() < timestamp:
        chain.sleep(timestamp - chain.time())
    chain.mine()


def transactions(sender, calls, gas=300_000):
    """Transaction dicts from `sender` for (to, data, value) calls, nonces in order; signed here
    when `sender` is an eth_account key, else for the node to sign (an unlocked account)."""
    nonce = web3.eth.get_transaction_count(sender.address)
    gas_price = web3.eth.gas_price  # whatever the node asks: a price under its base fee never mines
    for to, data, value in calls:
        tx = {"from": sender.address, "to": to, "data": data, "value": value, "gas": gas, "nonce": nonce,
              "gasPrice": gas_price, "chainId": web3.eth.chain_id}
        yield Account.sign_transaction(tx, sender.key).raw_transaction if hasattr(sender, "key") else tx
        nonce += 1


def settle_single(tournament, tree, leaves, sender):
    """One claim per position; the gas is the receipts'."""
    order = tree.tree_order()
    calls = ((tournament.address, tournament.claim.encode_input(
        leaves[i].round_id, leaves[i].staker, leaves[i].model_id, leaves[i].score, tree.proof(i)), 0) for i in order)
    return send_windowed(transactions(sender, calls)), len(order)


def enter_distinct(token, tournament, admin, wallets, round_ids):
    """Fund each fresh wallet with ether and 4 tokens, then stake 2 tokens from it in each round."""
    fund = []
    for w in wallets:
        fund += [(w.address, b"", 10**18), (token.address, token.transfer.encode_input(w.address, 4 * TOKEN), 0)]
    send_windowed(transactions(admin, fund))
    for w in wallets:  # a few transactions each, signed here: nonces are per wallet
        calls = [(token.address, token.approve.encode_input(tournament.address, 4 * TOKEN), 0)]
        for rid in round_ids:
            calls += [(tournament.address, tournament.submit.encode_input(rid, keccak(b"m"), PREDICTIONS), 0),
                      (tournament.address, tournament.stake.encode_input(rid, keccak(b"m"), 2 * TOKEN), 0)]
        send_windowed(transactions(w, calls, gas=200_000))


def settle_many(tournament, tree, leaves, sender, to_balance):
    size = batch_size(MAINNET_BLOCK, len(leaves), to_balance=to_balance)
    order = tree.tree_order()
    gas = txs = 0
    biggest = 0
    for lo in range(0, len(order), size):
        idx, proof, flags = tree.multiproof(order[lo:lo + size])
        batch = [(leaves[i].staker, leaves[i].model_id, leaves[i].score) for i in idx]
        tx = send(tournament.claimMany, leaves[0].round_id, batch, proof, flags, to_balance, {"from": sender})
        gas += tx.gas_used
        biggest = max(biggest, tx.gas_used)
        txs += 1
    return gas, txs, size, biggest


def finalize_all(committee, members, outsider, rounds):
    """rounds: {rid: result}; votes 2-of-3, waits out the dispute window, finalises each."""
    for rid, result in rounds.items():
        send(committee.vote, rid, result, {"from": members[0]})
        send(committee.vote, rid, result, {"from": members[1]})
    until(max(committee.roundState(rid)["disputeEndsAt"] for rid in rounds))
    for rid in rounds:
        send(committee.finalize, rid, {"from": outsider})


def entry(gas, positions, txs, **extra):
    per = gas / positions
    return {"total_gas": gas, "positions": positions, "transactions": txs, "gas_per_position": round(per),
            "ratio_to_numerai_batch": round(per / NUMERAI_BATCH, 3), **extra}


def main():
    started = time.monotonic()
    rng = random.Random(SEED)
    admin, operator, guardian = accounts[0], accounts[1], accounts[2]
    members, outsider = list(accounts[3:6]), accounts[9]
    log(f"network {network.show_active()}, block gas limit {web3.eth.get_block('latest').gasLimit:,}")
    token, tournament, committee = deploy_protocol(
        admin, admin=admin, operator=operator, guardian=guardian, members=members,
        threshold=2, dispute_window=3600, treasury=admin,
    )
    tid = tournament.createTournament(PARAMS, {"from": operator}).return_value
    staker = MassStaker.deploy(tournament, token, {"from": admin})
    need = len(MODES) * sum(sum(BASE + (i % 5) * STEP for i in range(n)) for n in SIZES)
    token.transfer(staker, need + 1_000 * TOKEN, {"from": admin})
    token.approve(tournament, 500_000 * TOKEN, {"from": admin})
    tournament.fundRewards(500_000 * TOKEN, {"from": admin})

    now = chain.time()
    close, resolve = now + 86400, now + 86400 + 3600
    per_tx = max(1, min(10_000, int(web3.eth.get_block("latest").gasLimit * 0.9) // 90_000))
    plan = {}  # (size, mode) -> round id
    for size in SIZES:
        for mode in MODES:
            rid = tournament.openRound(tid, b"\xda" * 32, close, resolve, {"from": operator}).return_value
            for lo in range(0, size, per_tx):
                send(staker.enter, rid, lo, min(per_tx, size - lo), PREDICTIONS, BASE, STEP, {"from": admin})
            plan[(size, mode)] = rid
        log(f"{len(MODES)} rounds of {size:,} positions created")

    # Distinct stakers: one fresh wallet per position, in two rounds (to balances, to wallets).
    wallets = [Account.from_key(keccak(b"settle bench %d" % i)) for i in range(DISTINCT)]
    distinct = {}
    if DISTINCT:
        for mode in MODES[1:]:
            distinct[mode] = tournament.openRound(tid, b"\xda" * 32, close, resolve, {"from": operator}).return_value
        enter_distinct(token, tournament, admin, wallets, list(distinct.values()))
        log(f"{DISTINCT} distinct stakers entered")

    trees, results, burns = {}, {}, {}
    for (size, mode), rid in plan.items():
        leaves = [Leaf(rid, staker.address, mass_model_id(rid, i), random_score(rng)) for i in range(size)]
        stakes = [BASE + (i % 5) * STEP for i in range(size)]
        trees[rid] = (leaves, ResultsTree(leaves))
        info = tournament.round(rid)
        factor = payout_factor(THRESHOLD, info["totalStake"])
        reward, burns[rid] = round_totals(zip(stakes, (l.score for l in leaves)), factor, CAP)
        results[rid] = (trees[rid][1].root, b"\x7a" * 32, reward, size)
    for mode, rid in distinct.items():
        leaves = [Leaf(rid, w.address, keccak(b"m"), random_score(rng)) for w in wallets]
        trees[rid] = (leaves, ResultsTree(leaves))
        factor = payout_factor(THRESHOLD, tournament.round(rid)["totalStake"])
        reward, _ = round_totals(((2 * TOKEN, l.score) for l in leaves), factor, CAP)
        results[rid] = (trees[rid][1].root, b"\x7a" * 32, reward, DISTINCT)
    until(resolve)
    finalize_all(committee, members, outsider, results)
    log("every round finalised")

    out = {}
    for size in SIZES:
        row = {}
        supply = token.totalSupply()
        rid = plan[(size, "single")]
        leaves, tree = trees[rid]
        t0 = time.monotonic()
        gas, txs = settle_single(tournament, tree, leaves, outsider)
        row["single"] = entry(gas, size, txs, seconds=round(time.monotonic() - t0, 1))
        for mode, to_balance in (("many_to_balance", True), ("many_to_wallet", False)):
            rid = plan[(size, mode)]
            leaves, tree = trees[rid]
            gas, txs, bsize, biggest = settle_many(tournament, tree, leaves, outsider, to_balance)
            row[mode] = entry(gas, size, txs, batch_size=bsize, largest_transaction_gas=biggest)
        for mode in MODES:
            info = tournament.round(plan[(size, mode)])
            assert info["settledPositions"] == info["stakedPositions"] == size, (size, mode)
        row["supply_fell_by"] = supply - token.totalSupply()
        row["expected_burn"] = sum(burns[plan[(size, m)]] for m in MODES)
        out[str(size)] = row
        log(f"{size:,}: " + ", ".join(f"{m} {row[m]['gas_per_position']:,}/position" for m in MODES))

    if DISTINCT:
        row = {}
        for mode, to_balance in (("many_to_balance", True), ("many_to_wallet", False)):
            leaves, tree = trees[distinct[mode]]
            gas, txs, bsize, biggest = settle_many(tournament, tree, leaves, outsider, to_balance)
            row[mode] = entry(gas, DISTINCT, txs, batch_size=bsize, largest_transaction_gas=biggest)
        out[f"distinct_stakers_{DISTINCT}"] = row
        log("distinct stakers: " + ", ".join(f"{m} {row[m]['gas_per_position']:,}/position" for m in row))
    assert token.balanceOf(tournament) >= tournament.totalOwed()

    big = str(max(SIZES))
    best = min(out[big]["many_to_balance"]["gas_per_position"], out[big]["many_to_wallet"]["gas_per_position"])
    out["numerai"] = {"batch_resolve_stake_per_stake": NUMERAI_BATCH, "resolve_stake": NUMERAI_SINGLE}
    out["target"] = {"max_gas_per_position": TARGET, "at_positions": int(big),
                     "many_to_balance": out[big]["many_to_balance"]["gas_per_position"],
                     "many_to_wallet": out[big]["many_to_wallet"]["gas_per_position"],
                     "met": best <= TARGET}
    out["meta"] = {
        "network": network.show_active(), "client": web3.client_version,
        "block_gas_limit": web3.eth.get_block("latest").gasLimit, "batches_sized_for_block_gas": MAINNET_BLOCK,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "seed": SEED,
        "seconds_total": round(time.monotonic() - started, 1),
        "notes": {
            "stakers": "in the 100/1,000/10,000 rounds every position's staker is the MassStaker contract "
                       "(one address with a non-zero token balance): after the first leaf of a batch its "
                       "balance slot is warm, and claimMany to wallets merges consecutive payouts to one "
                       "staker into one transfer. distinct_stakers_N has one fresh wallet per position "
                       "(token and internal balances written from zero): the upper bound per position.",
            "single": "one claim transaction per position by a third party, leaves in tree order",
            "claimMany": "batches of neighbouring leaves (crowdstake.oracle.keeper's order), sized by "
                         "crowdstake.results.merkle.batch_size for half a 30M-gas block; a third party sends them",
        },
    }
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data["claims"] = out
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp = RESULTS.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, RESULTS)
    log(f"wrote {RESULTS} in {time.monotonic() - started:.0f} s")
    print(json.dumps({k: v for k, v in out.items() if k != "meta"}, indent=2, sort_keys=True))
    return out
