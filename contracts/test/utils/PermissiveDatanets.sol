// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IDatanetRegistry} from "../../src/interfaces/IDatanetRegistry.sol";

/// @notice A stand-in DatanetRegistry in which every contribution id, 0 and type(uint64).max included, is an
///         accepted member of every release (datanet 1, first accepted), so that a receipt may attribute any
///         uint64 id. Release `r` holds 1,000,000 tokens of datanet `r`; contributor of id `c` is
///         `contributorOf(c)`. Only what ModelRegistry and UsageEscrow.settle call.
contract PermissiveDatanets {
    function getRelease(uint64 releaseId) external pure returns (IDatanetRegistry.Release memory) {
        return IDatanetRegistry.Release({
            datanetId: releaseId,
            contributionCount: type(uint32).max,
            tokenCount: 1e6,
            root: bytes32(uint256(1))
        });
    }

    function settlementInfo(uint64[] calldata ids)
        external
        pure
        returns (address[] memory contributors, uint64[] memory datanetIds, uint32[] memory acceptedSeqs)
    {
        uint256 n = ids.length;
        (contributors, datanetIds, acceptedSeqs) = (new address[](n), new uint64[](n), new uint32[](n));
        for (uint256 k; k < n; ++k) {
            (contributors[k], datanetIds[k], acceptedSeqs[k]) = (contributorOf(ids[k]), 1, 1);
        }
    }

    /// @notice A nonzero address per id.
    function contributorOf(uint64 id) public pure returns (address) {
        return address(uint160(uint256(keccak256(abi.encode("contributor", id)))) | 1);
    }
}
