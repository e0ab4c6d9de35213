// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";

/// @title SoilToken
/// @notice The local and demo payment token: an 18-decimal ERC-20 with EIP-2612 permit, minted by its owner.
contract SoilToken is ERC20, ERC20Permit, Ownable {
    /// @param owner_ The account allowed to mint.
    constructor(address owner_) ERC20("Soil", "SOIL") ERC20Permit("Soil") Ownable(owner_) {}

    /// @notice Mints `amount` to `to`. Only the owner.
    /// @param to Recipient of the new tokens.
    /// @param amount Amount in base units (18 decimals).
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
