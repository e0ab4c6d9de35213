// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Base} from "../utils/Base.t.sol";
import {EscrowAdapterHandler} from "./EscrowAdapterHandler.sol";
import {EscrowHandler} from "./EscrowHandler.sol";
import {StdInvariant} from "forge-std/StdInvariant.sol";

/// @notice The escrow's accounting and its payee guarantee under a node that signs only valid receipts and
///         every party working against it: two models sharing a release, three payers (one through a session
///         key it revokes and re-authorizes) who also settle receipts of their own with the nonce of one the
///         node holds, withdrawals the moment they unlock, price changes, validity and delay changes,
///         front-running third parties, invalid receipts in every batch, direct transfers and sweeps, claims
///         and time passing; adapters registered on the two models while their owners change derivative
///         shares and hand the models over.
/// forge-config: default.invariant.fail-on-revert = true
contract Escrow_Invariant_Test is Base {
    EscrowAdapterHandler internal handler;

    function setUp() public override {
        super.setUp();
        uint64 dn = _createDatanet(curator);
        for (uint256 k; k < 3; ++k) {
            uint64 id = _contribute(contributors[k], dn, uint32(17 + 10 * k));
            vm.prank(curator);
            datanets.review(id, true);
        }
        uint64[] memory releases = new uint64[](2);
        (releases[0], releases[1]) = (releaseId, _publish(dn));
        uint64 shared = _registerModel(releases, 3.7e15, _split(2500, 5500, 1333, 667));
        // Accepted after the release: in no model's release.
        uint64 outsider = _contribute(contributors[3], datanetId, 50);
        vm.prank(curator);
        datanets.review(outsider, true);

        uint64[] memory modelIds = new uint64[](2);
        (modelIds[0], modelIds[1]) = (modelId, shared);
        address[] memory nodes = new address[](2);
        (nodes[0], nodes[1]) = (node, makeAddr("node2"));
        handler = new EscrowAdapterHandler(
            token, escrow, models, datanets, owner, treasury, modelIds, nodes, outsider
        );
        // The fixture's own payer and deposit stay as they are: part of totalDeposits, never touched.
        targetContract(address(handler));
        bytes4[] memory excluded = new bytes4[](1);
        excluded[0] = EscrowHandler.finalSettle.selector;
        excludeSelector(StdInvariant.FuzzSelector({addr: address(handler), selectors: excluded}));
    }

    /// @notice token.balanceOf(escrow) == totalDeposits + totalCredited + unclaimedPoolRewards + unswept
    ///         direct transfers, to the wei.
    function invariant_BalanceEqualsDepositsCreditedPoolsAndUnswept() external view {
        assertEq(
            token.balanceOf(address(escrow)),
            escrow.totalDeposits() + escrow.totalCredited() + escrow.unclaimedPoolRewards()
                + handler.ghostUnswept(),
            "escrow balance != deposits + credited + unclaimed pool rewards + unswept"
        );
    }

    /// @notice Every recipient's balance plus what it claimed is what the fee split of the receipts that
    ///         settled, its pool claims and the sweeps owe it; the balances add up to totalCredited.
    function invariant_RecipientsOwedExactly() external view {
        uint256 sum;
        for (uint256 k; k < handler.recipientCount(); ++k) {
            address who = handler.recipients(k);
            uint256 balance = escrow.balanceOf(who);
            assertEq(
                balance + handler.ghostClaimedBy(who), handler.ghostOwed(who), "balance + claimed != owed"
            );
            sum += balance;
        }
        assertEq(sum, escrow.totalCredited(), "totalCredited != sum of balances");
    }

    /// @notice The pools hold what was accrued minus what was claimed, and each accumulator is the one the
    ///         split computes.
    function invariant_PoolsMatchAccruals() external view {
        assertEq(
            escrow.unclaimedPoolRewards(),
            handler.ghostPoolAccrued() - handler.ghostPoolClaimed(),
            "unclaimed pool rewards != accrued - claimed"
        );
        for (uint256 k; k < handler.releaseCount(); ++k) {
            uint64 rel = handler.releaseAt(k);
            assertEq(escrow.rewardPerToken(rel), handler.ghostRewardPerToken(rel), "reward per token");
        }
    }

    /// @notice Each payer's deposit is what it deposited minus what it withdrew minus the fees of its receipts
    ///         that settled; and it covers every receipt it signed that has not settled yet.
    function invariant_DepositsChargedExactlyAndCoverOutstanding() external view {
        uint256 sum = DEPOSIT; // the fixture's payer
        for (uint256 p; p < handler.payerCount(); ++p) {
            address who = handler.payers(p);
            uint256 held = escrow.depositOf(who);
            assertEq(
                held,
                handler.ghostDepositedBy(who) - handler.ghostWithdrawnBy(who) - handler.ghostChargedBy(who),
                "deposit != deposited - withdrawn - charged"
            );
            assertGe(held, handler.outstanding(who), "signed receipts not covered");
            sum += held;
        }
        assertEq(escrow.totalDeposits(), sum, "totalDeposits != sum of deposits");
    }

    /// @notice What the whole models' owners hold plus claimed is the owner share of the whole models'
    ///         receipts plus the derivative shares of adapter receipts (ghost total), each adapter paying the share
    ///         it registered with to the base's owner at settlement, whatever shares were declared since.
    function invariant_BaseOwnersCreditedTheDerivativeShares() external view {
        uint256 sum;
        for (uint256 k; k < handler.baseOwnerPoolLength(); ++k) {
            address who = handler.baseOwnerPool(k);
            sum += escrow.balanceOf(who) + handler.ghostClaimedBy(who);
        }
        assertEq(
            sum,
            handler.ghostWholeOwnerShares() + handler.ghostDerivativeCredited(),
            "base owners != whole-model owner shares + derivative shares"
        );
    }

    /// @notice The derivative share comes out of the adapter owner's share and nothing else: adapter owners
    ///         hold plus claimed the adapters' owner shares minus the derivative shares.
    function invariant_DerivativeShareCarvedFromOwnerShare() external view {
        uint256 sum;
        for (uint256 k; k < handler.adapterOwnerPoolLength(); ++k) {
            address who = handler.adapterOwnerPool(k);
            sum += escrow.balanceOf(who) + handler.ghostClaimedBy(who);
        }
        assertEq(
            sum,
            handler.ghostAdapterOwnerShares() - handler.ghostDerivativeCredited(),
            "adapter owners != owner shares - derivative shares"
        );
    }

    /// @notice A receipt settles at most once, whoever submits it and however its signature is encoded.
    function invariant_NoReceiptSettlesTwice() external view {
        assertEq(handler.ghostSettledTwice(), 0, "a receipt settled twice");
    }

    /// @notice Liveness: a receipt valid when signed, submitted before its deadline, settles, or had already
    ///         settled; it is never skipped for any other reason, even after the payer settled a receipt of
    ///         its own with the same nonce (which settles too).
    function invariant_LivenessNoValidReceiptLost() external view {
        assertEq(handler.ghostValidSkipped(), 0, vm.toString(handler.ghostLastLostReason()));
        assertEq(handler.ghostPayerReceiptSkipped(), 0, "a payer's own same-nonce receipt skipped");
    }

    /// @notice Invalid receipts are skipped, for the reason that makes them invalid; receipts that settled
    ///         before are skipped as such (or as expired).
    function invariant_InvalidReceiptsSkippedForTheirReason() external view {
        assertEq(handler.ghostInvalidSettled(), 0, "an invalid receipt settled");
        assertEq(handler.ghostWrongSkipReason(), 0, "skipped for another reason");
    }

    /// @notice Logs, return values and token movements agree with the outcome; what must revert reverts.
    function invariant_OutcomesConsistent() external view {
        assertEq(handler.ghostEventMismatch(), 0, "logs or return values disagree with the outcome");
        assertEq(handler.ghostUnexpectedSuccess(), 0, "a call that must revert succeeded");
        assertEq(handler.ghostSweepMismatch(), 0, "sweep != tokens sent directly");
    }

    /// @dev At the end of each run the node settles what is left: all of it settles.
    function afterInvariant() external {
        handler.finalSettle();
        assertEq(handler.ghostValidSkipped(), 0, vm.toString(handler.ghostLastLostReason()));
        assertEq(handler.outboxLength(), 0, "outbox left");
        assertEq(
            handler.ghostSettledByNode() + handler.ghostSettledByOthers(),
            handler.ghostSigned(),
            "every receipt signed settled exactly once"
        );
        _assertNoOutstanding();
    }

    function _assertNoOutstanding() internal view {
        for (uint256 p; p < handler.payerCount(); ++p) {
            assertEq(handler.outstanding(handler.payers(p)), 0, "outstanding after the final settlement");
        }
    }
}
