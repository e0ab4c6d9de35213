// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IModelRegistry} from "../../../src/interfaces/IModelRegistry.sol";
import {Base} from "../../utils/Base.t.sol";

contract SetDerivativeShare_Unit_Test is Base {
    function test_RevertWhen_ModelUnknown() external {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.UnknownModel.selector, 9));
        vm.prank(modelOwner);
        models.setDerivativeShare(9, 100);
    }

    function test_RevertWhen_CallerNotOwner() external {
        address stranger = makeAddr("stranger");
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.NotModelOwner.selector, modelId, stranger));
        vm.prank(stranger);
        models.setDerivativeShare(modelId, 100);
    }

    function test_RevertWhen_ModelIsAdapter() external {
        uint64 adapter = _registerAdapter(_adapterArgs());
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.BaseIsAdapter.selector, adapter));
        vm.prank(adapterOwner);
        models.setDerivativeShare(adapter, 100);
    }

    function test_RevertWhen_ShareAboveWhole() external {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.InvalidShare.selector, 10_001));
        vm.prank(modelOwner);
        models.setDerivativeShare(modelId, 10_001);
    }

    function test_When_OwnerSetsShare() external {
        vm.expectEmit(address(models));
        emit IModelRegistry.DerivativeShareSet(modelId, 10_000);
        _setDerivativeShare(10_000);
        assertEq(models.derivativeShareOf(modelId), 10_000, "whole fee allowed");

        vm.expectEmit(address(models));
        emit IModelRegistry.DerivativeShareSet(modelId, 0);
        _setDerivativeShare(0);
        assertEq(models.derivativeShareOf(modelId), 0, "reset");

        // The record's other fields share the slot: untouched.
        IModelRegistry.Model memory m = models.getModel(modelId);
        assertEq(m.owner, modelOwner, "owner");
        assertEq(m.pricePerKiloToken, PRICE, "price");
        assertEq(m.nextPriceAt, 0, "no scheduled change");
        assertEq(m.baseModelId, 0, "whole");
    }

    function test_When_ShareSet_AppliesToLaterAdapters() external {
        _setDerivativeShare(700);
        uint64 first = _registerAdapter(_adapterArgs());
        _setDerivativeShare(2500);
        uint64 second = _registerAdapter(_adapterArgs());
        assertEq(models.getModel(first).baseShareBps, 700, "registered before the raise: keeps its share");
        assertEq(models.getModel(second).baseShareBps, 2500, "registered after: the new share");
    }

    function test_When_ShareSetWithPriceScheduled() external {
        vm.prank(modelOwner);
        models.setPrice(modelId, 5e18);
        uint64 at = models.getModel(modelId).nextPriceAt;
        _setDerivativeShare(4321);
        IModelRegistry.Model memory m = models.getModel(modelId);
        assertEq(m.nextPricePerKiloToken, 5e18, "scheduled price kept");
        assertEq(m.nextPriceAt, at, "schedule kept");
        assertEq(models.derivativeShareOf(modelId), 4321, "share");
        vm.prank(modelOwner);
        vm.warp(at);
        models.setPrice(modelId, 6e18);
        assertEq(models.derivativeShareOf(modelId), 4321, "share kept by a price change");
    }

    function test_When_ModelChangedHands() external {
        address next = makeAddr("nextOwner");
        vm.prank(modelOwner);
        models.setModelOwner(modelId, next);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.NotModelOwner.selector, modelId, modelOwner));
        vm.prank(modelOwner);
        models.setDerivativeShare(modelId, 100);
        vm.prank(next);
        models.setDerivativeShare(modelId, 100);
        assertEq(models.derivativeShareOf(modelId), 100, "the new owner's share");
    }

    function test_RevertWhen_DerivativeShareOfUnknownModel() external {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.UnknownModel.selector, 5));
        models.derivativeShareOf(5);
    }

    function test_When_DerivativeShareOfNewModel() external view {
        assertEq(models.derivativeShareOf(modelId), 0, "none declared");
    }

    function test_When_DerivativeShareOfAdapter() external {
        _setDerivativeShare(900);
        uint64 adapter = _registerAdapter(_adapterArgs());
        assertEq(models.derivativeShareOf(adapter), 0, "an adapter declares none");
    }
}
