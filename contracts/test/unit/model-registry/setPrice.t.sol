// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IModelRegistry} from "../../../src/interfaces/IModelRegistry.sol";
import {IUsageEscrow} from "../../../src/interfaces/IUsageEscrow.sol";
import {Base} from "../../utils/Base.t.sol";

contract SetPrice_Unit_Test is Base {
    function test_RevertWhen_ModelUnknown() external {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.UnknownModel.selector, 2));
        models.setPrice(2, 1);
    }

    function test_RevertWhen_CallerNotModelOwner() external {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.NotModelOwner.selector, modelId, address(this)));
        models.setPrice(modelId, 1);
    }

    function test_When_CallerOwnsModel() external {
        vm.expectEmit(address(models));
        emit IModelRegistry.ModelPriceSet(modelId, 3e18, uint64(block.timestamp + 1 days + 1));
        vm.prank(modelOwner);
        models.setPrice(modelId, 3e18);
        assertEq(models.getModel(modelId).pricePerKiloToken, 3e18, "price");
        assertEq(models.quoteFee(modelId, 500, uint64(block.timestamp + 1 days + 1)), 1.5e18, "quote follows");
    }

    function test_When_CallerOwnsModel_OldReceiptsStopSettling() external {
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, a);
        bytes memory sig = _sign(payerKey, r);
        vm.prank(modelOwner);
        models.setPrice(modelId, 3e18);
        vm.expectRevert(abi.encodeWithSelector(IUsageEscrow.FeeMismatch.selector, 0, 1.5e18, 1e18));
        _settle(r, a, sig);
    }
}
