// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";
import {ERC20Capped} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Capped.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title StakeToken
/// @notice The tournament's ERC-20: a hard-capped supply, burnable (losing stakes are burned),
///         and EIP-2612 permit so a participant stakes in one transaction without an approve.
contract StakeToken is ERC20, ERC20Burnable, ERC20Capped, ERC20Permit, AccessControl {
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    error StakeTokenZeroAddress();

    /// @param name_ Token name (also the EIP-712 domain name of permits).
    /// @param symbol_ Token symbol.
    /// @param cap_ Hard cap on the total supply, in token units (18 decimals).
    /// @param treasury Receives the initial supply.
    /// @param initialSupply Minted to `treasury` at deployment; at most `cap_`.
    /// @param admin Holds DEFAULT_ADMIN_ROLE: grants and revokes MINTER_ROLE.
    constructor(
        string memory name_,
        string memory symbol_,
        uint256 cap_,
        address treasury,
        uint256 initialSupply,
        address admin
    ) ERC20(name_, symbol_) ERC20Capped(cap_) ERC20Permit(name_) {
        if (treasury == address(0) || admin == address(0)) revert StakeTokenZeroAddress();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _mint(treasury, initialSupply);
    }

    /// @notice Mint new tokens; never past the cap.
    /// @param to Recipient.
    /// @param amount Amount in token units.
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }

    // ERC20Capped checks the cap on every mint.
    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Capped) {
        super._update(from, to, value);
    }
}
