// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IModelRegistry} from "../../../src/interfaces/IModelRegistry.sol";
import {Base} from "../../utils/Base.t.sol";

contract QuoteFee_Unit_Test is Base {
    function test_RevertWhen_ModelUnknown() external {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.UnknownModel.selector, 5));
        models.quoteFee(5, 1000, uint64(block.timestamp));
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.UnknownModel.selector, 5));
        models.priceAt(5, uint64(block.timestamp));
    }

    function test_When_NoChangeScheduled() external view {
        uint64 now_ = uint64(block.timestamp);
        assertEq(models.quoteFee(modelId, 1000, now_), PRICE, "1,000 tokens");
        assertEq(models.quoteFee(modelId, 0, now_), 0, "no tokens");
        assertEq(models.quoteFee(modelId, 1000, 0), PRICE, "deadline 0");
        assertEq(models.quoteFee(modelId, 1000, type(uint64).max), PRICE, "far deadline");
        assertEq(models.quoteFee(modelId, 1, now_), PRICE / 1000, "one token");
    }

    function test_When_ChangeScheduled() external {
        vm.prank(modelOwner);
        models.setPrice(modelId, 999);
        uint64 nextAt = uint64(block.timestamp) + PRICE_NOTICE + 1;

        assertEq(models.quoteFee(modelId, 1000, nextAt - 1), PRICE, "old price before nextPriceAt");
        assertEq(
            models.quoteFee(modelId, 3, uint64(block.timestamp)), uint256(PRICE) * 3 / 1000, "old price now"
        );

        assertEq(models.quoteFee(modelId, 1000, nextAt), 999, "new price at nextPriceAt");
        assertEq(models.quoteFee(modelId, 1, nextAt), 0, "999 / 1000 rounds down");
        assertEq(models.quoteFee(modelId, 3, nextAt + 1 days), 2, "2997 / 1000 rounds down");
    }
}
