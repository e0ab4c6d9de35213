// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IDatanetRegistry} from "../../../src/interfaces/IDatanetRegistry.sol";
import {IModelRegistry} from "../../../src/interfaces/IModelRegistry.sol";
import {Base} from "../../utils/Base.t.sol";

contract RegisterAdapter_Unit_Test is Base {
    uint64 internal release2; // of a second datanet

    function setUp() public override {
        super.setUp();
        uint64 dn = _createDatanet(curator);
        uint64 c = _contribute(contributors[0], dn, 10);
        vm.prank(curator);
        datanets.review(c, true);
        release2 = _publish(dn);
    }

    function _ids(uint64 a) internal pure returns (uint64[] memory ids) {
        ids = new uint64[](1);
        ids[0] = a;
    }

    function _ids(uint64 a, uint64 b) internal pure returns (uint64[] memory ids) {
        ids = new uint64[](2);
        (ids[0], ids[1]) = (a, b);
    }

    function _expectRevertAdapter(IModelRegistry.AdapterRegistration memory r, bytes memory err) internal {
        vm.expectRevert(err);
        vm.prank(adapterOwner);
        models.registerAdapter(r);
    }

    function test_RevertWhen_BaseUnknown() external {
        IModelRegistry.AdapterRegistration memory r = _adapterArgs();
        r.baseModelId = 2;
        _expectRevertAdapter(r, abi.encodeWithSelector(IModelRegistry.UnknownModel.selector, 2));
        r.baseModelId = 0;
        _expectRevertAdapter(r, abi.encodeWithSelector(IModelRegistry.UnknownModel.selector, 0));
    }

    function test_RevertWhen_BaseIsAdapter() external {
        uint64 adapter = _registerAdapter(_adapterArgs());
        IModelRegistry.AdapterRegistration memory r = _adapterArgs();
        r.baseModelId = adapter;
        _expectRevertAdapter(r, abi.encodeWithSelector(IModelRegistry.BaseIsAdapter.selector, adapter));
    }

    function test_RevertWhen_ManifestHashZero() external {
        IModelRegistry.AdapterRegistration memory r = _adapterArgs();
        r.manifestHash = bytes32(0);
        _expectRevertAdapter(r, abi.encodeWithSelector(IModelRegistry.ZeroManifestHash.selector));
    }

    function test_RevertWhen_BaseShareAboveMax() external {
        _setDerivativeShare(1001);
        IModelRegistry.AdapterRegistration memory r = _adapterArgs();
        r.maxBaseShareBps = 1000;
        _expectRevertAdapter(r, abi.encodeWithSelector(IModelRegistry.BaseShareAboveMax.selector, 1001, 1000));
        r.maxBaseShareBps = 1001;
        uint64 id = _registerAdapter(r);
        assertEq(models.getModel(id).baseShareBps, 1001, "a share equal to the maximum registers");
    }

    function test_RevertWhen_OwnerShareBelowBaseShare() external {
        _setDerivativeShare(3001);
        IModelRegistry.AdapterRegistration memory r = _adapterArgs(); // ownerBps 3000
        _expectRevertAdapter(
            r, abi.encodeWithSelector(IModelRegistry.OwnerShareBelowBaseShare.selector, 3000, 3001)
        );
        r.split = _split(3001, 5000, 1500, 499);
        uint64 id = _registerAdapter(r);
        assertEq(models.getModel(id).baseShareBps, 3001, "an owner share equal to the base share registers");
    }

    function test_RevertWhen_NoTrainedOnRelease() external {
        IModelRegistry.AdapterRegistration memory r = _adapterArgs();
        r.trainedOnReleaseIds = new uint64[](0);
        _expectRevertAdapter(r, abi.encodeWithSelector(IModelRegistry.InvalidTrainedOnCount.selector, 0, 8));
    }

    function test_RevertWhen_MoreThanMaxTrainedOnReleases() external {
        IModelRegistry.AdapterRegistration memory r = _adapterArgs();
        r.trainedOnReleaseIds = new uint64[](9);
        _expectRevertAdapter(r, abi.encodeWithSelector(IModelRegistry.InvalidTrainedOnCount.selector, 9, 8));
    }

    function test_RevertWhen_TrainedOnReleaseListedTwice() external {
        IModelRegistry.AdapterRegistration memory r = _adapterArgs();
        r.releaseIds = _ids(releaseId, release2);
        r.trainedOnReleaseIds = new uint64[](3);
        (r.trainedOnReleaseIds[0], r.trainedOnReleaseIds[1], r.trainedOnReleaseIds[2]) =
        (release2, releaseId, release2);
        _expectRevertAdapter(r, abi.encodeWithSelector(IModelRegistry.DuplicateRelease.selector, release2));
    }

    function test_RevertWhen_TrainedOnReleaseNotBound() external {
        IModelRegistry.AdapterRegistration memory r = _adapterArgs(); // bound to releaseId only
        r.trainedOnReleaseIds = _ids(releaseId, release2);
        _expectRevertAdapter(
            r, abi.encodeWithSelector(IModelRegistry.TrainedOnReleaseNotBound.selector, release2)
        );
    }

    function test_RevertWhen_AdapterHashZero() external {
        IModelRegistry.AdapterRegistration memory r = _adapterArgs();
        r.adapterHash = bytes32(0);
        _expectRevertAdapter(r, abi.encodeWithSelector(IModelRegistry.ZeroWeightsHash.selector));
    }

    function test_RevertWhen_NoRelease() external {
        IModelRegistry.AdapterRegistration memory r = _adapterArgs();
        r.releaseIds = new uint64[](0);
        // Checked against the releases first: the trained-on release is then not bound.
        _expectRevertAdapter(
            r, abi.encodeWithSelector(IModelRegistry.TrainedOnReleaseNotBound.selector, releaseId)
        );
    }

    function test_RevertWhen_MoreThanMaxReleases() external {
        IModelRegistry.AdapterRegistration memory r = _adapterArgs();
        r.releaseIds = new uint64[](9);
        r.releaseIds[8] = releaseId;
        _expectRevertAdapter(r, abi.encodeWithSelector(IModelRegistry.InvalidReleaseCount.selector, 9, 8));
    }

    function test_RevertWhen_ReleaseListedTwice() external {
        IModelRegistry.AdapterRegistration memory r = _adapterArgs();
        r.releaseIds = _ids(releaseId, releaseId);
        _expectRevertAdapter(r, abi.encodeWithSelector(IModelRegistry.DuplicateRelease.selector, releaseId));
    }

    function test_RevertWhen_ReleaseUnknown() external {
        IModelRegistry.AdapterRegistration memory r = _adapterArgs();
        r.releaseIds = _ids(releaseId, 99);
        _expectRevertAdapter(r, abi.encodeWithSelector(IDatanetRegistry.UnknownRelease.selector, 99));
    }

    function test_RevertWhen_TwoReleasesOfOneDatanet() external {
        uint64 c = _contribute(contributors[1], datanetId, 10);
        vm.prank(curator);
        datanets.review(c, true);
        uint64 later = _publish(datanetId);
        IModelRegistry.AdapterRegistration memory r = _adapterArgs();
        r.releaseIds = _ids(releaseId, later);
        _expectRevertAdapter(r, abi.encodeWithSelector(IModelRegistry.DuplicateDatanet.selector, datanetId));
    }

    function test_RevertWhen_SplitNotWhole() external {
        IModelRegistry.AdapterRegistration memory r = _adapterArgs();
        r.split = _split(3000, 5000, 1500, 501);
        _expectRevertAdapter(r, abi.encodeWithSelector(IModelRegistry.InvalidSplit.selector, 10_001));
    }

    function test_When_AdapterValid() external {
        _setDerivativeShare(1200);
        IModelRegistry.AdapterRegistration memory r = _adapterArgs();
        r.releaseIds = _ids(release2, releaseId);
        r.trainedOnReleaseIds = _ids(releaseId);
        r.pricePerKiloToken = 3e17;
        r.split = _split(2000, 6000, 1500, 500);
        r.maxBaseShareBps = 1500;

        vm.expectEmit(address(models));
        emit IModelRegistry.ModelRegistered(
            2, adapterOwner, r.adapterHash, 3e17, 2000, 6000, 1500, 500, r.releaseIds, r.uri
        );
        vm.expectEmit(address(models));
        emit IModelRegistry.AdapterRegistered(
            2, modelId, r.manifestHash, 1200, r.trainedOnReleaseIds, "file://manifest.json"
        );
        uint64 id = _registerAdapter(r);

        assertEq(id, 2, "id");
        assertEq(models.modelCount(), 2, "count");
        IModelRegistry.Model memory m = models.getModel(id);
        assertEq(m.owner, adapterOwner, "owner");
        assertEq(m.weightsHash, r.adapterHash, "weights hash is the adapter's hash");
        assertEq(m.pricePerKiloToken, 3e17, "price");
        assertEq(m.split.ownerBps, 2000, "ownerBps");
        assertEq(m.split.dataBps, 6000, "dataBps");
        assertEq(m.split.nodeBps, 1500, "nodeBps");
        assertEq(m.split.treasuryBps, 500, "treasuryBps");
        assertEq(abi.encode(m.releaseIds), abi.encode(r.releaseIds), "releases");
        assertEq(m.nextPricePerKiloToken, 0, "no scheduled price");
        assertEq(m.nextPriceAt, 0, "no scheduled change");
        assertEq(m.baseModelId, modelId, "base");
        assertEq(m.baseShareBps, 1200, "base share");

        IModelRegistry.Adapter memory a = models.getAdapter(id);
        assertEq(a.manifestHash, r.manifestHash, "manifest hash");
        assertEq(abi.encode(a.trainedOnReleaseIds), abi.encode(r.trainedOnReleaseIds), "trained on");

        assertEq(models.priceAt(id, type(uint64).max), 3e17, "priceAt");
        assertEq(models.quoteFee(id, 2000, uint64(block.timestamp)), 6e17, "quoteFee");

        // The base's record is untouched.
        IModelRegistry.Model memory base = models.getModel(modelId);
        assertEq(base.baseModelId, 0, "base is whole");
        assertEq(base.baseShareBps, 0, "base pays no share");
        assertEq(base.owner, modelOwner, "base owner");
        assertEq(models.derivativeShareOf(modelId), 1200, "base's declared share");
    }

    function test_When_BaseShareChangesAfterwards() external {
        _setDerivativeShare(500);
        uint64 id = _registerAdapter(_adapterArgs());
        _setDerivativeShare(3000);
        assertEq(models.getModel(id).baseShareBps, 500, "kept after a raise");
        _setDerivativeShare(0);
        assertEq(models.getModel(id).baseShareBps, 500, "kept after a cut");
    }

    function test_When_BaseShareZero() external {
        IModelRegistry.AdapterRegistration memory r = _adapterArgs();
        r.split = _split(0, 9000, 1000, 0);
        r.maxBaseShareBps = 0;
        uint64 id = _registerAdapter(r);
        assertEq(models.getModel(id).baseShareBps, 0, "no share");
        assertEq(models.getModel(id).baseModelId, modelId, "still an adapter");
        assertEq(models.getAdapter(id).manifestHash, r.manifestHash, "training record");
    }

    function test_RevertWhen_GetAdapterOfUnknownModel() external {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.UnknownModel.selector, 7));
        models.getAdapter(7);
    }

    function test_RevertWhen_GetAdapterOfWholeModel() external {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.NotAnAdapter.selector, modelId));
        models.getAdapter(modelId);
    }
}
