"""Round-driving helpers shared by the chain tiers (contracts, integration, e2e): real
transactions through brownie, real trees. The tests' tournament parameters are here too."""

from contextlib import contextmanager

import pytest
from brownie import chain
from brownie.exceptions import VirtualMachineError

from crowdstake.results.merkle import Leaf, ResultsTree
from crowdstake.results.payout import payout_factor, round_totals
from support.leaves import model

__all__ = ["CAP", "THRESHOLD", "MIN_STAKE", "RESULTS_WINDOW", "DISPUTE_WINDOW", "PARAMS", "PREDICTIONS",
           "model", "reverts", "Driver", "multiclaim_args", "claim_many"]

CAP = 5 * 10**16  # 5% of the stake at most, either way
THRESHOLD = 1_000 * 10**18
MIN_STAKE = 10**18
RESULTS_WINDOW = 7 * 86400
DISPUTE_WINDOW = 3600
PARAMS = (THRESHOLD, MIN_STAKE, CAP, RESULTS_WINDOW, 5000, 20000, 0, 0)  # weights 0.5 corr, 2 mmc; classic
PREDICTIONS = b"\x11" * 32


def _fmt(arg):
    if isinstance(arg, bytes):  # HexBytes prints as hex; brownie's message shows bytes
        return str(bytes(arg))
    if hasattr(arg, "address"):  # an account or a contract
        return arg.address.lower()
    if isinstance(arg, str) and arg.startswith("0x") and len(arg) == 42:
        return arg.lower()
    return str(arg)


@contextmanager
def reverts(error, *args):
    """Expect a revert with exactly this custom error and these arguments."""
    with pytest.raises(VirtualMachineError) as caught:
        yield
    expected = f"{error}: {', '.join(_fmt(a) for a in args)}"
    assert caught.value.revert_msg == expected, f"{caught.value.revert_msg!r} != {expected!r}"


class Driver:
    """Drives rounds through their life with the deployed contracts and named accounts."""

    def __init__(self, token, tournament, committee, operator, members, tournament_id):
        self.token, self.tournament, self.committee = token, tournament, committee
        self.operator, self.members, self.tournament_id = operator, members, tournament_id

    def open_round(self, close_in=1000, resolve_in=2000):
        now = chain.time()
        tx = self.tournament.openRound(
            self.tournament_id, b"\xda" * 32, now + close_in, now + resolve_in, {"from": self.operator}
        )
        return tx.return_value

    def enter(self, round_id, who, name, amount):
        self.tournament.submit(round_id, model(name), PREDICTIONS, {"from": who})
        self.token.approve(self.tournament, amount, {"from": who})
        return self.tournament.stake(round_id, model(name), amount, {"from": who})

    def until(self, timestamp):
        if chain.time() < timestamp:
            chain.sleep(timestamp - chain.time())
        chain.mine()

    def results(self, round_id, scores):
        """The leaves, tree and committee Result for `scores`: {(account, model name): int score}."""
        r = self.tournament.round(round_id)
        leaves = [Leaf(round_id, str(who), model(name), score) for (who, name), score in scores.items()]
        tree = ResultsTree(leaves)
        stakes = [self.tournament.position(round_id, l.staker, l.model_id)[0] for l in leaves]
        factor = payout_factor(r["params"]["threshold"], r["totalStake"])
        reward, _ = round_totals(zip(stakes, (l.score for l in leaves)), factor, r["params"]["cap"])
        result = (tree.root, b"\x7a" * 32, reward, len(leaves))
        return leaves, tree, result

    def accept(self, round_id, result, voters=None):
        self.until(self.tournament.round(round_id)["resolveTime"])
        for member in voters or self.members[:2]:
            self.committee.vote(round_id, result, {"from": member})

    def finalize(self, round_id, scores):
        """Resolve, vote with k members, wait out the dispute window, finalise."""
        leaves, tree, result = self.results(round_id, scores)
        self.accept(round_id, result)
        self.until(self.committee.roundState(round_id)["disputeEndsAt"])
        self.committee.finalize(round_id, {"from": self.operator})
        return leaves, tree

    def claim(self, tree, leaves, index, sender):
        l = leaves[index]
        return self.tournament.claim(l.round_id, l.staker, l.model_id, l.score, tree.proof(index), {"from": sender})


def multiclaim_args(tree, leaves, indices):
    """claimMany's (leaves, proof, proofFlags) for `indices` of `leaves`, and the indices in the
    order the contract takes them."""
    order, proof, flags = tree.multiproof(indices)
    batch = [(leaves[i].staker, leaves[i].model_id, leaves[i].score) for i in order]
    return batch, proof, flags, order


def claim_many(tournament, tree, leaves, indices, sender, to_balance=False):
    """claimMany for `indices` of `leaves` (one round's), sent by `sender`."""
    batch, proof, flags, _ = multiclaim_args(tree, leaves, indices)
    return tournament.claimMany(leaves[0].round_id, batch, proof, flags, to_balance, {"from": sender})


__all__ += ["at_second", "selector"]


def selector(signature):
    """A custom error's 4-byte selector as brownie shows a bytes4: '0x' and 8 hex digits."""
    from eth_hash.auto import keccak

    return "0x" + keccak(signature.encode())[:4].hex()


@contextmanager
def at_second(timestamp):
    """Mine the one transaction sent inside the block in a block of exactly `timestamp`, then
    check it was (a reverted transaction is mined too, at that second).

    On anvil a transaction's block takes the wall clock plus the chain's offset, so two
    transactions a test sends back to back land 0 or 1 second apart, whatever `chain.sleep` did
    before. Brownie's `chain.mine(timestamp=t)` cannot pin it either: its anvil backend sends `t`
    as the request's whole `params` (a bare integer, not a list), which anvil refuses ("Invalid
    request"), and a block mined at `t` would still leave the next transaction's second to the
    clock. So this sets the next block's time with anvil's `evm_setNextBlockTimestamp` (never
    earlier than the latest block; the same second again is allowed), and afterwards syncs
    brownie's clock (`chain.time()`, which otherwise lags a jump) from the block, mining nothing."""
    from brownie import web3

    latest = chain[-1].timestamp
    assert timestamp >= latest, f"second {timestamp} is before the latest block's {latest}"
    response = web3.provider.make_request("evm_setNextBlockTimestamp", [hex(timestamp)])
    assert "error" not in response, response
    height = chain.height
    try:
        yield
    finally:
        mined = chain.height
        chain._set_time_offset_from_block()  # what brownie's own chain.mine() calls after mining
    assert mined == height + 1, f"expected one transaction in the block, {mined - height} were mined"
    assert chain[mined].timestamp == timestamp
