// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IUsageChannels} from "../../../src/interfaces/IUsageChannels.sol";
import {ChannelBase} from "../../utils/ChannelBase.t.sol";

contract Close_Unit_Test is ChannelBase {
    uint64 internal channelId;

    function setUp() public override {
        super.setUp();
        channelId = _open(modelId, CHANNEL_DEPOSIT);
    }

    function _requestClose() internal returns (uint64 closesAt) {
        vm.prank(payer);
        closesAt = channels.requestClose(channelId);
    }

    // -------------------------------------------------------------- requestClose

    function test_RevertWhen_RequestNotByPayer() external {
        vm.expectRevert(abi.encodeWithSelector(IUsageChannels.NotChannelPayer.selector, channelId, node));
        vm.prank(node);
        channels.requestClose(channelId);
    }

    function test_When_PayerRequests() external {
        uint64 expected = uint64(block.timestamp) + channels.CLOSE_WINDOW();
        vm.expectEmit(address(channels));
        emit IUsageChannels.CloseRequested(channelId, expected);
        assertEq(_requestClose(), expected, "closesAt");
        assertEq(channels.getChannel(channelId).closesAt, expected, "stored");
    }

    function test_When_PayerRequestsAgain() external {
        uint64 first = _requestClose();
        vm.warp(block.timestamp + 1 hours);
        assertEq(_requestClose(), first, "the first time holds");
    }

    // --------------------------------------------------------------------- close

    function test_RevertWhen_CloseByStranger() external {
        address stranger = makeAddr("stranger");
        vm.expectRevert(abi.encodeWithSelector(IUsageChannels.NotChannelPayer.selector, channelId, stranger));
        vm.prank(stranger);
        channels.close(channelId);
    }

    function test_RevertWhen_PayerClosesEarly() external {
        vm.expectRevert(abi.encodeWithSelector(IUsageChannels.CloseNotReady.selector, channelId, 0));
        vm.prank(payer);
        channels.close(channelId);
        uint64 closesAt = _requestClose();
        vm.warp(closesAt - 1);
        vm.expectRevert(abi.encodeWithSelector(IUsageChannels.CloseNotReady.selector, channelId, closesAt));
        vm.prank(payer);
        channels.close(channelId);
    }

    function test_When_NodeSettlesInTheWindow() external {
        uint64 closesAt = _requestClose();
        vm.warp(closesAt - 1);
        _settleSigned(_voucher(channelId, 0, 0, _defaultTotals(4)));
        vm.warp(closesAt);
        vm.prank(payer);
        assertEq(channels.close(channelId), CHANNEL_DEPOSIT - 4e18, "refund: the rest");
        assertEq(escrow.balanceOf(node), 4 * 0.15e18, "node paid");
        _assertChannelsSolvent();
    }

    function test_When_PayerClosesFromClosesAt() external {
        _settleSigned(_voucher(channelId, 0, 0, _defaultTotals(2)));
        uint64 closesAt = _requestClose();
        vm.warp(closesAt);
        vm.expectEmit(address(channels));
        emit IUsageChannels.ChannelClosed(channelId, 2e18, CHANNEL_DEPOSIT - 2e18);
        vm.prank(payer);
        assertEq(channels.close(channelId), CHANNEL_DEPOSIT - 2e18, "refund");
        assertEq(token.balanceOf(payer), CHANNEL_DEPOSIT - 2e18, "paid back");
        assertFalse(channels.getChannel(channelId).open, "closed");
        bytes memory notOpen = abi.encodeWithSelector(IUsageChannels.ChannelNotOpen.selector, channelId);
        vm.expectRevert(notOpen);
        vm.prank(payer);
        channels.close(channelId);
        IUsageChannels.Voucher memory late = _voucher(channelId, 1, 2e18, _defaultTotals(1));
        bytes memory sig = _signVoucher(payerKey, late);
        vm.expectRevert(notOpen);
        vm.prank(node);
        channels.settle(late, sig, LOG_URI);
        _assertChannelsSolvent();
    }

    function test_When_NodeCloses() external {
        _settleSigned(_voucher(channelId, 0, 0, _defaultTotals(1)));
        vm.prank(node);
        assertEq(channels.close(channelId), CHANNEL_DEPOSIT - 1e18, "refund");
        assertEq(token.balanceOf(payer), CHANNEL_DEPOSIT - 1e18, "paid back at once");
        assertEq(token.balanceOf(address(channels)), 0, "nothing left");
    }
}
