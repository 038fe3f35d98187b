"""The fund's operations on-chain: create a tournament and change its parameters, open rounds
(publishing their dataset to the store first), fund the reward pool, pause and unpause entry,
and publish a resolved round's targets (to the store, then their hash on-chain). `crowdstake
fund` is a thin shell over `Fund`; a notebook uses it the same way.

Each operation first reads and checks everything it depends on: the role of the signing key
(refused with the role and the address that holds it), the contract's bounds, times against the
chain's clock (never this machine's), the pause, balances, the allowance and the ETH for gas. A
mistake is one FundError line and nothing is sent. A transaction the node or contract still
refuses is one line too, with the contract's decoded custom error. Each operation is one
transaction, except funding the pool (an approve, then fundRewards): killed in between, the
allowance stays and a rerun sends no second approve. Opening a round with a dataset directory
and publishing targets upload to the store only after every check, the transaction simulated
and its gas paid for; killed after the upload, a rerun uploads the same bytes again (no change)
and sends. Results are small frozen
dataclasses with ids, hashes, times as unix seconds (`crowdstake._human.when` shows them) and
transaction hashes."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.logs import DISCARD

from crowdstake._human import format_duration, parse_duration, parse_hash, parse_time, utc, when
from crowdstake._units import parse_amount, to_tokens
from crowdstake.chain.contracts import Contracts
from crowdstake.chain.roles import require_role
from crowdstake.chain.tx import prepare, refused_as, send, tx_hash
from crowdstake.errors import FundError, InvalidInputError
from crowdstake.fund.params import DEFAULTS, Params, build_params, changed_params
from crowdstake.fund.publishing import checked_dataset, checked_targets, read_targets
from crowdstake.store import Store

MAX_RESOLVE_DELAY = 180 * 86_400  # Tournament.MAX_RESOLVE_DELAY: the longest from close to resolve
MAX_TIME = 2**40 - 1  # the contract keeps round times in 40 bits
FUND_REWARDS_GAS = 120_000  # a bound on fundRewards, whose gas cannot be estimated before its approve lands


@dataclass(frozen=True)
class TournamentCreated:
    tournament: int
    params: Params
    tx: str


@dataclass(frozen=True)
class ParamsChanged:
    """A tournament's parameters before and after; rounds already open keep their copy."""

    tournament: int
    before: Params
    after: Params
    tx: str


@dataclass(frozen=True)
class RoundOpened:
    """A new round, its times (unix seconds) and the chain's time when it was opened (`now`)."""

    round: int
    tournament: int
    dataset_hash: str
    close_time: int
    resolve_time: int
    results_deadline: int
    now: int
    tx: str


@dataclass(frozen=True)
class RewardsFunded:
    """Tokens added to the reward pool, the pool now, and the approve sent first (None when the
    allowance already covered the amount)."""

    amount: Decimal
    pool: Decimal
    approve_tx: str | None
    tx: str


@dataclass(frozen=True)
class PauseChanged:
    paused: bool
    tx: str


@dataclass(frozen=True)
class TargetsPublished:
    round: int
    targets_hash: str
    tx: str


def _hash(value, what: str) -> bytes:
    if isinstance(value, (bytes, bytearray)):
        if len(value) != 32 or bytes(value) == bytes(32):
            raise FundError(f"{what} must be 32 bytes and not all zeros")
        return bytes(value)
    try:
        return parse_hash(value, what)
    except InvalidInputError as e:
        raise FundError(str(e)) from None


def _parsed(parse, value, what: str):
    try:
        return parse(value, what)
    except InvalidInputError as e:
        raise FundError(str(e)) from None


