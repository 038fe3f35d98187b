// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title ReentrantToken (test mock, never deploy)
/// @notice A burnable ERC-20 that misbehaves on demand, to prove the Tournament's token paths
///         hold up against a hostile or non-standard stake token:
///         - Reenter: after moving tokens in `transfer`, `transferFrom` or `burn`, call `target`
///           with `payload` once (as an ERC-777 hook or a malicious token would), then either
///           bubble the call's revert (the whole outer call fails) or swallow and record it;
///         - ReturnFalse: `transfer` and `transferFrom` move nothing and return false;
///         - NoReturn: they move tokens but return no data (USDT-style).
contract ReentrantToken is ERC20 {
    enum Mode {
        Normal,
        Reenter,
        ReturnFalse,
        NoReturn
    }

    Mode public mode;
    bool public swallow; // Reenter: record the re-entrant call's failure instead of bubbling it
    address public target;
    bytes public payload;
    uint256 public reentries; // re-entrant calls made (and not rolled back)
    bool public lastReentryOk;
    bytes public lastReentryData; // what the last re-entrant call returned or reverted with

    constructor(uint256 supply) ERC20("Reentrant", "REENT") {
        _mint(msg.sender, supply);
    }

    /// @notice Re-enter `target_` with `payload_` on the next token movement (once).
    function arm(address target_, bytes calldata payload_, bool swallow_) external {
        mode = Mode.Reenter;
        target = target_;
        payload = payload_;
        swallow = swallow_;
    }

    /// @notice Set the behaviour directly (Normal disarms).
    function setMode(Mode mode_) external {
        mode = mode_;
    }

    /// @notice Burn the caller's tokens (IBurnableToken), then maybe re-enter.
    function burn(uint256 amount) external {
        _burn(msg.sender, amount);
        _hook();
    }

    function transfer(address to, uint256 value) public override returns (bool) {
        if (mode == Mode.ReturnFalse) return false;
        super.transfer(to, value);
        _hook();
        _maybeReturnNothing();
        return true;
    }

    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        if (mode == Mode.ReturnFalse) return false;
        super.transferFrom(from, to, value);
        _hook();
        _maybeReturnNothing();
        return true;
    }

    /// @notice Make this contract call `to` (so a test can make the token itself a staker, whose
    ///         incoming transfer then re-enters as that staker). Bubbles any revert.
    function execute(address to, bytes calldata data) external returns (bytes memory ret) {
        bool ok;
        (ok, ret) = to.call(data);
        if (!ok) _bubble(ret);
    }

    function _hook() private {
        if (mode != Mode.Reenter) return;
        mode = Mode.Normal; // one shot: the re-entrant call's own token moves behave
        reentries += 1;
        (bool ok, bytes memory ret) = target.call(payload);
        lastReentryOk = ok;
        lastReentryData = ret;
        if (!ok && !swallow) _bubble(ret);
    }

    function _maybeReturnNothing() private view {
        if (mode == Mode.NoReturn) {
            assembly {
                return(0, 0)
            }
        }
    }

    function _bubble(bytes memory ret) private pure {
        assembly {
            revert(add(ret, 32), mload(ret))
        }
    }
}
