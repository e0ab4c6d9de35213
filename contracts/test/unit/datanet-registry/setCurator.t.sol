// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IDatanetRegistry} from "../../../src/interfaces/IDatanetRegistry.sol";
import {Base} from "../../utils/Base.t.sol";

contract SetCurator_Unit_Test is Base {
    address internal datanetOwner = makeAddr("datanetOwner");

    function test_RevertWhen_DatanetUnknown() external {
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.UnknownDatanet.selector, 9));
        datanets.setCurator(9, curator, true);
    }

    function test_RevertWhen_CallerNotDatanetOwner() external {
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.NotDatanetOwner.selector, datanetId, curator));
        vm.prank(curator);
        datanets.setCurator(datanetId, curator, true);
    }

    function test_RevertWhen_CuratorIsZero() external {
        vm.expectRevert(IDatanetRegistry.ZeroAddress.selector);
        vm.prank(datanetOwner);
        datanets.setCurator(datanetId, address(0), true);
    }

    function test_When_Enabling() external {
        address newCurator = makeAddr("newCurator");
        vm.expectEmit(address(datanets));
        emit IDatanetRegistry.CuratorSet(datanetId, newCurator, true);
        vm.prank(datanetOwner);
        datanets.setCurator(datanetId, newCurator, true);
        assertTrue(datanets.isCurator(datanetId, newCurator));
        assertEq(datanets.getDatanet(datanetId).curatorCount, 2, "curatorCount");
    }

    function test_When_Enabling_AlreadyCurator() external {
        vm.expectEmit(address(datanets));
        emit IDatanetRegistry.CuratorSet(datanetId, curator, true);
        vm.prank(datanetOwner);
        datanets.setCurator(datanetId, curator, true);
        assertTrue(datanets.isCurator(datanetId, curator));
        assertEq(datanets.getDatanet(datanetId).curatorCount, 1, "curatorCount");
    }

    function test_When_Disabling() external {
        vm.expectEmit(address(datanets));
        emit IDatanetRegistry.CuratorSet(datanetId, curator, false);
        vm.prank(datanetOwner);
        datanets.setCurator(datanetId, curator, false);
        assertFalse(datanets.isCurator(datanetId, curator));
        assertEq(datanets.getDatanet(datanetId).curatorCount, 0, "curatorCount");

        // A second curator keeps the datanet open to contributions; the removed one can no longer review.
        vm.prank(datanetOwner);
        datanets.setCurator(datanetId, makeAddr("newCurator"), true);
        uint64 id = _contribute(contributors[0], datanetId, 10);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.NotCurator.selector, datanetId, curator));
        vm.prank(curator);
        datanets.review(id, true);
    }

    function test_When_Disabling_NotACurator() external {
        address stranger = makeAddr("stranger");
        vm.expectEmit(address(datanets));
        emit IDatanetRegistry.CuratorSet(datanetId, stranger, false);
        vm.prank(datanetOwner);
        datanets.setCurator(datanetId, stranger, false);
        assertEq(datanets.getDatanet(datanetId).curatorCount, 1, "curatorCount");

        // Also on a datanet with no curator at all: no underflow.
        vm.startPrank(datanetOwner);
        datanets.setCurator(datanetId, curator, false);
        datanets.setCurator(datanetId, curator, false);
        datanets.setCurator(datanetId, stranger, false);
        vm.stopPrank();
        assertEq(datanets.getDatanet(datanetId).curatorCount, 0, "curatorCount at zero");
    }

    function test_When_RemovingAndReAddingTheSameAccount() external {
        address second = makeAddr("second");
        vm.startPrank(datanetOwner);
        datanets.setCurator(datanetId, second, true);
        assertEq(datanets.getDatanet(datanetId).curatorCount, 2, "added");
        datanets.setCurator(datanetId, second, false);
        assertEq(datanets.getDatanet(datanetId).curatorCount, 1, "removed");
        datanets.setCurator(datanetId, second, true);
        assertEq(datanets.getDatanet(datanetId).curatorCount, 2, "re-added");
        datanets.setCurator(datanetId, second, true);
        assertEq(datanets.getDatanet(datanetId).curatorCount, 2, "added twice");
        datanets.setCurator(datanetId, curator, false);
        datanets.setCurator(datanetId, second, false);
        assertEq(datanets.getDatanet(datanetId).curatorCount, 0, "all removed");
        datanets.setCurator(datanetId, curator, true);
        vm.stopPrank();
        assertEq(datanets.getDatanet(datanetId).curatorCount, 1, "original re-added");
        assertTrue(datanets.isCurator(datanetId, curator));
        assertFalse(datanets.isCurator(datanetId, second));
    }
}
