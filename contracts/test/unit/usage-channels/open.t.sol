// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IUsageChannels} from "../../../src/interfaces/IUsageChannels.sol";
import {ChannelBase} from "../../utils/ChannelBase.t.sol";

contract Open_Unit_Test is ChannelBase {
    // ---------------------------------------------------------------------- open

    function test_RevertWhen_NodeOrSignerZero() external {
        _mintTo(payer, 1e18);
        vm.startPrank(payer);
        vm.expectRevert(IUsageChannels.ZeroAddress.selector);
        channels.open(address(0), modelId, payer, 1e18);
        vm.expectRevert(IUsageChannels.ZeroAddress.selector);
        channels.open(node, modelId, address(0), 1e18);
        vm.stopPrank();
    }

    function test_RevertWhen_DepositZero() external {
        vm.expectRevert(IUsageChannels.ZeroAmount.selector);
        vm.prank(payer);
        channels.open(node, modelId, payer, 0);
    }

    function test_RevertWhen_DepositAbove128Bits() external {
        uint256 deposit = uint256(type(uint128).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(IUsageChannels.DepositTooLarge.selector, deposit));
        vm.prank(payer);
        channels.open(node, modelId, payer, deposit);
    }

    function test_RevertWhen_ModelUnknown() external {
        _mintTo(payer, 1e18);
        vm.startPrank(payer);
        vm.expectRevert(abi.encodeWithSelector(IUsageChannels.UnknownModel.selector, 0));
        channels.open(node, 0, payer, 1e18);
        vm.expectRevert(abi.encodeWithSelector(IUsageChannels.UnknownModel.selector, modelId + 1));
        channels.open(node, modelId + 1, payer, 1e18);
        vm.stopPrank();
    }

    function test_When_OpenValid() external {
        address sessionKey = makeAddr("sessionKey");
        _mintTo(payer, CHANNEL_DEPOSIT);
        vm.expectEmit(address(channels));
        emit IUsageChannels.ChannelOpened(1, payer, node, modelId, sessionKey, CHANNEL_DEPOSIT);
        vm.prank(payer);
        uint64 id = channels.open(node, modelId, sessionKey, CHANNEL_DEPOSIT);
        assertEq(id, 1, "first id");
        assertEq(channels.channelCount(), 1, "count");
        IUsageChannels.Channel memory c = channels.getChannel(id);
        assertEq(c.payer, payer, "payer");
        assertEq(c.node, node, "node");
        assertEq(c.modelId, modelId, "model");
        assertEq(c.signer, sessionKey, "signer");
        assertEq(c.period, 0, "period");
        assertEq(c.deposit, CHANNEL_DEPOSIT, "deposit");
        assertEq(c.settledFee, 0, "settled");
        assertEq(c.closesAt, 0, "closesAt");
        assertTrue(c.open, "open");
        assertEq(token.balanceOf(address(channels)), CHANNEL_DEPOSIT, "pulled");
        assertEq(_open(modelId, 1), 2, "second id");
        _assertChannelsSolvent();
    }

    // ---------------------------------------------------------------------- fund

    function test_RevertWhen_FundUnknown() external {
        vm.expectRevert(abi.encodeWithSelector(IUsageChannels.UnknownChannel.selector, 9));
        channels.fund(9, 1);
    }

    function test_RevertWhen_FundZero() external {
        uint64 id = _open(modelId, CHANNEL_DEPOSIT);
        vm.expectRevert(IUsageChannels.ZeroAmount.selector);
        channels.fund(id, 0);
    }

    function test_RevertWhen_FundClosing() external {
        uint64 id = _open(modelId, CHANNEL_DEPOSIT);
        vm.prank(payer);
        uint64 closesAt = channels.requestClose(id);
        _mintTo(payer, 1e18);
        vm.expectRevert(abi.encodeWithSelector(IUsageChannels.ChannelClosing.selector, id, closesAt));
        vm.prank(payer);
        channels.fund(id, 1e18);
    }

    function test_RevertWhen_FundClosed() external {
        uint64 id = _open(modelId, CHANNEL_DEPOSIT);
        vm.prank(node);
        channels.close(id);
        vm.expectRevert(abi.encodeWithSelector(IUsageChannels.ChannelNotOpen.selector, id));
        channels.fund(id, 1);
    }

    function test_When_AnyoneFunds() external {
        uint64 id = _open(modelId, CHANNEL_DEPOSIT);
        address friend = makeAddr("friend");
        _mintTo(friend, 5e18);
        vm.expectEmit(address(channels));
        emit IUsageChannels.ChannelFunded(id, friend, 5e18, CHANNEL_DEPOSIT + 5e18);
        vm.prank(friend);
        channels.fund(id, 5e18);
        assertEq(channels.getChannel(id).deposit, CHANNEL_DEPOSIT + 5e18, "deposit");
        assertEq(token.balanceOf(friend), 0, "pulled from the funder");
        _assertChannelsSolvent();
    }
}
