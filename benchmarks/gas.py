"""Gas benchmark: exact gas used by real transactions, written to benchmarks/results/gas.json.

    brownie run $PWD/benchmarks/gas.py --network bench-anvil

(brownie resolves a relative script path under scripts/, so a script outside it needs its
absolute path.) `bench-anvil` is a local anvil with a 1,000,000,000 block gas limit, so the
100,000 positions of the big round are created in a few large transactions:

    brownie networks add Development bench-anvil cmd=anvil host=http://127.0.0.1 port=8547 \
      gas_limit=1000000000 accounts=10 base_fee=0 chain_id=31337

Three rounds of 10, 1,000 and 100,000 real staked positions (created by contracts/test/MassStaker.sol,
which submits and stakes many model ids in one transaction), each settled by a 2-of-3 committee
with a real root built by crowdstake.results.merkle over leaves with random scores; then a third party
claims a position in the middle of each tree, once for a gain and once for a loss. The
participant's own transactions (submit, stake, stakeWithPermit, increase, claimAndRestake) are
measured with externally owned accounts in the big round. Every figure is `tx.gas_used`.
"""

import datetime
import json
import os
import random
import sys
import time
from pathlib import Path

from brownie import MassStaker, accounts, chain, network, web3
from brownie.project import get_loaded_projects
from eth_hash.auto import keccak

# this folder's helpers (a site-packages module is also called `benchmarks`, so not as a package)
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_tools import logger, mass_model_id, send  # noqa: E402

from crowdstake.results.merkle import Leaf, ResultsTree
from crowdstake.results.payout import payout_delta, payout_factor, round_totals
from crowdstake.chain.permit import sign_permit
from scripts.deploy import TOKEN_NAME, deploy_protocol

# CROWDSTAKE_BENCH_SIZES="10,1000,5000" for a quick trial run (write it elsewhere, see RESULTS).
SIZES = tuple(int(x) for x in os.environ.get("CROWDSTAKE_BENCH_SIZES", "10,1000,100000").split(","))
SEED = 20240601

# The tests' tournament parameters (tests/support/rounds.py): cap 5%, threshold 1,000 tokens, min stake 1.
TOKEN = 10**18
CAP = 5 * 10**16
THRESHOLD = 1_000 * TOKEN
MIN_STAKE = TOKEN
RESULTS_WINDOW = 7 * 86400
DISPUTE_WINDOW = 3600
PARAMS = (THRESHOLD, MIN_STAKE, CAP, RESULTS_WINDOW, 5000, 20000, 0, 0)
PREDICTIONS = b"\x11" * 32
DATASET = b"\xda" * 32
TABLE_HASH = b"\x7a" * 32

# MassStaker's stake rule: stake(i) = BASE + (i % 5) * STEP
BASE, STEP = TOKEN, TOKEN // 2
EOA_STAKE = 25 * TOKEN  # alice's and bob's positions in the big round
EOA_INCREASE = 5 * TOKEN

RESULTS = Path(os.environ.get("CROWDSTAKE_BENCH_RESULTS", "benchmarks/results/gas.json"))
log = logger("bench")


def mass_stake(i):
    return BASE + (i % 5) * STEP


def random_score(rng):
    """A quantised score (1e6 = 1.0), roughly Numerai-sized: sd 0.04, never exactly zero."""
    score = int(round(rng.gauss(0.0, 0.04) * 1_000_000))
    return score or 1


def until(timestamp):
    if chain.time() < timestamp:
        chain.sleep(timestamp - chain.time())
    chain.mine()


