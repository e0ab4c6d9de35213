// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IModelRegistry} from "../../../src/interfaces/IModelRegistry.sol";
import {Base} from "../../utils/Base.t.sol";

contract QuoteFee_Unit_Test is Base {
    function test_RevertWhen_ModelUnknown() external {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.UnknownModel.selector, 5));
        models.quoteFee(5, 1000, uint64(block.timestamp));
    }

    function test_When_ModelExists() external {
        assertEq(models.quoteFee(modelId, 1000, uint64(block.timestamp)), PRICE, "1,000 tokens");
        assertEq(models.quoteFee(modelId, 0, uint64(block.timestamp)), 0, "no tokens");
        vm.prank(modelOwner);
        models.setPrice(modelId, 999);
        assertEq(models.quoteFee(modelId, 1, uint64(block.timestamp)), 0, "999 / 1000 rounds down");
        assertEq(models.quoteFee(modelId, 3, uint64(block.timestamp)), 2, "2997 / 1000 rounds down");
    }
}
