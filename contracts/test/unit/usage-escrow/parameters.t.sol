// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {UsageEscrow} from "../../../src/UsageEscrow.sol";
import {IUsageEscrow} from "../../../src/interfaces/IUsageEscrow.sol";
import {Base} from "../../utils/Base.t.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

contract EscrowParameters_Unit_Test is Base {
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

    function test_When_Constructed() external view {
        assertEq(escrow.token(), address(token));
        assertEq(escrow.models(), address(models));
        assertEq(escrow.datanets(), address(datanets));
        assertEq(escrow.treasury(), treasury);
        assertEq(escrow.owner(), owner);
        assertEq(escrow.maxReceiptValidity(), 1 days);
        assertEq(escrow.withdrawalDelay(), 2 days);
    }

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

    function test_RevertWhen_SetWithdrawalDelayCallerNotOwner() external {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        escrow.setWithdrawalDelay(3 days);
    }

    function test_RevertWhen_WithdrawalDelayNotAboveValidity() external {
        vm.startPrank(owner);
        vm.expectRevert(IUsageEscrow.InvalidParameter.selector);
        escrow.setWithdrawalDelay(1 days);
        vm.expectRevert(IUsageEscrow.InvalidParameter.selector);
        escrow.setWithdrawalDelay(30 days + 1);
        vm.stopPrank();
    }

    function test_When_WithdrawalDelayValid() external {
        vm.expectEmit(address(escrow));
        emit IUsageEscrow.WithdrawalDelaySet(1 days + 1);
        vm.prank(owner);
        escrow.setWithdrawalDelay(1 days + 1);
        assertEq(escrow.withdrawalDelay(), 1 days + 1);
    }

    function test_RevertWhen_SetMaxReceiptValidityCallerNotOwner() external {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        escrow.setMaxReceiptValidity(1 hours);
    }

    function test_RevertWhen_MaxReceiptValidityInvalid() external {
        vm.startPrank(owner);
        vm.expectRevert(IUsageEscrow.InvalidParameter.selector);
        escrow.setMaxReceiptValidity(0);
        vm.expectRevert(IUsageEscrow.InvalidParameter.selector);
        escrow.setMaxReceiptValidity(2 days);
        vm.stopPrank();
    }

    function test_When_MaxReceiptValidityValid() external {
        vm.expectEmit(address(escrow));
        emit IUsageEscrow.MaxReceiptValiditySet(1 hours);
        vm.prank(owner);
        escrow.setMaxReceiptValidity(1 hours);
        assertEq(escrow.maxReceiptValidity(), 1 hours);

        IUsageEscrow.Attribution memory a = _defaultAttribution();
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, a);
        r.deadline = uint64(block.timestamp + 1 hours + 1);
        bytes memory sig = _sign(payerKey, r);
        vm.expectRevert(
            abi.encodeWithSelector(
                IUsageEscrow.ReceiptDeadlineTooFar.selector, 0, r.deadline, uint64(block.timestamp + 1 hours)
            )
        );
        _settle(r, a, sig);
    }
}
