// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IDatanetRegistry} from "../../../src/interfaces/IDatanetRegistry.sol";
import {IUsageEscrow} from "../../../src/interfaces/IUsageEscrow.sol";
import {Base} from "../../utils/Base.t.sol";

contract Claims_Unit_Test is Base {
    function setUp() public override {
        super.setUp();
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, a);
        _settle(r, a, _sign(payerKey, r));
    }

    function test_RevertWhen_ClaimToZero() external {
        vm.expectRevert(IUsageEscrow.ZeroAddress.selector);
        vm.prank(node);
        escrow.claim(address(0));
    }

    function test_RevertWhen_ClaimToEscrow() external {
        vm.expectRevert(abi.encodeWithSelector(IUsageEscrow.InvalidRecipient.selector, address(escrow)));
        vm.prank(node);
        escrow.claim(address(escrow));
        assertEq(escrow.balanceOf(node), 0.15e18, "balance kept");
    }

    function test_RevertWhen_NothingToClaim() external {
        vm.expectRevert(IUsageEscrow.NothingToClaim.selector);
        vm.prank(payer);
        escrow.claim(payer);
    }

    function test_When_BalanceNonzero() external {
        address to = makeAddr("cold wallet");
        uint256 credited = escrow.totalCredited();
        vm.expectEmit(address(escrow));
        emit IUsageEscrow.Claimed(node, to, 0.15e18);
        vm.prank(node);
        assertEq(escrow.claim(to), 0.15e18, "amount");
        assertEq(token.balanceOf(to), 0.15e18, "paid");
        assertEq(escrow.balanceOf(node), 0, "zeroed");
        assertEq(escrow.totalCredited(), credited - 0.15e18, "totalCredited");
        _assertSolvent();
    }

    function test_RevertWhen_ReleaseUnknown() external {
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.UnknownRelease.selector, 9));
        escrow.claimPoolRewards(9, contributionIds);
    }

    function test_RevertWhen_NotReleaseMember() external {
        uint64 late = _contribute(contributors[0], datanetId, 10);
        vm.prank(curator);
        datanets.review(late, true);
        uint64[] memory ids = new uint64[](2);
        (ids[0], ids[1]) = (contributionIds[0], late);
        vm.expectRevert(abi.encodeWithSelector(IUsageEscrow.NotReleaseMember.selector, releaseId, late));
        escrow.claimPoolRewards(releaseId, ids);
        vm.expectRevert(abi.encodeWithSelector(IUsageEscrow.NotReleaseMember.selector, releaseId, late));
        escrow.poolRewardOf(releaseId, late);
    }

    function test_When_EveryContributionMember() external {
        // Pool 0.125e18 over 1,000 tokens; the fixture's contributions hold 100, 200, 300, 400.
        uint256 rpt = escrow.rewardPerToken(releaseId);
        assertEq(rpt, 0.125e18 * 1e18 / 1000, "rpt");
        uint256 before0 = escrow.balanceOf(contributors[0]);
        uint256 credited = escrow.totalCredited();
        assertEq(escrow.poolRewardOf(releaseId, contributionIds[3]), 0.05e18, "c4 reward");

        address caller = makeAddr("caller");
        vm.expectEmit(address(escrow));
        emit IUsageEscrow.PoolRewardClaimed(releaseId, contributionIds[0], contributors[0], 0.0125e18);
        vm.expectEmit(address(escrow));
        emit IUsageEscrow.Credited(contributors[0], 0.0125e18);
        vm.prank(caller);
        escrow.claimPoolRewards(releaseId, contributionIds);

        assertEq(escrow.balanceOf(contributors[0]), before0 + 0.0125e18, "c1");
        assertEq(escrow.balanceOf(contributors[1]), 0.125e18 + 0.025e18, "c2: attributed + pool");
        assertEq(escrow.balanceOf(contributors[2]), 0.0375e18, "c3");
        assertEq(escrow.balanceOf(contributors[3]), 0.05e18, "c4");
        assertEq(escrow.balanceOf(caller), 0, "the caller gets nothing");
        assertEq(escrow.poolRewardOf(releaseId, contributionIds[3]), 0, "c4 paid");
        assertEq(escrow.unclaimedPoolRewards(), 0, "pool emptied");
        assertEq(escrow.totalCredited(), credited + 0.125e18, "totalCredited");
        _assertSolvent();

        credited = escrow.totalCredited();
        escrow.claimPoolRewards(releaseId, contributionIds);
        assertEq(escrow.totalCredited(), credited, "nothing more");
    }

    function test_When_ContributionListedTwice() external {
        uint64[] memory ids = new uint64[](2);
        (ids[0], ids[1]) = (contributionIds[3], contributionIds[3]);
        uint256 credited = escrow.totalCredited();
        vm.recordLogs();
        escrow.claimPoolRewards(releaseId, ids);
        assertEq(vm.getRecordedLogs().length, 2, "one PoolRewardClaimed and one Credited");
        assertEq(escrow.balanceOf(contributors[3]), 0.05e18, "credited once");
        assertEq(escrow.totalCredited(), credited + 0.05e18, "totalCredited");
        assertEq(escrow.unclaimedPoolRewards(), 0.125e18 - 0.05e18, "pool");
        _assertSolvent();
    }
}
