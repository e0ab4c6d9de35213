// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {SoilToken} from "../../../src/SoilToken.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Test} from "forge-std/Test.sol";

contract SoilToken_Unit_Test is Test {
    SoilToken internal token;
    address internal owner = makeAddr("owner");

    function setUp() external {
        token = new SoilToken(owner);
    }

    function test_RevertWhen_CallerNotOwner() external {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        token.mint(address(this), 1);
    }

    function test_When_CallerIsOwner() external {
        vm.prank(owner);
        token.mint(address(0xBEEF), 5e18);
        assertEq(token.balanceOf(address(0xBEEF)), 5e18);
        assertEq(token.totalSupply(), 5e18);
        assertEq(token.decimals(), 18);
        assertEq(token.symbol(), "SOIL");
    }

    function test_When_HolderSignsPermit() external {
        (address holder, uint256 key) = makeAddrAndKey("holder");
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256(
                    "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
                ),
                holder,
                address(this),
                7,
                0,
                block.timestamp
            )
        );
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(key, keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash)));
        token.permit(holder, address(this), 7, block.timestamp, v, r, s);
        assertEq(token.allowance(holder, address(this)), 7);
    }
}
