// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IDatanetRegistry} from "../../../src/interfaces/IDatanetRegistry.sol";
import {Base} from "../../utils/Base.t.sol";

contract CreateDatanet_Unit_Test is Base {
    function test_RevertWhen_MoreThanMaxCurators() external {
        address[] memory curators = new address[](33);
        for (uint256 k; k < 33; ++k) {
            curators[k] = address(uint160(k + 1));
        }
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.TooManyCurators.selector, 33, 32));
        datanets.createDatanet("uri", 0, REVIEW_WINDOW, MAX_CONTRIBUTION_TOKENS, curators);
    }

    function test_RevertWhen_CuratorIsZero() external {
        address[] memory curators = new address[](2);
        curators[0] = curator;
        vm.expectRevert(IDatanetRegistry.ZeroAddress.selector);
        datanets.createDatanet("uri", 0, REVIEW_WINDOW, MAX_CONTRIBUTION_TOKENS, curators);
    }

    function test_When_CuratorsAreValid() external {
        address[] memory curators = new address[](32);
        for (uint256 k; k < 32; ++k) {
            curators[k] = address(uint160(k + 1));
        }
        address creator = makeAddr("creator");
        vm.expectEmit(address(datanets));
        emit IDatanetRegistry.DatanetCreated(
            2, creator, 5e18, REVIEW_WINDOW, MAX_CONTRIBUTION_TOKENS, "ipfs://meta"
        );
        vm.expectEmit(address(datanets));
        emit IDatanetRegistry.CuratorSet(2, address(1), true);
        vm.prank(creator);
        uint64 id =
            datanets.createDatanet("ipfs://meta", 5e18, REVIEW_WINDOW, MAX_CONTRIBUTION_TOKENS, curators);

        assertEq(id, 2, "id");
        assertEq(datanets.datanetCount(), 2, "count");
        IDatanetRegistry.Datanet memory d = datanets.getDatanet(id);
        assertEq(d.owner, creator, "owner");
        assertEq(d.minStake, 5e18, "minStake");
        assertEq(d.acceptedCount, 0, "acceptedCount");
        assertEq(d.acceptedTokens, 0, "acceptedTokens");
        assertEq(d.releaseCount, 0, "releaseCount");
        for (uint256 k; k < 32; ++k) {
            assertTrue(datanets.isCurator(id, curators[k]), "curator");
        }
        assertFalse(datanets.isCurator(datanetId, address(1)), "curator of another datanet");
    }
}
