// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IDatanetRegistry} from "../../../src/interfaces/IDatanetRegistry.sol";
import {Base} from "../../utils/Base.t.sol";

contract WithdrawStake_Unit_Test is Base {
    function test_RevertWhen_ContributionUnknown() external {
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.UnknownContribution.selector, 50));
        datanets.withdrawStake(50);
    }

    function test_RevertWhen_CallerNotContributor() external {
        vm.expectRevert(
            abi.encodeWithSelector(IDatanetRegistry.NotContributor.selector, contributionIds[0], curator)
        );
        vm.prank(curator);
        datanets.withdrawStake(contributionIds[0]);
    }

    function test_RevertWhen_NotAccepted() external {
        uint64 id = _contribute(contributors[1], datanetId, 3);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.NotAccepted.selector, id));
        vm.prank(contributors[1]);
        datanets.withdrawStake(id);
    }

    function test_RevertWhen_StakeLocked() external {
        uint64 unlockAt = datanets.getContribution(contributionIds[0]).unlockAt;
        vm.warp(unlockAt - 1);
        vm.expectRevert(
            abi.encodeWithSelector(IDatanetRegistry.StakeLocked.selector, contributionIds[0], unlockAt)
        );
        vm.prank(contributors[0]);
        datanets.withdrawStake(contributionIds[0]);
    }

    function test_RevertWhen_AlreadyReturned() external {
        vm.warp(block.timestamp + 7 days);
        vm.startPrank(contributors[0]);
        datanets.withdrawStake(contributionIds[0]);
        vm.expectRevert(
            abi.encodeWithSelector(IDatanetRegistry.StakeAlreadyReturned.selector, contributionIds[0])
        );
        datanets.withdrawStake(contributionIds[0]);
        vm.stopPrank();
    }

    function test_When_LockPassed() external {
        vm.warp(datanets.getContribution(contributionIds[0]).unlockAt);
        vm.expectEmit(address(datanets));
        emit IDatanetRegistry.StakeReturned(contributionIds[0], contributors[0], MIN_STAKE);
        vm.prank(contributors[0]);
        datanets.withdrawStake(contributionIds[0]);
        assertEq(token.balanceOf(contributors[0]), MIN_STAKE, "stake back");
        assertTrue(datanets.getContribution(contributionIds[0]).stakeReturned, "marked");
    }
}
