// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @notice The stake token as the Tournament uses it: an ERC-20 whose holder can burn its own tokens.
interface IBurnableToken is IERC20 {
    /// @notice Destroy `amount` of the caller's tokens; total supply falls by exactly `amount`.
    function burn(uint256 amount) external;
}
