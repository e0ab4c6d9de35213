// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IUsageEscrow} from "../../../src/interfaces/IUsageEscrow.sol";
import {Base} from "../../utils/Base.t.sol";

contract Withdrawals_Unit_Test is Base {
    function test_RevertWhen_RequestZero() external {
        vm.expectRevert(IUsageEscrow.ZeroAmount.selector);
        vm.prank(payer);
        escrow.requestWithdrawal(0);
    }

    function test_RevertWhen_RequestAboveDeposit() external {
        vm.expectRevert(
            abi.encodeWithSelector(IUsageEscrow.InsufficientDeposit.selector, payer, DEPOSIT + 1, DEPOSIT)
        );
        vm.prank(payer);
        escrow.requestWithdrawal(DEPOSIT + 1);
    }

    function test_When_RequestCovered() external {
        vm.expectEmit(address(escrow));
        emit IUsageEscrow.WithdrawalRequested(payer, 400e18, uint64(block.timestamp + 2 days));
        vm.prank(payer);
        escrow.requestWithdrawal(400e18);
        (uint256 amount, uint64 unlockAt) = escrow.pendingWithdrawal(payer);
        assertEq(amount, 400e18, "amount");
        assertEq(unlockAt, block.timestamp + 2 days, "unlockAt");
        assertEq(escrow.depositOf(payer), DEPOSIT, "still chargeable");
    }

    function test_RevertWhen_NothingPending() external {
        vm.expectRevert(abi.encodeWithSelector(IUsageEscrow.WithdrawalNotReady.selector, 0));
        vm.prank(payer);
        escrow.withdraw();
    }

    function test_RevertWhen_DelayNotPassed() external {
        vm.prank(payer);
        escrow.requestWithdrawal(400e18);
        vm.warp(block.timestamp + 2 days - 1);
        vm.expectRevert(abi.encodeWithSelector(IUsageEscrow.WithdrawalNotReady.selector, block.timestamp + 1));
        vm.prank(payer);
        escrow.withdraw();
    }

    function test_When_DelayPassed() external {
        vm.prank(payer);
        escrow.requestWithdrawal(400e18);
        vm.warp(block.timestamp + 2 days);
        vm.expectEmit(address(escrow));
        emit IUsageEscrow.Withdrawn(payer, 400e18);
        vm.prank(payer);
        assertEq(escrow.withdraw(), 400e18, "returned");
        assertEq(token.balanceOf(payer), 400e18, "paid");
        assertEq(escrow.depositOf(payer), DEPOSIT - 400e18, "deposit");
        (uint256 amount,) = escrow.pendingWithdrawal(payer);
        assertEq(amount, 0, "cleared");
        _assertSolvent();
    }

    function test_When_DelayPassed_AfterCharges() external {
        vm.prank(payer);
        escrow.requestWithdrawal(DEPOSIT);
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, a);
        _settle(r, a, _sign(payerKey, r)); // a receipt signed before the request still settles
        vm.warp(block.timestamp + 2 days);
        vm.prank(payer);
        assertEq(escrow.withdraw(), DEPOSIT - r.fee, "capped at what is left");
        assertEq(escrow.depositOf(payer), 0, "emptied");
        _assertSolvent();
    }
}
