// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IDatanetRegistry} from "../../../src/interfaces/IDatanetRegistry.sol";
import {Base} from "../../utils/Base.t.sol";

contract PublishRelease_Unit_Test is Base {
    function test_RevertWhen_DatanetUnknown() external {
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.UnknownDatanet.selector, 3));
        vm.prank(curator);
        datanets.publishRelease(3, bytes32("root"), 1);
    }

    function test_RevertWhen_CallerNotCurator() external {
        vm.expectRevert(
            abi.encodeWithSelector(IDatanetRegistry.NotCurator.selector, datanetId, address(this))
        );
        datanets.publishRelease(datanetId, bytes32("root"), 4);
    }

    function test_RevertWhen_CountZero() external {
        vm.expectRevert(IDatanetRegistry.EmptyRelease.selector);
        vm.prank(curator);
        datanets.publishRelease(datanetId, bytes32("root"), 0);
    }

    function test_RevertWhen_RootZero() external {
        vm.expectRevert(IDatanetRegistry.EmptyRelease.selector);
        vm.prank(curator);
        datanets.publishRelease(datanetId, bytes32(0), 4);
    }

    function test_RevertWhen_CountMismatch() external {
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.ReleaseCountMismatch.selector, 3, 4));
        vm.prank(curator);
        datanets.publishRelease(datanetId, bytes32("root"), 3);
    }

    function test_When_CountMatches() external {
        uint64 id = _contribute(contributors[2], datanetId, 55);
        vm.prank(curator);
        datanets.review(id, true);

        vm.expectEmit(address(datanets));
        emit IDatanetRegistry.ReleasePublished(2, datanetId, bytes32("root2"), 5, 1000 + 55);
        vm.prank(curator);
        uint64 releaseId2 = datanets.publishRelease(datanetId, bytes32("root2"), 5);

        assertEq(releaseId2, 2, "id");
        assertEq(datanets.releaseCount(), 2, "global count");
        assertEq(datanets.getDatanet(datanetId).releaseCount, 2, "datanet count");
        IDatanetRegistry.Release memory r = datanets.getRelease(releaseId2);
        assertEq(r.datanetId, datanetId, "datanet");
        assertEq(r.contributionCount, 5, "contributionCount");
        assertEq(r.tokenCount, 1055, "tokenCount");
        assertEq(r.root, bytes32("root2"), "root");
    }
}
