// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IDatanetRegistry} from "../../../src/interfaces/IDatanetRegistry.sol";
import {Base} from "../../utils/Base.t.sol";

contract Contribute_Unit_Test is Base {
    address internal author = makeAddr("author");

    function setUp() public override {
        super.setUp();
        vm.prank(owner);
        token.mint(author, 100e18);
        vm.prank(author);
        token.approve(address(datanets), type(uint256).max);
    }

    function test_RevertWhen_DatanetUnknown() external {
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.UnknownDatanet.selector, 7));
        vm.prank(author);
        datanets.contribute(7, keccak256("doc"), 10, "file://doc", MIN_STAKE);
    }

    function test_RevertWhen_DatanetCreatedWithoutCurators() external {
        uint64 dn = datanets.createDatanet("uri", 0, REVIEW_WINDOW, MAX_CONTRIBUTION_TOKENS, new address[](0));
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.NoCurators.selector, dn));
        vm.prank(author);
        datanets.contribute(dn, keccak256("doc"), 10, "file://doc", MIN_STAKE);
    }

    function test_RevertWhen_LastCuratorRemoved() external {
        vm.prank(makeAddr("datanetOwner"));
        datanets.setCurator(datanetId, curator, false);
        assertEq(datanets.getDatanet(datanetId).curatorCount, 0, "curatorCount");
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.NoCurators.selector, datanetId));
        vm.prank(author);
        datanets.contribute(datanetId, keccak256("doc"), 10, "file://doc", MIN_STAKE);
    }

    function test_When_CuratorAddedAgain() external {
        vm.startPrank(makeAddr("datanetOwner"));
        datanets.setCurator(datanetId, curator, false);
        datanets.setCurator(datanetId, makeAddr("newCurator"), true);
        vm.stopPrank();
        vm.prank(author);
        uint64 id = datanets.contribute(datanetId, keccak256("doc"), 10, "file://doc", MIN_STAKE);
        assertEq(
            uint8(datanets.getContribution(id).status), uint8(IDatanetRegistry.ContributionStatus.Pending)
        );
    }

    function test_RevertWhen_ContentHashZero() external {
        vm.expectRevert(IDatanetRegistry.ZeroContentHash.selector);
        vm.prank(author);
        datanets.contribute(datanetId, bytes32(0), 10, "file://doc", MIN_STAKE);
    }

    function test_RevertWhen_TokenCountZero() external {
        vm.expectRevert(IDatanetRegistry.ZeroTokenCount.selector);
        vm.prank(author);
        datanets.contribute(datanetId, keccak256("doc"), 0, "file://doc", MIN_STAKE);
    }

    function test_RevertWhen_TokenCountAboveMax() external {
        vm.expectRevert(
            abi.encodeWithSelector(
                IDatanetRegistry.TooManyTokens.selector, MAX_CONTRIBUTION_TOKENS + 1, MAX_CONTRIBUTION_TOKENS
            )
        );
        vm.prank(author);
        datanets.contribute(datanetId, keccak256("doc"), MAX_CONTRIBUTION_TOKENS + 1, "file://doc", MIN_STAKE);
    }

    function test_RevertWhen_TokenCountAboveMax_BoundIsPerDatanet() external {
        address[] memory curators = new address[](1);
        curators[0] = curator;
        uint64 small = datanets.createDatanet("uri", 0, REVIEW_WINDOW, 50, curators);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.TooManyTokens.selector, 51, 50));
        vm.prank(author);
        datanets.contribute(small, keccak256("doc"), 51, "file://doc", 0);
        vm.prank(author);
        datanets.contribute(datanetId, keccak256("doc"), 51, "file://doc", MIN_STAKE);
    }

    function test_When_TokenCountAtMax() external {
        vm.prank(author);
        uint64 id = datanets.contribute(
            datanetId, keccak256("doc"), MAX_CONTRIBUTION_TOKENS, "file://doc", MIN_STAKE
        );
        assertEq(datanets.getContribution(id).tokenCount, MAX_CONTRIBUTION_TOKENS, "tokenCount");
    }

    function test_RevertWhen_StakeBelowMinimum() external {
        vm.expectRevert(
            abi.encodeWithSelector(IDatanetRegistry.StakeTooLow.selector, MIN_STAKE - 1, MIN_STAKE)
        );
        vm.prank(author);
        datanets.contribute(datanetId, keccak256("doc"), 10, "file://doc", MIN_STAKE - 1);
    }

    function test_When_ContributionValid_UnlockAtFollowsTheDatanetsWindow() external {
        address[] memory curators = new address[](1);
        curators[0] = curator;
        uint64 dn = datanets.createDatanet("uri", 0, 90 days, MAX_CONTRIBUTION_TOKENS, curators);
        vm.warp(block.timestamp + 123);
        vm.prank(author);
        uint64 id = datanets.contribute(dn, keccak256("doc"), 1, "file://doc", 0);
        assertEq(datanets.getContribution(id).unlockAt, block.timestamp + 90 days, "unlockAt");
    }

    function test_When_ContributionValid() external {
        uint256 registryBefore = token.balanceOf(address(datanets));
        vm.expectEmit(address(datanets));
        emit IDatanetRegistry.ContributionSubmitted(
            5, datanetId, author, keccak256("doc"), 42, 12e18, "file://doc"
        );
        vm.prank(author);
        uint64 id = datanets.contribute(datanetId, keccak256("doc"), 42, "file://doc", 12e18);

        assertEq(id, 5, "id");
        assertEq(datanets.contributionCount(), 5, "count");
        IDatanetRegistry.Contribution memory c = datanets.getContribution(id);
        assertEq(c.contributor, author, "contributor");
        assertEq(c.datanetId, datanetId, "datanet");
        assertEq(c.acceptedSeq, 0, "acceptedSeq");
        assertEq(uint8(c.status), uint8(IDatanetRegistry.ContributionStatus.Pending), "status");
        assertEq(c.contentHash, keccak256("doc"), "contentHash");
        assertEq(c.stake, 12e18, "stake");
        assertEq(c.tokenCount, 42, "tokenCount");
        assertEq(c.unlockAt, block.timestamp + REVIEW_WINDOW, "unlockAt: the review window closes");
        assertFalse(c.stakeReturned, "stakeReturned");
        assertEq(token.balanceOf(address(datanets)), registryBefore + 12e18, "stake pulled");
        assertEq(token.balanceOf(author), 88e18, "author paid");
    }
}