class Fund:
    """The fund's key (the operator, the guardian, the admin or a funder: each operation checks
    the role it needs) acting on one deployment, and the submission store it publishes datasets
    and targets to (needed only for those)."""

    def __init__(self, contracts: Contracts, account: LocalAccount, store: Store | None = None):
        self.contracts, self.account, self.store = contracts, account, store
        self.w3, self.tournament_contract, self.token = contracts.w3, contracts.tournament, contracts.token

    # ------------------------------------------------------------------ reading

    def now(self) -> int:
        """The chain's time: the latest block's timestamp."""
        return self.w3.eth.get_block("latest")["timestamp"]

    def paused(self) -> bool:
        return bool(self.contracts.call(self.tournament_contract.functions.paused()))

    def tournament(self, tournament_id: int) -> Params:
        """A tournament's current parameters, or FundError for an unknown id."""
        count = self.contracts.call(self.tournament_contract.functions.tournamentCount())
        if not 1 <= int(tournament_id) <= count:
            known = f"tournaments run from 1 to {count}" if count else "no tournament exists yet (`crowdstake fund create-tournament`)"
            raise FundError(f"tournament {tournament_id} not found: {known}")
        return Params.from_chain(self.contracts.call(self.tournament_contract.functions.tournament(int(tournament_id))))

    # ------------------------------------------------------------------ the operator

    def create_tournament(self, threshold, min_stake, cap=DEFAULTS["cap"], corr_weight=None, mmc_weight=None,
                          results_window=DEFAULTS["results_window"], kind="classic", min_tickers=None
                          ) -> TournamentCreated:
        """Create a tournament (operator): threshold and min stake in tokens, cap as `5%`, weights
        as `0.5` (None: the kind's defaults), the results window as `7d`, a kind of
        `crowdstake.fund.params.KINDS` and, for Signals, the fewest tickers a submission needs."""
        params = build_params(threshold=threshold, min_stake=min_stake, cap=cap, corr_weight=corr_weight,
                              mmc_weight=mmc_weight, results_window=results_window, kind=kind,
                              min_tickers=min_tickers)
        self._require("OPERATOR_ROLE", "creating a tournament")
        self._fits_the_committee(params)
        receipt = self._send(self.tournament_contract.functions.createTournament(params.as_tuple()))
        (event,) = self.tournament_contract.events.TournamentCreated().process_receipt(receipt, errors=DISCARD)
        return TournamentCreated(event["args"]["tournamentId"], params, tx_hash(receipt))

    def set_params(self, tournament_id: int, *, threshold=None, min_stake=None, cap=None, corr_weight=None,
                   mmc_weight=None, results_window=None, min_tickers=None) -> ParamsChanged:
        """Change the parameters given (None: unchanged) of a tournament (operator); open rounds keep theirs."""
        self._require("OPERATOR_ROLE", "changing a tournament's parameters")
        before = self.tournament(tournament_id)
        after = changed_params(before, threshold=threshold, min_stake=min_stake, cap=cap, corr_weight=corr_weight,
                               mmc_weight=mmc_weight, results_window=results_window, min_tickers=min_tickers)
        if after == before:
            raise FundError(f"tournament {tournament_id} has these parameters already ({before.describe()}): "
                            "nothing was sent")
        self._fits_the_committee(after)
        receipt = self._send(self.tournament_contract.functions.setTournamentParams(int(tournament_id), after.as_tuple()))
        return ParamsChanged(int(tournament_id), before, after, tx_hash(receipt))

    def open_round(self, tournament_id: int, dataset_hash=None, *, dataset_dir=None, close_in=None, close_at=None,
                   resolve_in=None, resolve_at=None) -> RoundOpened:
        """Open a round of a tournament (operator) with its dataset: either a directory as
        `crowdstake data build` writes it (`dataset_dir`: checked, published to the store, its
        manifest's hash committed; the round's live ids are its live.csv's) or the hash of one
        published already (`dataset_hash`: 0x and 64 hex digits, or 32 bytes). Its close and
        resolve times come either from now by the chain's clock (`close_in`, `resolve_in`: `1h`,
        `20d`, or seconds) or as times (`close_at`, `resolve_at`: `2025-06-01T18:00Z` or unix
        seconds)."""
        if (dataset_hash is None) == (dataset_dir is None):
            raise FundError("give the round's dataset once: a directory to publish (dataset dir) or the hash of one "
                            "published already (dataset hash)")
        files = None
        if dataset_dir is not None:
            store = self._store("publishing a round's dataset")
            files, digest = checked_dataset(dataset_dir)
        else:
            digest = _hash(dataset_hash, "dataset hash")
        self._require("OPERATOR_ROLE", "opening a round")
        self.tournament(tournament_id)
        now = self.now()
        close = self._time(now, close_in, close_at, "close")
        resolve = self._time(now, resolve_in, resolve_at, "resolve")
        if close <= now:
            raise FundError(f"close time {when(close, now)} is not in the future by the chain's clock "
                            f"({utc(now)}): choose a later one")
        if resolve < close:
            raise FundError(f"resolve time {utc(resolve)} is before the close time {utc(close)}: a round resolves "
                            "at or after it closes")
        if resolve - close > MAX_RESOLVE_DELAY:
            raise FundError(f"resolve time {utc(resolve)} is {format_duration(resolve - close)} after the close: "
                            f"the contract allows at most {format_duration(MAX_RESOLVE_DELAY)}")
        if max(close, resolve) > MAX_TIME:
            raise FundError(f"{utc(max(close, resolve))} is later than the contract can keep")
        if self.paused():
            raise FundError("the Tournament is paused, and no round opens until the admin unpauses it "
                            "(`crowdstake fund unpause`): nothing was sent")
        call = self.tournament_contract.functions.openRound(int(tournament_id), digest, close, resolve)
        if files is not None:
            self._checked(lambda: prepare(self.w3, self.account, call))  # before the dataset's upload: it lands
            store.publish_dataset(self.account, files)
        receipt = self._send(call)
        (event,) = self.tournament_contract.events.RoundOpened().process_receipt(receipt, errors=DISCARD)
        round_id = event["args"]["roundId"]
        deadline = self.contracts.round_times(round_id)[2]
        return RoundOpened(round_id, int(tournament_id), Web3.to_hex(digest), close, resolve, deadline, now, tx_hash(receipt))

    def publish_targets(self, round_id: int, path) -> TargetsPublished:
        """Publish a resolved round's targets (operator) from the file at `path` (`id,target`,
        exactly the round's live ids, as `crowdstake data build` writes them): checked, uploaded
        to the store, then their hash committed on-chain, once per round. The oracle scores the
        round on these bytes and refuses any other."""
        store = self._store("publishing a round's targets")
        data, digest = read_targets(path)
        self._targets_publishable(round_id, digest)
        signals = self.contracts.round(int(round_id)).params.kind != 0
        checked_targets(path, data, store.live_ids(int(round_id)), signals)  # a Signals round's: its universe
        call = self.tournament_contract.functions.publishTargets(int(round_id), digest)
        self._checked(lambda: prepare(self.w3, self.account, call))  # before the targets' upload: it lands
        store.publish_targets(self.account, int(round_id), data)
        return TargetsPublished(int(round_id), Web3.to_hex(digest), tx_hash(self._send(call)))

    def publish_targets_hash(self, round_id: int, targets_hash) -> TargetsPublished:
        """Commit the hash of a round's targets file (operator), once, from its resolve time on,
        for targets already in the store (`publish_targets` uploads them too)."""
        digest = _hash(targets_hash, "targets hash")
        self._targets_publishable(round_id, digest)
        receipt = self._send(self.tournament_contract.functions.publishTargets(int(round_id), digest))
        return TargetsPublished(int(round_id), Web3.to_hex(digest), tx_hash(receipt))

    def _targets_publishable(self, round_id: int, digest: bytes) -> None:
        """The key is an operator, the round exists, has resolved, and has no targets yet."""
        self._require("OPERATOR_ROLE", "publishing a round's targets")
        count = self.contracts.round_count()
        if not 1 <= int(round_id) <= count:
            raise FundError(f"round {round_id} not found: rounds run from 1 to {count}" if count
                            else f"round {round_id} not found: no round is open yet")
        r = self.contracts.round(int(round_id))
        now = self.now()
        if now < r.resolveTime:
            raise FundError(f"round {round_id} resolves at {when(r.resolveTime, now)}: its targets can be published "
                            "from then on (nothing was sent)")
        committed = bytes(r.targetsHash)
        if committed != bytes(32):
            which = "these targets" if committed == digest else f"{Web3.to_hex(committed)}, not {Web3.to_hex(digest)}"
            raise FundError(f"round {round_id}'s targets are published already ({which}): they are committed once; "
                            "nothing was sent")

    # ------------------------------------------------------------------ anyone: the reward pool

    def fund_rewards(self, amount) -> RewardsFunded:
        """Add `amount` tokens from the wallet to the reward pool (anyone may): an approve first when
        the allowance does not cover it, then fundRewards."""
        try:
            wei = parse_amount(amount)
        except InvalidInputError as e:
            raise FundError(str(e)) from None
        me, spender = self.account.address, self.tournament_contract.address
        held = self.contracts.call(self.token.functions.balanceOf(me))
        if held < wei:
            raise FundError(f"{me} holds {to_tokens(held)} tokens, not the {to_tokens(wei)} to fund: send it tokens "
                            "first (`crowdstake token transfer`, or `crowdstake dev fund` on a dev chain)")
        funding = self.tournament_contract.functions.fundRewards(wei)
        approve = None
        if self.contracts.call(self.token.functions.allowance(me, spender)) < wei:
            approve = self.token.functions.approve(spender, wei)
            tx = self._checked(lambda: prepare(self.w3, self.account, approve))
            fee = int(tx.get("maxFeePerGas") or tx.get("gasPrice") or 0)
            cost = (tx["gas"] + FUND_REWARDS_GAS) * fee
            eth = self.w3.eth.get_balance(me)
            if eth < cost:
                raise FundError(f"{me} holds {eth / 10**18:.6g} ETH, and the approve and fundRewards may cost up to "
                                f"{cost / 10**18:.6g} ETH in gas: send it some ETH first")
        else:
            self._checked(lambda: prepare(self.w3, self.account, funding))
        approve_tx = tx_hash(self._send(approve)) if approve is not None else None
        receipt = self._send(funding)
        pool = self.contracts.call(self.tournament_contract.functions.rewardPool())
        return RewardsFunded(to_tokens(wei), to_tokens(pool), approve_tx, tx_hash(receipt))

    # ------------------------------------------------------------------ the guardian and the admin

    def pause(self) -> PauseChanged:
        """Stop entry (guardian): no round opens, no submission or stake enters; exits stay open."""
        self._require("GUARDIAN_ROLE", "pausing the Tournament")
        if self.paused():
            raise FundError("the Tournament is paused already: nothing was sent (the admin unpauses it)")
        return PauseChanged(True, tx_hash(self._send(self.tournament_contract.functions.pause())))

    def unpause(self) -> PauseChanged:
        """Resume entry (admin only, so a guardian's key cannot undo its own pause)."""
        self._require("DEFAULT_ADMIN_ROLE", "unpausing the Tournament")
        if not self.paused():
            raise FundError("the Tournament is not paused: nothing was sent")
        return PauseChanged(False, tx_hash(self._send(self.tournament_contract.functions.unpause())))

    # ------------------------------------------------------------------ helpers

    def _store(self, doing: str) -> Store:
        if self.store is None:
            raise FundError(f"{doing} needs the submission store (a URL or a directory)").with_setting("store")
        return self.store

    def _require(self, role: str, doing: str) -> None:
        require_role(self.contracts, "Tournament", role, self.account.address, doing)

    def _fits_the_committee(self, params: Params) -> None:
        """A results window no longer than the dispute window would refund every round: no accepted
        result could sit out its dispute window before the round's deadline."""
        window = self.contracts.call(self.contracts.committee.functions.disputeWindow())
        if params.results_window <= window:
            raise FundError(f"results window {format_duration(params.results_window)} is not longer than the committee's "
                            f"dispute window {format_duration(window)}: no result could be finalised in time and every "
                            "round would be refunded; make it longer")

    @staticmethod
    def _time(now: int, within, at, which: str) -> int:
        if (within is None) == (at is None):
            raise FundError(f"give the {which} time once: either in how long from now ({which} in, e.g. 1h) or when "
                            f"({which} at, e.g. 2025-06-01T18:00Z)")
        if within is not None:
            return now + _parsed(parse_duration, within, f"{which} in")
        return _parsed(parse_time, at, f"{which} at")

    def _send(self, call):
        return self._checked(lambda: send(self.w3, self.account, call))

    @staticmethod
    def _checked(step):
        return refused_as(FundError, step)
