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
    }

    function test_When_Disabling() external {
        vm.expectEmit(address(datanets));
        emit IDatanetRegistry.CuratorSet(datanetId, curator, false);
        vm.prank(datanetOwner);
        datanets.setCurator(datanetId, curator, false);
        assertFalse(datanets.isCurator(datanetId, curator));

        // A second curator keeps the datanet open to contributions; the removed one can no longer review.
        vm.prank(datanetOwner);
        datanets.setCurator(datanetId, makeAddr("newCurator"), true);
        uint64 id = _contribute(contributors[0], datanetId, 10);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.NotCurator.selector, datanetId, curator));
        vm.prank(curator);
        datanets.review(id, true);
    }
}
