// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IDatanetRegistry} from "../../../src/interfaces/IDatanetRegistry.sol";
import {Base} from "../../utils/Base.t.sol";

contract WithdrawContribution_Unit_Test is Base {
    address internal author;
    uint64 internal pending;
    uint64 internal unlockAt;

    function setUp() public override {
        super.setUp();
        author = contributors[0];
        pending = _contribute(author, datanetId, 77);
        unlockAt = datanets.getContribution(pending).unlockAt;
    }

    function test_RevertWhen_ContributionUnknown() external {
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.UnknownContribution.selector, 50));
        vm.prank(author);
        datanets.withdrawContribution(50);
    }

    function test_RevertWhen_CallerNotContributor() external {
        vm.warp(unlockAt);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.NotContributor.selector, pending, curator));
        vm.prank(curator);
        datanets.withdrawContribution(pending);
    }

    function test_RevertWhen_Accepted() external {
        vm.prank(curator);
        datanets.review(pending, true);
        vm.warp(unlockAt + 30 days);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDatanetRegistry.NotPending.selector, pending, IDatanetRegistry.ContributionStatus.Accepted
            )
        );
        vm.prank(author);
        datanets.withdrawContribution(pending);
    }

    function test_RevertWhen_Rejected() external {
        vm.prank(curator);
        datanets.review(pending, false);
        vm.warp(unlockAt);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDatanetRegistry.NotPending.selector, pending, IDatanetRegistry.ContributionStatus.Rejected
            )
        );
        vm.prank(author);
        datanets.withdrawContribution(pending);
    }

    function test_RevertWhen_AlreadyWithdrawn() external {
        vm.warp(unlockAt);
        vm.startPrank(author);
        datanets.withdrawContribution(pending);
        vm.expectRevert(
            abi.encodeWithSelector(
                IDatanetRegistry.NotPending.selector, pending, IDatanetRegistry.ContributionStatus.Withdrawn
            )
        );
        datanets.withdrawContribution(pending);
        vm.stopPrank();
    }

    function test_RevertWhen_WindowOpen_AtSubmission() external {
        assertEq(unlockAt, block.timestamp + REVIEW_WINDOW, "unlockAt");
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.ReviewWindowOpen.selector, pending, unlockAt));
        vm.prank(author);
        datanets.withdrawContribution(pending);
    }

    function test_RevertWhen_WindowOpen_OneSecondBefore() external {
        vm.warp(unlockAt - 1);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.ReviewWindowOpen.selector, pending, unlockAt));
        vm.prank(author);
        datanets.withdrawContribution(pending);
    }

    function test_When_WindowClosed() external {
        IDatanetRegistry.Datanet memory dBefore = datanets.getDatanet(datanetId);
        IDatanetRegistry.Reputation memory repBefore = datanets.reputationOf(author);
        uint256 registryBefore = token.balanceOf(address(datanets));
        uint256 authorBefore = token.balanceOf(author);
        vm.warp(unlockAt);

        vm.expectEmit(address(datanets));
        emit IDatanetRegistry.ContributionWithdrawn(pending, datanetId, author, MIN_STAKE);
        vm.prank(author);
        datanets.withdrawContribution(pending);

        assertEq(token.balanceOf(author), authorBefore + MIN_STAKE, "stake back");
        assertEq(token.balanceOf(address(datanets)), registryBefore - MIN_STAKE, "registry balance");
        IDatanetRegistry.Contribution memory c = datanets.getContribution(pending);
        assertEq(uint8(c.status), uint8(IDatanetRegistry.ContributionStatus.Withdrawn), "status");
        assertTrue(c.stakeReturned, "stakeReturned");
        assertEq(c.acceptedSeq, 0, "acceptedSeq");
        assertEq(c.stake, MIN_STAKE, "stake kept as a record");
        IDatanetRegistry.Datanet memory d = datanets.getDatanet(datanetId);
        assertEq(d.acceptedCount, dBefore.acceptedCount, "acceptedCount");
        assertEq(d.acceptedTokens, dBefore.acceptedTokens, "acceptedTokens");
        IDatanetRegistry.Reputation memory rep = datanets.reputationOf(author);
        assertEq(rep.accepted, repBefore.accepted, "rep.accepted");
        assertEq(rep.rejected, repBefore.rejected, "rep.rejected");
        assertEq(rep.slashed, repBefore.slashed, "rep.slashed");
    }

    function test_When_WindowClosed_ReviewReverts() external {
        vm.warp(unlockAt);
        vm.prank(author);
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
        vm.expectRevert(
            abi.encodeWithSelector(
                IDatanetRegistry.AlreadyReviewed.selector,
                pending,
                IDatanetRegistry.ContributionStatus.Withdrawn
            )
        );
        vm.prank(curator);
        datanets.review(pending, false);
    }

    function test_When_WindowClosed_WithdrawStakeReverts() external {
        vm.warp(unlockAt);
        vm.startPrank(author);
        datanets.withdrawContribution(pending);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.NotAccepted.selector, pending));
        datanets.withdrawStake(pending);
        vm.stopPrank();
    }

    function test_When_WindowClosed_ZeroStake() external {
        address[] memory curators = new address[](1);
        curators[0] = curator;
        uint64 dn = datanets.createDatanet("uri", 0, 1 hours, MAX_CONTRIBUTION_TOKENS, curators);
        address poor = makeAddr("poor");
        vm.prank(poor);
        uint64 id = datanets.contribute(dn, keccak256("free"), 3, "file://free", 0);
        uint256 registryBefore = token.balanceOf(address(datanets));
        vm.warp(block.timestamp + 1 hours);

        vm.expectEmit(address(datanets));
        emit IDatanetRegistry.ContributionWithdrawn(id, dn, poor, 0);
        vm.prank(poor);
        datanets.withdrawContribution(id);
        assertEq(
            uint8(datanets.getContribution(id).status), uint8(IDatanetRegistry.ContributionStatus.Withdrawn)
        );
        assertEq(token.balanceOf(address(datanets)), registryBefore, "no transfer");
        assertEq(token.balanceOf(poor), 0, "nothing paid");
    }

    function test_When_WindowClosed_DatanetLostItsCurators() external {
        vm.prank(makeAddr("datanetOwner"));
        datanets.setCurator(datanetId, curator, false);
        vm.warp(unlockAt);
        vm.prank(author);
        datanets.withdrawContribution(pending);
        assertEq(token.balanceOf(author), MIN_STAKE, "stake back");
    }
}
