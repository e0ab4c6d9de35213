// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AmountMap} from "../../../src/libraries/AmountMap.sol";
import {Test} from "forge-std/Test.sol";

/// @dev Exposes the library so reverts surface at a call boundary.
contract AmountMapHarness {
    using AmountMap for AmountMap.Map;

    function addAll(uint256 maxEntries, address[] calldata accounts, uint256[] calldata amounts)
        external
        pure
        returns (address[] memory keys, uint256[] memory sums)
    {
        AmountMap.Map memory map = AmountMap.create(maxEntries);
        for (uint256 k; k < accounts.length; ++k) {
            map.add(accounts[k], amounts[k]);
        }
        keys = new address[](map.size);
        sums = new uint256[](map.size);
        for (uint256 k; k < map.size; ++k) {
            (keys[k], sums[k]) = map.entry(k);
        }
    }
}

contract AmountMap_Unit_Test is Test {
    AmountMapHarness internal harness = new AmountMapHarness();

    function test_When_SameAccountAddedTwice() external view {
        address[] memory accounts = new address[](3);
        uint256[] memory amounts = new uint256[](3);
        (accounts[0], accounts[1], accounts[2]) = (address(0xB), address(0xA), address(0xB));
        (amounts[0], amounts[1], amounts[2]) = (1, 2, 3);
        (address[] memory keys, uint256[] memory sums) = harness.addAll(3, accounts, amounts);
        assertEq(keys.length, 2, "two distinct");
        assertEq(keys[0], address(0xB));
        assertEq(sums[0], 4);
        assertEq(keys[1], address(0xA));
        assertEq(sums[1], 2);
    }

    function test_RevertWhen_MoreDistinctThanCreatedFor() external {
        address[] memory accounts = new address[](3);
        uint256[] memory amounts = new uint256[](3);
        (accounts[0], accounts[1], accounts[2]) = (address(1), address(2), address(3));
        vm.expectRevert(AmountMap.AmountMapFull.selector);
        harness.addAll(2, accounts, amounts);
    }

    function testFuzz_ManyAccounts(uint8 distinct, uint256 seed) external view {
        distinct = uint8(bound(distinct, 1, 200));
        address[] memory accounts = new address[](uint256(distinct) * 2);
        uint256[] memory amounts = new uint256[](uint256(distinct) * 2);
        for (uint256 k; k < accounts.length; ++k) {
            accounts[k] = address(uint160(uint256(keccak256(abi.encode(seed, k % distinct))) | 1));
            amounts[k] = k + 1;
        }
        (address[] memory keys, uint256[] memory sums) = harness.addAll(distinct, accounts, amounts);
        assertEq(keys.length, distinct, "distinct count");
        for (uint256 k; k < distinct; ++k) {
            assertEq(keys[k], accounts[k], "insertion order");
            assertEq(sums[k], (k + 1) + (k + distinct + 1), "sum of both adds");
        }
    }
}
