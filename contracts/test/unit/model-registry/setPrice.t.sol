// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ModelRegistry} from "../../../src/ModelRegistry.sol";
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

    function test_When_NoChangeScheduled() external {
        uint64 effectiveAt = uint64(block.timestamp) + PRICE_NOTICE + 1;
        vm.expectEmit(address(models));
        emit IModelRegistry.ModelPriceSet(modelId, 3e18, effectiveAt);
        vm.prank(modelOwner);
        models.setPrice(modelId, 3e18);

        IModelRegistry.Model memory m = models.getModel(modelId);
        assertEq(m.pricePerKiloToken, PRICE, "current price kept");
        assertEq(m.nextPricePerKiloToken, 3e18, "next price");
        assertEq(m.nextPriceAt, effectiveAt, "nextPriceAt");

        assertEq(models.priceAt(modelId, uint64(block.timestamp)), PRICE, "deadline now");
        assertEq(
            models.priceAt(modelId, uint64(block.timestamp) + PRICE_NOTICE),
            PRICE,
            "longest receipt signed now keeps the old price"
        );
        assertEq(models.priceAt(modelId, effectiveAt - 1), PRICE, "before nextPriceAt");
        assertEq(models.priceAt(modelId, effectiveAt), 3e18, "at nextPriceAt");
        assertEq(models.priceAt(modelId, effectiveAt + 365 days), 3e18, "after nextPriceAt");
        assertEq(models.quoteFee(modelId, 500, effectiveAt - 1), 1e18, "quote at the old price");
        assertEq(models.quoteFee(modelId, 500, effectiveAt), 1.5e18, "quote at the new price");

        // Time passing changes nothing until the owner sets a price again.
        vm.warp(effectiveAt + 10 days);
        assertEq(models.getModel(modelId).pricePerKiloToken, PRICE, "not folded by time alone");
        assertEq(models.priceAt(modelId, uint64(block.timestamp)), 3e18, "new price in force");
    }

    function test_When_NoChangeScheduled_OldReceiptsKeepSettling() external {
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, a);
        bytes memory sig = _sign(payerKey, r);
        vm.prank(modelOwner);
        models.setPrice(modelId, 3e18);
        assertEq(models.quoteFee(modelId, 500, r.deadline), r.fee, "signed fee is still the quote");
        _settle(r, a, sig);
        assertEq(escrow.depositOf(payer), DEPOSIT - r.fee, "charged the signed fee");
    }

    function test_When_NoticeIsZero() external {
        ModelRegistry instant = new ModelRegistry(address(datanets), 0);
        uint64[] memory releases = new uint64[](1);
        releases[0] = releaseId;
        vm.prank(modelOwner);
        uint64 id = instant.registerModel(bytes32("w"), "u", releases, PRICE, _split(2500, 2500, 2500, 2500));
        vm.expectEmit(address(instant));
        emit IModelRegistry.ModelPriceSet(id, 5, uint64(block.timestamp) + 1);
        vm.prank(modelOwner);
        instant.setPrice(id, 5);
        assertEq(instant.priceAt(id, uint64(block.timestamp)), PRICE, "this second keeps the old price");
        assertEq(instant.priceAt(id, uint64(block.timestamp) + 1), 5, "the next second has the new one");
    }

    function test_RevertWhen_ChangePending() external {
        vm.prank(modelOwner);
        models.setPrice(modelId, 3e18);
        uint64 effectiveAt = uint64(block.timestamp) + PRICE_NOTICE + 1;

        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.PriceChangePending.selector, effectiveAt));
        vm.prank(modelOwner);
        models.setPrice(modelId, 4e18);

        vm.warp(effectiveAt - 1);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.PriceChangePending.selector, effectiveAt));
        vm.prank(modelOwner);
        models.setPrice(modelId, 4e18);

        IModelRegistry.Model memory m = models.getModel(modelId);
        assertEq(m.pricePerKiloToken, PRICE, "price");
        assertEq(m.nextPricePerKiloToken, 3e18, "next price");
        assertEq(m.nextPriceAt, effectiveAt, "nextPriceAt");
    }

    function test_When_ChangeInForce() external {
        vm.prank(modelOwner);
        models.setPrice(modelId, 3e18);
        uint64 firstAt = uint64(block.timestamp) + PRICE_NOTICE + 1;

        vm.warp(firstAt);
        uint64 secondAt = firstAt + PRICE_NOTICE + 1;
        vm.expectEmit(address(models));
        emit IModelRegistry.ModelPriceSet(modelId, 4e18, secondAt);
        vm.prank(modelOwner);
        models.setPrice(modelId, 4e18);

        IModelRegistry.Model memory m = models.getModel(modelId);
        assertEq(m.pricePerKiloToken, 3e18, "scheduled price folded in");
        assertEq(m.nextPricePerKiloToken, 4e18, "next price");
        assertEq(m.nextPriceAt, secondAt, "nextPriceAt");
        assertEq(models.priceAt(modelId, firstAt), 3e18, "deadline now: the folded price");
        assertEq(models.priceAt(modelId, secondAt - 1), 3e18, "before the new nextPriceAt");
        assertEq(models.priceAt(modelId, secondAt), 4e18, "at the new nextPriceAt");
        assertEq(models.quoteFee(modelId, 1000, secondAt - 1), 3e18, "quote before");
        assertEq(models.quoteFee(modelId, 1000, secondAt), 4e18, "quote from");
    }

    function test_When_ChangeInForce_ThirdChange() external {
        vm.startPrank(modelOwner);
        models.setPrice(modelId, 3e18);
        vm.warp(block.timestamp + 30 days);
        models.setPrice(modelId, 4e18);
        vm.warp(block.timestamp + PRICE_NOTICE + 1);
        models.setPrice(modelId, 5e18);
        vm.stopPrank();
        IModelRegistry.Model memory m = models.getModel(modelId);
        assertEq(m.pricePerKiloToken, 4e18, "second change folded in");
        assertEq(m.nextPricePerKiloToken, 5e18, "third change scheduled");
        assertEq(m.nextPriceAt, uint64(block.timestamp) + PRICE_NOTICE + 1, "nextPriceAt");
    }
}
