// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title AmountMap
/// @notice An in-memory map from nonzero addresses to amounts, used to aggregate a settlement batch's
///         charges and credits so that each distinct account's storage is written once per batch.
/// @dev Open addressing with linear probing over a power-of-two table of (key, amount) pairs, sized for the
///      caller's stated worst case (`maxEntries` distinct keys) at a load factor of at most 2/3, so a probe
///      always finds the key or an empty pair. `used` lists the occupied pairs in insertion order so the
///      final pass visits only them. Lives in memory only: its cost is bounded by the caller's own batch.
library AmountMap {
    /// @notice The map: memory pointers to the pair table and the insertion list, and their sizes.
    struct Map {
        uint256 table;
        uint256 mask;
        uint256 used;
        uint256 size;
        uint256 maxEntries;
    }

    /// @notice More distinct keys were added than the map was created for.
    error AmountMapFull();

    /// @notice A map able to hold `maxEntries` distinct accounts.
    function create(uint256 maxEntries) internal pure returns (Map memory map) {
        uint256 capacity = 16;
        while (capacity * 2 < maxEntries * 3) {
            capacity <<= 1;
        }
        map.mask = capacity - 1;
        map.maxEntries = maxEntries;
        uint256 tableBytes = capacity * 64;
        uint256 table;
        uint256 used;
        assembly ("memory-safe") {
            table := mload(0x40)
            // Memory past the free pointer may be dirty: zero the table (copying from past calldata's end).
            calldatacopy(table, calldatasize(), tableBytes)
            used := add(table, tableBytes)
            mstore(0x40, add(used, shl(5, maxEntries)))
        }
        map.table = table;
        map.used = used;
    }

    /// @notice Adds `amount` to `account`'s entry (`account` must be nonzero).
    function add(Map memory map, address account, uint256 amount) internal pure {
        uint256 table = map.table;
        uint256 mask = map.mask;
        bool inserted;
        uint256 pair;
        assembly ("memory-safe") {
            mstore(0x00, account)
            let i := and(keccak256(0x00, 0x20), mask)
            for {} 1 {} {
                pair := add(table, shl(6, i))
                let key := mload(pair)
                if eq(key, account) {
                    // Cannot overflow: amounts are fee shares, each below 2^130.
                    mstore(add(pair, 0x20), add(mload(add(pair, 0x20)), amount))
                    break
                }
                if iszero(key) {
                    mstore(pair, account)
                    mstore(add(pair, 0x20), amount)
                    inserted := 1
                    break
                }
                i := and(add(i, 1), mask)
            }
        }
        if (inserted) {
            uint256 size = map.size;
            if (size == map.maxEntries) revert AmountMapFull();
            uint256 used = map.used;
            assembly ("memory-safe") {
                mstore(add(used, shl(5, size)), pair)
            }
            map.size = size + 1;
        }
    }

    /// @notice `account`'s amount (0 when absent).
    function get(Map memory map, address account) internal pure returns (uint256 amount) {
        uint256 table = map.table;
        uint256 mask = map.mask;
        assembly ("memory-safe") {
            mstore(0x00, account)
            let i := and(keccak256(0x00, 0x20), mask)
            for {} 1 {} {
                let pair := add(table, shl(6, i))
                let key := mload(pair)
                if eq(key, account) {
                    amount := mload(add(pair, 0x20))
                    break
                }
                if iszero(key) { break }
                i := and(add(i, 1), mask)
            }
        }
    }

    /// @notice The `k`-th distinct account added (0-based, insertion order; `k < size`) and its amount.
    function entry(Map memory map, uint256 k) internal pure returns (address account, uint256 amount) {
        uint256 used = map.used;
        assembly ("memory-safe") {
            let pair := mload(add(used, shl(5, k)))
            account := mload(pair)
            amount := mload(add(pair, 0x20))
        }
    }
}
