// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IUsageEscrow} from "../../../src/interfaces/IUsageEscrow.sol";
import {SkipChecks} from "../../utils/SkipChecks.t.sol";

contract Withdrawals_Unit_Test is SkipChecks {
    function _request(uint256 amount) internal {
        vm.prank(payer);
        escrow.requestWithdrawal(amount);
    }

    // -------------------------------------------------------- requestWithdrawal

    function test_RevertWhen_RequestZero() external {
        vm.expectRevert(IUsageEscrow.ZeroAmount.selector);
        _request(0);
    }

    function test_RevertWhen_RequestAboveDeposit() external {
        vm.expectRevert(
            abi.encodeWithSelector(IUsageEscrow.InsufficientDeposit.selector, payer, DEPOSIT + 1, DEPOSIT)
        );
        _request(DEPOSIT + 1);
    }

    function test_When_RequestCovered() external {
        vm.expectEmit(address(escrow));
        emit IUsageEscrow.WithdrawalRequested(payer, 400e18, uint64(block.timestamp + 2 days));
        _request(400e18);
        (uint256 amount, uint64 unlockAt) = escrow.pendingWithdrawal(payer);
        assertEq(amount, 400e18, "amount");
        assertEq(unlockAt, block.timestamp + 2 days, "unlockAt");
        assertGt(unlockAt, escrow.latestDeadline(), "after every deadline signed so far");
        assertEq(escrow.depositOf(payer), DEPOSIT, "still chargeable");
        assertEq(escrow.totalDeposits(), DEPOSIT, "totalDeposits");
    }

    function test_When_RequestReplacesPending() external {
        uint64 t0 = uint64(block.timestamp);
        _request(400e18);
        vm.warp(t0 + 1 days);
        vm.expectEmit(address(escrow));
        emit IUsageEscrow.WithdrawalRequested(payer, 100e18, t0 + 3 days);
        _request(100e18);
        (uint256 amount, uint64 unlockAt) = escrow.pendingWithdrawal(payer);
        assertEq(amount, 100e18, "new amount");
        assertEq(unlockAt, t0 + 3 days, "the delay starts again");
        vm.warp(t0 + 2 days);
        vm.expectRevert(abi.encodeWithSelector(IUsageEscrow.WithdrawalNotReady.selector, t0 + 3 days));
        vm.prank(payer);
        escrow.withdraw();
    }

    // ------------------------------------------------------------------ withdraw

    function test_RevertWhen_NothingPending() external {
        vm.expectRevert(abi.encodeWithSelector(IUsageEscrow.WithdrawalNotReady.selector, 0));
        vm.prank(payer);
        escrow.withdraw();
    }

    function test_RevertWhen_DelayNotPassed() external {
        _request(400e18);
        vm.warp(block.timestamp + 2 days - 1);
        vm.expectRevert(abi.encodeWithSelector(IUsageEscrow.WithdrawalNotReady.selector, block.timestamp + 1));
        vm.prank(payer);
        escrow.withdraw();
    }

    function test_When_DelayPassed() external {
        _request(400e18);
        vm.warp(block.timestamp + 2 days);
        vm.expectEmit(address(escrow));
        emit IUsageEscrow.Withdrawn(payer, 400e18);
        vm.prank(payer);
        assertEq(escrow.withdraw(), 400e18, "returned");
        assertEq(token.balanceOf(payer), 400e18, "paid");
        assertEq(escrow.depositOf(payer), DEPOSIT - 400e18, "deposit");
        assertEq(escrow.totalDeposits(), DEPOSIT - 400e18, "totalDeposits");
        (uint256 amount, uint64 unlockAt) = escrow.pendingWithdrawal(payer);
        assertEq(amount, 0, "cleared");
        assertEq(unlockAt, 0, "cleared unlockAt");
        _assertSolvent();

        vm.expectRevert(abi.encodeWithSelector(IUsageEscrow.WithdrawalNotReady.selector, 0));
        vm.prank(payer);
        escrow.withdraw();
    }

    function test_When_WindowLastSecond() external {
        _request(400e18);
        uint64 unlockAt = uint64(block.timestamp + 2 days);
        vm.warp(unlockAt + escrow.WITHDRAWAL_WINDOW());
        (uint256 amount,) = escrow.pendingWithdrawal(payer);
        assertEq(amount, 400e18, "still pending");
        vm.prank(payer);
        assertEq(escrow.withdraw(), 400e18, "paid in the last second");
        assertEq(token.balanceOf(payer), 400e18, "paid");
        _assertSolvent();
    }

    function test_When_DelayPassed_AfterCharges() external {
        uint64 t0 = uint64(block.timestamp);
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, a);
        r.deadline = escrow.latestDeadline(); // signed before the request, with the longest lifetime
        bytes memory sig = _sign(payerKey, r);
        _request(DEPOSIT);

        vm.warp(r.deadline);
        assertEq(_settle(r, a, sig), 1, "settles at its deadline, before the unlock");
        vm.warp(t0 + 2 days);
        vm.expectEmit(address(escrow));
        emit IUsageEscrow.Withdrawn(payer, DEPOSIT - FEE);
        vm.prank(payer);
        assertEq(escrow.withdraw(), DEPOSIT - FEE, "capped at what is left");
        assertEq(escrow.depositOf(payer), 0, "emptied");
        assertEq(token.balanceOf(payer), DEPOSIT - FEE, "paid");
        _assertSolvent();
    }

    function test_RevertWhen_WindowPassed() external {
        _request(400e18);
        uint64 unlockAt = uint64(block.timestamp + 2 days);
        vm.warp(unlockAt + 1 days + 1);
        vm.expectRevert(abi.encodeWithSelector(IUsageEscrow.WithdrawalExpired.selector, unlockAt + 1 days));
        vm.prank(payer);
        escrow.withdraw();
    }

    function test_When_WindowPassed() external {
        _request(400e18);
        uint64 unlockAt = uint64(block.timestamp + 2 days);
        vm.warp(unlockAt + 1 days + 1);
        (uint256 amount, uint64 readUnlockAt) = escrow.pendingWithdrawal(payer);
        assertEq(amount, 0, "lapsed: no amount");
        assertEq(readUnlockAt, 0, "lapsed: no unlockAt");
        assertEq(escrow.depositOf(payer), DEPOSIT, "deposit whole");

        // A new request starts over, with a new delay.
        _request(100e18);
        (amount, readUnlockAt) = escrow.pendingWithdrawal(payer);
        assertEq(amount, 100e18, "new amount");
        assertEq(readUnlockAt, block.timestamp + 2 days, "new unlockAt");
        vm.warp(readUnlockAt);
        vm.prank(payer);
        assertEq(escrow.withdraw(), 100e18, "paid");
        _assertSolvent();
    }

    function test_When_WithdrawnRightBeforeNodeSettles() external {
        uint64 t0 = uint64(block.timestamp);
        uint256 pending = DEPOSIT - 3 * FEE;
        _request(pending);

        // An hour before the unlock, the node counts the pending amount as unavailable: deposit − pending
        // covers three receipts. Their deadlines fall after the unlock. A fourth is beyond what it covers.
        vm.warp(t0 + 2 days - 1 hours);
        (uint256 amount, uint64 unlockAt) = escrow.pendingWithdrawal(payer);
        assertEq(escrow.depositOf(payer) - amount, 3 * FEE, "available to the node");
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        IUsageEscrow.UsageReceipt[] memory rs = new IUsageEscrow.UsageReceipt[](4);
        IUsageEscrow.Attribution[] memory as_ = new IUsageEscrow.Attribution[](4);
        bytes[] memory sigs = new bytes[](4);
        for (uint256 k; k < 4; ++k) {
            rs[k] = _receipt(payer, k + 1, a);
            rs[k].deadline = escrow.latestDeadline();
            as_[k] = a;
            sigs[k] = _sign(payerKey, rs[k]);
        }
        assertGt(rs[0].deadline, unlockAt, "deadlines after the unlock");

        // The payer withdraws at the unlock, right before the node's batch.
        vm.warp(unlockAt);
        vm.prank(payer);
        assertEq(escrow.withdraw(), pending, "withdrew the pending amount");
        Snapshot memory s = _snapshot(payer);

        for (uint256 k; k < 3; ++k) {
            _expectSettled(rs[k], a);
        }
        _expectSkipped(
            3,
            rs[3],
            abi.encodeWithSelector(IUsageEscrow.InsufficientDeposit.selector, payer, 4 * FEE, 3 * FEE)
        );
        vm.prank(node);
        assertEq(escrow.settle(rs, as_, sigs), 3, "the three covered receipts settle");
        _assertMovedBy(s, 3);
        assertEq(escrow.depositOf(payer), 0, "deposit used up");
        assertFalse(escrow.isSettled(_digest(rs[3])), "the fourth not marked settled");
        _assertSolvent();
    }
}
