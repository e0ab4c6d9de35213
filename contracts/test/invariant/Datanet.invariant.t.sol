// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IDatanetRegistry} from "../../src/interfaces/IDatanetRegistry.sol";
import {Base} from "../utils/Base.t.sol";
import {DatanetHandler} from "./DatanetHandler.sol";

/// @notice Stake accounting and curator counts of the DatanetRegistry under random contributions, reviews,
///         stake and contribution withdrawals, curator changes and time.
contract Datanet_Invariant_Test is Base {
    DatanetHandler internal handler;
    uint256 internal treasuryBefore;

    function setUp() public override {
        super.setUp();
        handler = new DatanetHandler(token, datanets, owner);
        treasuryBefore = token.balanceOf(treasury);
        targetContract(address(handler));
    }

    /// @dev The registry holds exactly the stakes still at stake, by the handler's ghost totals.
    function invariant_BalanceEqualsPendingAndLockedStakes_Ghosts() external view {
        assertEq(
            token.balanceOf(address(datanets)),
            handler.ghostPendingStakes() + handler.ghostLockedStakes(),
            "registry balance != pending + accepted-unreturned stakes (ghosts)"
        );
    }

    /// @dev The same, recomputed from the registry's own records of every contribution.
    function invariant_BalanceEqualsPendingAndLockedStakes_Recomputed() external view {
        uint256 pending;
        uint256 locked;
        uint64 count = datanets.contributionCount();
        for (uint64 id = 1; id <= count; ++id) {
            IDatanetRegistry.Contribution memory c = datanets.getContribution(id);
            if (c.status == IDatanetRegistry.ContributionStatus.Pending) {
                assertFalse(c.stakeReturned, "pending with stake returned");
                pending += c.stake;
            } else if (c.status == IDatanetRegistry.ContributionStatus.Accepted) {
                assertGt(c.acceptedSeq, 0, "accepted without acceptedSeq");
                if (!c.stakeReturned) locked += c.stake;
            } else if (c.status == IDatanetRegistry.ContributionStatus.Withdrawn) {
                assertTrue(c.stakeReturned, "withdrawn without stake returned");
                assertEq(c.acceptedSeq, 0, "withdrawn with acceptedSeq");
            } else {
                assertEq(uint8(c.status), uint8(IDatanetRegistry.ContributionStatus.Rejected), "status");
                assertEq(c.acceptedSeq, 0, "rejected with acceptedSeq");
            }
        }
        assertEq(count, handler.contributionIdCount(), "contribution count");
        assertEq(pending, handler.ghostPendingStakes(), "pending stakes");
        assertEq(locked, handler.ghostLockedStakes(), "accepted-unreturned stakes");
        assertEq(
            token.balanceOf(address(datanets)), pending + locked, "registry balance != recomputed stakes"
        );
    }

    /// @dev Every stake pulled is held, returned, withdrawn or slashed, and the treasury got the slashed ones.
    function invariant_StakesConserved() external view {
        assertEq(
            handler.ghostContributed(),
            handler.ghostPendingStakes() + handler.ghostLockedStakes() + handler.ghostReturned()
                + handler.ghostWithdrawn() + handler.ghostSlashed(),
            "stakes not conserved"
        );
        assertEq(token.balanceOf(treasury) - treasuryBefore, handler.ghostSlashed(), "treasury != slashed");
    }

    /// @dev Each datanet's curatorCount is the number of enabled curators the handler knows of.
    function invariant_CuratorCountMatchesEnabledCurators() external view {
        for (uint256 d; d < handler.datanetCount(); ++d) {
            uint64 dn = handler.datanetIds(d);
            uint256 enabled;
            for (uint256 k; k < handler.curatorCandidateCount(); ++k) {
                bool known = handler.ghostIsCurator(d, k);
                assertEq(datanets.isCurator(dn, handler.curators(k)), known, "isCurator != ghost");
                if (known) ++enabled;
            }
            assertEq(handler.ghostCuratorCount(d), enabled, "ghost count");
            assertEq(datanets.getDatanet(dn).curatorCount, enabled, "curatorCount != enabled curators");
        }
    }

    /// @dev The campaign must actually take contributions for the invariants above to mean anything.
    function afterInvariant() external view {
        assertGt(handler.ghostContributions(), 0, "no contribution in this run");
    }
}
