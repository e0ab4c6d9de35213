// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @notice A stand-in DatanetRegistry whose `settlementInfo` misbehaves, to exercise the escrow's checks on
///         that answer: it either reverts with a marker error or answers one entry short.
contract BrokenSettlementInfo {
    error RegistryDown();

    bool public immutable reverts;

    constructor(bool reverts_) {
        reverts = reverts_;
    }

    function settlementInfo(uint64[] calldata ids)
        external
        view
        returns (address[] memory, uint64[] memory, uint32[] memory)
    {
        if (reverts) revert RegistryDown();
        uint256 n = ids.length - 1;
        return (new address[](n), new uint64[](n), new uint32[](n));
    }
}
