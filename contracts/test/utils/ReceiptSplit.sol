// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IModelRegistry} from "../../src/interfaces/IModelRegistry.sol";

/// @notice One receipt's fee split as `UsageEscrow.settle` splits it, each product rounded down: what a
///         channel's payer adds to its period totals per inference.
library ReceiptSplit {
    /// @notice The parts of one fee: the owner's net of the base share, the base share, the node's, the data's.
    struct Parts {
        uint256 owner;
        uint256 base;
        uint256 node;
        uint256 data;
    }

    /// @notice The parts of `fee` under model `m`'s split and derivative share.
    function parts(IModelRegistry.Model memory m, uint256 fee) internal pure returns (Parts memory p) {
        p.base = fee * m.baseShareBps / 10_000;
        p.owner = fee * m.split.ownerBps / 10_000 - p.base;
        p.node = fee * m.split.nodeBps / 10_000;
        p.data = fee * m.split.dataBps / 10_000;
    }
}
