// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IUsageChannels} from "../../src/interfaces/IUsageChannels.sol";
import {ChannelBase} from "../utils/ChannelBase.t.sol";
import {ChannelHandler} from "./ChannelHandler.sol";

/// @notice Usage channels under hostile payers, owners and third parties and an honest node: solvency to
///         the wei, every recipient credited exactly what the settled vouchers owe it, no voucher paying
///         twice, no payer dodging a voucher it signed, and every served inference paid.
/// forge-config: default.invariant.fail-on-revert = true
contract Channels_Invariant_Test is ChannelBase {
    ChannelHandler internal handler;

    function setUp() public override {
        super.setUp();
        _setDerivativeShare(1000);
        uint64[] memory modelIds = new uint64[](2);
        (modelIds[0], modelIds[1]) = (modelId, _registerAdapter(_adapterArgs()));
        address[] memory authors = new address[](4);
        for (uint256 k; k < 4; ++k) {
            authors[k] = contributors[k];
        }
        handler =
            new ChannelHandler(token, escrow, channels, models, owner, modelIds, contributionIds, authors);
        targetContract(address(handler));
    }

    /// @notice The channels contract holds exactly the open channels' unsettled deposits, which is what came
    ///         in less what was settled and refunded.
    function invariant_ChannelsHoldOpenDepositsExactly() external view {
        _assertChannelsSolvent();
        assertEq(
            token.balanceOf(address(channels)),
            handler.ghostChannelsIn() - handler.ghostSettledFees() - handler.ghostRefunded(),
            "in - settled - refunded"
        );
    }

    /// @notice The escrow holds what it owes: the fixture's deposit, every balance and the unclaimed pools.
    function invariant_EscrowSolvent() external view {
        _assertSolvent();
    }

    /// @notice Every recipient but the treasury holds exactly what the settled vouchers owe it; the treasury
    ///         and the pools together hold the rest of the settled fees.
    function invariant_RecipientsCreditedExactly() external view {
        uint256 sum;
        for (uint256 k; k < handler.recipientCount(); ++k) {
            address who = handler.recipients(k);
            assertEq(escrow.balanceOf(who), handler.ghostOwed(who), "balance != owed");
            sum += handler.ghostOwed(who);
        }
        assertEq(
            escrow.balanceOf(treasury) + escrow.unclaimedPoolRewards(),
            handler.ghostTreasuryAndPools(),
            "treasury + pools"
        );
        assertEq(escrow.totalCredited(), sum + escrow.balanceOf(treasury), "totalCredited");
        assertEq(
            escrow.totalCredited() + escrow.unclaimedPoolRewards(), handler.ghostSettledFees(), "settled fees"
        );
    }

    /// @notice No voucher paid twice, no stale voucher settled, no payer settled or closed early.
    function invariant_NoReplayNoDodge() external view {
        assertEq(handler.ghostReplaysSettled(), 0, "a replayed voucher settled");
        assertEq(handler.ghostPayerDodges(), 0, "a payer settled or closed early");
    }

    /// @notice Liveness: no inference the node served went unpaid.
    function invariant_EveryServedInferencePaid() external view {
        assertEq(handler.ghostServedUnpaid(), 0, "served and never paid");
    }

    /// @notice Each channel's settled fee never exceeds its deposit.
    function invariant_SettledWithinDeposit() external view {
        for (uint256 k; k < handler.openedCount(); ++k) {
            IUsageChannels.Channel memory c = channels.getChannel(handler.openedAt(k));
            assertLe(c.settledFee, c.deposit, "settled > deposit");
        }
    }
}