def batch_size():
    """Positions per MassStaker transaction: what fits in 90% of the block gas limit at 90k gas
    a position (measured: about 59.4k, 68.8k in a round's first transaction). 11,111 on
    bench-anvil; 120 on brownie's `development` anvil (12M), which works too, in ~830 transactions."""
    limit = web3.eth.get_block("latest").gasLimit
    return max(1, min(20_000, int(limit * 0.9) // 90_000))


def create_positions(staker, round_id, count, sender):
    """Real submit + stake of `count` positions of `round_id`, staker = the MassStaker contract."""
    per_tx = batch_size()
    started = time.monotonic()
    gas = 0
    done = 0
    while done < count:
        n = min(per_tx, count - done)
        tx = send(staker.enter, round_id, done, n, PREDICTIONS, BASE, STEP, {"from": sender})
        gas += tx.gas_used
        done += n
        if count >= 10_000:
            log(f"round {round_id}: {done:,}/{count:,} positions ({time.monotonic() - started:.1f} s)")
    return time.monotonic() - started, gas, -(-count // per_tx)


def middle_claims(tree, leaves, stakes, factor):
    """Leaf indices of a gain and a loss closest to the middle of the tree's leaf layer (sorted
    by leaf hash, as OpenZeppelin's StandardMerkleTree lays them out), among MassStaker leaves."""
    n = len(leaves)
    order = sorted(range(n), key=lambda k: leaves[k].hash())
    picks = {}
    for offset in range(n):
        for rank in (n // 2 + offset, n // 2 - offset):
            if not 0 <= rank < n:
                continue
            k = order[rank]
            if stakes[k] is None:  # an EOA's position, claimed separately
                continue
            delta = payout_delta(stakes[k], leaves[k].score, factor, CAP)
            kind = "gain" if delta > 0 else "loss" if delta < 0 else None
            if kind and kind not in picks:
                picks[kind] = (k, rank)
        if len(picks) == 2:
            return picks
    raise RuntimeError("no gain and loss in the tree")


def main():
    started = time.monotonic()
    rng = random.Random(SEED)
    admin, operator, guardian = accounts[0], accounts[1], accounts[2]
    members = list(accounts[3:6])
    alice, outsider = accounts[6], accounts[9]
    bob = accounts.add(keccak(b"crowdstake bench bob"))  # a key we hold: permit signatures
    admin.transfer(bob, 100 * 10**18)  # gas limits of 1e9 at 2 gwei need 2 ether up front

    log(f"network {network.show_active()}, chain {chain.id}, block gas limit {web3.eth.get_block('latest').gasLimit:,}")
    token, tournament, committee = deploy_protocol(
        admin, admin=admin, operator=operator, guardian=guardian, members=members,
        threshold=2, dispute_window=DISPUTE_WINDOW, treasury=admin,
    )
    tid = send(tournament.createTournament, PARAMS, {"from": operator}).return_value
    staker = MassStaker.deploy(tournament, token, {"from": admin})
    mass_total = sum(sum(mass_stake(i) for i in range(n)) for n in SIZES)
    send(token.transfer, staker, mass_total + 1_000 * TOKEN, {"from": admin})  # keeps a balance after staking
    send(token.transfer, alice, 1_000 * TOKEN, {"from": admin})
    send(token.transfer, bob, EOA_STAKE, {"from": admin})  # bob stakes all he has: empty wallet at claim
    send(token.approve, tournament, 200_000 * TOKEN, {"from": admin})
    send(tournament.fundRewards, 200_000 * TOKEN, {"from": admin})

    now = chain.time()
    close, resolve = now + 2 * 86400, now + 2 * 86400 + 3600
    rounds = {}
    for size in SIZES:
        rounds[size] = send(tournament.openRound, tid, DATASET, close, resolve, {"from": operator}).return_value

    gas = {}
    setup = {}
    big = SIZES[-1]
    for size in SIZES:
        mass = size - 2 if size == big else size
        seconds, used, txs = create_positions(staker, rounds[size], mass, admin)
        setup[str(size)] = {"positions": mass, "seconds": round(seconds, 1), "transactions": txs, "gas": used}
        log(f"round {rounds[size]}: {mass:,} MassStaker positions in {seconds:.1f} s, {txs} transactions, "
            f"{used:,} gas ({used // mass:,} per position)")

    # A participant's own transactions, in the big round (whose totals are already non-zero).
    rid = rounds[big]
    alice_model, bob_model = keccak(b"alice model"), keccak(b"bob model")
    gas["submit"] = send(tournament.submit, rid, alice_model, PREDICTIONS, {"from": alice}).gas_used
    send(token.approve, tournament, EOA_STAKE, {"from": alice})
    gas["stake"] = send(tournament.stake, rid, alice_model, EOA_STAKE, {"from": alice}).gas_used
    send(token.approve, tournament, EOA_INCREASE, {"from": alice})
    gas["increase_stake"] = send(tournament.stake, rid, alice_model, EOA_INCREASE, {"from": alice}).gas_used
    send(tournament.submit, rid, bob_model, PREDICTIONS, {"from": bob})
    deadline = 4_102_444_800  # fixed (year 2100): the signature, so its calldata's zero bytes and gas, repeat
    v, r, s = sign_permit(
        bob.private_key, token_name=TOKEN_NAME, token_address=token.address, chain_id=chain.id,
        owner=bob.address, spender=tournament.address, value=EOA_STAKE, nonce=token.nonces(bob), deadline=deadline,
    )
    gas["stake_with_permit"] = send(tournament.stakeWithPermit, rid, bob_model, EOA_STAKE, deadline, v, r, s, {"from": bob}).gas_used

    # Leaves, trees, committee results.
    trees = {}
    for size in SIZES:
        rid = rounds[size]
        info = tournament.round(rid)
        assert info["stakedPositions"] == size, (size, info["stakedPositions"])
        mass = size - 2 if size == big else size
        leaves = [Leaf(rid, staker.address, mass_model_id(rid, i), random_score(rng)) for i in range(mass)]
        stakes = [mass_stake(i) for i in range(mass)]
        if size == big:
            leaves += [Leaf(rid, alice.address, alice_model, random_score(rng)),
                       Leaf(rid, bob.address, bob_model, random_score(rng))]
            stakes += [None, None]
        t0 = time.monotonic()
        tree = ResultsTree(leaves)
        log(f"tree of {size:,} leaves built in {time.monotonic() - t0:.1f} s")
        real_stakes = [x if x is not None else (EOA_STAKE + EOA_INCREASE if l.staker == alice.address else EOA_STAKE)
                       for x, l in zip(stakes, leaves)]
        assert sum(real_stakes) == info["totalStake"], "Python's stakes differ from the chain's"
        factor = payout_factor(THRESHOLD, info["totalStake"])
        reward, _ = round_totals(zip(real_stakes, (l.score for l in leaves)), factor, CAP)
        result = (tree.root, TABLE_HASH, reward, size)
        trees[size] = (leaves, stakes, tree, factor, result)

    until(resolve)
    # The fund commits each round's targets: one storage write per round, whatever its size.
    gas["publish_targets"] = [send(tournament.publishTargets, rounds[size], TABLE_HASH, {"from": operator}).gas_used
                              for size in SIZES][-1]
    oracle = {}
    for size in SIZES:
        rid, result = rounds[size], trees[size][4]
        first = send(committee.vote, rid, result, {"from": members[0]})
        accepting = send(committee.vote, rid, result, {"from": members[1]})
        assert "ResultAccepted" in accepting.events
        oracle[str(size)] = {"vote": first.gas_used, "vote_accepting": accepting.gas_used}
        if size == SIZES[0]:  # a veto (which moves the round's deadline), then the same result again
            oracle[str(size)]["veto"] = send(committee.veto, rid, {"from": guardian}).gas_used
            send(committee.vote, rid, result, {"from": members[0]})
            assert "ResultAccepted" in send(committee.vote, rid, result, {"from": members[1]}).events
    gas["veto"] = oracle[str(SIZES[0])]["veto"]
    until(committee.roundState(rounds[big])["disputeEndsAt"])
    for size in SIZES:
        oracle[str(size)]["finalize"] = send(committee.finalize, rounds[size], {"from": outsider}).gas_used
    gas["vote"] = oracle[str(big)]["vote"]
    gas["vote_accepting"] = oracle[str(big)]["vote_accepting"]
    gas["finalize"] = oracle[str(big)]["finalize"]
    gas["oracle_by_size"] = oracle

    # Claims by a third party, paid to the staker (MassStaker, which holds a balance).
    claim, claim_gain, claim_loss = {}, {}, {}
    supply_checks = []
    for size in SIZES:
        leaves, stakes, tree, factor, _ = trees[size]
        picks = middle_claims(tree, leaves, stakes, factor)
        for kind, (k, rank) in sorted(picks.items()):
            l, proof = leaves[k], tree.proof(k)
            supply = token.totalSupply()
            tx = send(tournament.claim, l.round_id, l.staker, l.model_id, l.score, proof, {"from": outsider})
            delta = payout_delta(stakes[k], l.score, factor, CAP)
            supply_checks.append(token.totalSupply() == supply + min(delta, 0))
            entry = {"gas": tx.gas_used, "proof_length": len(proof), "rank": rank, "score": l.score, "delta": delta}
            (claim_gain if kind == "gain" else claim_loss)[str(size)] = entry
        claim[str(size)] = max(claim_gain[str(size)]["gas"], claim_loss[str(size)]["gas"])
    assert all(supply_checks), "a loss did not burn exactly its delta"
    gas["claim"] = claim
    gas["claim_gain"] = claim_gain
    gas["claim_loss"] = claim_loss

    # Bob staked all he had: the claim credits an empty balance (zero -> non-zero storage write).
    leaves, stakes, tree, factor, _ = trees[big]
    kb = len(leaves) - 1
    tx = send(tournament.claim, rounds[big], bob.address, bob_model, leaves[kb].score, tree.proof(kb), {"from": outsider})
    gas["claim_to_empty_wallet"] = {"gas": tx.gas_used, "proof_length": len(tree.proof(kb)),
                                    "delta": payout_delta(EOA_STAKE, leaves[kb].score, factor, CAP)}

    # claimAndRestake: alice settles her big-round position into the same model of a new open round.
    now = chain.time()
    into = send(tournament.openRound, tid, DATASET, now + 86400, now + 90000, {"from": operator}).return_value
    send(staker.enter, into, 0, 10, PREDICTIONS, BASE, STEP, {"from": admin})  # a round others already staked in
    send(tournament.submit, into, alice_model, PREDICTIONS, {"from": alice})
    ka = len(leaves) - 2
    tx = send(tournament.claimAndRestake, rounds[big], alice_model, leaves[ka].score, tree.proof(ka), into, {"from": alice})
    assert "Restaked" in tx.events
    gas["claim_and_restake"] = tx.gas_used
    gas["claim_and_restake_detail"] = {
        "gas": tx.gas_used, "proof_length": len(tree.proof(ka)),
        "delta": payout_delta(EOA_STAKE + EOA_INCREASE, leaves[ka].score, factor, CAP),
    }

    gas["claim_proof_length"] = {str(s): claim_gain[str(s)]["proof_length"] for s in SIZES}

    project = get_loaded_projects()[0]
    solc = project._compiler_config["solc"]
    node = web3.provider.make_request("anvil_nodeInfo", [])
    gas["meta"] = {
        "chain": {
            "network": network.show_active(),
            "chain_id": chain.id,
            "client": web3.client_version,
            "hardfork": (node.get("result") or {}).get("hardFork"),
            "block_gas_limit": web3.eth.get_block("latest").gasLimit,
        },
        "solc": {
            "version": str(solc["version"]),
            "optimizer": bool(solc["optimizer"]["enabled"]),
            "optimizer_runs": solc["optimizer"]["runs"],
            "evm_version": project._compiler_config["evm_version"],
        },
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "seed": SEED,
        "setup": {"mass_positions": setup, "seconds_total": round(time.monotonic() - started, 1)},
        "targets": {
            "stake": {"max": 100_000, "met": gas["stake"] <= 100_000},
            "claim_100000": {"max": 90_000, "met": claim[str(big)] <= 90_000},
        },
        "notes": {
            "claim": "third party claims for the MassStaker staker (which holds a token balance), leaf nearest "
                     "the middle of the sorted leaf layer; the larger of a gain and a loss (see claim_gain, claim_loss)",
            "claim_to_empty_wallet": "third-party claim crediting a staker whose token balance is zero",
            "stake": "first stake of a submitted position after approve(exact amount), so the allowance "
                     "returns to zero (a refund); the round already has stakes",
            "stake_with_permit": "first stake of a submitted position with a fresh permit, staking the "
                                 "staker's whole balance (its balance returns to zero: a refund)",
            "submit": "first submission of a position (a new storage slot)",
            "increase_stake": "second stake of the same position after approve(exact amount)",
            "claim_and_restake": "alice settles her big-round position and restakes all of it into a new "
                                 "position (submitted, not yet staked) of an open round that already has stakes",
            "finalize": "finalize of the big round, finalised last: the contract already holds reservations of "
                        "other rounds; the first finalize on a fresh deployment costs ~17k more (see oracle_by_size, "
                        "smallest round, finalised first: _totalReserved goes from zero to non-zero)",
            "vote": "first committee vote of a 2-of-3 committee; vote_accepting is the second, accepting vote",
            "oracle_by_size": "vote, accepting vote and finalize per round size: constant in the number of leaves",
            "veto": "the guardian's veto of an accepted result in the smallest round, which also moves the round's "
                    "results deadline in the Tournament; the members then accept the same result again",
            "publish_targets": "the operator commits a round's targets hash (the big round's; one write per round)",
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(gas, indent=2, sort_keys=True) + "\n")
    log(f"wrote {RESULTS} in {time.monotonic() - started:.0f} s")
    print(json.dumps({k: v for k, v in gas.items() if k != "meta"}, indent=2, sort_keys=True))
    return gas
