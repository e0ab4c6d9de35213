// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ModelRegistry} from "../../../src/ModelRegistry.sol";
import {UsageEscrow} from "../../../src/UsageEscrow.sol";
import {IUsageEscrow} from "../../../src/interfaces/IUsageEscrow.sol";
import {SkipChecks} from "../../utils/SkipChecks.t.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

contract EscrowParameters_Unit_Test is SkipChecks {
    function _setValidity(uint64 validity) internal {
        vm.prank(owner);
        escrow.setMaxReceiptValidity(validity);
    }

    function _setDelay(uint64 delay) internal {
        vm.prank(owner);
        escrow.setWithdrawalDelay(delay);
    }

    // --------------------------------------------------------------- constructor

    function test_RevertWhen_ConstructedWithZeroAddress() external {
        address t = address(token);
        address m = address(models);
        address d = address(datanets);
        vm.expectRevert(IUsageEscrow.ZeroAddress.selector);
        new UsageEscrow(address(0), m, d, treasury, owner);
        vm.expectRevert(IUsageEscrow.ZeroAddress.selector);
        new UsageEscrow(t, address(0), d, treasury, owner);
        vm.expectRevert(IUsageEscrow.ZeroAddress.selector);
        new UsageEscrow(t, m, address(0), treasury, owner);
        vm.expectRevert(IUsageEscrow.ZeroAddress.selector);
        new UsageEscrow(t, m, d, address(0), owner);
    }

    function test_RevertWhen_PriceNoticeBelowOneDay() external {
        ModelRegistry short = new ModelRegistry(address(datanets), 1 days - 1);
        vm.expectRevert(IUsageEscrow.InvalidParameter.selector);
        new UsageEscrow(address(token), address(short), address(datanets), treasury, owner);
    }

    function test_When_Constructed() external {
        assertEq(escrow.token(), address(token));
        assertEq(escrow.models(), address(models));
        assertEq(escrow.datanets(), address(datanets));
        assertEq(escrow.treasury(), treasury);
        assertEq(escrow.owner(), owner);
        assertEq(escrow.maxReceiptValidity(), 1 days);
        assertEq(escrow.withdrawalDelay(), 2 days);
        assertEq(escrow.latestDeadline(), block.timestamp + 1 days);
        assertEq(escrow.WITHDRAWAL_WINDOW(), 1 days);
        assertEq(escrow.MAX_WITHDRAWAL_DELAY(), 30 days);

        vm.expectEmit();
        emit IUsageEscrow.TreasurySet(treasury);
        vm.expectEmit();
        emit IUsageEscrow.MaxReceiptValiditySet(1 days);
        vm.expectEmit();
        emit IUsageEscrow.WithdrawalDelaySet(2 days);
        new UsageEscrow(address(token), address(models), address(datanets), treasury, owner);
    }

    // --------------------------------------------------------------- setTreasury

    function test_RevertWhen_SetTreasuryCallerNotOwner() external {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        escrow.setTreasury(address(1));
    }

    function test_RevertWhen_SetTreasuryZero() external {
        vm.expectRevert(IUsageEscrow.ZeroAddress.selector);
        vm.prank(owner);
        escrow.setTreasury(address(0));
    }

    function test_When_SetTreasuryValid() external {
        vm.expectEmit(address(escrow));
        emit IUsageEscrow.TreasurySet(address(7));
        vm.prank(owner);
        escrow.setTreasury(address(7));
        assertEq(escrow.treasury(), address(7));
    }

    // -------------------------------------------------------- setWithdrawalDelay

    function test_RevertWhen_SetWithdrawalDelayCallerNotOwner() external {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        escrow.setWithdrawalDelay(3 days);
    }

    function test_RevertWhen_WithdrawalDelayOutOfRange() external {
        vm.startPrank(owner);
        vm.expectRevert(IUsageEscrow.InvalidParameter.selector);
        escrow.setWithdrawalDelay(1 days); // latestDeadline() − now
        vm.expectRevert(IUsageEscrow.InvalidParameter.selector);
        escrow.setWithdrawalDelay(30 days + 1);
        vm.stopPrank();
    }

    function test_When_WithdrawalDelayValid() external {
        vm.expectEmit(address(escrow));
        emit IUsageEscrow.WithdrawalDelaySet(1 days + 1);
        _setDelay(1 days + 1);
        assertEq(escrow.withdrawalDelay(), 1 days + 1);
        _setDelay(30 days);
        assertEq(escrow.withdrawalDelay(), 30 days);
    }

    function test_RevertWhen_WithdrawalDelayNotAboveFloor() external {
        uint64 t0 = uint64(block.timestamp);
        _setValidity(1 hours);
        vm.warp(t0 + 12 hours);
        assertEq(escrow.latestDeadline(), t0 + 1 days, "the floor");
        vm.expectRevert(IUsageEscrow.InvalidParameter.selector);
        _setDelay(12 hours); // floor − now
    }

    function test_When_WithdrawalDelayAboveFloor() external {
        uint64 t0 = uint64(block.timestamp);
        _setValidity(1 hours);
        vm.warp(t0 + 12 hours);
        _setDelay(12 hours + 1);
        assertEq(escrow.withdrawalDelay(), 12 hours + 1, "above floor - now");

        vm.warp(t0 + 1 days);
        vm.expectRevert(IUsageEscrow.InvalidParameter.selector);
        _setDelay(1 hours); // the new validity
        _setDelay(1 hours + 1);
        assertEq(escrow.withdrawalDelay(), 1 hours + 1, "above the new validity once the floor passed");
    }

    // ----------------------------------------------------- setMaxReceiptValidity

    function test_RevertWhen_SetMaxReceiptValidityCallerNotOwner() external {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        escrow.setMaxReceiptValidity(1 hours);
    }

    function test_RevertWhen_MaxReceiptValidityInvalid() external {
        vm.startPrank(owner);
        vm.expectRevert(IUsageEscrow.InvalidParameter.selector);
        escrow.setMaxReceiptValidity(0);
        // Above the registry's priceNotice (1 day), even below the withdrawal delay.
        escrow.setWithdrawalDelay(3 days);
        vm.expectRevert(IUsageEscrow.InvalidParameter.selector);
        escrow.setMaxReceiptValidity(1 days + 1);
        // Not below the withdrawal delay, even within the notice.
        escrow.setMaxReceiptValidity(1 hours);
        vm.warp(block.timestamp + 1 days);
        escrow.setWithdrawalDelay(2 hours);
        vm.expectRevert(IUsageEscrow.InvalidParameter.selector);
        escrow.setMaxReceiptValidity(2 hours);
        escrow.setMaxReceiptValidity(2 hours - 1);
        vm.stopPrank();
        assertEq(escrow.maxReceiptValidity(), 2 hours - 1);
    }

    function test_When_MaxReceiptValidityValid() external {
        vm.expectEmit(address(escrow));
        emit IUsageEscrow.MaxReceiptValiditySet(1 hours);
        _setValidity(1 hours);
        assertEq(escrow.maxReceiptValidity(), 1 hours);
    }

    function test_When_MaxReceiptValidityLowered() external {
        uint64 t0 = uint64(block.timestamp);
        _setValidity(12 hours);
        assertEq(escrow.latestDeadline(), t0 + 1 days, "floor at the lowering");
        vm.warp(t0 + 1 hours);
        _setValidity(1 hours);
        assertEq(escrow.latestDeadline(), t0 + 1 days, "a second lowering keeps the floor");
        vm.warp(t0 + 1 days - 1 hours);
        assertEq(escrow.latestDeadline(), t0 + 1 days, "now + validity reaches the floor");
        vm.warp(t0 + 1 days - 1 hours + 1);
        assertEq(escrow.latestDeadline(), t0 + 1 days + 1, "then now + validity");

        vm.warp(t0 + 2 days);
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, _defaultAttribution());
        r.deadline = uint64(block.timestamp + 1 hours + 1);
        _assertSkipped(
            r,
            _defaultAttribution(),
            abi.encodeWithSelector(
                IUsageEscrow.ReceiptDeadlineTooFar.selector, 0, r.deadline, uint64(block.timestamp + 1 hours)
            )
        );
    }

    function test_When_MaxReceiptValidityLowered_SignedReceiptsSettle() external {
        uint64 t0 = uint64(block.timestamp);
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        IUsageEscrow.UsageReceipt memory r1 = _receipt(payer, 1, a);
        IUsageEscrow.UsageReceipt memory r2 = _receipt(payer, 2, a);
        (r1.deadline, r2.deadline) = (t0 + 1 days, t0 + 1 days); // the old longest lifetime
        (IUsageEscrow.UsageReceipt[] memory rs, IUsageEscrow.Attribution[] memory as_, bytes[] memory sigs) =
            _two(r1, a, _sign(payerKey, r1), r2, a, _sign(payerKey, r2));

        vm.warp(t0 + 1 hours);
        _setValidity(1 hours);
        vm.warp(t0 + 1 days);
        Snapshot memory s = _snapshot(payer);
        _expectSettled(r1, a);
        _expectSettled(r2, a);
        assertEq(escrow.settle(rs, as_, sigs), 2, "both settle at their deadline");
        _assertMovedBy(s, 2);
        _assertSolvent();
    }

    function test_When_MaxReceiptValidityRaised() external {
        uint64 t0 = uint64(block.timestamp);
        _setValidity(1 hours);
        vm.warp(t0 + 1 hours);
        _setValidity(12 hours);
        assertEq(escrow.latestDeadline(), t0 + 1 days, "the floor while it is later");
        vm.warp(t0 + 2 days);
        _setValidity(1 days);
        assertEq(escrow.latestDeadline(), t0 + 3 days, "now + validity");

        IUsageEscrow.Attribution memory a = _defaultAttribution();
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, a);
        r.deadline = t0 + 3 days;
        assertEq(_settle(r, a, _sign(payerKey, r)), 1, "a receipt with the raised lifetime settles");
    }
}
