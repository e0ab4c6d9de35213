// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IDatanetRegistry} from "../../../src/interfaces/IDatanetRegistry.sol";
import {Base} from "../../utils/Base.t.sol";

contract CreateDatanet_Unit_Test is Base {
    function _curators(uint256 n) internal pure returns (address[] memory curators) {
        curators = new address[](n);
        for (uint256 k; k < n; ++k) {
            curators[k] = address(uint160(k + 1));
        }
    }

    function test_RevertWhen_MoreThanMaxCurators() external {
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.TooManyCurators.selector, 33, 32));
        datanets.createDatanet("uri", 0, REVIEW_WINDOW, MAX_CONTRIBUTION_TOKENS, _curators(33));
    }

    function test_RevertWhen_ReviewWindowZero() external {
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.InvalidReviewWindow.selector, 0, 90 days));
        datanets.createDatanet("uri", 0, 0, MAX_CONTRIBUTION_TOKENS, _curators(1));
    }

    function test_RevertWhen_ReviewWindowAboveMax() external {
        vm.expectRevert(
            abi.encodeWithSelector(IDatanetRegistry.InvalidReviewWindow.selector, 90 days + 1, 90 days)
        );
        datanets.createDatanet("uri", 0, 90 days + 1, MAX_CONTRIBUTION_TOKENS, _curators(1));
    }

    function test_When_ReviewWindowIsMax() external {
        assertEq(datanets.MAX_REVIEW_WINDOW(), 90 days, "MAX_REVIEW_WINDOW");
        uint64 id = datanets.createDatanet("uri", 0, 90 days, MAX_CONTRIBUTION_TOKENS, _curators(1));
        assertEq(datanets.getDatanet(id).reviewWindow, 90 days, "reviewWindow");
        uint64 shortest = datanets.createDatanet("uri", 0, 1, MAX_CONTRIBUTION_TOKENS, _curators(1));
        assertEq(datanets.getDatanet(shortest).reviewWindow, 1, "one second");
    }

    function test_RevertWhen_MaxContributionTokensZero() external {
        vm.expectRevert(IDatanetRegistry.ZeroMaxContributionTokens.selector);
        datanets.createDatanet("uri", 0, REVIEW_WINDOW, 0, _curators(1));
    }

    function test_RevertWhen_CuratorIsZero() external {
        address[] memory curators = new address[](2);
        curators[0] = curator;
        vm.expectRevert(IDatanetRegistry.ZeroAddress.selector);
        datanets.createDatanet("uri", 0, REVIEW_WINDOW, MAX_CONTRIBUTION_TOKENS, curators);
    }

    function test_When_NoCurator() external {
        uint64 id = datanets.createDatanet("uri", 0, REVIEW_WINDOW, MAX_CONTRIBUTION_TOKENS, new address[](0));
        assertEq(datanets.getDatanet(id).curatorCount, 0, "curatorCount");
    }

    function test_When_CuratorListedTwice() external {
        address[] memory curators = new address[](3);
        (curators[0], curators[1], curators[2]) = (curator, address(7), curator);
        uint64 id = datanets.createDatanet("uri", 0, REVIEW_WINDOW, MAX_CONTRIBUTION_TOKENS, curators);
        assertEq(datanets.getDatanet(id).curatorCount, 2, "curatorCount");
        assertTrue(datanets.isCurator(id, curator), "curator");
        assertTrue(datanets.isCurator(id, address(7)), "second curator");
    }

    function test_When_CuratorsAreValid() external {
        address[] memory curators = _curators(32);
        address creator = makeAddr("creator");
        vm.expectEmit(address(datanets));
        emit IDatanetRegistry.DatanetCreated(2, creator, 5e18, 3 days, 4096, "ipfs://meta");
        vm.expectEmit(address(datanets));
        emit IDatanetRegistry.CuratorSet(2, address(1), true);
        vm.prank(creator);
        uint64 id = datanets.createDatanet("ipfs://meta", 5e18, 3 days, 4096, curators);

        assertEq(id, 2, "id");
        assertEq(datanets.datanetCount(), 2, "count");
        IDatanetRegistry.Datanet memory d = datanets.getDatanet(id);
        assertEq(d.owner, creator, "owner");
        assertEq(d.minStake, 5e18, "minStake");
        assertEq(d.acceptedCount, 0, "acceptedCount");
        assertEq(d.acceptedTokens, 0, "acceptedTokens");
        assertEq(d.releaseCount, 0, "releaseCount");
        assertEq(d.reviewWindow, 3 days, "reviewWindow");
        assertEq(d.maxContributionTokens, 4096, "maxContributionTokens");
        assertEq(d.curatorCount, 32, "curatorCount");
        for (uint256 k; k < 32; ++k) {
            assertTrue(datanets.isCurator(id, curators[k]), "curator");
        }
        assertFalse(datanets.isCurator(datanetId, address(1)), "curator of another datanet");
        assertEq(datanets.getDatanet(datanetId).curatorCount, 1, "fixture datanet untouched");
    }
}
