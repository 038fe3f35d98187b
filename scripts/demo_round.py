"""One tournament round end to end on a local chain: deploy, fund, open, stake with permit,
score, vote 2-of-3, dispute window, finalise, claim and restake. `make demo` runs it.

    brownie run scripts/demo_round.py                     # anvil, started by brownie
    brownie run scripts/demo_round.py --network ganache
"""

import hashlib
import random
import secrets

from brownie import accounts, chain
from rich.console import Console
from rich.table import Table

from crowdstake.results.merkle import Leaf, ResultsTree, model_id
from crowdstake.results.payout import payout_factor, round_totals
from crowdstake.chain.permit import sign_permit
from scripts.deploy import TOKEN_NAME, deploy_protocol

E18 = 10**18
PARAMS = (1_000 * E18, E18, 5 * 10**16, 7 * 86400, 5000, 20000, 0, 0)  # threshold, min stake, cap 5%, window, weights
DISPUTE_WINDOW = 3600


def _sleep_until(timestamp):
    if chain.time() < timestamp:
        chain.sleep(timestamp - chain.time())
    chain.mine()


def run_round(token, tournament, committee, *, operator, members, treasury, participants=5, seed=7, log=print):
    """Run one round with `participants` fresh wallets; returns one record per position and the
    round id. Every transaction is real and signed; scores are synthetic (the oracle issue
    scores real predictions)."""
    rng = random.Random(seed)
    tid = tournament.createTournament(PARAMS, {"from": operator}).return_value
    token.approve(tournament, 20_000 * E18, {"from": treasury})
    tournament.fundRewards(20_000 * E18, {"from": treasury})
    now = chain.time()
    rid = tournament.openRound(tid, b"\xda" * 32, now + 3600, now + 7200, {"from": operator}).return_value
    log(f"round {rid} open: submissions close in 1 h, resolve in 2 h")

    records = []
    for i in range(participants):
        wallet = accounts.add(secrets.token_hex(32))
        token.transfer(wallet, 1_000 * E18, {"from": treasury})
        treasury.transfer(wallet, E18 // 10)  # gas
        name = f"model-{i}"
        predictions = hashlib.sha256(f"{name} predictions {seed}".encode()).digest()
        tournament.submit(rid, model_id(name), predictions, {"from": wallet})
        amount = rng.randrange(50, 500) * E18
        deadline = chain.time() + 600
        v, r, s = sign_permit(
            wallet.private_key, token_name=TOKEN_NAME, token_address=token.address, chain_id=chain.id,
            owner=wallet.address, spender=tournament.address, value=amount,
            nonce=token.nonces(wallet), deadline=deadline,
        )
        tournament.stakeWithPermit(rid, model_id(name), amount, deadline, v, r, s, {"from": wallet})
        records.append({"wallet": wallet, "model": name, "stake": amount, "score": round(rng.gauss(0, 30_000))})
    log(f"{participants} participants submitted and staked with permit (one transaction each)")

    _sleep_until(tournament.round(rid)["resolveTime"])
    leaves = [Leaf(rid, rec["wallet"].address, model_id(rec["model"]), rec["score"]) for rec in records]
    tree = ResultsTree(leaves)
    r = tournament.round(rid)
    factor = payout_factor(r["params"]["threshold"], r["totalStake"])
    reward, burn = round_totals(((rec["stake"], rec["score"]) for rec in records), factor, r["params"]["cap"])
    result = (tree.root, hashlib.sha256(b"score table").digest(), reward, len(leaves))
    k = committee.threshold()
    for member in members[:k]:
        committee.vote(rid, result, {"from": member})
    log(f"{k} of {committee.memberCount()} committee members voted root 0x{tree.root.hex()[:16]}…")
    _sleep_until(committee.roundState(rid)["disputeEndsAt"])
    committee.finalize(rid, {"from": operator})
    log(f"finalised: reward {reward / E18:,.4f} reserved, burns {burn / E18:,.4f} due")

    now = chain.time()
    next_rid = tournament.openRound(tid, b"\xdb" * 32, now + 3600, now + 7200, {"from": operator}).return_value
    for i, rec in enumerate(records):
        wallet, mid = rec["wallet"], model_id(rec["model"])
        if i == 0:  # the first participant rolls its payout into the next round
            tournament.submit(next_rid, mid, b"\x01" * 32, {"from": wallet})
            tx = tournament.claimAndRestake(rid, mid, rec["score"], tree.proof(i), next_rid, {"from": wallet})
            rec["action"] = f"restaked into round {next_rid}"
        else:  # anyone may settle a position; the payout goes to its staker
            tx = tournament.claim(rid, wallet, mid, rec["score"], tree.proof(i), {"from": operator})
            rec["action"] = "claimed"
        rec["delta"] = tx.events["Claimed"]["delta"]
    return rid, records


def show(records, console):
    table = Table(title="Round results")
    for col in ("model", "stake", "score", "gain or loss", "action"):
        table.add_column(col, justify="left" if col in ("model", "action") else "right")
    for rec in records:
        table.add_row(
            rec["model"], f"{rec['stake'] / E18:,.2f}", f"{rec['score'] / 1e6:+.4f}",
            f"{rec['delta'] / E18:+,.4f}", rec["action"],
        )
    console.print(table)


def main():
    console = Console()
    deployer = accounts[0]
    supply = None
    token, tournament, committee = deploy_protocol(
        deployer, admin=deployer, operator=accounts[1], guardian=accounts[2], members=list(accounts[3:6]),
        threshold=2, dispute_window=DISPUTE_WINDOW, treasury=deployer,
    )
    supply = token.totalSupply()
    rid, records = run_round(
        token, tournament, committee, operator=accounts[1], members=list(accounts[3:6]),
        treasury=deployer, log=console.print,
    )
    show(records, console)
    burned = supply - token.totalSupply()
    console.print(
        f"supply fell by {burned / E18:,.4f} (the burns); the tournament owes "
        f"{(tournament.totalOwed() - tournament.rewardPool()) / E18:,.4f} beyond its pool "
        f"and holds {token.balanceOf(tournament) / E18:,.4f} = owed {tournament.totalOwed() / E18:,.4f}"
    )
