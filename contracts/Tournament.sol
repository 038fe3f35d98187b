// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IBurnableToken} from "../interfaces/IBurnableToken.sol";
import {ITournament} from "../interfaces/ITournament.sol";

/// @title Tournament
/// @notice Tournaments, rounds, submissions, stake escrow and settlement of a staked prediction
///         tournament. A position is (round, staker, modelId). The committee posts a round's Merkle
///         root of (roundId, staker, modelId, score) leaves; each claim then computes the money:
///         `delta = stake * clamp(payoutFactor * score, -cap, +cap)`,
///         `payoutFactor = min(1, threshold / roundTotalStake)`. Losses are burned, gains paid
///         from the round's reservation of the reward pool. Nothing loops over participants.
///         `claimMany` settles many positions of a round with one multiproof; payouts go to the
///         stakers' wallets or to their internal balances, which can be withdrawn at any time or
///         staked into an open round without moving tokens.
///         No key can hold a stake forever: a round with no results by its deadline refunds every
///         stake whole, and a position still unsettled CLAIM_WINDOW after the deadline of a
///         finalised round (one the committee's tree left out) is refunded whole too.
/// @dev Fixed point: `cap` and payoutFactor are WAD (1e18 = 1.0); `score` is SCORE_SCALE (1e6 = 1.0).
contract Tournament is ITournament, AccessControl, Pausable, ReentrancyGuard {
    using SafeERC20 for IERC20;

    bytes32 public constant OPERATOR_ROLE = keccak256("OPERATOR_ROLE");
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");
    bytes32 public constant COMMITTEE_ROLE = keccak256("COMMITTEE_ROLE");

    uint256 public constant WAD = 1e18;
    int256 public constant SCORE_SCALE = 1e6;

    /// @notice Bounds of a tournament's results window: long enough for k votes and a dispute
    ///         window, short enough that a round without results refunds within a season.
    uint32 public constant MIN_RESULTS_WINDOW = 1 hours;
    uint32 public constant MAX_RESULTS_WINDOW = 90 days;
    /// @notice The longest a round may take from close to resolve.
    uint64 public constant MAX_RESOLVE_DELAY = 180 days;
    /// @notice After a finalised round's results deadline, its positions have this long to be
    ///         claimed; a position still unsettled then is refunded whole by `refund` (the keeper
    ///         settles every leaf long before: this only frees a stake the tree left out).
    uint256 public constant CLAIM_WINDOW = 180 days;
    /// @notice Tournament kinds, read by the oracle (the contract settles every kind alike):
    ///         classic rounds score predictions per id of an obfuscated dataset by CORR and MMC;
    ///         Signals rounds score a value per ticker of a published universe, neutralised
    ///         against the round's factors, by alpha (or by FNC, Numerai's earlier Signals
    ///         score) and the meta-portfolio contribution MPC.
    uint8 public constant KIND_CLASSIC = 0;
    uint8 public constant KIND_SIGNALS = 1;
    uint8 public constant KIND_SIGNALS_FNC = 2;

    /// @notice A tournament's payout parameters; a round copies them when it opens.
    struct Params {
        uint128 threshold; // token units: payoutFactor = min(1, threshold / round total stake)
        uint128 minStake; // smallest non-zero position, token units
        uint64 cap; // WAD: the largest |delta| per unit of stake (5e16 = 5%)
        uint32 resultsWindow; // seconds after resolveTime to finalise; later, stakes are refunded (1 hour to 90 days)
        uint16 corrWeightBps; // oracle's weight of the first score, basis points: CORR, or Signals' alpha or FNC
        uint16 mmcWeightBps; // oracle's weight of the contribution score, basis points: MMC, or Signals' MPC
        uint8 kind; // what a round scores: KIND_CLASSIC, KIND_SIGNALS or KIND_SIGNALS_FNC
        uint32 minTickers; // Signals: the fewest valid tickers of the universe a submission needs; classic: 0
    }

    /// @notice A round: its times, its copy of the tournament's parameters, totals and results.
    struct Round {
        // One slot, read by every claim: ids, times, counts, and what finalisation fixes.
        uint32 tournamentId;
        uint40 closeTime;
        uint40 resolveTime;
        uint32 stakedPositions; // positions with a stake; frozen at close, the tree's leaf count
        uint32 settledPositions; // claimed or refunded
        uint64 payoutFactor; // WAD, fixed at finalisation
        bool finalized;
        bytes32 datasetHash;
        Params params;
        uint128 totalStake;
        uint128 reserved; // what is left of the reward reservation
        bytes32 root;
        bytes32 scoreTableHash;
        uint128 totalReward;
        bytes32 targetsHash; // the fund's targets file, committed once from resolveTime on
    }

    /// @notice A position. Settling it clears `stake`, and the cleared slot is the settled mark:
    ///         a settlement reads and zeroes one cold slot, 2,100 + 2,900 gas less a 4,800 refund.
    ///         A `settled` flag beside the stake would cost the same write and earn no refund;
    ///         a flag in a slot of its own, another 22,100. An honest tree's leaf holds a stake
    ///         until settled, so a proven leaf with no stake counts as settled. The predictions
    ///         hash, never read by settlement, stays apart. A settled stake is in its position's
    ///         last StakeIncreased/StakeDecreased event.
    struct Position {
        uint128 stake;
        bytes32 predictionsHash;
    }

    /// @notice One leaf of a `claimMany` batch: a position and its committed score.
    struct Settlement {
        address staker;
        bytes32 modelId;
        int64 score;
    }

    IBurnableToken private immutable _token;

    uint256 private _tournamentCount;
    uint256 private _roundCount;
    mapping(uint256 => Params) private _tournaments;
    mapping(uint256 => Round) private _rounds;
    mapping(bytes32 => Position) private _positions;

    // What the contract owes; its token balance is never below the sum (recoverERC20 keeps it so).
    uint256 private _totalStaked; // open and unsettled positions, every round
    uint256 private _totalReserved; // reward reservations of finalised rounds
    uint256 private _rewardPool; // funded, not yet reserved
    uint256 private _totalBalances; // sum of the internal balances

    /// Payouts credited inside the contract (`claimMany` with `toBalance`), by staker.
    mapping(address => uint256) private _balances;

    event TournamentCreated(uint256 indexed tournamentId, Params params);
    event TournamentParamsUpdated(uint256 indexed tournamentId, Params params);
    event RoundOpened(
        uint256 indexed roundId,
        uint256 indexed tournamentId,
        bytes32 datasetHash,
        uint64 closeTime,
        uint64 resolveTime
    );
    event Submitted(uint256 indexed roundId, address indexed staker, bytes32 indexed modelId, bytes32 predictionsHash);
    event StakeIncreased(
        uint256 indexed roundId, address indexed staker, bytes32 indexed modelId, uint256 amount, uint256 newStake
    );
    event StakeDecreased(
        uint256 indexed roundId, address indexed staker, bytes32 indexed modelId, uint256 amount, uint256 newStake
    );
    event RewardsFunded(address indexed funder, uint256 amount);
    event RoundFinalized(
        uint256 indexed roundId,
        bytes32 root,
        bytes32 scoreTableHash,
        uint128 totalReward,
        uint32 leafCount
    );
    event ResultsDeadlineExtended(uint256 indexed roundId, uint64 resultsDeadline);
    event TargetsPublished(uint256 indexed roundId, bytes32 targetsHash);
    /// @dev The settled stake is in the position's last stake event; leaving it out saves claims 256 gas.
    event Claimed(uint256 indexed roundId, address indexed staker, bytes32 indexed modelId, int64 score, int256 delta);
    event Restaked(
        uint256 indexed fromRoundId, uint256 indexed intoRoundId, address indexed staker, bytes32 modelId, uint256 amount
    );
    /// @notice One `claimMany` batch: `count` positions settled by `caller`; `paid` went to the
    ///         stakers' wallets, `credited` to their internal balances, `burned` was burned. The
    ///         batch's positions each have their own `Claimed` event.
    event ClaimedMany(
        uint256 indexed roundId, address indexed caller, uint256 count, uint256 paid, uint256 credited, uint256 burned
    );
    event Withdrawn(address indexed staker, uint256 amount, uint256 balance);
    event StakedFromBalance(
        uint256 indexed roundId, address indexed staker, bytes32 indexed modelId, uint256 amount, uint256 balance
    );
    event Refunded(uint256 indexed roundId, address indexed staker, bytes32 indexed modelId, uint256 amount);
    event ReservationReleased(uint256 indexed roundId, uint256 amount);
    event ERC20Recovered(address indexed token, address indexed to, uint256 amount);

    error TournamentZeroAddress();
    error TournamentUnknown(uint256 tournamentId);
    error TournamentInvalidParams(uint256 cap, uint256 threshold, uint256 minStake, uint256 resultsWindow);
    error TournamentInvalidKind(uint8 kind, uint32 minTickers);
    error TournamentKindFixed(uint256 tournamentId, uint8 kind);
    error TournamentRoundUnknown(uint256 roundId);
    error TournamentInvalidRoundTimes(uint64 closeTime, uint64 resolveTime, uint256 now_);
    error TournamentZeroHash();
    error TournamentZeroAmount();
    error TournamentRoundClosed(uint256 roundId, uint64 closeTime);
    error TournamentNoSubmission(uint256 roundId, address staker, bytes32 modelId);
    error TournamentStakeBelowMinimum(uint256 stake, uint256 minStake);
    error TournamentInsufficientStake(uint256 stake, uint256 amount);
    error TournamentRoundNotResolved(uint256 roundId, uint64 resolveTime);
    error TournamentAlreadyFinalized(uint256 roundId);
    error TournamentNotFinalized(uint256 roundId);
    error TournamentNothingStaked(uint256 roundId, address staker, bytes32 modelId);
    error TournamentAlreadySettled(uint256 roundId, address staker, bytes32 modelId);
    error TournamentInvalidProof(uint256 roundId, address staker, bytes32 modelId, int64 score);
    error TournamentRefundNotOpen(uint256 roundId, uint256 refundsFrom);
    error TournamentRecoverExceedsExcess(uint256 amount, uint256 excess);
    error TournamentEmptyBatch(uint256 roundId);
    error TournamentInvalidMultiproof(uint256 roundId, uint256 leaves, uint256 proofLength, uint256 flags);
    error TournamentInsufficientBalance(address staker, uint256 balance, uint256 amount);
    error TournamentTargetsAlreadyPublished(uint256 roundId, bytes32 targetsHash);

    /// @param token_ The stake token (burnable ERC-20).
    /// @param admin Holds DEFAULT_ADMIN_ROLE: grants roles, unpauses, recovers stray tokens.
    constructor(IBurnableToken token_, address admin) {
        if (address(token_) == address(0) || admin == address(0)) revert TournamentZeroAddress();
        _token = token_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    // ---------------------------------------------------------------- operator

    /// @notice Create a tournament with its payout parameters (operator).
    /// @return tournamentId The new tournament's id, counting from 1.
    function createTournament(Params calldata params) external onlyRole(OPERATOR_ROLE) returns (uint256 tournamentId) {
        _checkParams(params);
        tournamentId = ++_tournamentCount;
        _tournaments[tournamentId] = params;
        emit TournamentCreated(tournamentId, params);
    }

    /// @notice Change a tournament's parameters (operator); rounds already open keep their copy.
    function setTournamentParams(uint256 tournamentId, Params calldata params) external onlyRole(OPERATOR_ROLE) {
        _requireTournament(tournamentId);
        _checkParams(params);
        // its participants chose it for what it scores: a tournament never changes kind
        uint8 kind = _tournaments[tournamentId].kind;
        if (params.kind != kind) revert TournamentKindFixed(tournamentId, kind);
        _tournaments[tournamentId] = params;
        emit TournamentParamsUpdated(tournamentId, params);
    }

    /// @notice Open a round of a tournament (operator); the dataset is published off-chain.
    /// @param datasetHash Hash of the round's published dataset.
    /// @param closeTime Submissions and stakes lock at this time (unix seconds, in the future).
    /// @param resolveTime Results may be posted from this time on (at or after closeTime, at
    ///        most MAX_RESOLVE_DELAY after it).
    /// @return roundId The new round's id: strictly increasing across all tournaments, from 1.
    function openRound(uint256 tournamentId, bytes32 datasetHash, uint64 closeTime, uint64 resolveTime)
        external
        onlyRole(OPERATOR_ROLE)
        whenNotPaused
        returns (uint256 roundId)
    {
        _requireTournament(tournamentId);
        if (datasetHash == bytes32(0)) revert TournamentZeroHash();
        if (closeTime <= block.timestamp || resolveTime < closeTime || resolveTime - closeTime > MAX_RESOLVE_DELAY) {
            revert TournamentInvalidRoundTimes(closeTime, resolveTime, block.timestamp);
        }
        roundId = ++_roundCount;
        Round storage r = _rounds[roundId];
        r.tournamentId = uint32(tournamentId); // ids count up from 1 by one: never near 2^32
        r.closeTime = SafeCast.toUint40(closeTime);
        r.resolveTime = SafeCast.toUint40(resolveTime);
        r.datasetHash = datasetHash;
        r.params = _tournaments[tournamentId];
        emit RoundOpened(roundId, tournamentId, datasetHash, closeTime, resolveTime);
    }

    /// @notice Commit the hash of a round's targets file (operator), once, from its resolve time
    ///         on: with the dataset, the predictions and the weights already committed, every
    ///         input of the round's scores is then on-chain, and the oracle scores these bytes only.
    function publishTargets(uint256 roundId, bytes32 targetsHash) external onlyRole(OPERATOR_ROLE) {
        Round storage r = _requireRound(roundId);
        if (block.timestamp < r.resolveTime) revert TournamentRoundNotResolved(roundId, r.resolveTime);
        if (targetsHash == bytes32(0)) revert TournamentZeroHash();
        if (r.targetsHash != bytes32(0)) revert TournamentTargetsAlreadyPublished(roundId, r.targetsHash);
        r.targetsHash = targetsHash;
        emit TargetsPublished(roundId, targetsHash);
    }

    // ---------------------------------------------------------------- participants

    /// @notice Commit (or replace) the hash of a model's predictions file for an open round.
    function submit(uint256 roundId, bytes32 modelId, bytes32 predictionsHash) external whenNotPaused {
        _requireOpen(roundId);
        if (predictionsHash == bytes32(0)) revert TournamentZeroHash();
        _positions[_key(roundId, msg.sender, modelId)].predictionsHash = predictionsHash;
        emit Submitted(roundId, msg.sender, modelId, predictionsHash);
    }

    /// @notice Add `amount` to the caller's position; needs a prior `approve` and a submission.
    function stake(uint256 roundId, bytes32 modelId, uint256 amount) external whenNotPaused nonReentrant {
        _increase(roundId, msg.sender, modelId, amount);
        IERC20(address(_token)).safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Add `amount` to the caller's position in one transaction, authorised by an EIP-2612
    ///         permit signature for this contract instead of an approve.
    function stakeWithPermit(
        uint256 roundId,
        bytes32 modelId,
        uint256 amount,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external whenNotPaused nonReentrant {
        // A front-run permit (same signature, already used) must not block the stake: the
        // allowance it set is what transferFrom needs.
        try IERC20Permit(address(_token)).permit(msg.sender, address(this), amount, deadline, v, r, s) {} catch {}
        _increase(roundId, msg.sender, modelId, amount);
        IERC20(address(_token)).safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Withdraw `amount` (part or all) of the caller's position before the round closes.
    ///         Never paused: a stake can always leave an open round.
    function decreaseStake(uint256 roundId, bytes32 modelId, uint256 amount) external nonReentrant {
        Round storage r = _requireOpen(roundId);
        if (amount == 0) revert TournamentZeroAmount();
        Position storage p = _positions[_key(roundId, msg.sender, modelId)];
        uint256 current = p.stake;
        if (amount > current) revert TournamentInsufficientStake(current, amount);
        uint256 remaining = current - amount;
        if (remaining != 0 && remaining < r.params.minStake) {
            revert TournamentStakeBelowMinimum(remaining, r.params.minStake);
        }
        p.stake = uint128(remaining);
        r.totalStake -= uint128(amount);
        if (remaining == 0) r.stakedPositions -= 1;
        _totalStaked -= amount;
        emit StakeDecreased(roundId, msg.sender, modelId, amount, remaining);
        IERC20(address(_token)).safeTransfer(msg.sender, amount);
    }

    /// @notice Add tokens to the reward pool, from which finalised rounds reserve their rewards.
    function fundRewards(uint256 amount) external nonReentrant {
        if (amount == 0) revert TournamentZeroAmount();
        _rewardPool += amount;
        emit RewardsFunded(msg.sender, amount);
        IERC20(address(_token)).safeTransferFrom(msg.sender, address(this), amount);
    }

    // ---------------------------------------------------------------- settlement

    /// @inheritdoc ITournament
    /// @dev Committee only, between resolveTime and the results deadline, once. The round's
    ///      burns are each leaf's own (its score, the round's factor and cap), committed by the
    ///      root and listed in the score table: no declared total could bind them more tightly.
    function settleRound(uint256 roundId, bytes32 root, bytes32 scoreTableHash, uint128 totalReward, uint32 leafCount)
        external
        onlyRole(COMMITTEE_ROLE)
    {
        Round storage r = _requireRound(roundId);
        if (block.timestamp < r.resolveTime) revert TournamentRoundNotResolved(roundId, r.resolveTime);
        uint256 deadline = _resultsDeadline(r);
        if (block.timestamp > deadline) revert TournamentResultsTooLate(roundId, deadline);
        if (r.finalized) revert TournamentAlreadyFinalized(roundId);
        if (leafCount != r.stakedPositions) revert TournamentLeafCountMismatch(roundId, leafCount, r.stakedPositions);
        uint256 maxMove = uint256(r.totalStake) * r.params.cap / WAD;
        if (totalReward > maxMove) revert TournamentRewardExceedsCap(totalReward, maxMove);
        if (totalReward > _rewardPool) revert TournamentPoolShort(_rewardPool, totalReward);

        r.finalized = true;
        r.root = root;
        r.scoreTableHash = scoreTableHash;
        r.totalReward = totalReward;
        r.payoutFactor = uint64(payoutFactor(r.params.threshold, r.totalStake));
        r.reserved = totalReward;
        _rewardPool -= totalReward;
        _totalReserved += totalReward;
        emit RoundFinalized(roundId, root, scoreTableHash, totalReward, leafCount);
    }

    /// @inheritdoc ITournament
    /// @dev The round keeps its extended window in its copy of the parameters, which `refund`
    ///      reads too. Never after the deadline: refunds may have started by then.
    function extendResultsDeadline(uint256 roundId, uint64 deadline) external onlyRole(COMMITTEE_ROLE) {
        Round storage r = _requireRound(roundId);
        if (r.finalized) revert TournamentAlreadyFinalized(roundId);
        uint256 current = _resultsDeadline(r);
        if (block.timestamp > current) revert TournamentResultsTooLate(roundId, current);
        if (deadline <= current) return;
        r.params.resultsWindow = SafeCast.toUint32(deadline - r.resolveTime);
        emit ResultsDeadlineExtended(roundId, deadline);
    }

    /// @notice Settle a position of a finalised round with its leaf and proof; anyone may call,
    ///         the payout (stake plus gain, or stake minus the burned loss) goes to the staker.
    /// @param score The leaf's score, scaled by SCORE_SCALE (1e6 = a score of 1.0).
    /// @param proof Merkle proof of the leaf (OpenZeppelin sorted-pair tree, double-hashed leaf).
    function claim(uint256 roundId, address staker, bytes32 modelId, int64 score, bytes32[] calldata proof)
        external
        nonReentrant
    {
        (uint256 payout, uint256 loss) = _settle(roundId, staker, modelId, score, proof);
        if (loss != 0) _token.burn(loss);
        IERC20(address(_token)).safeTransfer(staker, payout);
    }

    /// @notice Settle the caller's position and stake the whole payout into the same model's
    ///         position of an open round, in one transaction and without moving tokens.
    function claimAndRestake(uint256 roundId, bytes32 modelId, int64 score, bytes32[] calldata proof, uint256 intoRoundId)
        external
        whenNotPaused
        nonReentrant
    {
        (uint256 payout, uint256 loss) = _settle(roundId, msg.sender, modelId, score, proof);
        _increase(intoRoundId, msg.sender, modelId, payout);
        emit Restaked(roundId, intoRoundId, msg.sender, modelId, payout);
        if (loss != 0) _token.burn(loss);
    }

    /// @notice Settle many positions of a finalised round in one transaction with one
    ///         OpenZeppelin multiproof; anyone may call. Each payout goes to its own staker: to
    ///         its wallet, or (`toBalance`) to its internal balance in this contract. All losses
    ///         of the batch are burned with one `burn` call. A leaf whose position is settled
    ///         already (claimed by someone else first, or listed twice) is skipped, so one
    ///         front-running claim cannot sink a batch; every leaf must still be proven, or the
    ///         whole batch reverts.
    /// @param leaves The positions and scores, in the order `MerkleProof.multiProofVerify` takes
    ///        them (crowdstake.merkle.ResultsTree.multiproof returns that order).
    /// @param proof The multiproof's sibling hashes. @param proofFlags The multiproof's flags.
    /// @param toBalance Credit the payouts to internal balances instead of transferring them.
    function claimMany(
        uint256 roundId,
        Settlement[] calldata leaves,
        bytes32[] calldata proof,
        bool[] calldata proofFlags,
        bool toBalance
    ) external nonReentrant {
        Round storage r = _requireRound(roundId);
        if (!r.finalized) revert TournamentNotFinalized(roundId);
        _verifyBatch(roundId, r.root, leaves, proof, proofFlags);
        (Batch memory b, uint256[] memory payouts) = _settleBatch(roundId, r, leaves, toBalance);
        emit ClaimedMany(roundId, msg.sender, b.count, toBalance ? 0 : b.paid, toBalance ? b.paid : 0, b.burned);
        uint32 settled = r.settledPositions + uint32(b.count); // each counted leaf settled a new position
        r.settledPositions = settled;
        if (settled == r.stakedPositions) _releaseReservation(roundId, r);

        // Interactions: one burn for the batch, then the transfers (runs of one staker merged).
        if (b.burned != 0) _token.burn(b.burned);
        if (!toBalance) _payBatch(leaves, payouts);
    }

    /// @notice Send `amount` of the caller's internal balance to its wallet. Never paused.
    function withdraw(uint256 amount) external nonReentrant {
        if (amount == 0) revert TournamentZeroAmount();
        uint256 balance = _debit(msg.sender, amount);
        emit Withdrawn(msg.sender, amount, balance);
        IERC20(address(_token)).safeTransfer(msg.sender, amount);
    }

    /// @notice Stake `amount` of the caller's internal balance into its position of an open round
    ///         (which needs a submission, as `stake` does); no token moves.
    function stakeFromBalance(uint256 roundId, bytes32 modelId, uint256 amount) external whenNotPaused nonReentrant {
        uint256 balance = _debit(msg.sender, amount);
        _increase(roundId, msg.sender, modelId, amount);
        emit StakedFromBalance(roundId, msg.sender, modelId, amount, balance);
    }

    /// @notice Return a position's full stake, with no gain and no burn; anyone may call for the
    ///         staker. Open after the results deadline when the round got no results, and
    ///         CLAIM_WINDOW after it when the round was finalised but the position is still
    ///         unsettled (a tree that left it out can hold it no longer than that).
    function refund(uint256 roundId, address staker, bytes32 modelId) external nonReentrant {
        Round storage r = _requireRound(roundId);
        uint256 refundsFrom = _resultsDeadline(r) + 1;
        if (r.finalized) refundsFrom += CLAIM_WINDOW;
        if (block.timestamp < refundsFrom) revert TournamentRefundNotOpen(roundId, refundsFrom);
        Position storage p = _positions[_key(roundId, staker, modelId)];
        uint256 amount = p.stake;
        if (amount == 0) revert TournamentNothingStaked(roundId, staker, modelId); // or settled already
        p.stake = 0;
        _totalStaked -= amount;
        emit Refunded(roundId, staker, modelId, amount);
        if (++r.settledPositions == r.stakedPositions && r.finalized) _releaseReservation(roundId, r);
        IERC20(address(_token)).safeTransfer(staker, amount);
    }

    // ---------------------------------------------------------------- guardian and admin

    /// @notice Stop entry: opening rounds, submitting, staking, restaking (guardian). Exits stay open.
    function pause() external onlyRole(GUARDIAN_ROLE) {
        _pause();
    }

    /// @notice Resume entry (admin only, so a compromised guardian cannot undo its own pause).
    function unpause() external onlyRole(DEFAULT_ADMIN_ROLE) {
        _unpause();
    }

    /// @notice Send tokens held by mistake to `to` (admin); of the stake token only the excess
    ///         over what the contract owes (open stakes, reservations, internal balances, reward pool).
    function recoverERC20(IERC20 token, address to, uint256 amount) external onlyRole(DEFAULT_ADMIN_ROLE) nonReentrant {
        if (to == address(0)) revert TournamentZeroAddress();
        if (address(token) == address(_token)) {
            uint256 balance = token.balanceOf(address(this));
            uint256 owed = totalOwed();
            uint256 excess = balance > owed ? balance - owed : 0;
            if (amount > excess) revert TournamentRecoverExceedsExcess(amount, excess);
        }
        emit ERC20Recovered(address(token), to, amount);
        token.safeTransfer(to, amount);
    }

    // ---------------------------------------------------------------- views

    /// @notice The stake token.
    function token() external view returns (address) {
        return address(_token);
    }

    /// @notice A tournament's current parameters (reverts for an unknown id).
    function tournament(uint256 tournamentId) external view returns (Params memory) {
        _requireTournament(tournamentId);
        return _tournaments[tournamentId];
    }

    /// @notice Number of tournaments created (ids run from 1).
    function tournamentCount() external view returns (uint256) {
        return _tournamentCount;
    }

    /// @notice Number of rounds opened (ids run from 1).
    function roundCount() external view returns (uint256) {
        return _roundCount;
    }

    /// @notice A round's whole state (reverts for an unknown id).
    function round(uint256 roundId) external view returns (Round memory) {
        return _requireRound(roundId);
    }

    /// @inheritdoc ITournament
    function roundTimes(uint256 roundId)
        external
        view
        returns (uint64 closeTime, uint64 resolveTime, uint64 resultsDeadline)
    {
        Round storage r = _rounds[roundId];
        if (r.closeTime == 0) return (0, 0, 0);
        return (r.closeTime, r.resolveTime, uint64(_resultsDeadline(r)));
    }

    /// @notice A position: its stake (zero once settled or refunded) and committed predictions hash.
    function position(uint256 roundId, address staker, bytes32 modelId) external view returns (Position memory) {
        return _positions[_key(roundId, staker, modelId)];
    }

    /// @notice Tokens funded for rewards and not yet reserved by a round.
    function rewardPool() external view returns (uint256) {
        return _rewardPool;
    }

    /// @notice Sum of unsettled stakes over every round.
    function totalStaked() external view returns (uint256) {
        return _totalStaked;
    }

    /// @notice Sum of the unspent reward reservations of finalised rounds.
    function totalReserved() external view returns (uint256) {
        return _totalReserved;
    }

    /// @notice A staker's internal balance: credited payouts not yet withdrawn or restaked.
    function internalBalance(address staker) external view returns (uint256) {
        return _balances[staker];
    }

    /// @notice Sum of every staker's internal balance.
    function totalInternalBalances() external view returns (uint256) {
        return _totalBalances;
    }

    /// @notice Everything the contract owes: open stakes + reservations + internal balances + reward pool.
    function totalOwed() public view returns (uint256) {
        return _totalStaked + _totalReserved + _totalBalances + _rewardPool;
    }

    /// @notice `min(1, threshold / totalStake)` in WAD.
    function payoutFactor(uint256 threshold, uint256 totalStake) public pure returns (uint256) {
        return totalStake <= threshold ? WAD : threshold * WAD / totalStake;
    }

    /// @notice The signed change of a stake: `stake * clamp(factor * score, -cap, cap)`, with one
    ///         division at the end (rounded toward zero). Before any reservation limit.
    /// @param factor payoutFactor in WAD. @param cap WAD.
    function payoutDelta(uint256 stakeAmount, int64 score, uint256 factor, uint256 cap) public pure returns (int256) {
        // In WAD * SCORE_SCALE units: factor <= 1e18 and |score| < 2^63 make |move| < 2^123, and
        // stake < 2^128 times the clamped |move| <= 1e24 stays far below 2^255.
        int256 move = int256(factor) * score;
        int256 bound = int256(cap) * SCORE_SCALE;
        if (move > bound) move = bound;
        else if (move < -bound) move = -bound;
        return int256(stakeAmount) * move / (int256(WAD) * SCORE_SCALE);
    }

    /// @notice The leaf a position's result is committed as: OpenZeppelin's double-hashed leaf.
    function leaf(uint256 roundId, address staker, bytes32 modelId, int64 score) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(roundId, staker, modelId, score))));
    }

    // ---------------------------------------------------------------- internals

    function _increase(uint256 roundId, address staker, bytes32 modelId, uint256 amount) private {
        Round storage r = _requireOpen(roundId);
        if (amount == 0) revert TournamentZeroAmount();
        Position storage p = _positions[_key(roundId, staker, modelId)];
        if (p.predictionsHash == bytes32(0)) revert TournamentNoSubmission(roundId, staker, modelId);
        uint256 current = p.stake;
        uint256 updated = current + amount;
        if (updated < r.params.minStake) revert TournamentStakeBelowMinimum(updated, r.params.minStake);
        p.stake = SafeCast.toUint128(updated);
        r.totalStake += uint128(amount); // fits: the round total of uint128 stakes of one token
        if (current == 0) r.stakedPositions += 1;
        _totalStaked += amount;
        emit StakeIncreased(roundId, staker, modelId, amount, updated);
    }

    /// Verify the leaf, settle the position, spend the reservation on a gain. Effects only:
    /// returns what the staker gets (paid out or restaked) and the loss, both for the caller to move.
    function _settle(uint256 roundId, address staker, bytes32 modelId, int64 score, bytes32[] calldata proof)
        private
        returns (uint256 payout, uint256 loss)
    {
        Round storage r = _requireRound(roundId);
        if (!r.finalized) revert TournamentNotFinalized(roundId);
        if (!MerkleProof.verifyCalldata(proof, r.root, leaf(roundId, staker, modelId, score))) {
            revert TournamentInvalidProof(roundId, staker, modelId, score);
        }
        uint256 stakeAmount = _takeStake(roundId, staker, modelId);
        _totalStaked -= stakeAmount;
        int256 delta = payoutDelta(stakeAmount, score, r.payoutFactor, r.params.cap);
        payout = stakeAmount;
        if (delta > 0) {
            uint256 gain = uint256(delta);
            if (gain > r.reserved) gain = r.reserved; // never more than the reservation has left
            r.reserved -= uint128(gain);
            _totalReserved -= gain;
            payout += gain;
            delta = int256(gain);
        } else if (delta < 0) {
            loss = uint256(-delta);
            payout -= loss;
        }
        emit Claimed(roundId, staker, modelId, score, delta);
        if (++r.settledPositions == r.stakedPositions) _releaseReservation(roundId, r);
    }

    /// A claimMany batch's running totals (memory: written to storage once per batch).
    struct Batch {
        uint256 factor; // the round's payoutFactor, WAD
        uint256 cap; // the round's cap, WAD
        uint256 reserved; // what is left of the round's reservation
        uint256 staked; // stakes settled
        uint256 gained; // gains paid from the reservation
        uint256 burned; // losses
        uint256 paid; // payouts (to wallets or balances)
        uint256 count; // positions settled (leaves settled already are skipped)
    }

    /// Revert unless `leaves` (hashed as `leaf`) and the multiproof lead to `root`.
    function _verifyBatch(
        uint256 roundId,
        bytes32 root,
        Settlement[] calldata leaves,
        bytes32[] calldata proof,
        bool[] calldata proofFlags
    ) private pure {
        uint256 n = leaves.length;
        if (n == 0) revert TournamentEmptyBatch(roundId);
        // OpenZeppelin's own checks, made first so a malformed multiproof reverts with the
        // batch's context: lengths that fit, and one proof hash used per false flag.
        uint256 flagCount = proofFlags.length;
        if (n + proof.length != flagCount + 1) revert TournamentInvalidMultiproof(roundId, n, proof.length, flagCount);
        uint256 fromProof;
        for (uint256 i; i < flagCount; ++i) {
            if (!proofFlags[i]) ++fromProof;
        }
        if (fromProof != proof.length) revert TournamentInvalidMultiproof(roundId, n, proof.length, flagCount);
        bytes32[] memory hashes = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            Settlement calldata s = leaves[i];
            hashes[i] = leaf(roundId, s.staker, s.modelId, s.score);
        }
        if (!MerkleProof.multiProofVerifyCalldata(proof, proofFlags, root, hashes)) {
            revert TournamentInvalidMultiproof(roundId, n, proof.length, proofFlags.length);
        }
    }

    /// Settle every leaf of a proven batch (effects only) and write the round's and the
    /// contract's totals once. Returns the totals and, paying to wallets, each leaf's payout.
    function _settleBatch(uint256 roundId, Round storage r, Settlement[] calldata leaves, bool toBalance)
        private
        returns (Batch memory b, uint256[] memory payouts)
    {
        uint256 n = leaves.length;
        b.factor = r.payoutFactor;
        b.cap = r.params.cap;
        b.reserved = r.reserved;
        payouts = toBalance ? new uint256[](0) : new uint256[](n);
        for (uint256 i; i < n; ++i) {
            Settlement calldata s = leaves[i];
            uint256 payout = _settleInBatch(roundId, s, b);
            if (toBalance) {
                _balances[s.staker] += payout;
            } else {
                payouts[i] = payout;
            }
        }
        r.reserved = uint128(b.reserved); // only ever decreased from a uint128
        _totalStaked -= b.staked;
        _totalReserved -= b.gained;
        if (toBalance) _totalBalances += b.paid;
    }

    /// Transfer each leaf's payout to its staker; consecutive leaves of one staker, one transfer.
    function _payBatch(Settlement[] calldata leaves, uint256[] memory payouts) private {
        address to = leaves[0].staker;
        uint256 amount;
        for (uint256 i; i < leaves.length; ++i) {
            address staker = leaves[i].staker;
            if (staker != to) {
                if (amount != 0) IERC20(address(_token)).safeTransfer(to, amount);
                (to, amount) = (staker, 0);
            }
            amount += payouts[i];
        }
        if (amount != 0) IERC20(address(_token)).safeTransfer(to, amount);
    }

    /// One position of a claimMany batch: the same arithmetic as `_settle` (the leaf is already
    /// proven), with the round's totals kept in `b`. Returns the staker's payout: 0 for a
    /// position settled already, which is skipped.
    function _settleInBatch(uint256 roundId, Settlement calldata s, Batch memory b) private returns (uint256 payout) {
        (address staker, bytes32 modelId, int64 score) = (s.staker, s.modelId, s.score);
        Position storage p = _positions[_key(roundId, staker, modelId)];
        uint256 stakeAmount = p.stake;
        if (stakeAmount == 0) return 0;
        p.stake = 0;
        b.count += 1;
        b.staked += stakeAmount;
        int256 delta = payoutDelta(stakeAmount, score, b.factor, b.cap);
        payout = stakeAmount;
        if (delta > 0) {
            uint256 gain = uint256(delta);
            if (gain > b.reserved) gain = b.reserved; // never more than the reservation has left
            b.reserved -= gain;
            b.gained += gain;
            payout += gain;
            delta = int256(gain);
        } else if (delta < 0) {
            uint256 loss = uint256(-delta);
            b.burned += loss;
            payout -= loss;
        }
        b.paid += payout;
        emit Claimed(roundId, staker, modelId, score, delta);
    }

    /// Every position settled: what is left of the reservation returns to the pool.
    function _releaseReservation(uint256 roundId, Round storage r) private {
        uint256 left = r.reserved;
        if (left == 0) return;
        r.reserved = 0;
        _totalReserved -= left;
        _rewardPool += left;
        emit ReservationReleased(roundId, left);
    }

    /// Settle a proven leaf's position: clear its stake (see Position) and return it.
    function _takeStake(uint256 roundId, address staker, bytes32 modelId) private returns (uint256 stakeAmount) {
        Position storage p = _positions[_key(roundId, staker, modelId)];
        stakeAmount = p.stake;
        if (stakeAmount == 0) revert TournamentAlreadySettled(roundId, staker, modelId);
        p.stake = 0;
    }

    /// Take `amount` from `staker`'s internal balance; returns what is left.
    function _debit(address staker, uint256 amount) private returns (uint256 balance) {
        balance = _balances[staker];
        if (amount > balance) revert TournamentInsufficientBalance(staker, balance, amount);
        unchecked {
            balance -= amount;
        }
        _balances[staker] = balance;
        _totalBalances -= amount;
    }

    function _requireOpen(uint256 roundId) private view returns (Round storage r) {
        r = _requireRound(roundId);
        if (block.timestamp >= r.closeTime) revert TournamentRoundClosed(roundId, r.closeTime);
    }

    function _requireRound(uint256 roundId) private view returns (Round storage r) {
        r = _rounds[roundId];
        if (r.closeTime == 0) revert TournamentRoundUnknown(roundId);
    }

    function _requireTournament(uint256 tournamentId) private view {
        if (tournamentId == 0 || tournamentId > _tournamentCount) revert TournamentUnknown(tournamentId);
    }

    /// The last second a round accepts results: resolveTime + its results window (extended by vetoes).
    function _resultsDeadline(Round storage r) private view returns (uint256) {
        return uint256(r.resolveTime) + r.params.resultsWindow;
    }

    function _checkParams(Params calldata p) private pure {
        if (
            p.cap == 0 || p.cap > WAD || p.threshold == 0 || p.minStake == 0 || p.resultsWindow < MIN_RESULTS_WINDOW
                || p.resultsWindow > MAX_RESULTS_WINDOW
        ) {
            revert TournamentInvalidParams(p.cap, p.threshold, p.minStake, p.resultsWindow);
        }
        // a Signals round needs a floor of tickers (else one ticker could carry a stake); a classic one has none
        if (p.kind > KIND_SIGNALS_FNC || (p.kind == KIND_CLASSIC) != (p.minTickers == 0)) {
            revert TournamentInvalidKind(p.kind, p.minTickers);
        }
    }

    function _key(uint256 roundId, address staker, bytes32 modelId) private pure returns (bytes32) {
        return keccak256(abi.encode(roundId, staker, modelId));
    }
}
