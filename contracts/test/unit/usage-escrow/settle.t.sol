// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IUsageEscrow} from "../../../src/interfaces/IUsageEscrow.sol";
import {SkipChecks} from "../../utils/SkipChecks.t.sol";
import {Vm} from "forge-std/Vm.sol";

contract Settle_Unit_Test is SkipChecks {
    IUsageEscrow.Attribution internal attribution;

    function setUp() public override {
        super.setUp();
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        attribution.contributionIds = a.contributionIds;
        attribution.weightsPpm = a.weightsPpm;
    }

    function _withIds(uint64[] memory ids) internal pure returns (IUsageEscrow.Attribution memory a) {
        uint32[] memory weights = new uint32[](ids.length);
        for (uint256 k; k < ids.length; ++k) {
            weights[k] = 1000;
        }
        a = IUsageEscrow.Attribution({contributionIds: ids, weightsPpm: weights});
    }

    /// @dev A batch of `n` receipts of `payer_` signed with `key`, nonces `firstNonce` onwards, the default
    ///      attribution.
    function _batch(address payer_, uint256 key, uint256 firstNonce, uint256 n)
        internal
        view
        returns (
            IUsageEscrow.UsageReceipt[] memory rs,
            IUsageEscrow.Attribution[] memory as_,
            bytes[] memory sigs
        )
    {
        rs = new IUsageEscrow.UsageReceipt[](n);
        as_ = new IUsageEscrow.Attribution[](n);
        sigs = new bytes[](n);
        for (uint256 k; k < n; ++k) {
            rs[k] = _receipt(payer_, firstNonce + k, attribution);
            as_[k] = attribution;
            sigs[k] = _sign(key, rs[k]);
        }
    }

    // ------------------------------------------------------------------ shape

    function test_RevertWhen_BatchEmpty() external {
        vm.expectRevert(abi.encodeWithSelector(IUsageEscrow.BatchLengthMismatch.selector, 0, 0, 0));
        escrow.settle(new IUsageEscrow.UsageReceipt[](0), new IUsageEscrow.Attribution[](0), new bytes[](0));
    }

    function test_RevertWhen_AttributionsLengthDiffers() external {
        (IUsageEscrow.UsageReceipt[] memory rs,, bytes[] memory sigs) =
            _one(_receipt(payer, 1, attribution), attribution, hex"");
        vm.expectRevert(abi.encodeWithSelector(IUsageEscrow.BatchLengthMismatch.selector, 1, 2, 1));
        escrow.settle(rs, new IUsageEscrow.Attribution[](2), sigs);
    }

    function test_RevertWhen_SignaturesLengthDiffers() external {
        (IUsageEscrow.UsageReceipt[] memory rs, IUsageEscrow.Attribution[] memory as_,) =
            _one(_receipt(payer, 1, attribution), attribution, hex"");
        vm.expectRevert(abi.encodeWithSelector(IUsageEscrow.BatchLengthMismatch.selector, 1, 1, 0));
        escrow.settle(rs, as_, new bytes[](0));
    }

    // ---------------------------------------------------------- skipped receipts

    function test_When_AttributionArraysDiffer() external {
        IUsageEscrow.Attribution memory a = _attribution(new uint64[](2), new uint32[](1));
        _assertSkipped(
            _receipt(payer, 1, a), a, abi.encodeWithSelector(IUsageEscrow.InvalidAttribution.selector, 0)
        );
    }

    function test_When_AttributionAboveMax() external {
        uint64[] memory ids = new uint64[](17);
        for (uint256 k; k < 17; ++k) {
            ids[k] = contributionIds[k % 4];
        }
        IUsageEscrow.Attribution memory a = _withIds(ids);
        _assertSkipped(
            _receipt(payer, 1, a), a, abi.encodeWithSelector(IUsageEscrow.InvalidAttribution.selector, 0)
        );
    }

    function test_When_PayerZero() external {
        IUsageEscrow.UsageReceipt memory r = _receipt(address(0), 1, attribution);
        _assertSkipped(r, attribution, abi.encodeWithSelector(IUsageEscrow.InvalidParty.selector, 0));
    }

    function test_When_NodeZero() external {
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, attribution);
        r.node = address(0);
        _assertSkipped(r, attribution, abi.encodeWithSelector(IUsageEscrow.InvalidParty.selector, 0));
    }

    function test_When_DeadlinePassed() external {
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, attribution);
        r.deadline = uint64(block.timestamp - 1);
        _assertSkipped(
            r, attribution, abi.encodeWithSelector(IUsageEscrow.ReceiptExpired.selector, 0, r.deadline)
        );
    }

    function test_When_DeadlineIsNow() external {
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, attribution);
        r.deadline = uint64(block.timestamp);
        assertEq(_settle(r, attribution, _sign(payerKey, r)), 1, "settled");
        assertTrue(escrow.isSettled(_digest(r)), "marked settled");
        assertEq(escrow.depositOf(payer), DEPOSIT - FEE, "charged");
    }

    function test_When_DeadlineTooFar() external {
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, attribution);
        r.deadline = uint64(block.timestamp + 1 days + 1);
        _assertSkipped(
            r,
            attribution,
            abi.encodeWithSelector(
                IUsageEscrow.ReceiptDeadlineTooFar.selector, 0, r.deadline, uint64(block.timestamp + 1 days)
            )
        );
    }

    function test_When_DeadlineIsLatest() external {
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, attribution);
        r.deadline = escrow.latestDeadline();
        assertEq(r.deadline, block.timestamp + 1 days, "latestDeadline");
        assertEq(_settle(r, attribution, _sign(payerKey, r)), 1, "settled");
        assertEq(escrow.depositOf(payer), DEPOSIT - FEE, "charged");
    }

    function test_When_ModelZero() external {
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, attribution);
        r.modelId = 0;
        _assertSkipped(r, attribution, abi.encodeWithSelector(IUsageEscrow.UnknownModel.selector, 0, 0));
    }

    function test_When_ModelUnknown() external {
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, attribution);
        r.modelId = 2;
        _assertSkipped(r, attribution, abi.encodeWithSelector(IUsageEscrow.UnknownModel.selector, 0, 2));
    }

    function test_When_FeeMismatch() external {
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, attribution);
        r.fee += 1;
        _assertSkipped(
            r, attribution, abi.encodeWithSelector(IUsageEscrow.FeeMismatch.selector, 0, FEE, FEE + 1)
        );
    }

    function test_When_SettledEarlier() external {
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, attribution);
        bytes memory sig = _sign(payerKey, r);
        assertEq(_settle(r, attribution, sig), 1, "first settled");
        assertEq(escrow.hashReceipt(r), _digest(r), "the escrow's digest");
        _assertSkipped(
            r, attribution, sig, abi.encodeWithSelector(IUsageEscrow.AlreadySettled.selector, 0, _digest(r))
        );
    }

    function test_When_ReceiptRepeatsInBatch() external {
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 300, attribution);
        bytes memory sig = _sign(payerKey, r);
        (IUsageEscrow.UsageReceipt[] memory rs, IUsageEscrow.Attribution[] memory as_, bytes[] memory sigs) =
            _two(r, attribution, sig, r, attribution, sig);
        Snapshot memory s = _snapshot(payer);

        _expectSettled(r, attribution);
        _expectSkipped(1, r, abi.encodeWithSelector(IUsageEscrow.AlreadySettled.selector, 1, _digest(r)));
        assertEq(escrow.settle(rs, as_, sigs), 1, "settle returned");
        _assertMovedBy(s, 1);
        _assertSolvent();
    }

    function test_When_NonceRepeatsWithOtherContent() external {
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, attribution);
        assertEq(_settle(r, attribution, _sign(payerKey, r)), 1, "first settled");

        // Another receipt with the same nonce (another prompt), settled later or in one batch with a third
        // (another fee): each settles, the nonce keys nothing.
        IUsageEscrow.UsageReceipt memory other = _receipt(payer, 1, attribution);
        other.promptHash = keccak256("another prompt");
        IUsageEscrow.UsageReceipt memory third = _receipt(payer, 1, attribution);
        (third.inputTokens, third.fee) = (800, 2e18);
        (IUsageEscrow.UsageReceipt[] memory rs, IUsageEscrow.Attribution[] memory as_, bytes[] memory sigs) =
            _two(other, attribution, _sign(payerKey, other), third, attribution, _sign(payerKey, third));
        Snapshot memory s = _snapshot(payer);

        _expectSettled(other, attribution);
        _expectSettled(third, attribution);
        assertEq(escrow.settle(rs, as_, sigs), 2, "both settle");
        _assertMovedBy(s, 3); // other's fee, and third's of twice FEE: three fixture receipts' worth
        assertTrue(escrow.isSettled(_digest(r)), "first marked settled");
        assertTrue(
            escrow.isSettled(_digest(other)) && escrow.isSettled(_digest(third)), "both marked settled"
        );
        _assertSolvent();
    }

    function test_When_SignedByAnotherKey() external {
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, attribution);
        (, uint256 otherKey) = makeAddrAndKey("other");
        _assertSkipped(
            r,
            attribution,
            _sign(otherKey, r),
            abi.encodeWithSelector(IUsageEscrow.InvalidSignature.selector, 0, payer)
        );
    }

    function test_When_SignatureLengthInvalid() external {
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, attribution);
        bytes memory sig = _sign(payerKey, r);
        assembly {
            mstore(sig, 63)
        }
        _assertSkipped(
            r, attribution, sig, abi.encodeWithSelector(IUsageEscrow.InvalidSignature.selector, 0, payer)
        );
    }

    function test_When_SignatureUnrecoverable() external {
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, attribution);
        _assertSkipped(
            r,
            attribution,
            new bytes(65),
            abi.encodeWithSelector(IUsageEscrow.InvalidSignature.selector, 0, payer)
        );
    }

    function test_When_AttributionHashMismatch() external {
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, attribution);
        IUsageEscrow.Attribution memory other = _defaultAttribution();
        other.weightsPpm[0] += 1;
        _assertSkipped(
            r,
            other,
            _sign(payerKey, r),
            abi.encodeWithSelector(IUsageEscrow.AttributionHashMismatch.selector, 0)
        );
    }

    function test_When_ContributionPending() external {
        uint64[] memory ids = new uint64[](1);
        ids[0] = _contribute(contributors[0], datanetId, 10);
        IUsageEscrow.Attribution memory a = _withIds(ids);
        _assertSkipped(
            _receipt(payer, 1, a),
            a,
            abi.encodeWithSelector(IUsageEscrow.ContributionNotInModelReleases.selector, 0, ids[0])
        );
    }

    function test_When_ContributionRejected() external {
        uint64[] memory ids = new uint64[](1);
        ids[0] = _contribute(contributors[0], datanetId, 10);
        vm.prank(curator);
        datanets.review(ids[0], false);
        IUsageEscrow.Attribution memory a = _withIds(ids);
        _assertSkipped(
            _receipt(payer, 1, a),
            a,
            abi.encodeWithSelector(IUsageEscrow.ContributionNotInModelReleases.selector, 0, ids[0])
        );
    }

    function test_When_ContributionAcceptedAfterRelease() external {
        uint64[] memory ids = new uint64[](2);
        ids[0] = contributionIds[3];
        ids[1] = _contribute(contributors[0], datanetId, 10);
        vm.prank(curator);
        datanets.review(ids[1], true);
        IUsageEscrow.Attribution memory a = _withIds(ids);
        _assertSkipped(
            _receipt(payer, 1, a),
            a,
            abi.encodeWithSelector(IUsageEscrow.ContributionNotInModelReleases.selector, 0, ids[1])
        );
    }

    function test_When_ContributionInAnotherDatanet() external {
        uint64 other = _createDatanet(curator);
        uint64[] memory ids = new uint64[](1);
        ids[0] = _contribute(contributors[0], other, 10);
        vm.prank(curator);
        datanets.review(ids[0], true);
        _publish(other);
        IUsageEscrow.Attribution memory a = _withIds(ids);
        _assertSkipped(
            _receipt(payer, 1, a),
            a,
            abi.encodeWithSelector(IUsageEscrow.ContributionNotInModelReleases.selector, 0, ids[0])
        );
    }

    function test_When_ContributionUnknown() external {
        uint64[] memory ids = new uint64[](1);
        ids[0] = 4242;
        IUsageEscrow.Attribution memory a = _withIds(ids);
        _assertSkipped(
            _receipt(payer, 1, a),
            a,
            abi.encodeWithSelector(IUsageEscrow.ContributionNotInModelReleases.selector, 0, 4242)
        );
    }

    function test_When_WeightsExceedOneMillion() external {
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        (a.weightsPpm[0], a.weightsPpm[1]) = (600_000, 400_001);
        _assertSkipped(
            _receipt(payer, 1, a),
            a,
            abi.encodeWithSelector(IUsageEscrow.WeightsExceedOneMillion.selector, 0, 1_000_001)
        );
    }

    function test_When_DepositInsufficient() external {
        (address poor, uint256 poorKey) = makeAddrAndKey("poor");
        _fund(poor, 0.5e18);
        IUsageEscrow.UsageReceipt memory r = _receipt(poor, 1, attribution);
        _assertSkipped(
            r,
            attribution,
            _sign(poorKey, r),
            abi.encodeWithSelector(IUsageEscrow.InsufficientDeposit.selector, poor, FEE, 0.5e18)
        );
    }

    function test_When_BatchChargesExceedDeposit() external {
        (address poor, uint256 poorKey) = makeAddrAndKey("poor");
        _fund(poor, 1.5e18);
        (IUsageEscrow.UsageReceipt[] memory rs, IUsageEscrow.Attribution[] memory as_, bytes[] memory sigs) =
            _batch(poor, poorKey, 1, 3);
        // The third receipt is the payer's, so a second payer's charges do not count against the first's.
        rs[2] = _receipt(payer, GOOD_NONCE, attribution);
        sigs[2] = _sign(payerKey, rs[2]);
        Snapshot memory s = _snapshot(poor);

        _expectSettled(rs[0], attribution);
        _expectSkipped(
            1, rs[1], abi.encodeWithSelector(IUsageEscrow.InsufficientDeposit.selector, poor, 2e18, 1.5e18)
        );
        _expectSettled(rs[2], attribution);
        assertEq(escrow.settle(rs, as_, sigs), 2, "settle returned");

        assertEq(escrow.depositOf(poor), 0.5e18, "poor charged once");
        assertEq(escrow.depositOf(payer), s.payerDeposit - FEE, "payer charged once");
        assertEq(escrow.balanceOf(node), 2 * NODE_SHARE, "node paid twice");
        assertEq(escrow.totalDeposits(), s.totalDeposits - 2 * FEE, "totalDeposits");
        assertEq(escrow.unclaimedPoolRewards(), 2 * POOL_SHARE, "pool");
        assertFalse(escrow.isSettled(_digest(rs[1])), "skipped receipt not marked settled");
        _assertSolvent();

        // Not marked settled, the skipped receipt settles once the deposit covers it.
        _fund(poor, 0.5e18);
        assertEq(_settle(rs[1], attribution, sigs[1]), 1, "settles after a top-up");
        assertEq(escrow.depositOf(poor), 0, "poor charged twice in all");
        _assertSolvent();
    }

    /// @dev Eleven receipts that each fail two checks or more (the reason: the first in the documented order)
    ///      and a valid last one. Receipts 5 to 7 are to be signed by another key, 6 is the receipt settled
    ///      before the batch, 9 and 10 are `poor`'s.
    function _failingTwice(address poor)
        internal
        view
        returns (
            IUsageEscrow.UsageReceipt[] memory rs,
            IUsageEscrow.Attribution[] memory as_,
            bytes[] memory reasons
        )
    {
        uint64[] memory unknownIds = new uint64[](1);
        unknownIds[0] = 4242;
        IUsageEscrow.Attribution memory unknownHeavy = _withIds(unknownIds);
        unknownHeavy.weightsPpm[0] = 1_000_001;
        IUsageEscrow.Attribution memory heavy = _defaultAttribution();
        (heavy.weightsPpm[0], heavy.weightsPpm[1]) = (600_000, 400_001);

        uint256 n = 12;
        rs = new IUsageEscrow.UsageReceipt[](n);
        as_ = new IUsageEscrow.Attribution[](n);
        reasons = new bytes[](n);
        for (uint256 i; i < n; ++i) {
            rs[i] = _receipt(payer, 100 + i, attribution);
            as_[i] = attribution;
        }
        (rs[0].payer, as_[0]) = (address(0), _attribution(new uint64[](2), new uint32[](1)));
        reasons[0] = abi.encodeWithSelector(IUsageEscrow.InvalidAttribution.selector, 0);
        (rs[1].node, rs[1].deadline) = (address(0), uint64(block.timestamp - 1));
        reasons[1] = abi.encodeWithSelector(IUsageEscrow.InvalidParty.selector, 1);
        (rs[2].deadline, rs[2].modelId) = (uint64(block.timestamp - 1), 9);
        reasons[2] = abi.encodeWithSelector(IUsageEscrow.ReceiptExpired.selector, 2, rs[2].deadline);
        (rs[3].deadline, rs[3].modelId) = (uint64(block.timestamp + 2 days), 9);
        reasons[3] = abi.encodeWithSelector(
            IUsageEscrow.ReceiptDeadlineTooFar.selector, 3, rs[3].deadline, uint64(block.timestamp + 1 days)
        );
        (rs[4].modelId, rs[4].fee) = (9, 1);
        reasons[4] = abi.encodeWithSelector(IUsageEscrow.UnknownModel.selector, 4, 9);
        rs[5].fee = 1;
        reasons[5] = abi.encodeWithSelector(IUsageEscrow.FeeMismatch.selector, 5, FEE, 1);
        rs[6] = _receipt(payer, 50, attribution);
        reasons[6] = abi.encodeWithSelector(IUsageEscrow.AlreadySettled.selector, 6, _digest(rs[6]));
        as_[7] = heavy;
        reasons[7] = abi.encodeWithSelector(IUsageEscrow.InvalidSignature.selector, 7, payer);
        as_[8] = unknownHeavy;
        reasons[8] = abi.encodeWithSelector(IUsageEscrow.AttributionHashMismatch.selector, 8);
        (rs[9], as_[9]) = (_receipt(poor, 9, unknownHeavy), unknownHeavy);
        reasons[9] = abi.encodeWithSelector(IUsageEscrow.ContributionNotInModelReleases.selector, 9, 4242);
        (rs[10], as_[10]) = (_receipt(poor, 10, heavy), heavy);
        reasons[10] = abi.encodeWithSelector(IUsageEscrow.WeightsExceedOneMillion.selector, 10, 1_000_001);
    }

    function test_When_SeveralChecksFail() external {
        (address poor, uint256 poorKey) = makeAddrAndKey("poor");
        IUsageEscrow.UsageReceipt memory used = _receipt(payer, 50, attribution);
        assertEq(_settle(used, attribution, _sign(payerKey, used)), 1, "settled before the batch");
        (
            IUsageEscrow.UsageReceipt[] memory rs,
            IUsageEscrow.Attribution[] memory as_,
            bytes[] memory reasons
        ) = _failingTwice(poor);
        bytes[] memory sigs = new bytes[](rs.length);
        (, uint256 otherKey) = makeAddrAndKey("other");
        for (uint256 i; i < rs.length; ++i) {
            sigs[i] = _sign(i >= 5 && i <= 7 ? otherKey : rs[i].payer == poor ? poorKey : payerKey, rs[i]);
        }
        Snapshot memory s = _snapshot(poor);

        for (uint256 i; i < rs.length - 1; ++i) {
            _expectSkipped(i, rs[i], reasons[i]);
        }
        _expectSettled(rs[11], attribution);
        assertEq(escrow.settle(rs, as_, sigs), 1, "only the last settled");
        _assertMovedBy(s, 1);
        assertEq(escrow.depositOf(poor), 0, "poor untouched");
        _assertSolvent();
    }

    // ---------------------------------------------------------------- liveness

    function test_When_EveryReceiptSkipped() external {
        (address poor, uint256 poorKey) = makeAddrAndKey("poor");
        (, uint256 otherKey) = makeAddrAndKey("other");
        (IUsageEscrow.UsageReceipt[] memory rs, IUsageEscrow.Attribution[] memory as_, bytes[] memory sigs) =
            _batch(payer, payerKey, 1, 3);
        rs[0].deadline = uint64(block.timestamp - 1);
        sigs[0] = _sign(payerKey, rs[0]);
        sigs[1] = _sign(otherKey, rs[1]);
        rs[2] = _receipt(poor, 3, attribution);
        sigs[2] = _sign(poorKey, rs[2]);
        Snapshot memory s = _snapshot(poor);
        uint256 held = token.balanceOf(address(escrow));

        _expectSkipped(
            0, rs[0], abi.encodeWithSelector(IUsageEscrow.ReceiptExpired.selector, 0, rs[0].deadline)
        );
        _expectSkipped(1, rs[1], abi.encodeWithSelector(IUsageEscrow.InvalidSignature.selector, 1, payer));
        _expectSkipped(
            2, rs[2], abi.encodeWithSelector(IUsageEscrow.InsufficientDeposit.selector, poor, FEE, 0)
        );
        vm.recordLogs();
        assertEq(escrow.settle(rs, as_, sigs), 0, "settle returned");
        Vm.Log[] memory logs = vm.getRecordedLogs();

        assertEq(_count(logs, IUsageEscrow.ReceiptSkipped.selector), 3, "three ReceiptSkipped");
        assertEq(logs.length, 3, "nothing else emitted");
        _assertMovedBy(s, 0);
        assertEq(escrow.depositOf(poor), 0, "poor");
        for (uint256 k; k < 3; ++k) {
            assertFalse(escrow.isSettled(_digest(rs[k])), "not marked settled");
        }
        assertEq(token.balanceOf(address(escrow)), held, "no transfer");
        _assertSolvent();
    }

    function test_When_ThirdPartySettlesACopyFirst() external {
        (IUsageEscrow.UsageReceipt[] memory rs, IUsageEscrow.Attribution[] memory as_, bytes[] memory sigs) =
            _batch(payer, payerKey, 1, 3);
        Snapshot memory s = _snapshot(payer);

        // A third party lifts the second receipt out of the node's pending batch and settles it alone.
        address copier = makeAddr("copier");
        vm.prank(copier);
        assertEq(_settle(rs[1], as_[1], sigs[1]), 1, "copy settled");
        _assertMovedBy(s, 1);

        _expectSettled(rs[0], attribution);
        _expectSkipped(
            1, rs[1], abi.encodeWithSelector(IUsageEscrow.AlreadySettled.selector, 1, _digest(rs[1]))
        );
        _expectSettled(rs[2], attribution);
        vm.prank(node);
        assertEq(escrow.settle(rs, as_, sigs), 2, "the node's batch settles the others");

        // Three receipts, each paid exactly once, whoever submitted it.
        _assertMovedBy(s, 3);
        assertEq(escrow.balanceOf(node), 3 * NODE_SHARE, "node paid once per receipt");
        assertEq(escrow.balanceOf(copier), 0, "the copier gains nothing");
        _assertSolvent();
    }

    function test_When_PriceSetAfterSigning() external {
        uint64 t0 = uint64(block.timestamp);
        (IUsageEscrow.UsageReceipt[] memory rs, IUsageEscrow.Attribution[] memory as_, bytes[] memory sigs) =
            _batch(payer, payerKey, 1, 2);
        rs[1].deadline = t0 + 1 days; // the longest lifetime: the last second before the new price
        sigs[1] = _sign(payerKey, rs[1]);
        Snapshot memory s = _snapshot(payer);

        vm.prank(modelOwner);
        models.setPrice(modelId, 3e18);
        assertEq(models.getModel(modelId).nextPriceAt, t0 + 1 days + 1, "effective after the notice");

        // Both settle at the old fee, the second at its deadline.
        vm.warp(t0 + 1 hours);
        assertEq(_settle(rs[0], as_[0], sigs[0]), 1, "first at its deadline's price");
        vm.warp(t0 + 1 days);
        _expectSettled(rs[1], attribution);
        assertEq(_settle(rs[1], as_[1], sigs[1]), 1, "second at its deadline");
        _assertMovedBy(s, 2);
        _assertSolvent();
    }

    function test_When_DeadlineAtOrAfterNewPrice() external {
        uint64 t0 = uint64(block.timestamp);
        vm.prank(modelOwner);
        models.setPrice(modelId, 3e18);
        vm.warp(t0 + 1 hours);
        Snapshot memory s = _snapshot(payer);

        // Signed after setPrice: a deadline before the effective time still takes the old price.
        IUsageEscrow.UsageReceipt memory before = _receipt(payer, 1, attribution);
        before.deadline = t0 + 1 days;
        assertEq(
            _settle(before, attribution, _sign(payerKey, before)), 1, "old price before the effective time"
        );
        _assertMovedBy(s, 1);

        // From the effective time on, the old fee is refused and the new one settles.
        IUsageEscrow.UsageReceipt memory stale = _receipt(payer, 2, attribution);
        stale.deadline = t0 + 1 days + 1;
        _assertSkipped(
            stale, attribution, abi.encodeWithSelector(IUsageEscrow.FeeMismatch.selector, 0, 1.5e18, FEE)
        );
        IUsageEscrow.UsageReceipt memory fresh = _receipt(payer, 3, attribution);
        (fresh.deadline, fresh.fee) = (t0 + 1 days + 1, 1.5e18);
        s = _snapshot(payer);
        assertEq(_settle(fresh, attribution, _sign(payerKey, fresh)), 1, "new price settles");
        // 1.5e18: owner 0.45e18, node 0.225e18, treasury 0.075e18, c1 0.375e18, c2 0.1875e18, pool 0.1875e18.
        assertEq(escrow.depositOf(payer), s.payerDeposit - 1.5e18, "charged the new fee");
        assertEq(escrow.balanceOf(modelOwner), s.owner + 0.45e18, "owner");
        assertEq(escrow.balanceOf(node), s.node + 0.225e18, "node");
        assertEq(escrow.balanceOf(treasury), s.treasury + 0.075e18, "treasury");
        assertEq(escrow.balanceOf(contributors[0]), s.contributors[0] + 0.375e18, "contributor 1");
        assertEq(escrow.balanceOf(contributors[1]), s.contributors[1] + 0.1875e18, "contributor 2");
        assertEq(escrow.unclaimedPoolRewards(), s.pool + 0.1875e18, "pool");
        _assertSolvent();
    }

    // Two ways a payer may spend, before the node settles, what a receipt it signed relies on.

    /// @dev Replay protection is by digest: a receipt of the payer's own with the node's receipt's nonce
    ///      cancels nothing.
    function test_When_PayerSettlesAConflictingReceiptFirst() external {
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 7, attribution);
        bytes memory sig = _sign(payerKey, r);
        Snapshot memory s = _snapshot(payer);

        // After being served, the payer settles a receipt of its own with the same nonce: no tokens, no fee,
        // itself as the node.
        IUsageEscrow.Attribution memory none = _attribution(new uint64[](0), new uint32[](0));
        IUsageEscrow.UsageReceipt memory burn = _receipt(payer, 7, none);
        (burn.node, burn.inputTokens, burn.outputTokens, burn.fee) = (payer, 0, 0, 0);
        vm.prank(payer);
        assertEq(_settle(burn, none, _sign(payerKey, burn)), 1, "the payer's zero-fee receipt settles");
        assertTrue(escrow.isSettled(_digest(burn)), "the payer's receipt marked settled");
        assertFalse(escrow.isSettled(_digest(r)), "the node's receipt not");
        _assertMovedBy(s, 0);

        _expectSettled(r, attribution);
        vm.prank(node);
        assertEq(_settle(r, attribution, sig), 1, "the node's receipt settles");
        // To the wei: the payer charged FEE, the node, owner, treasury, contributors and pool their shares.
        _assertMovedBy(s, 1);
        assertEq(escrow.balanceOf(node), NODE_SHARE, "the node is paid");
        assertEq(escrow.balanceOf(payer), 0, "the payer, node of its own receipt, is credited nothing");
        assertTrue(escrow.isSettled(_digest(r)), "the node's receipt marked settled");
        _assertSolvent();
    }

    /// @dev One deposit backs every receipt a payer signs (docs/PROTOCOL.md, "Trust model"): a payer can
    ///      spend it at once through a model it owns (owner 100 %), bypassing the withdrawal delay, and the
    ///      node's receipt settled after that is skipped `InsufficientDeposit`, not lost: nothing moves for
    ///      it, it is not marked settled, and it settles once the deposit covers it again by its deadline.
    function test_When_DepositSpentElsewhere_ReceiptWaitsForTopUp() external {
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, attribution);
        bytes memory sig = _sign(payerKey, r);

        // The payer registers a model paying its owner everything, priced at its whole deposit per 1,000
        // tokens, settles one receipt of it to itself and claims: its deposit back at once.
        uint64[] memory releases = new uint64[](1);
        releases[0] = releaseId;
        vm.prank(payer);
        uint64 own = models.registerModel(
            keccak256("own"), "file://own.gguf", releases, uint96(DEPOSIT), _split(10_000, 0, 0, 0)
        );
        IUsageEscrow.Attribution memory none = _attribution(new uint64[](0), new uint32[](0));
        IUsageEscrow.UsageReceipt memory drain = _receipt(payer, 2, none);
        (drain.modelId, drain.node, drain.inputTokens, drain.outputTokens, drain.fee) =
        (own, payer, 1000, 0, DEPOSIT);
        uint256 totalDeposits = escrow.totalDeposits();
        uint256 totalCredited = escrow.totalCredited();
        vm.startPrank(payer);
        assertEq(_settle(drain, none, _sign(payerKey, drain)), 1, "the payer's receipt settles");
        assertEq(escrow.claim(payer), DEPOSIT, "the payer has its deposit back, no withdrawal delay");
        vm.stopPrank();
        assertEq(escrow.depositOf(payer), 0, "deposit spent");
        assertEq(escrow.totalDeposits(), totalDeposits - DEPOSIT, "totalDeposits: charged once");
        assertEq(escrow.totalCredited(), totalCredited, "credited to the payer and claimed: nothing left");
        assertEq(token.balanceOf(payer), DEPOSIT, "the payer holds its tokens");

        // The node's receipt, signed first, is skipped: nothing charged, credited or marked settled.
        Snapshot memory s = _snapshot(payer);
        uint256 held = token.balanceOf(address(escrow));
        _expectSkipped(0, r, abi.encodeWithSelector(IUsageEscrow.InsufficientDeposit.selector, payer, FEE, 0));
        vm.prank(node);
        assertEq(_settle(r, attribution, sig), 0, "the node's receipt is skipped");
        _assertMovedBy(s, 0);
        assertFalse(escrow.isSettled(_digest(r)), "not marked settled");
        assertEq(token.balanceOf(address(escrow)), held, "no transfer");
        _assertSolvent();

        // At its deadline, the deposit topped up (by the payer or anyone), the same receipt settles, once.
        vm.warp(r.deadline);
        _fund(payer, FEE);
        s = _snapshot(payer);
        _expectSettled(r, attribution);
        vm.prank(node);
        assertEq(_settle(r, attribution, sig), 1, "the node's receipt settles after the top-up");
        _assertMovedBy(s, 1);
        assertEq(escrow.depositOf(payer), 0, "charged FEE, to the wei");
        assertEq(escrow.balanceOf(node), NODE_SHARE, "the node is paid once");
        assertTrue(escrow.isSettled(_digest(r)), "marked settled");
        _expectSkipped(0, r, abi.encodeWithSelector(IUsageEscrow.AlreadySettled.selector, 0, _digest(r)));
        assertEq(_settle(r, attribution, sig), 0, "and never again");
        _assertSolvent();
    }

    // ------------------------------------------------------------------ valid

    function test_When_EveryReceiptValid() external {
        (IUsageEscrow.UsageReceipt[] memory rs, IUsageEscrow.Attribution[] memory as_, bytes[] memory sigs) =
            _batch(payer, payerKey, 1, 2);

        bytes memory packed =
            abi.encodePacked(contributionIds[0], uint32(500_000), contributionIds[1], uint32(250_000));
        assertEq(_pack(attribution), packed, "packing");
        vm.expectEmit(address(escrow));
        emit IUsageEscrow.ReceiptSettled(_digest(rs[0]), payer, modelId, rs[0], packed);
        _expectSettled(rs[1], attribution);
        vm.recordLogs();
        assertEq(escrow.settle(rs, as_, sigs), 2, "settle returned");
        Vm.Log[] memory logs = vm.getRecordedLogs();

        // Fee 1e18 each: owner 30%, node 15%, treasury 5%, data 50% of which c1 50%, c2 25%, pool 25%.
        assertEq(escrow.depositOf(payer), DEPOSIT - 2e18, "payer charged");
        assertEq(escrow.balanceOf(modelOwner), 0.6e18, "owner");
        assertEq(escrow.balanceOf(node), 0.3e18, "node");
        assertEq(escrow.balanceOf(treasury), 0.1e18, "treasury");
        assertEq(escrow.balanceOf(contributors[0]), 0.5e18, "contributor 1");
        assertEq(escrow.balanceOf(contributors[1]), 0.25e18, "contributor 2");
        assertEq(escrow.unclaimedPoolRewards(), 0.25e18, "pool");
        assertEq(escrow.rewardPerToken(releaseId), 0.25e18 * 1e18 / 1000, "rewardPerToken");
        assertEq(escrow.totalCredited(), 1.75e18, "totalCredited");
        assertEq(escrow.totalDeposits(), DEPOSIT - 2e18, "totalDeposits");
        assertTrue(escrow.isSettled(_digest(rs[0])) && escrow.isSettled(_digest(rs[1])), "marked settled");
        assertFalse(escrow.isSettled(_digest(_receipt(payer, 3, attribution))), "another receipt not");

        for (uint256 k; k < logs.length; ++k) {
            if (logs[k].topics[0] == IUsageEscrow.PoolAccrued.selector) {
                (uint256 amount, uint256 rpt) = abi.decode(logs[k].data, (uint256, uint256));
                assertEq(amount, 0.25e18, "accrued amount");
                assertEq(rpt, escrow.rewardPerToken(releaseId), "accrued rpt");
            }
        }
        assertEq(_count(logs, IUsageEscrow.Credited.selector), 5, "one Credited per distinct account");
        assertEq(_count(logs, IUsageEscrow.ReceiptSettled.selector), 2, "one ReceiptSettled per receipt");
        assertEq(_count(logs, IUsageEscrow.PoolAccrued.selector), 1, "one PoolAccrued per release");
        assertEq(_count(logs, IUsageEscrow.ReceiptSkipped.selector), 0, "none skipped");
        _assertSolvent();
    }

    function test_When_RoundingLeavesDust() external {
        // A second datanet whose release holds 3 tokens, so the pool's split across releases rounds.
        uint64 dn = _createDatanet(curator);
        uint64 small = _contribute(contributors[3], dn, 3);
        vm.prank(curator);
        datanets.review(small, true);
        uint64[] memory releases = new uint64[](2);
        (releases[0], releases[1]) = (releaseId, _publish(dn));
        uint64 m2 = _registerModel(releases, 1003, _split(3000, 5000, 1500, 500));

        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 9, attribution);
        (r.modelId, r.inputTokens, r.outputTokens, r.fee) = (m2, 4000, 3000, 7021);
        assertEq(_settle(r, attribution, _sign(payerKey, r)), 1, "settled");

        // owner 2106, node 1053, data 3510 (c1 1755, c2 877, pool 878), treasury 352.
        // Pool 878 over 1000 + 3 tokens: 875 and 2; the 3-token release represents only 1 of its 2.
        assertEq(escrow.balanceOf(modelOwner), 2106, "owner");
        assertEq(escrow.balanceOf(node), 1053, "node");
        assertEq(escrow.balanceOf(contributors[0]), 1755, "c1");
        assertEq(escrow.balanceOf(contributors[1]), 877, "c2");
        assertEq(escrow.unclaimedPoolRewards(), 876, "pooled");
        assertEq(escrow.balanceOf(treasury), 352 + 2, "treasury share + dust");
        assertEq(escrow.rewardPerToken(releases[1]), uint256(2e18) / 3, "small release rpt");
        assertEq(escrow.poolRewardOf(releases[1], small), 1, "small member's reward");
        _assertSolvent();
    }

    function test_When_FeeIsZero() external {
        uint64 t0 = uint64(block.timestamp);
        vm.prank(modelOwner);
        models.setPrice(modelId, 0);
        vm.warp(t0 + 1 hours);
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, attribution);
        (r.deadline, r.fee) = (t0 + 1 days + 1, 0); // at the zero price
        vm.recordLogs();
        assertEq(_settle(r, attribution, _sign(payerKey, r)), 1, "settled");
        assertEq(_count(vm.getRecordedLogs(), IUsageEscrow.Credited.selector), 0, "no Credited");
        assertEq(escrow.depositOf(payer), DEPOSIT, "nothing charged");
        assertEq(escrow.totalCredited(), 0, "nothing credited");
        assertEq(escrow.unclaimedPoolRewards(), 0, "nothing pooled");
        assertTrue(escrow.isSettled(_digest(r)), "marked settled");
        _assertSolvent();
    }

    function test_When_AttributionEmpty() external {
        IUsageEscrow.Attribution memory a = _attribution(new uint64[](0), new uint32[](0));
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, a);
        _expectSettled(r, a); // an empty packed attribution
        assertEq(_settle(r, a, _sign(payerKey, r)), 1, "settled");
        assertEq(escrow.unclaimedPoolRewards(), 0.5e18, "whole data share to the pool");
        assertEq(escrow.balanceOf(contributors[0]), 0, "no contributor credited");
        assertEq(escrow.balanceOf(modelOwner), OWNER_SHARE, "owner");
        assertEq(escrow.rewardPerToken(releaseId), 0.5e18 * 1e18 / 1000, "rewardPerToken");
        _assertSolvent();
    }
}
