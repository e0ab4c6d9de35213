// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IModelRegistry} from "../../../src/interfaces/IModelRegistry.sol";
import {IUsageEscrow} from "../../../src/interfaces/IUsageEscrow.sol";
import {Base} from "../../utils/Base.t.sol";
import {Vm} from "forge-std/Vm.sol";

contract SettleAdapter_Unit_Test is Base {
    /// @dev 1000 wei per 1,000 tokens: a receipt's fee is its token count, so any fee can be named.
    uint96 internal constant WEI_PRICE = 1000;

    uint256 internal nonce;

    /// @dev An adapter on the fixture's model at `price` with `split`, registered while the base's share is
    ///      `shareBps`.
    function _adapter(uint16 shareBps, uint96 price, IModelRegistry.Split memory split)
        internal
        returns (uint64 id)
    {
        _setDerivativeShare(shareBps);
        IModelRegistry.AdapterRegistration memory r = _adapterArgs();
        (r.pricePerKiloToken, r.split) = (price, split);
        id = _registerAdapter(r);
    }

    /// @dev A signed receipt of `model` for `tokens` input tokens with the default attribution.
    function _signed(uint64 model, uint32 tokens)
        internal
        returns (IUsageEscrow.UsageReceipt memory r, IUsageEscrow.Attribution memory a, bytes memory sig)
    {
        a = _defaultAttribution();
        r = _receipt(payer, ++nonce, a);
        (r.modelId, r.inputTokens, r.outputTokens) = (model, tokens, 0);
        r.fee = models.quoteFee(model, tokens, r.deadline);
        sig = _sign(payerKey, r);
    }

    function _settleOne(uint64 model, uint32 tokens) internal returns (uint256 fee) {
        (IUsageEscrow.UsageReceipt memory r, IUsageEscrow.Attribution memory a, bytes memory sig) =
            _signed(model, tokens);
        assertEq(_settle(r, a, sig), 1, "settled");
        fee = r.fee;
    }

    struct Balances {
        uint256 base;
        uint256 adapter;
        uint256 node;
        uint256 treasury;
        uint256 c0;
        uint256 c1;
        uint256 pools;
    }

    function _balances() internal view returns (Balances memory b) {
        b.base = escrow.balanceOf(modelOwner);
        b.adapter = escrow.balanceOf(adapterOwner);
        b.node = escrow.balanceOf(node);
        b.treasury = escrow.balanceOf(treasury);
        b.c0 = escrow.balanceOf(contributors[0]);
        b.c1 = escrow.balanceOf(contributors[1]);
        b.pools = escrow.unclaimedPoolRewards();
    }

    /// @dev Settles one receipt of `fee` wei of an adapter with `split` and `shareBps`, and checks every
    ///      credit to the wei against `expectBase` / `expectAdapter` and the whole-model formulas.
    function _checkSplit(
        uint16 shareBps,
        IModelRegistry.Split memory split,
        uint32 fee,
        uint256 expectBase,
        uint256 expectAdapter
    ) internal {
        uint64 adapter = _adapter(shareBps, WEI_PRICE, split);
        Balances memory before = _balances();
        assertEq(_settleOne(adapter, fee), fee, "fee");
        Balances memory delta = _balances();
        assertEq(delta.base - before.base, expectBase, "base owner");
        assertEq(delta.base - before.base, uint256(fee) * shareBps / 10_000, "base owner formula");
        assertEq(delta.adapter - before.adapter, expectAdapter, "adapter owner");
        assertEq(expectBase + expectAdapter, uint256(fee) * split.ownerBps / 10_000, "owner share carved");
        _checkWholeModelShares(before, delta, fee, split);
        _assertSolvent();
    }

    /// @dev Node, contributors, pools and treasury got what a whole model with `split` pays.
    function _checkWholeModelShares(
        Balances memory before,
        Balances memory delta,
        uint256 fee,
        IModelRegistry.Split memory split
    ) internal pure {
        uint256 nodeShare = fee * split.nodeBps / 10_000;
        uint256 data = fee * split.dataBps / 10_000;
        uint256 c0 = data * 500_000 / 1_000_000;
        uint256 c1 = data * 250_000 / 1_000_000;
        assertEq(delta.node - before.node, nodeShare, "node");
        assertEq(delta.c0 - before.c0, c0, "contributor 0");
        assertEq(delta.c1 - before.c1, c1, "contributor 1");
        assertEq(
            delta.treasury - before.treasury + delta.pools - before.pools,
            fee - fee * split.ownerBps / 10_000 - nodeShare - c0 - c1,
            "treasury and pools as a whole model"
        );
    }

    /// @dev How many `Credited` logs name `who`, and their total.
    function _creditsTo(Vm.Log[] memory logs, address who)
        internal
        pure
        returns (uint256 count, uint256 sum)
    {
        for (uint256 k; k < logs.length; ++k) {
            if (
                logs[k].topics[0] == IUsageEscrow.Credited.selector
                    && logs[k].topics[1] == bytes32(uint256(uint160(who)))
            ) {
                ++count;
                sum += abi.decode(logs[k].data, (uint256));
            }
        }
    }

    function test_When_AdapterReceiptSettles_RoundShares() external {
        // 1e18-scale fee: 10 % of 30 % to the base owner, 20 % to the adapter owner.
        uint64 adapter = _adapter(1000, PRICE, _split(3000, 5000, 1500, 500));
        Balances memory before = _balances();
        uint256 fee = _settleOne(adapter, 500); // PRICE × 500 / 1000 = 1e18
        assertEq(fee, 1e18, "fee");
        Balances memory b = _balances();
        assertEq(b.base - before.base, 1e17, "base owner: 10 % of the fee");
        assertEq(b.adapter - before.adapter, 2e17, "adapter owner: 30 % - 10 %");
        assertEq(b.node - before.node, 15e16, "node");
        assertEq(b.c0 - before.c0, 25e16, "contributor 0");
        assertEq(b.c1 - before.c1, 125e15, "contributor 1");
        assertEq(b.treasury - before.treasury + b.pools - before.pools, 5e16 + 125e15, "treasury + pool");
        _assertSolvent();
    }

    function test_When_AdapterReceiptSettles_Rounding() external {
        IModelRegistry.Split memory split = _split(3333, 5000, 1000, 667);
        // fee 1: every share rounds to 0, the wei goes to the treasury.
        _checkSplit(1111, split, 1, 0, 0);
        // fee 7: owner ⌊2.3331⌋ = 2, base ⌊0.7777⌋ = 0: the adapter owner keeps both wei.
        _checkSplit(1111, split, 7, 0, 2);
        // fee 10: owner 3, base ⌊1.111⌋ = 1.
        _checkSplit(1111, split, 10, 1, 2);
        // fee 9 999: owner ⌊3332.67⌋ = 3332, base ⌊1110.89⌋ = 1110.
        _checkSplit(1111, split, 9999, 1110, 2222);
        // The largest fee one receipt of this price can carry: 2^32 − 1 tokens.
        _checkSplit(1111, split, type(uint32).max, 477_170_866, 954_341_733);
    }

    function test_When_AdapterReceiptSettles_LargeFee() external {
        // fee 1e18 + 7 wei: ⌊(1e18 + 7) × 3333 / 1e4⌋ = 333300000000000002, base ⌊… × 1111 / 1e4⌋ = 1111e14.
        uint64 adapter = _adapter(1111, 1e18 + 7, _split(3333, 5000, 1000, 667));
        Balances memory before = _balances();
        assertEq(_settleOne(adapter, 1000), 1e18 + 7, "fee");
        Balances memory b = _balances();
        assertEq(b.base - before.base, 111_100_000_000_000_000, "base owner");
        assertEq(b.adapter - before.adapter, 222_200_000_000_000_002, "adapter owner");
        _assertSolvent();
    }

    function test_When_ShareEqualsOwnerShare() external {
        _checkSplit(3000, _split(3000, 5000, 1500, 500), 12_345, 3703, 0);
    }

    function test_When_ShareZero() external {
        _checkSplit(0, _split(3000, 5000, 1500, 500), 12_345, 0, 3703);
    }

    function test_When_SeveralReceiptsInOneBatch_BaseOwnerCreditedOnce() external {
        uint64 adapter = _adapter(2000, WEI_PRICE, _split(3000, 5000, 1500, 500));
        uint256 n = 4;
        IUsageEscrow.UsageReceipt[] memory rs = new IUsageEscrow.UsageReceipt[](n);
        IUsageEscrow.Attribution[] memory as_ = new IUsageEscrow.Attribution[](n);
        bytes[] memory sigs = new bytes[](n);
        uint256 expected;
        for (uint256 k; k < n; ++k) {
            (rs[k], as_[k], sigs[k]) = _signed(adapter, uint32(1001 + 17 * k));
            expected += rs[k].fee * 2000 / 10_000;
        }
        vm.recordLogs();
        assertEq(escrow.settle(rs, as_, sigs), n, "all settled");
        (uint256 credits, uint256 amount) = _creditsTo(vm.getRecordedLogs(), modelOwner);
        assertEq(credits, 1, "base owner credited once");
        assertEq(amount, expected, "one credit of the batch's total");
        assertEq(escrow.balanceOf(modelOwner), expected, "base owner balance");
        _assertSolvent();
    }

    function test_When_BaseChangedHands() external {
        uint64 adapter = _adapter(1000, WEI_PRICE, _split(3000, 5000, 1500, 500));
        _settleOne(adapter, 10_000);
        assertEq(escrow.balanceOf(modelOwner), 1000, "first owner paid for the first receipt");

        // Signed while modelOwner owns the base, settled after it changed hands.
        (IUsageEscrow.UsageReceipt memory r, IUsageEscrow.Attribution memory a, bytes memory sig) =
            _signed(adapter, 20_000);
        address next = makeAddr("nextBaseOwner");
        vm.prank(modelOwner);
        models.setModelOwner(modelId, next);
        assertEq(_settle(r, a, sig), 1, "settled");
        assertEq(escrow.balanceOf(next), 2000, "the base's owner at settlement");
        assertEq(escrow.balanceOf(modelOwner), 1000, "the former owner: nothing more");
        assertEq(escrow.balanceOf(adapterOwner), 2000 + 4000, "adapter owner");
        _assertSolvent();
    }

    function test_When_BaseShareRaisedAfterRegistration() external {
        uint64 adapter = _adapter(500, WEI_PRICE, _split(3000, 5000, 1500, 500));
        (IUsageEscrow.UsageReceipt memory r, IUsageEscrow.Attribution memory a, bytes memory sig) =
            _signed(adapter, 10_000);
        _setDerivativeShare(3000);
        assertEq(_settle(r, a, sig), 1, "a receipt signed before the raise settles");
        _settleOne(adapter, 10_000); // signed after the raise
        assertEq(escrow.balanceOf(modelOwner), 2 * 500, "5 % of each fee, as registered");
        assertEq(escrow.balanceOf(adapterOwner), 2 * 2500, "adapter owner");
        _assertSolvent();
    }

    function test_When_BaseOwnerOwnsAdapter() external {
        _setDerivativeShare(1000);
        IModelRegistry.AdapterRegistration memory args = _adapterArgs();
        args.pricePerKiloToken = WEI_PRICE;
        vm.prank(modelOwner);
        uint64 adapter = models.registerAdapter(args);
        (IUsageEscrow.UsageReceipt memory r, IUsageEscrow.Attribution memory a, bytes memory sig) =
            _signed(adapter, 10_000);
        vm.recordLogs();
        assertEq(_settle(r, a, sig), 1, "settled");
        (uint256 credits, uint256 amount) = _creditsTo(vm.getRecordedLogs(), modelOwner);
        assertEq(credits, 1, "credited once");
        assertEq(amount, 3000, "the whole owner share");
        assertEq(escrow.balanceOf(modelOwner), 3000, "the whole owner share, once");
        _assertSolvent();
    }

    function test_When_BatchMixesBaseAndAdapters() external {
        uint64 a1 = _adapter(1000, WEI_PRICE, _split(3000, 5000, 1500, 500));
        uint64 a2 = _adapter(2500, WEI_PRICE, _split(4000, 4000, 1000, 1000));
        uint64[5] memory order = [a1, modelId, a2, a1, modelId];
        uint32[5] memory tokens = [uint32(9999), 500, 12_347, 1, 777];
        IUsageEscrow.UsageReceipt[] memory rs = new IUsageEscrow.UsageReceipt[](5);
        IUsageEscrow.Attribution[] memory as_ = new IUsageEscrow.Attribution[](5);
        bytes[] memory sigs = new bytes[](5);
        uint256 baseOwed;
        uint256 adapterOwed;
        uint256 total;
        for (uint256 k; k < 5; ++k) {
            (rs[k], as_[k], sigs[k]) = _signed(order[k], tokens[k]);
            uint256 fee = rs[k].fee;
            total += fee;
            if (order[k] == modelId) {
                baseOwed += fee * 3000 / 10_000; // the base's own receipts: its owner share
            } else {
                IModelRegistry.Model memory m = models.getModel(order[k]);
                uint256 share = fee * m.baseShareBps / 10_000;
                baseOwed += share;
                adapterOwed += fee * m.split.ownerBps / 10_000 - share;
            }
        }
        uint256 depositBefore = escrow.depositOf(payer);
        uint256 creditedBefore = escrow.totalCredited() + escrow.unclaimedPoolRewards();
        assertEq(escrow.settle(rs, as_, sigs), 5, "all settled");
        assertEq(escrow.balanceOf(modelOwner), baseOwed, "base owner: own receipts and both shares");
        assertEq(escrow.balanceOf(adapterOwner), adapterOwed, "adapter owner");
        assertEq(depositBefore - escrow.depositOf(payer), total, "charged the fees");
        assertEq(
            escrow.totalCredited() + escrow.unclaimedPoolRewards() - creditedBefore,
            total,
            "every wei credited"
        );
        _assertSolvent();
    }
}
