// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IModelRegistry} from "../../src/interfaces/IModelRegistry.sol";
import {IUsageEscrow} from "../../src/interfaces/IUsageEscrow.sol";
import {Base} from "../utils/Base.t.sol";

/// @notice Fuzzes the fee split of adapter receipts: any split, any derivative share up to the owner share,
///         any fee; the parts add up to the fee to the wei, the base owner gets exactly its share rounded down,
///         and the rest is what a whole model with the same split pays.
contract Adapter_Fuzz_Test is Base {
    struct Case {
        uint16 ownerBps;
        uint16 dataBps;
        uint16 nodeBps;
        uint16 shareBps;
        uint96 price;
        uint32 tokens;
        uint32 w0;
        uint32 w1;
    }

    function testFuzz_AdapterSplit_SumsToFee(Case memory c) external {
        c.ownerBps = uint16(bound(c.ownerBps, 0, 10_000));
        c.dataBps = uint16(bound(c.dataBps, 0, 10_000 - c.ownerBps));
        c.nodeBps = uint16(bound(c.nodeBps, 0, 10_000 - c.ownerBps - c.dataBps));
        c.shareBps = uint16(bound(c.shareBps, 0, c.ownerBps));
        c.price = uint96(bound(c.price, 0, 1e24));
        c.tokens = uint32(bound(c.tokens, 0, 100_000));
        c.w0 = uint32(bound(c.w0, 0, 1_000_000));
        c.w1 = uint32(bound(c.w1, 0, 1_000_000 - c.w0));

        _setDerivativeShare(c.shareBps);
        IModelRegistry.AdapterRegistration memory args = _adapterArgs();
        args.pricePerKiloToken = c.price;
        args.split = _split(c.ownerBps, c.dataBps, c.nodeBps, 10_000 - c.ownerBps - c.dataBps - c.nodeBps);
        uint64 adapter = _registerAdapter(args);

        IUsageEscrow.Attribution memory a = _defaultAttribution();
        (a.weightsPpm[0], a.weightsPpm[1]) = (c.w0, c.w1);
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, a);
        (r.modelId, r.inputTokens, r.outputTokens) = (adapter, c.tokens, 0);
        r.fee = models.quoteFee(adapter, c.tokens, r.deadline);
        _fund(payer, r.fee + 1);

        uint256[6] memory before = _snapshot();
        assertEq(_settle(r, a, _sign(payerKey, r)), 1, "settled");
        _check(c, r.fee, before, _snapshot());
        _assertSolvent();
    }

    function _check(Case memory c, uint256 fee, uint256[6] memory before, uint256[6] memory after_)
        internal
        pure
    {
        uint256 baseShare = fee * c.shareBps / 10_000;
        assertEq(after_[0] - before[0], baseShare, "base owner: fee x share / 1e4, rounded down");
        assertEq(
            after_[1] - before[1], fee * c.ownerBps / 10_000 - baseShare, "adapter owner: owner share - it"
        );
        assertEq(after_[2] - before[2], fee * c.nodeBps / 10_000, "node");
        uint256 sum;
        for (uint256 k; k < 6; ++k) {
            sum += after_[k] - before[k];
        }
        assertEq(sum, fee, "sum of the parts == fee");
    }

    /// @dev Base owner, adapter owner, node, treasury, the two attributed contributors, and the pools.
    function _snapshot() internal view returns (uint256[6] memory s) {
        s[0] = escrow.balanceOf(modelOwner);
        s[1] = escrow.balanceOf(adapterOwner);
        s[2] = escrow.balanceOf(node);
        s[3] = escrow.balanceOf(treasury);
        s[4] = escrow.balanceOf(contributors[0]) + escrow.balanceOf(contributors[1]);
        s[5] = escrow.unclaimedPoolRewards();
    }
}
