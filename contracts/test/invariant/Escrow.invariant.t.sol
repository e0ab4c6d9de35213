// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Base} from "../utils/Base.t.sol";
import {EscrowHandler} from "./EscrowHandler.sol";

/// @notice Accounting invariants of the escrow under random deposits, withdrawals, settlements, replays and
///         claims over a model bound to two releases.
contract Escrow_Invariant_Test is Base {
    EscrowHandler internal handler;
    uint256 internal initialBalance;

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
        uint64 m = _registerModel(releases, 3.7e15, _split(2500, 5500, 1333, 667));

        address[] memory extra = new address[](4);
        (extra[0], extra[1], extra[2], extra[3]) = (modelOwner, treasury, makeAddr("node2"), node);
        handler = new EscrowHandler(token, escrow, models, datanets, owner, m, extra);
        initialBalance = token.balanceOf(address(escrow));
        targetContract(address(handler));
    }

    function invariant_BalanceEqualsDepositsCreditedAndPools() external view {
        _assertSolvent();
    }

    function invariant_NoReceiptSettlesTwice() external view {
        assertEq(handler.ghostReplaysSettled(), 0, "a receipt settled twice");
    }

    function invariant_PayerNeverChargedAbovePriceTimesTokens() external view {
        for (uint256 p; p < handler.payerCount(); ++p) {
            address who = handler.payers(p);
            uint256 charged =
                handler.ghostDepositedBy(who) - handler.ghostWithdrawnBy(who) - escrow.depositOf(who);
            assertLe(charged, handler.ghostMaxChargeOf(who), "charged above price x tokens");
        }
    }

    function invariant_PaidOutAtMostDeposited() external view {
        assertLe(
            handler.ghostWithdrawn() + handler.ghostClaimed(),
            initialBalance + handler.ghostDeposited(),
            "paid out more than deposited"
        );
    }

    function invariant_CreditedMatchesBalances() external view {
        uint256 sum;
        for (uint256 k; k < handler.recipientCount(); ++k) {
            address who = handler.recipients(k);
            bool seen;
            for (uint256 j; j < k; ++j) {
                if (handler.recipients(j) == who) seen = true;
            }
            if (!seen) sum += escrow.balanceOf(who);
        }
        assertEq(sum, escrow.totalCredited(), "totalCredited != sum of balances");
    }

    /// @dev The campaign must actually settle receipts for the invariants above to mean anything.
    function afterInvariant() external view {
        assertGt(handler.ghostReceiptsSettled(), 0, "no receipt settled in this run");
    }
}
