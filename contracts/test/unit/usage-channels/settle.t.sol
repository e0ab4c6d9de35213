// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IUsageChannels} from "../../../src/interfaces/IUsageChannels.sol";
import {IUsageEscrow} from "../../../src/interfaces/IUsageEscrow.sol";
import {ChannelBase} from "../../utils/ChannelBase.t.sol";

contract Settle_Unit_Test is ChannelBase {
    /// @dev The fixture's receipt: 500 tokens at PRICE is 1e18, split 30 / 15 / 5 / 50 %, the data share's
    ///      50 % and 25 % to contributions 1 and 2.
    uint256 internal constant FEE = 1e18;

    uint64 internal channelId;

    function setUp() public override {
        super.setUp();
        channelId = _open(modelId, CHANNEL_DEPOSIT);
    }

    function _three() internal view returns (IUsageChannels.Voucher memory) {
        return _voucher(channelId, 0, 0, _defaultTotals(3));
    }

    function _expectRevertSettling(IUsageChannels.Voucher memory v, bytes memory reason) internal {
        bytes memory sig = _signVoucher(payerKey, v);
        vm.expectRevert(reason);
        vm.prank(node);
        channels.settle(v, sig, LOG_URI);
    }

    // ---------------------------------------------------------------- reverts

    function test_RevertWhen_ChannelUnknownOrClosed() external {
        IUsageChannels.Voucher memory v = _three();
        v.channelId = 7;
        _expectRevertSettling(v, abi.encodeWithSelector(IUsageChannels.UnknownChannel.selector, 7));
        vm.prank(node);
        channels.close(channelId);
        _expectRevertSettling(
            _three(), abi.encodeWithSelector(IUsageChannels.ChannelNotOpen.selector, channelId)
        );
    }

    function test_RevertWhen_CallerNotNode() external {
        IUsageChannels.Voucher memory v = _three();
        bytes memory sig = _signVoucher(payerKey, v);
        vm.expectRevert(abi.encodeWithSelector(IUsageChannels.NotChannelNode.selector, channelId, payer));
        vm.prank(payer);
        channels.settle(v, sig, LOG_URI);
    }

    function test_RevertWhen_CloseWindowPassed() external {
        vm.prank(payer);
        uint64 closesAt = channels.requestClose(channelId);
        vm.warp(closesAt);
        _expectRevertSettling(
            _three(), abi.encodeWithSelector(IUsageChannels.ChannelClosing.selector, channelId, closesAt)
        );
    }

    function test_RevertWhen_WrongPeriod() external {
        IUsageChannels.Voucher memory v = _three();
        v.period = 1;
        _expectRevertSettling(v, abi.encodeWithSelector(IUsageChannels.WrongPeriod.selector, channelId, 0, 1));
    }

    function test_RevertWhen_StartFeeMismatch() external {
        IUsageChannels.Voucher memory v = _voucher(channelId, 0, 1, _defaultTotals(3));
        _expectRevertSettling(
            v, abi.encodeWithSelector(IUsageChannels.StartFeeMismatch.selector, channelId, 0, 1)
        );
    }

    function test_RevertWhen_NothingToSettle() external {
        IUsageChannels.Voucher memory v = _voucher(channelId, 0, 0, _totals());
        _expectRevertSettling(v, abi.encodeWithSelector(IUsageChannels.NothingToSettle.selector, channelId));
    }

    function test_RevertWhen_VoucherExceedsDeposit() external {
        IUsageChannels.Voucher memory v = _voucher(channelId, 0, 0, _defaultTotals(101));
        _expectRevertSettling(
            v,
            abi.encodeWithSelector(
                IUsageChannels.VoucherExceedsDeposit.selector, channelId, 101 * FEE, CHANNEL_DEPOSIT
            )
        );
    }

    function test_RevertWhen_SignatureNotTheSigners() external {
        IUsageChannels.Voucher memory v = _three();
        (, uint256 strangerKey) = makeAddrAndKey("stranger");
        bytes memory forged = _signVoucher(strangerKey, v);
        bytes memory invalid =
            abi.encodeWithSelector(IUsageChannels.InvalidVoucherSignature.selector, channelId);
        vm.startPrank(node);
        vm.expectRevert(invalid);
        channels.settle(v, forged, LOG_URI);
        vm.expectRevert(invalid);
        channels.settle(v, new bytes(63), LOG_URI);
        // A signature over another voucher (one wei more to the node) does not carry over.
        IUsageChannels.Voucher memory other = _three();
        other.nodeShare += 1;
        vm.stopPrank();
        bytes memory sig = _signVoucher(payerKey, other);
        vm.expectRevert(invalid);
        vm.prank(node);
        channels.settle(v, sig, LOG_URI);
    }

    function test_RevertWhen_PayerSignsForSessionKeyChannel() external {
        (address key, uint256 secret) = makeAddrAndKey("sessionKey");
        _mintTo(payer, 10e18);
        vm.prank(payer);
        uint64 id = channels.open(node, modelId, key, 10e18);
        IUsageChannels.Voucher memory v = _voucher(id, 0, 0, _defaultTotals(1));
        bytes memory byPayer = _signVoucher(payerKey, v);
        vm.expectRevert(abi.encodeWithSelector(IUsageChannels.InvalidVoucherSignature.selector, id));
        vm.prank(node);
        channels.settle(v, byPayer, LOG_URI);
        bytes memory byKey = _signVoucher(secret, v);
        vm.prank(node);
        assertEq(channels.settle(v, byKey, LOG_URI), FEE, "the named key signs");
    }

    function test_RevertWhen_ShareOutOfBounds() external {
        // Three receipts: each share may fall short of fee × bps / 10 000 by at most 2 wei, never exceed it.
        uint256[4] memory bounds = [uint256(0.9e18), 0, 0.45e18, 1.5e18];
        for (uint8 share; share < 4; ++share) {
            IUsageChannels.Voucher memory v = _three();
            if (share == 0) v.ownerShare += 1;
            // Moved from the owner share, so that owner + base stays within its bound.
            if (share == 1) (v.baseShare, v.ownerShare) = (v.baseShare + 1, v.ownerShare - 1);
            if (share == 2) v.nodeShare += 1;
            if (share == 3) v.dataShare += 1;
            uint256 given = [v.ownerShare + v.baseShare, v.baseShare, v.nodeShare, v.dataShare][share];
            _expectRevertSettling(
                v, abi.encodeWithSelector(IUsageEscrow.ShareOutOfBounds.selector, share, given, bounds[share])
            );
        }
        // Moving 3 wei of the node share to the owner is beyond three receipts' rounding.
        IUsageChannels.Voucher memory moved = _three();
        moved.nodeShare -= 3;
        _expectRevertSettling(
            moved, abi.encodeWithSelector(IUsageEscrow.ShareOutOfBounds.selector, 2, 0.45e18 - 3, 0.45e18)
        );
    }

    function test_RevertWhen_ContributionsNotAscending() external {
        IUsageChannels.Voucher memory v = _three();
        (v.contributionIds[0], v.contributionIds[1]) = (v.contributionIds[1], v.contributionIds[0]);
        _expectRevertSettling(v, abi.encodeWithSelector(IUsageEscrow.InvalidVoucherContributions.selector, 1));
        IUsageChannels.Voucher memory twice = _three();
        twice.contributionIds[1] = twice.contributionIds[0];
        _expectRevertSettling(
            twice, abi.encodeWithSelector(IUsageEscrow.InvalidVoucherContributions.selector, 1)
        );
        IUsageChannels.Voucher memory short = _three();
        short.contributionAmounts = new uint256[](1);
        _expectRevertSettling(
            short, abi.encodeWithSelector(IUsageEscrow.InvalidVoucherContributions.selector, 1)
        );
    }

    function test_RevertWhen_ContributionOutsideReleases() external {
        uint64 outsider = _contribute(contributors[3], datanetId, 50);
        vm.prank(curator);
        datanets.review(outsider, true); // accepted after the release: in none of the model's releases
        IUsageChannels.Voucher memory v = _three();
        v.contributionIds[1] = outsider;
        _expectRevertSettling(
            v, abi.encodeWithSelector(IUsageEscrow.ContributionNotInModelReleases.selector, 1, outsider)
        );
    }

    function test_RevertWhen_DataShareOverspent() external {
        IUsageChannels.Voucher memory v = _three();
        v.contributionAmounts[0] += 0.375e18 + 1; // the pool's 0.375e18, and one wei more
        _expectRevertSettling(
            v, abi.encodeWithSelector(IUsageEscrow.DataShareOverspent.selector, 1.5e18 + 1, 1.5e18)
        );
    }

    function test_RevertWhen_EscrowCalledDirectly() external {
        IUsageChannels.Voucher memory v = _three();
        vm.expectRevert(abi.encodeWithSelector(IUsageEscrow.NotChannels.selector, node));
        vm.prank(node);
        escrow.settleChannel(modelId, node, v);
    }

    function test_RevertWhen_ChannelsSetAgain() external {
        vm.expectRevert(IUsageEscrow.ChannelsAlreadySet.selector);
        vm.prank(owner);
        escrow.setChannels(address(1));
    }

    // ------------------------------------------------------------------ valid

    function test_When_VoucherValid() external {
        IUsageChannels.Voucher memory v = _three();
        bytes32 digest = _voucherDigest(v);
        assertEq(channels.hashVoucher(v), digest, "digest");
        uint256 escrowBefore = token.balanceOf(address(escrow));
        vm.expectEmit(address(channels));
        emit IUsageChannels.VoucherSettled(channelId, digest, v, LOG_URI);
        assertEq(_settleSigned(v), 3 * FEE, "period fee");
        // Exactly three fixture receipts' worth, as per-receipt settlement credits them.
        assertEq(escrow.balanceOf(modelOwner), 3 * 0.3e18, "owner");
        assertEq(escrow.balanceOf(node), 3 * 0.15e18, "node");
        assertEq(escrow.balanceOf(treasury), 3 * 0.05e18, "treasury");
        assertEq(escrow.balanceOf(contributors[0]), 3 * 0.25e18, "contribution 1");
        assertEq(escrow.balanceOf(contributors[1]), 3 * 0.125e18, "contribution 2");
        assertEq(escrow.unclaimedPoolRewards(), 3 * 0.125e18, "pool");
        assertEq(token.balanceOf(address(escrow)) - escrowBefore, 3 * FEE, "fee moved to the escrow");
        IUsageChannels.Channel memory c = channels.getChannel(channelId);
        assertEq(c.period, 1, "next period");
        assertEq(c.settledFee, 3 * FEE, "settled fee");
        _assertChannelsSolvent();
        _assertSolvent();
    }

    function test_When_CompactSignature() external {
        IUsageChannels.Voucher memory v = _three();
        (bytes32 r, bytes32 vs) = vm.signCompact(payerKey, _voucherDigest(v));
        vm.prank(node);
        assertEq(channels.settle(v, abi.encodePacked(r, vs), LOG_URI), 3 * FEE, "settled");
    }

    function test_When_NextPeriodSettled() external {
        IUsageChannels.Voucher memory first = _three();
        _settleSigned(first);
        IUsageChannels.Voucher memory second = _voucher(channelId, 1, 3 * FEE, _defaultTotals(2));
        assertEq(_settleSigned(second), 2 * FEE, "only the second period");
        assertEq(escrow.balanceOf(node), 5 * 0.15e18, "node paid five receipts");
        assertEq(channels.getChannel(channelId).settledFee, 5 * FEE, "settled fee");
        _assertChannelsSolvent();
    }

    function test_RevertWhen_PeriodsLatestVoucherSettledAfter() external {
        // The node settles an early voucher of the period: the later one of the same period is stale.
        IUsageChannels.Voucher memory early = _voucher(channelId, 0, 0, _defaultTotals(2));
        IUsageChannels.Voucher memory later = _three();
        _settleSigned(early);
        _expectRevertSettling(
            later, abi.encodeWithSelector(IUsageChannels.WrongPeriod.selector, channelId, 1, 0)
        );
        _expectRevertSettling(
            early, abi.encodeWithSelector(IUsageChannels.WrongPeriod.selector, channelId, 1, 0)
        );
        assertEq(escrow.balanceOf(node), 2 * 0.15e18, "paid once");
    }
}
