// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IOracleCommittee} from "../interfaces/IOracleCommittee.sol";
import {ITournament} from "../interfaces/ITournament.sol";

/// @title OracleCommittee
/// @notice k-of-n operators vote a round's results after its resolve time. When k members vote
///         the same result it is accepted and a dispute window opens, in which the guardian may
///         veto it (a new voting epoch starts). After the window anyone finalises, once, which
///         hands the result to the Tournament. The cost per round is k votes and one finalise,
///         whatever the number of participants.
///         Nothing blocks a round: a vote is refused unless its result could still be finalised
///         before the round's results deadline; a result the Tournament refuses at finalisation
///         (leaf count, cap, reward pool, deadline) is cleared and the members vote again; the
///         guardian may veto at most MAX_VETOES times per round, and each veto moves the round's
///         deadline so that the members have a dispute window to vote again and the new result
///         its own dispute window. So a guardian can delay a round, never turn it into a refund.
/// @dev A vote counts in its round's epoch: (restarts of the round, membership version). A veto
///      or a refused result restarts the round. Any change of members or threshold bumps the
///      membership version, which cancels every vote and every acceptance not yet finalised, in
///      every round at once, with no loop: a result finalises only if the members who accepted
///      it are still the committee (a removed member's vote never counts).
contract OracleCommittee is IOracleCommittee, AccessControl {
    bytes32 public constant GUARDIAN_ROLE = keccak256("GUARDIAN_ROLE");

    /// @notice The most times the guardian may veto one round's results.
    uint32 public constant MAX_VETOES = 3;
    /// @notice Bounds of the dispute window: long enough for the guardian to see a result, short
    ///         enough that a few of them fit in a tournament's results window.
    uint64 public constant MIN_DISPUTE_WINDOW = 10 minutes;
    uint64 public constant MAX_DISPUTE_WINDOW = 7 days;

    struct RoundState {
        uint32 vetoes;
        uint32 restarts; // vetoes and refused results: the round's epoch counter
        uint64 disputeEndsAt; // non-zero while a result is accepted
        uint64 acceptedVersion; // the membership version the result was accepted under
        bool finalized;
        bytes32 acceptedHash;
        Result accepted;
    }

    ITournament private immutable _tournament;

    mapping(address => bool) private _isMember;
    uint32 private _memberCount;
    uint32 private _threshold;
    uint64 private _disputeWindow;
    uint64 private _membershipVersion;
    mapping(uint256 => RoundState) private _rounds;
    mapping(bytes32 => uint256) private _tally; // (round, epoch, resultHash) => votes
    mapping(bytes32 => bool) private _voted; // (round, epoch, member) => voted

    event MemberAdded(address indexed member, uint64 membershipVersion);
    event MemberRemoved(address indexed member, uint64 membershipVersion);
    event ThresholdChanged(uint32 threshold, uint64 membershipVersion);
    event DisputeWindowChanged(uint64 disputeWindow);
    event Voted(uint256 indexed roundId, address indexed member, bytes32 indexed resultHash, uint256 votes);
    event ResultAccepted(uint256 indexed roundId, bytes32 indexed resultHash, uint64 disputeEndsAt);
    event ResultVetoed(uint256 indexed roundId, bytes32 indexed resultHash, uint32 vetoes);
    /// @notice The Tournament refused an accepted result (`reason` is its error's selector).
    event ResultRefused(uint256 indexed roundId, bytes32 indexed resultHash, bytes4 reason);
    event RoundFinalized(uint256 indexed roundId, bytes32 indexed resultHash);

    error OracleCommitteeZeroAddress();
    error OracleCommitteeNotMember(address account);
    error OracleCommitteeAlreadyMember(address account);
    error OracleCommitteeInvalidThreshold(uint32 threshold, uint32 memberCount);
    error OracleCommitteeRoundNotResolved(uint256 roundId, uint64 resolveTime);
    error OracleCommitteeAlreadyVoted(uint256 roundId, address member);
    error OracleCommitteeAlreadyAccepted(uint256 roundId, bytes32 resultHash);
    error OracleCommitteeNotAccepted(uint256 roundId);
    error OracleCommitteeDisputeWindowOpen(uint256 roundId, uint64 disputeEndsAt);
    error OracleCommitteeDisputeWindowClosed(uint256 roundId, uint64 disputeEndsAt);
    error OracleCommitteeAlreadyFinalized(uint256 roundId);
    error OracleCommitteeTooLateToFinalize(uint256 roundId, uint64 disputeEndsAt, uint64 resultsDeadline);
    error OracleCommitteeVetoesExhausted(uint256 roundId, uint32 vetoes);
    error OracleCommitteeInvalidDisputeWindow(uint64 disputeWindow, uint64 min, uint64 max);

    /// @param tournament_ The Tournament this committee settles (must grant it COMMITTEE_ROLE).
    /// @param admin Holds DEFAULT_ADMIN_ROLE: members, threshold, dispute window, guardian.
    /// @param members The initial members.
    /// @param threshold_ Votes needed to accept a result: more than half of the members.
    /// @param disputeWindow_ Seconds between acceptance and the earliest finalisation (10 minutes to 7 days).
    constructor(
        ITournament tournament_,
        address admin,
        address[] memory members,
        uint32 threshold_,
        uint64 disputeWindow_
    ) {
        if (address(tournament_) == address(0) || admin == address(0)) revert OracleCommitteeZeroAddress();
        _tournament = tournament_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        for (uint256 i = 0; i < members.length; i++) {
            _addMember(members[i]);
        }
        _setThreshold(threshold_);
        _setDisputeWindow(disputeWindow_);
    }

    // ---------------------------------------------------------------- members

    /// @notice Vote `result` for a resolved round; one counted vote per member per epoch.
    ///         The k-th matching vote accepts the result and opens the dispute window. Refused
    ///         when that window would end after the round's results deadline.
    function vote(uint256 roundId, Result calldata result) external {
        if (!_isMember[msg.sender]) revert OracleCommitteeNotMember(msg.sender);
        (, uint64 resolveTime, uint64 deadline) = _tournament.roundTimes(roundId);
        if (resolveTime == 0 || block.timestamp < resolveTime) {
            revert OracleCommitteeRoundNotResolved(roundId, resolveTime);
        }
        RoundState storage s = _rounds[roundId];
        if (s.finalized) revert OracleCommitteeAlreadyFinalized(roundId);
        if (_isAccepted(s)) revert OracleCommitteeAlreadyAccepted(roundId, s.acceptedHash);
        uint64 disputeEndsAt = uint64(block.timestamp) + _disputeWindow;
        if (disputeEndsAt > deadline) revert OracleCommitteeTooLateToFinalize(roundId, disputeEndsAt, deadline);

        bytes32 epoch = _epoch(roundId, s.restarts);
        bytes32 voterKey = keccak256(abi.encode(epoch, msg.sender));
        if (_voted[voterKey]) revert OracleCommitteeAlreadyVoted(roundId, msg.sender);
        _voted[voterKey] = true;

        bytes32 hash = resultHash(roundId, result);
        uint256 votes = ++_tally[keccak256(abi.encode(epoch, hash))];
        emit Voted(roundId, msg.sender, hash, votes);

        if (votes == _threshold) {
            s.acceptedHash = hash;
            s.accepted = result;
            s.disputeEndsAt = disputeEndsAt;
            s.acceptedVersion = _membershipVersion;
            emit ResultAccepted(roundId, hash, disputeEndsAt);
        }
    }

    /// @notice Hand the accepted result to the Tournament once its dispute window has passed.
    ///         Anyone may call; a round is finalised once. If the Tournament refuses the result
    ///         (see ITournament's errors), it is cleared and the members vote again; any other
    ///         failure (out of gas, say) reverts, and changes nothing.
    function finalize(uint256 roundId) external {
        RoundState storage s = _rounds[roundId];
        if (s.finalized) revert OracleCommitteeAlreadyFinalized(roundId);
        if (!_isAccepted(s)) revert OracleCommitteeNotAccepted(roundId);
        if (block.timestamp < s.disputeEndsAt) revert OracleCommitteeDisputeWindowOpen(roundId, s.disputeEndsAt);
        s.finalized = true;
        Result memory r = s.accepted;
        try _tournament.settleRound(roundId, r.root, r.scoreTableHash, r.totalReward, r.leafCount) {
            emit RoundFinalized(roundId, s.acceptedHash);
        } catch (bytes memory reason) {
            bytes4 selector = bytes4(reason);
            if (!_isRefusal(reason.length, selector)) {
                assembly ("memory-safe") {
                    revert(add(reason, 32), mload(reason))
                }
            }
            s.finalized = false;
            emit ResultRefused(roundId, s.acceptedHash, selector);
            _restart(s);
        }
    }

    // ---------------------------------------------------------------- guardian and admin

    /// @notice Reject an accepted result inside its dispute window (guardian), at most MAX_VETOES
    ///         times per round; the members vote again in a new epoch. The round's results
    ///         deadline moves to at least two dispute windows from now: one to vote again, one
    ///         for the new result's dispute window.
    function veto(uint256 roundId) external onlyRole(GUARDIAN_ROLE) {
        RoundState storage s = _rounds[roundId];
        if (s.finalized) revert OracleCommitteeAlreadyFinalized(roundId);
        if (!_isAccepted(s)) revert OracleCommitteeNotAccepted(roundId);
        if (block.timestamp >= s.disputeEndsAt) revert OracleCommitteeDisputeWindowClosed(roundId, s.disputeEndsAt);
        if (s.vetoes == MAX_VETOES) revert OracleCommitteeVetoesExhausted(roundId, s.vetoes);
        s.vetoes += 1;
        emit ResultVetoed(roundId, s.acceptedHash, s.vetoes);
        _restart(s);
        _tournament.extendResultsDeadline(roundId, uint64(block.timestamp) + 2 * _disputeWindow);
    }

    /// @notice Add a member (admin); votes and acceptances not yet finalised are cancelled (new
    ///         membership version).
    function addMember(address member) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _addMember(member);
        _requireValidThreshold(_threshold);
    }

    /// @notice Remove a member (admin); votes and acceptances not yet finalised are cancelled
    ///         (new membership version), so the removed member's vote never counts. The threshold
    ///         must stay valid.
    function removeMember(address member) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (!_isMember[member]) revert OracleCommitteeNotMember(member);
        _isMember[member] = false;
        _memberCount -= 1;
        _membershipVersion += 1;
        emit MemberRemoved(member, _membershipVersion);
        _requireValidThreshold(_threshold);
    }

    /// @notice Set k, the votes needed to accept: n/2 < k <= n (admin); cancels votes and
    ///         acceptances not yet finalised.
    function setThreshold(uint32 threshold_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _membershipVersion += 1;
        _setThreshold(threshold_);
    }

    /// @notice Set the dispute window for results accepted from now on (admin), 10 minutes to 7 days.
    function setDisputeWindow(uint64 disputeWindow_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setDisputeWindow(disputeWindow_);
    }

    // ---------------------------------------------------------------- views

    /// @notice The Tournament this committee settles.
    function tournament() external view returns (address) {
        return address(_tournament);
    }

    /// @notice Whether `account` is a member.
    function isMember(address account) external view returns (bool) {
        return _isMember[account];
    }

    /// @notice Number of members (n).
    function memberCount() external view returns (uint32) {
        return _memberCount;
    }

    /// @notice Votes needed to accept a result (k).
    function threshold() external view returns (uint32) {
        return _threshold;
    }

    /// @notice Seconds between acceptance and the earliest finalisation.
    function disputeWindow() external view returns (uint64) {
        return _disputeWindow;
    }

    /// @notice Whether `member` has voted in the round's current epoch.
    function hasVoted(uint256 roundId, address member) external view returns (bool) {
        return _voted[keccak256(abi.encode(_epoch(roundId, _rounds[roundId].restarts), member))];
    }

    /// @notice Votes for `hash` in the round's current epoch.
    function votesFor(uint256 roundId, bytes32 hash) external view returns (uint256) {
        return _tally[keccak256(abi.encode(_epoch(roundId, _rounds[roundId].restarts), hash))];
    }

    /// @notice A round's committee state: vetoes and restarts so far, the accepted result (if
    ///         any: one a membership change cancelled reads as none), the end of its dispute
    ///         window (0 when none is accepted) and whether it was finalised.
    function roundState(uint256 roundId) external view returns (RoundState memory state) {
        state = _rounds[roundId];
        if (!state.finalized && state.acceptedVersion != _membershipVersion) {
            (state.disputeEndsAt, state.acceptedHash) = (0, bytes32(0));
            delete state.accepted;
        }
    }

    /// @notice The hash members vote on: keccak256(abi.encode(roundId, result)).
    function resultHash(uint256 roundId, Result calldata result) public pure returns (bytes32) {
        return keccak256(abi.encode(roundId, result));
    }

    // ---------------------------------------------------------------- internals

    // Lido's rule: a quorum is more than half of the members, so two results cannot both pass.
    function _requireValidThreshold(uint32 threshold_) private view {
        if (uint256(threshold_) * 2 <= _memberCount || threshold_ > _memberCount) {
            revert OracleCommitteeInvalidThreshold(threshold_, _memberCount);
        }
    }

    function _epoch(uint256 roundId, uint32 restarts) private view returns (bytes32) {
        return keccak256(abi.encode(roundId, restarts, _membershipVersion));
    }

    /// Accepted, and under the current membership (a membership change cancels an acceptance).
    function _isAccepted(RoundState storage s) private view returns (bool) {
        return s.disputeEndsAt != 0 && s.acceptedVersion == _membershipVersion;
    }

    /// Clear the accepted result and open a new epoch: the members vote again.
    function _restart(RoundState storage s) private {
        s.restarts += 1;
        s.disputeEndsAt = 0;
        delete s.acceptedHash;
        delete s.accepted;
    }

    /// Whether a revert of `settleRound` is the Tournament refusing the result (a custom error of
    /// ITournament, which carries arguments), not a failure of the call itself.
    function _isRefusal(uint256 length, bytes4 selector) private pure returns (bool) {
        return length >= 4
            && (selector == ITournament.TournamentResultsTooLate.selector
                || selector == ITournament.TournamentLeafCountMismatch.selector
                || selector == ITournament.TournamentRewardExceedsCap.selector
                || selector == ITournament.TournamentPoolShort.selector);
    }

    function _addMember(address member) private {
        if (member == address(0)) revert OracleCommitteeZeroAddress();
        if (_isMember[member]) revert OracleCommitteeAlreadyMember(member);
        _isMember[member] = true;
        _memberCount += 1;
        _membershipVersion += 1;
        emit MemberAdded(member, _membershipVersion);
    }

    function _setDisputeWindow(uint64 disputeWindow_) private {
        if (disputeWindow_ < MIN_DISPUTE_WINDOW || disputeWindow_ > MAX_DISPUTE_WINDOW) {
            revert OracleCommitteeInvalidDisputeWindow(disputeWindow_, MIN_DISPUTE_WINDOW, MAX_DISPUTE_WINDOW);
        }
        _disputeWindow = disputeWindow_;
        emit DisputeWindowChanged(disputeWindow_);
    }

    function _setThreshold(uint32 threshold_) private {
        _requireValidThreshold(threshold_);
        _threshold = threshold_;
        emit ThresholdChanged(threshold_, _membershipVersion);
    }
}
