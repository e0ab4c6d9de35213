// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IUsageEscrow} from "../../../src/interfaces/IUsageEscrow.sol";
import {SkipChecks} from "../../utils/SkipChecks.t.sol";

contract Sweep_Unit_Test is SkipChecks {
    /// @dev Sends `amount` to the escrow without depositing.
    function _sendDirectly(uint256 amount) internal {
        address stranger = makeAddr("stranger");
        vm.prank(owner);
        token.mint(stranger, amount);
        vm.prank(stranger);
        token.transfer(address(escrow), amount);
    }

    /// @dev A receipt settled, a claim and a withdrawal: every kind of owed amount moved.
    function _activity() internal {
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, a);
        _settle(r, a, _sign(payerKey, r));
        vm.prank(node);
        escrow.claim(node);
        vm.prank(payer);
        escrow.requestWithdrawal(100e18);
        vm.warp(block.timestamp + 2 days);
        vm.prank(payer);
        escrow.withdraw();
    }

    function test_RevertWhen_NothingToSweep() external {
        vm.expectRevert(IUsageEscrow.NothingToSweep.selector);
        escrow.sweep();

        _activity();
        _assertSolvent();
        vm.expectRevert(IUsageEscrow.NothingToSweep.selector);
        escrow.sweep();
    }

    function test_When_TokensSentDirectly() external {
        _activity();
        _sendDirectly(7e18 + 3);
        Snapshot memory s = _snapshot(payer);
        uint256 held = token.balanceOf(address(escrow));

        address caller = makeAddr("caller");
        vm.expectEmit(address(escrow));
        emit IUsageEscrow.Swept(7e18 + 3);
        vm.expectEmit(address(escrow));
        emit IUsageEscrow.Credited(treasury, 7e18 + 3);
        vm.prank(caller);
        assertEq(escrow.sweep(), 7e18 + 3, "returned");

        assertEq(escrow.balanceOf(treasury), s.treasury + 7e18 + 3, "treasury credited the excess");
        assertEq(escrow.totalCredited(), s.totalCredited + 7e18 + 3, "totalCredited");
        assertEq(escrow.balanceOf(caller), 0, "the caller gets nothing");
        // Owed funds untouched.
        assertEq(escrow.depositOf(payer), s.payerDeposit, "deposit");
        assertEq(escrow.totalDeposits(), s.totalDeposits, "totalDeposits");
        assertEq(escrow.balanceOf(modelOwner), s.owner, "owner");
        assertEq(escrow.balanceOf(node), s.node, "node");
        assertEq(escrow.balanceOf(contributors[0]), s.contributors[0], "contributor 1");
        assertEq(escrow.unclaimedPoolRewards(), s.pool, "pool");
        assertEq(token.balanceOf(address(escrow)), held, "no transfer");
        _assertSolvent();

        vm.expectRevert(IUsageEscrow.NothingToSweep.selector);
        escrow.sweep();
    }

    function test_When_TreasuryChanged() external {
        address newTreasury = makeAddr("newTreasury");
        vm.prank(owner);
        escrow.setTreasury(newTreasury);
        _sendDirectly(1e18);
        assertEq(escrow.sweep(), 1e18, "returned");
        assertEq(escrow.balanceOf(newTreasury), 1e18, "the current treasury");
        assertEq(escrow.balanceOf(treasury), 0, "not the old one");
        vm.prank(newTreasury);
        escrow.claim(newTreasury);
        assertEq(token.balanceOf(newTreasury), 1e18, "claimable");
        _assertSolvent();
    }
}
