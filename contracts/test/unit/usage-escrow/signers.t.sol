// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IUsageEscrow} from "../../../src/interfaces/IUsageEscrow.sol";
import {SkipChecks} from "../../utils/SkipChecks.t.sol";

contract Signers_Unit_Test is SkipChecks {
    address internal signer;
    uint256 internal signerKey;
    IUsageEscrow.Attribution internal attribution;

    function setUp() public override {
        super.setUp();
        (signer, signerKey) = makeAddrAndKey("signer");
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        attribution.contributionIds = a.contributionIds;
        attribution.weightsPpm = a.weightsPpm;
    }

    function _authorize(address payer_) internal {
        vm.prank(payer_);
        escrow.authorizeSigner(signer);
    }

    function _revoke() internal {
        vm.prank(payer);
        escrow.revokeSigner(signer);
    }

    /// @dev A receipt of the payer's, signed by the delegated signer.
    function _bySigner(uint256 nonce, uint64 deadline)
        internal
        view
        returns (IUsageEscrow.UsageReceipt memory r, bytes memory sig)
    {
        r = _receipt(payer, nonce, attribution);
        r.deadline = deadline;
        sig = _sign(signerKey, r);
    }

    // ------------------------------------------------------------ authorizeSigner

    function test_RevertWhen_AuthorizeZero() external {
        vm.expectRevert(IUsageEscrow.ZeroAddress.selector);
        vm.prank(payer);
        escrow.authorizeSigner(address(0));
    }

    function test_When_SignerAuthorized() external {
        vm.expectEmit(address(escrow));
        emit IUsageEscrow.SignerAuthorized(payer, signer);
        _authorize(payer);
        assertEq(escrow.signerValidUntil(payer, signer), type(uint64).max, "no end");
        assertEq(escrow.signerValidUntil(makeAddr("someone"), signer), 0, "for the caller only");

        Snapshot memory s = _snapshot(payer);
        (IUsageEscrow.UsageReceipt memory r, bytes memory sig) =
            _bySigner(1, uint64(block.timestamp + 1 hours));
        _expectSettled(r, attribution);
        assertEq(_settle(r, attribution, sig), 1, "the signer's receipt settles");
        IUsageEscrow.UsageReceipt memory own = _receipt(payer, 2, attribution);
        assertEq(_settle(own, attribution, _sign(payerKey, own)), 1, "the payer's own still settles");
        _assertMovedBy(s, 2);
        _assertSolvent();
    }

    function test_When_PayerIsAContract() external {
        address wallet = makeAddr("wallet");
        vm.etch(wallet, hex"fe"); // any call to it would fail
        _fund(wallet, 10e18);
        _authorize(wallet);
        IUsageEscrow.UsageReceipt memory r = _receipt(wallet, 1, attribution);
        _expectSettled(r, attribution);
        assertEq(_settle(r, attribution, _sign(signerKey, r)), 1, "settled");
        assertEq(escrow.depositOf(wallet), 10e18 - FEE, "wallet charged");
        _assertSolvent();
    }

    function test_When_SignerOfAnotherPayer() external {
        (address alice,) = makeAddrAndKey("alice");
        _fund(alice, 10e18);
        _authorize(payer);
        IUsageEscrow.UsageReceipt memory r = _receipt(alice, 1, attribution);
        _assertSkipped(
            r,
            attribution,
            _sign(signerKey, r),
            abi.encodeWithSelector(IUsageEscrow.InvalidSignature.selector, 0, alice)
        );
    }

    // --------------------------------------------------------------- revokeSigner

    function test_When_SignerRevoked() external {
        uint64 t0 = uint64(block.timestamp);
        _authorize(payer);
        (IUsageEscrow.UsageReceipt memory longest, bytes memory longestSig) = _bySigner(1, t0 + 1 days);
        (IUsageEscrow.UsageReceipt memory short, bytes memory shortSig) = _bySigner(2, t0 + 1 hours);
        Snapshot memory s = _snapshot(payer);

        vm.warp(t0 + 1 hours);
        uint64 validUntil = t0 + 1 hours + 1 days;
        assertEq(escrow.latestDeadline(), validUntil, "latestDeadline");
        vm.expectEmit(address(escrow));
        emit IUsageEscrow.SignerRevoked(payer, signer, validUntil);
        _revoke();
        assertEq(escrow.signerValidUntil(payer, signer), validUntil, "valid until latestDeadline()");

        // Everything the signer signed settles up to its deadline, at most validUntil.
        assertEq(_settle(short, attribution, shortSig), 1, "short settles at its deadline");
        vm.warp(t0 + 1 days);
        assertEq(_settle(longest, attribution, longestSig), 1, "longest settles at its deadline");
        // Signed at the revocation with the latest deadline it allowed: settles in validUntil's last second.
        (IUsageEscrow.UsageReceipt memory last, bytes memory lastSig) = _bySigner(3, validUntil);
        vm.warp(validUntil);
        assertEq(_settle(last, attribution, lastSig), 1, "settles at validUntil");
        _assertMovedBy(s, 3);

        // After validUntil the signer's signatures are refused.
        vm.warp(validUntil + 1);
        (IUsageEscrow.UsageReceipt memory late, bytes memory lateSig) = _bySigner(4, validUntil + 1 hours);
        _assertSkipped(
            late,
            attribution,
            lateSig,
            abi.encodeWithSelector(IUsageEscrow.InvalidSignature.selector, 0, payer)
        );
    }

    function test_When_RevokedAfterValidityLowered() external {
        uint64 t0 = uint64(block.timestamp);
        _authorize(payer);
        (IUsageEscrow.UsageReceipt memory r, bytes memory sig) = _bySigner(1, t0 + 1 days);
        vm.prank(owner);
        escrow.setMaxReceiptValidity(1 hours);

        vm.warp(t0 + 2 hours);
        _revoke();
        assertEq(escrow.signerValidUntil(payer, signer), t0 + 1 days, "the floor, not now + 1 hour");
        vm.warp(t0 + 1 days);
        Snapshot memory s = _snapshot(payer);
        assertEq(_settle(r, attribution, sig), 1, "signed before the lowering, settles at its deadline");
        _assertMovedBy(s, 1);
        _assertSolvent();
    }

    function test_When_RevokedTwice() external {
        uint64 t0 = uint64(block.timestamp);
        _authorize(payer);
        _revoke();
        vm.warp(t0 + 1 hours);
        vm.expectEmit(address(escrow));
        emit IUsageEscrow.SignerRevoked(payer, signer, t0 + 1 days);
        _revoke();
        assertEq(escrow.signerValidUntil(payer, signer), t0 + 1 days, "not lengthened");
    }

    function test_When_RevokingUnauthorized() external {
        vm.expectEmit(address(escrow));
        emit IUsageEscrow.SignerRevoked(payer, signer, 0);
        _revoke();
        assertEq(escrow.signerValidUntil(payer, signer), 0, "still never");
    }

    function test_When_AuthorizedAgain() external {
        _authorize(payer);
        _revoke();
        vm.warp(block.timestamp + 1 days + 1);
        _authorize(payer);
        assertEq(escrow.signerValidUntil(payer, signer), type(uint64).max, "no end again");
        (IUsageEscrow.UsageReceipt memory r, bytes memory sig) =
            _bySigner(1, uint64(block.timestamp + 1 hours));
        assertEq(_settle(r, attribution, sig), 1, "settles");
        assertEq(escrow.depositOf(payer), DEPOSIT - FEE, "charged");
    }
}
