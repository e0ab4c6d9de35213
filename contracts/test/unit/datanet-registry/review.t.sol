// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IDatanetRegistry} from "../../../src/interfaces/IDatanetRegistry.sol";
import {Base} from "../../utils/Base.t.sol";

contract Review_Unit_Test is Base {
    uint64 internal pending;

    function setUp() public override {
        super.setUp();
        pending = _contribute(contributors[0], datanetId, 77);
    }

    function test_RevertWhen_ContributionUnknown() external {
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.UnknownContribution.selector, 99));
        vm.prank(curator);
        datanets.review(99, true);
    }

    function test_RevertWhen_CallerNotCurator() external {
        address stranger = makeAddr("stranger");
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.NotCurator.selector, datanetId, stranger));
        vm.prank(stranger);
        datanets.review(pending, true);
    }

    function test_RevertWhen_AlreadyReviewed() external {
        vm.prank(curator);
        datanets.review(pending, false);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDatanetRegistry.AlreadyReviewed.selector,
                pending,
                IDatanetRegistry.ContributionStatus.Rejected
            )
        );
        vm.prank(curator);
        datanets.review(pending, true);
    }

    function test_RevertWhen_Withdrawn() external {
        vm.warp(datanets.getContribution(pending).unlockAt);
        vm.prank(contributors[0]);
        datanets.withdrawContribution(pending);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDatanetRegistry.AlreadyReviewed.selector,
                pending,
                IDatanetRegistry.ContributionStatus.Withdrawn
            )
        );
        vm.prank(curator);
        datanets.review(pending, true);
    }

    function test_RevertWhen_WindowClosed() external {
        uint64 closesAt = datanets.getContribution(pending).unlockAt;
        vm.warp(closesAt);
        for (uint256 k; k < 2; ++k) {
            vm.expectRevert(
                abi.encodeWithSelector(IDatanetRegistry.ReviewWindowClosed.selector, pending, closesAt)
            );
            vm.prank(curator);
            datanets.review(pending, k == 0);
        }
    }

    function test_When_WindowClosesNextSecond() external {
        vm.warp(datanets.getContribution(pending).unlockAt - 1);
        vm.prank(curator);
        datanets.review(pending, false);
        IDatanetRegistry.Contribution memory c = datanets.getContribution(pending);
        assertEq(uint8(c.status), uint8(IDatanetRegistry.ContributionStatus.Rejected), "status");
    }

    function test_RevertWhen_CuratorIsContributor() external {
        uint64 own = _contribute(curator, datanetId, 5);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.SelfReview.selector, own));
        vm.prank(curator);
        datanets.review(own, true);
    }

    function test_When_Accepting() external {
        IDatanetRegistry.Datanet memory before = datanets.getDatanet(datanetId);
        IDatanetRegistry.Reputation memory repBefore = datanets.reputationOf(contributors[0]);
        uint256 registryBalance = token.balanceOf(address(datanets));

        vm.expectEmit(address(datanets));
        emit IDatanetRegistry.ContributionReviewed(pending, datanetId, curator, true, 5, 0);
        vm.prank(curator);
        datanets.review(pending, true);

        IDatanetRegistry.Contribution memory c = datanets.getContribution(pending);
        assertEq(uint8(c.status), uint8(IDatanetRegistry.ContributionStatus.Accepted), "status");
        assertEq(c.acceptedSeq, 5, "acceptedSeq");
        assertEq(c.unlockAt, block.timestamp + 7 days, "unlockAt");
        assertEq(datanets.acceptedContributionAt(datanetId, 5), pending, "acceptedAt");
        IDatanetRegistry.Datanet memory d = datanets.getDatanet(datanetId);
        assertEq(d.acceptedCount, before.acceptedCount + 1, "acceptedCount");
        assertEq(d.acceptedTokens, before.acceptedTokens + 77, "acceptedTokens");
        IDatanetRegistry.Reputation memory rep = datanets.reputationOf(contributors[0]);
        assertEq(rep.accepted, repBefore.accepted + 1, "rep.accepted");
        assertEq(rep.acceptedTokens, repBefore.acceptedTokens + 77, "rep.acceptedTokens");
        assertEq(rep.slashed, 0, "rep.slashed");
        assertEq(token.balanceOf(address(datanets)), registryBalance, "stake kept");
    }

    function test_When_Rejecting() external {
        uint256 registryBalance = token.balanceOf(address(datanets));
        vm.expectEmit(address(datanets));
        emit IDatanetRegistry.ContributionReviewed(pending, datanetId, curator, false, 0, MIN_STAKE);
        vm.prank(curator);
        datanets.review(pending, false);

        IDatanetRegistry.Contribution memory c = datanets.getContribution(pending);
        assertEq(uint8(c.status), uint8(IDatanetRegistry.ContributionStatus.Rejected), "status");
        assertEq(c.acceptedSeq, 0, "acceptedSeq");
        assertEq(token.balanceOf(treasury), MIN_STAKE, "treasury got the stake");
        assertEq(token.balanceOf(address(datanets)), registryBalance - MIN_STAKE, "registry balance");
        IDatanetRegistry.Reputation memory rep = datanets.reputationOf(contributors[0]);
        assertEq(rep.rejected, 1, "rep.rejected");
        assertEq(rep.slashed, MIN_STAKE, "rep.slashed");
        assertEq(datanets.getDatanet(datanetId).acceptedCount, 4, "acceptedCount unchanged");
    }
}
