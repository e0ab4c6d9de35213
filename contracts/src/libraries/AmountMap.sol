// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title AmountMap
/// @notice An in-memory map from nonzero addresses to amounts, used to aggregate a settlement batch's
///         charges and credits so that each distinct account's storage is written once per batch.
/// @dev Open addressing with linear probing over a power-of-two table sized for the batch's worst case at
///      a load factor of at most 2/3; `used` lists the occupied slots in insertion order so the final pass
///      visits only them. Lives in memory only: its cost is bounded by the caller's own batch.
library AmountMap {
    /// @notice The map. `keys[i] == address(0)` marks an empty slot.
    struct Map {
        address[] keys;
        uint256[] amounts;
        uint256[] used;
        uint256 size;
        uint256 mask;
    }

    /// @notice A map able to hold `maxEntries` distinct accounts.
    function create(uint256 maxEntries) internal pure returns (Map memory map) {
        uint256 capacity = 16;
        while (capacity * 2 < maxEntries * 3) {
            capacity <<= 1;
        }
        map.keys = new address[](capacity);
        map.amounts = new uint256[](capacity);
        map.used = new uint256[](maxEntries);
        map.mask = capacity - 1;
    }

    /// @notice Adds `amount` to `account`'s entry (`account` must be nonzero).
    function add(Map memory map, address account, uint256 amount) internal pure {
        uint256 i = _slot(map, account);
        map.amounts[i] += amount;
    }

    /// @notice The `k`-th distinct account added (0-based, insertion order) and its amount.
    function entry(Map memory map, uint256 k) internal pure returns (address account, uint256 amount) {
        uint256 i = map.used[k];
        return (map.keys[i], map.amounts[i]);
    }

    function _slot(Map memory map, address account) private pure returns (uint256 i) {
        uint256 mask = map.mask;
        i = _hash(account) & mask;
        address[] memory keys = map.keys;
        while (true) {
            address key = keys[i];
            if (key == account) return i;
            if (key == address(0)) {
                keys[i] = account;
                map.used[map.size++] = i;
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    function _hash(address account) private pure returns (uint256 h) {
        assembly ("memory-safe") {
            mstore(0x00, account)
            h := keccak256(0x00, 0x20)
        }
    }
}
