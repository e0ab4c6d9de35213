// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IUsageEscrow} from "../../../src/interfaces/IUsageEscrow.sol";
import {Base} from "../../utils/Base.t.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";

contract Deposits_Unit_Test is Base {
    address internal alice;
    uint256 internal aliceKey;

    function setUp() public override {
        super.setUp();
        (alice, aliceKey) = makeAddrAndKey("alice");
        vm.prank(owner);
        token.mint(alice, 100e18);
    }

    function test_RevertWhen_DepositZero() external {
        vm.expectRevert(IUsageEscrow.ZeroAmount.selector);
        vm.prank(alice);
        escrow.deposit(0);
    }

    function test_When_DepositNonzero() external {
        uint256 total = escrow.totalDeposits();
        vm.startPrank(alice);
        token.approve(address(escrow), 30e18);
        vm.expectEmit(address(escrow));
        emit IUsageEscrow.Deposited(alice, alice, 30e18);
        escrow.deposit(30e18);
        vm.stopPrank();
        assertEq(escrow.depositOf(alice), 30e18, "deposit");
        assertEq(escrow.totalDeposits(), total + 30e18, "total");
        assertEq(token.balanceOf(alice), 70e18, "pulled");
        _assertSolvent();
    }

    function test_RevertWhen_DepositForZero() external {
        vm.expectRevert(IUsageEscrow.ZeroAddress.selector);
        vm.prank(alice);
        escrow.depositFor(address(0), 1);
    }

    function test_RevertWhen_DepositForEscrow() external {
        uint256 total = escrow.totalDeposits();
        vm.startPrank(alice);
        token.approve(address(escrow), 5e18);
        vm.expectRevert(abi.encodeWithSelector(IUsageEscrow.InvalidRecipient.selector, address(escrow)));
        escrow.depositFor(address(escrow), 5e18);
        vm.stopPrank();
        assertEq(escrow.depositOf(address(escrow)), 0, "no deposit for the escrow");
        assertEq(escrow.totalDeposits(), total, "total");
        assertEq(token.balanceOf(alice), 100e18, "nothing pulled");
        _assertSolvent();
    }

    function test_When_DepositForPayer() external {
        address beneficiary = makeAddr("beneficiary");
        vm.startPrank(alice);
        token.approve(address(escrow), 5e18);
        vm.expectEmit(address(escrow));
        emit IUsageEscrow.Deposited(beneficiary, alice, 5e18);
        escrow.depositFor(beneficiary, 5e18);
        vm.stopPrank();
        assertEq(escrow.depositOf(beneficiary), 5e18, "beneficiary");
        assertEq(escrow.depositOf(alice), 0, "caller");
        _assertSolvent();
    }

    function test_When_DepositWhileWithdrawalPending() external {
        vm.prank(payer);
        escrow.requestWithdrawal(400e18);
        (, uint64 unlockAt) = escrow.pendingWithdrawal(payer);
        vm.startPrank(alice);
        token.approve(address(escrow), 30e18);
        escrow.depositFor(payer, 30e18);
        vm.stopPrank();
        (uint256 amount, uint64 unlockAfter) = escrow.pendingWithdrawal(payer);
        assertEq(amount, 400e18, "request unchanged");
        assertEq(unlockAfter, unlockAt, "unlockAt unchanged");
        assertEq(escrow.depositOf(payer), DEPOSIT + 30e18, "deposit");
        assertEq(escrow.depositOf(payer) - amount, DEPOSIT - 400e18 + 30e18, "chargeable net of pending");
        _assertSolvent();
    }

    function _permit(uint256 amount, uint256 deadline) internal view returns (uint8 v, bytes32 r, bytes32 s) {
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256(
                    "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
                ),
                alice,
                address(escrow),
                amount,
                token.nonces(alice),
                deadline
            )
        );
        return
            vm.sign(aliceKey, keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash)));
    }

    function test_When_PermitValid() external {
        (uint8 v, bytes32 r, bytes32 s) = _permit(20e18, block.timestamp);
        vm.expectEmit(address(escrow));
        emit IUsageEscrow.Deposited(alice, alice, 20e18);
        vm.prank(alice);
        escrow.depositWithPermit(20e18, block.timestamp, v, r, s);
        assertEq(escrow.depositOf(alice), 20e18);
        assertEq(token.allowance(alice, address(escrow)), 0, "allowance used");
        assertEq(token.balanceOf(alice), 80e18, "pulled");
        _assertSolvent();
    }

    function test_When_PermitFrontRun() external {
        (uint8 v, bytes32 r, bytes32 s) = _permit(20e18, block.timestamp);
        token.permit(alice, address(escrow), 20e18, block.timestamp, v, r, s); // someone else submits it first
        vm.prank(alice);
        escrow.depositWithPermit(20e18, block.timestamp, v, r, s);
        assertEq(escrow.depositOf(alice), 20e18);
        assertEq(escrow.totalDeposits(), DEPOSIT + 20e18, "total");
        _assertSolvent();
    }

    function test_RevertWhen_PermitInvalidAndNoAllowance() external {
        (uint8 v, bytes32 r, bytes32 s) = _permit(20e18, block.timestamp);
        // The permit fails silently; the transfer then lacks the allowance.
        vm.expectRevert(
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientAllowance.selector, address(escrow), 0, 21e18
            )
        );
        vm.prank(alice);
        escrow.depositWithPermit(21e18, block.timestamp, v, r, s);
    }
}
