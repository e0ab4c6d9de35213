// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IUsageEscrow} from "../../../src/interfaces/IUsageEscrow.sol";
import {Base} from "../../utils/Base.t.sol";
import {ERC1271Wallet} from "../../utils/ERC1271Wallet.sol";
import {Vm} from "forge-std/Vm.sol";

contract Settle_Unit_Test is Base {
    IUsageEscrow.Attribution internal attribution;

    function setUp() public override {
        super.setUp();
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        attribution.contributionIds = a.contributionIds;
        attribution.weightsPpm = a.weightsPpm;
    }

    /// @dev Signs `r` and settles it alone, expecting `err`.
    function _expectRevertSettling(
        IUsageEscrow.UsageReceipt memory r,
        IUsageEscrow.Attribution memory a,
        bytes memory err
    ) internal {
        bytes memory sig = _sign(payerKey, r);
        vm.expectRevert(err);
        _settle(r, a, sig);
    }

    function _withIds(uint64[] memory ids) internal pure returns (IUsageEscrow.Attribution memory a) {
        uint32[] memory weights = new uint32[](ids.length);
        for (uint256 k; k < ids.length; ++k) {
            weights[k] = 1000;
        }
        a = IUsageEscrow.Attribution({contributionIds: ids, weightsPpm: weights});
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

    function test_RevertWhen_AttributionArraysDiffer() external {
        IUsageEscrow.Attribution memory a = _attribution(new uint64[](2), new uint32[](1));
        _expectRevertSettling(
            _receipt(payer, 1, a), a, abi.encodeWithSelector(IUsageEscrow.InvalidAttribution.selector, 0)
        );
    }

    function test_RevertWhen_AttributionAboveMax() external {
        uint64[] memory ids = new uint64[](17);
        for (uint256 k; k < 17; ++k) {
            ids[k] = contributionIds[k % 4];
        }
        IUsageEscrow.Attribution memory a = _withIds(ids);
        _expectRevertSettling(
            _receipt(payer, 1, a), a, abi.encodeWithSelector(IUsageEscrow.InvalidAttribution.selector, 0)
        );
    }

    // ------------------------------------------------------------- per receipt

    function test_RevertWhen_PayerZero() external {
        IUsageEscrow.UsageReceipt memory r = _receipt(address(0), 1, attribution);
        _expectRevertSettling(r, attribution, abi.encodeWithSelector(IUsageEscrow.InvalidParty.selector, 0));
    }

    function test_RevertWhen_NodeZero() external {
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, attribution);
        r.node = address(0);
        _expectRevertSettling(r, attribution, abi.encodeWithSelector(IUsageEscrow.InvalidParty.selector, 0));
    }

    function test_RevertWhen_DeadlinePassed() external {
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, attribution);
        r.deadline = uint64(block.timestamp - 1);
        _expectRevertSettling(
            r, attribution, abi.encodeWithSelector(IUsageEscrow.ReceiptExpired.selector, 0, r.deadline)
        );
    }

    function test_When_DeadlineIsNow() external {
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, attribution);
        r.deadline = uint64(block.timestamp);
        _settle(r, attribution, _sign(payerKey, r));
        assertTrue(escrow.isNonceUsed(payer, 1));
    }

    function test_RevertWhen_DeadlineTooFar() external {
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, attribution);
        r.deadline = uint64(block.timestamp + 1 days + 1);
        _expectRevertSettling(
            r,
            attribution,
            abi.encodeWithSelector(
                IUsageEscrow.ReceiptDeadlineTooFar.selector, 0, r.deadline, uint64(block.timestamp + 1 days)
            )
        );
    }

    function test_RevertWhen_ModelZero() external {
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, attribution);
        r.modelId = 0;
        _expectRevertSettling(
            r, attribution, abi.encodeWithSelector(IUsageEscrow.UnknownModel.selector, 0, 0)
        );
    }

    function test_RevertWhen_ModelUnknown() external {
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, attribution);
        r.modelId = 2;
        _expectRevertSettling(
            r, attribution, abi.encodeWithSelector(IUsageEscrow.UnknownModel.selector, 0, 2)
        );
    }

    function test_RevertWhen_FeeMismatch() external {
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, attribution);
        r.fee += 1;
        _expectRevertSettling(
            r, attribution, abi.encodeWithSelector(IUsageEscrow.FeeMismatch.selector, 0, r.fee - 1, r.fee)
        );
    }

    function test_RevertWhen_AttributionHashMismatch() external {
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, attribution);
        IUsageEscrow.Attribution memory other = _defaultAttribution();
        other.weightsPpm[0] += 1;
        _expectRevertSettling(
            r, other, abi.encodeWithSelector(IUsageEscrow.AttributionHashMismatch.selector, 0)
        );
    }

    function test_RevertWhen_NonceUsedEarlier() external {
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, attribution);
        _settle(r, attribution, _sign(payerKey, r));
        r.promptHash = keccak256("another prompt");
        _expectRevertSettling(
            r, attribution, abi.encodeWithSelector(IUsageEscrow.NonceAlreadyUsed.selector, 0, payer, 1)
        );
    }

    function test_RevertWhen_NonceRepeatsInBatch() external {
        IUsageEscrow.UsageReceipt[] memory rs = new IUsageEscrow.UsageReceipt[](2);
        IUsageEscrow.Attribution[] memory as_ = new IUsageEscrow.Attribution[](2);
        bytes[] memory sigs = new bytes[](2);
        for (uint256 k; k < 2; ++k) {
            rs[k] = _receipt(payer, 300, attribution);
            as_[k] = attribution;
            sigs[k] = _sign(payerKey, rs[k]);
        }
        vm.expectRevert(abi.encodeWithSelector(IUsageEscrow.NonceAlreadyUsed.selector, 1, payer, 300));
        escrow.settle(rs, as_, sigs);
    }

    function test_RevertWhen_SignedByAnotherKey() external {
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, attribution);
        (, uint256 otherKey) = makeAddrAndKey("other");
        bytes memory sig = _sign(otherKey, r);
        vm.expectRevert(abi.encodeWithSelector(IUsageEscrow.InvalidSignature.selector, 0, payer));
        _settle(r, attribution, sig);
    }

    function test_RevertWhen_SignatureLengthInvalid() external {
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, attribution);
        bytes memory sig = _sign(payerKey, r);
        assembly {
            mstore(sig, 63)
        }
        vm.expectRevert(abi.encodeWithSelector(IUsageEscrow.InvalidSignature.selector, 0, payer));
        _settle(r, attribution, sig);
    }

    function test_RevertWhen_ContributionPending() external {
        uint64[] memory ids = new uint64[](1);
        ids[0] = _contribute(contributors[0], datanetId, 10);
        IUsageEscrow.Attribution memory a = _withIds(ids);
        _expectRevertSettling(
            _receipt(payer, 1, a),
            a,
            abi.encodeWithSelector(IUsageEscrow.ContributionNotInModelReleases.selector, 0, ids[0])
        );
    }

    function test_RevertWhen_ContributionRejected() external {
        uint64[] memory ids = new uint64[](1);
        ids[0] = _contribute(contributors[0], datanetId, 10);
        vm.prank(curator);
        datanets.review(ids[0], false);
        IUsageEscrow.Attribution memory a = _withIds(ids);
        _expectRevertSettling(
            _receipt(payer, 1, a),
            a,
            abi.encodeWithSelector(IUsageEscrow.ContributionNotInModelReleases.selector, 0, ids[0])
        );
    }

    function test_RevertWhen_ContributionAcceptedAfterRelease() external {
        uint64[] memory ids = new uint64[](2);
        ids[0] = contributionIds[3];
        ids[1] = _contribute(contributors[0], datanetId, 10);
        vm.prank(curator);
        datanets.review(ids[1], true);
        IUsageEscrow.Attribution memory a = _withIds(ids);
        _expectRevertSettling(
            _receipt(payer, 1, a),
            a,
            abi.encodeWithSelector(IUsageEscrow.ContributionNotInModelReleases.selector, 0, ids[1])
        );
    }

    function test_RevertWhen_ContributionInAnotherDatanet() external {
        uint64 other = _createDatanet(curator);
        uint64[] memory ids = new uint64[](1);
        ids[0] = _contribute(contributors[0], other, 10);
        vm.prank(curator);
        datanets.review(ids[0], true);
        _publish(other);
        IUsageEscrow.Attribution memory a = _withIds(ids);
        _expectRevertSettling(
            _receipt(payer, 1, a),
            a,
            abi.encodeWithSelector(IUsageEscrow.ContributionNotInModelReleases.selector, 0, ids[0])
        );
    }

    function test_RevertWhen_ContributionUnknown() external {
        uint64[] memory ids = new uint64[](1);
        ids[0] = 4242;
        IUsageEscrow.Attribution memory a = _withIds(ids);
        _expectRevertSettling(
            _receipt(payer, 1, a),
            a,
            abi.encodeWithSelector(IUsageEscrow.ContributionNotInModelReleases.selector, 0, 4242)
        );
    }

    function test_RevertWhen_WeightsExceedOneMillion() external {
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        (a.weightsPpm[0], a.weightsPpm[1]) = (600_000, 400_001);
        _expectRevertSettling(
            _receipt(payer, 1, a),
            a,
            abi.encodeWithSelector(IUsageEscrow.WeightsExceedOneMillion.selector, 0, 1_000_001)
        );
    }

    function test_RevertWhen_DepositInsufficient() external {
        (address poor, uint256 poorKey) = makeAddrAndKey("poor");
        _fund(poor, 1.5e18);
        IUsageEscrow.UsageReceipt[] memory rs = new IUsageEscrow.UsageReceipt[](2);
        IUsageEscrow.Attribution[] memory as_ = new IUsageEscrow.Attribution[](2);
        bytes[] memory sigs = new bytes[](2);
        for (uint256 k; k < 2; ++k) {
            rs[k] = _receipt(poor, k, attribution);
            as_[k] = attribution;
            sigs[k] = _sign(poorKey, rs[k]);
        }
        vm.expectRevert(abi.encodeWithSelector(IUsageEscrow.InsufficientDeposit.selector, poor, 2e18, 1.5e18));
        escrow.settle(rs, as_, sigs);
    }

    // ------------------------------------------------------------------ valid

    function test_When_EveryReceiptValid() external {
        IUsageEscrow.UsageReceipt[] memory rs = new IUsageEscrow.UsageReceipt[](2);
        IUsageEscrow.Attribution[] memory as_ = new IUsageEscrow.Attribution[](2);
        bytes[] memory sigs = new bytes[](2);
        for (uint256 k; k < 2; ++k) {
            rs[k] = _receipt(payer, k + 1, attribution);
            as_[k] = attribution;
            sigs[k] = _sign(payerKey, rs[k]);
        }

        bytes memory packed =
            abi.encodePacked(contributionIds[0], uint32(500_000), contributionIds[1], uint32(250_000));
        vm.expectEmit(address(escrow));
        emit IUsageEscrow.ReceiptSettled(_digest(rs[0]), payer, modelId, rs[0], packed);
        vm.recordLogs();
        escrow.settle(rs, as_, sigs);
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
        assertTrue(escrow.isNonceUsed(payer, 1) && escrow.isNonceUsed(payer, 2), "nonces used");
        assertFalse(escrow.isNonceUsed(payer, 3), "nonce 3 free");

        uint256 credited;
        uint256 settled;
        uint256 accrued;
        for (uint256 k; k < logs.length; ++k) {
            bytes32 topic = logs[k].topics[0];
            if (topic == IUsageEscrow.Credited.selector) ++credited;
            if (topic == IUsageEscrow.ReceiptSettled.selector) ++settled;
            if (topic == IUsageEscrow.PoolAccrued.selector) {
                ++accrued;
                (uint256 amount, uint256 rpt) = abi.decode(logs[k].data, (uint256, uint256));
                assertEq(amount, 0.25e18, "accrued amount");
                assertEq(rpt, escrow.rewardPerToken(releaseId), "accrued rpt");
            }
        }
        assertEq(credited, 5, "one Credited per distinct account");
        assertEq(settled, 2, "one ReceiptSettled per receipt");
        assertEq(accrued, 1, "one PoolAccrued per release");
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
        _settle(r, attribution, _sign(payerKey, r));

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
        vm.prank(modelOwner);
        models.setPrice(modelId, 0);
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, attribution);
        r.fee = 0;
        _settle(r, attribution, _sign(payerKey, r));
        assertEq(escrow.depositOf(payer), DEPOSIT, "nothing charged");
        assertEq(escrow.totalCredited(), 0, "nothing credited");
        assertTrue(escrow.isNonceUsed(payer, 1), "nonce used");
    }

    function test_When_AttributionEmpty() external {
        IUsageEscrow.Attribution memory a = _attribution(new uint64[](0), new uint32[](0));
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, a);
        _settle(r, a, _sign(payerKey, r));
        assertEq(escrow.unclaimedPoolRewards(), 0.5e18, "whole data share to the pool");
        _assertSolvent();
    }

    function test_RevertWhen_ContractWalletRejectsSignature() external {
        ERC1271Wallet wallet = new ERC1271Wallet(makeAddr("walletSigner"));
        _fund(address(wallet), 10e18);
        IUsageEscrow.UsageReceipt memory r = _receipt(address(wallet), 1, attribution);
        bytes memory sig = _sign(payerKey, r);
        vm.expectRevert(abi.encodeWithSelector(IUsageEscrow.InvalidSignature.selector, 0, address(wallet)));
        _settle(r, attribution, sig);
    }
}
