// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IModelRegistry} from "../../../src/interfaces/IModelRegistry.sol";
import {Base} from "../../utils/Base.t.sol";

contract SetModelOwner_Unit_Test is Base {
    function test_RevertWhen_ModelUnknown() external {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.UnknownModel.selector, 0));
        models.setModelOwner(0, address(1));
    }

    function test_RevertWhen_CallerNotModelOwner() external {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.NotModelOwner.selector, modelId, address(this)));
        models.setModelOwner(modelId, address(1));
    }

    function test_RevertWhen_NewOwnerZero() external {
        vm.expectRevert(IModelRegistry.ZeroAddress.selector);
        vm.prank(modelOwner);
        models.setModelOwner(modelId, address(0));
    }

    function test_When_CallerOwnsModel() external {
        address next = makeAddr("nextModelOwner");
        vm.expectEmit(address(models));
        emit IModelRegistry.ModelOwnerSet(modelId, next);
        vm.prank(modelOwner);
        models.setModelOwner(modelId, next);
        assertEq(models.getModel(modelId).owner, next, "owner");
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.NotModelOwner.selector, modelId, modelOwner));
        vm.prank(modelOwner);
        models.setPrice(modelId, 1);
    }
}
