// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ModelRegistry} from "../../../src/ModelRegistry.sol";
import {IDatanetRegistry} from "../../../src/interfaces/IDatanetRegistry.sol";
import {IModelRegistry} from "../../../src/interfaces/IModelRegistry.sol";
import {Base} from "../../utils/Base.t.sol";

contract RegisterModel_Unit_Test is Base {
    function _releases(uint256 n) internal pure returns (uint64[] memory ids) {
        ids = new uint64[](n);
        for (uint256 k; k < n; ++k) {
            ids[k] = uint64(k + 1);
        }
    }

    function test_RevertWhen_WeightsHashZero() external {
        vm.expectRevert(IModelRegistry.ZeroWeightsHash.selector);
        models.registerModel(bytes32(0), "u", _releases(1), PRICE, _split(2500, 2500, 2500, 2500));
    }

    function test_RevertWhen_NoRelease() external {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.InvalidReleaseCount.selector, 0, 8));
        models.registerModel(bytes32("w"), "u", _releases(0), PRICE, _split(2500, 2500, 2500, 2500));
    }

    function test_RevertWhen_MoreThanMaxReleases() external {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.InvalidReleaseCount.selector, 9, 8));
        models.registerModel(bytes32("w"), "u", _releases(9), PRICE, _split(2500, 2500, 2500, 2500));
    }

    function test_RevertWhen_SplitNotWhole() external {
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.InvalidSplit.selector, 9999));
        models.registerModel(bytes32("w"), "u", _releases(1), PRICE, _split(2500, 2500, 2500, 2499));
    }

    function test_RevertWhen_ReleaseListedTwice() external {
        uint64[] memory ids = new uint64[](2);
        (ids[0], ids[1]) = (releaseId, releaseId);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.DuplicateRelease.selector, releaseId));
        models.registerModel(bytes32("w"), "u", ids, PRICE, _split(2500, 2500, 2500, 2500));
    }

    function test_RevertWhen_ReleaseUnknown() external {
        uint64[] memory ids = new uint64[](2);
        (ids[0], ids[1]) = (releaseId, 5);
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.UnknownRelease.selector, 5));
        models.registerModel(bytes32("w"), "u", ids, PRICE, _split(2500, 2500, 2500, 2500));
    }

    /// @dev A second release of the fixture's datanet, after one more accepted contribution.
    function _secondReleaseOfFixtureDatanet() internal returns (uint64) {
        uint64 c = _contribute(contributors[1], datanetId, 10);
        vm.prank(curator);
        datanets.review(c, true);
        return _publish(datanetId);
    }

    function test_RevertWhen_TwoReleasesOfOneDatanet() external {
        uint64 later = _secondReleaseOfFixtureDatanet();
        assertEq(datanets.getRelease(later).datanetId, datanetId, "same datanet");
        uint64[] memory ids = new uint64[](2);
        (ids[0], ids[1]) = (releaseId, later);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.DuplicateDatanet.selector, datanetId));
        models.registerModel(bytes32("w"), "u", ids, PRICE, _split(2500, 2500, 2500, 2500));
    }

    function test_RevertWhen_TwoReleasesOfOneDatanet_NotAdjacent() external {
        uint64 later = _secondReleaseOfFixtureDatanet();
        uint64 dn = _createDatanet(curator);
        uint64 c = _contribute(contributors[0], dn, 10);
        vm.prank(curator);
        datanets.review(c, true);
        uint64 other = _publish(dn);
        uint64[] memory ids = new uint64[](3);
        (ids[0], ids[1], ids[2]) = (later, other, releaseId);
        vm.expectRevert(abi.encodeWithSelector(IModelRegistry.DuplicateDatanet.selector, datanetId));
        models.registerModel(bytes32("w"), "u", ids, PRICE, _split(2500, 2500, 2500, 2500));
    }

    function test_When_ModelValid() external {
        // A second datanet and release so the model binds to two.
        uint64 dn = _createDatanet(curator);
        uint64 c = _contribute(contributors[0], dn, 10);
        vm.prank(curator);
        datanets.review(c, true);
        uint64 release2 = _publish(dn);
        uint64[] memory ids = new uint64[](2);
        (ids[0], ids[1]) = (releaseId, release2);

        address author = makeAddr("author");
        vm.expectEmit(address(models));
        emit IModelRegistry.ModelRegistered(
            2, author, bytes32("w"), 7e18, 1000, 6000, 2000, 1000, ids, "file://m"
        );
        vm.prank(author);
        uint64 id = models.registerModel(bytes32("w"), "file://m", ids, 7e18, _split(1000, 6000, 2000, 1000));

        assertEq(id, 2, "id");
        assertEq(models.modelCount(), 2, "count");
        IModelRegistry.Model memory m = models.getModel(id);
        assertEq(m.owner, author, "owner");
        assertEq(m.pricePerKiloToken, 7e18, "price");
        assertEq(m.weightsHash, bytes32("w"), "weights");
        assertEq(m.split.ownerBps, 1000, "ownerBps");
        assertEq(m.split.dataBps, 6000, "dataBps");
        assertEq(m.split.nodeBps, 2000, "nodeBps");
        assertEq(m.split.treasuryBps, 1000, "treasuryBps");
        assertEq(m.releaseIds.length, 2, "releases");
        assertEq(m.releaseIds[0], releaseId, "release 1");
        assertEq(m.releaseIds[1], release2, "release 2");
        assertEq(m.nextPricePerKiloToken, 0, "no scheduled price");
        assertEq(m.nextPriceAt, 0, "no scheduled change");
        assertEq(models.priceAt(id, type(uint64).max), 7e18, "priceAt any deadline");
        assertEq(models.datanets(), address(datanets), "datanets");
    }

    function test_RevertWhen_ConstructedWithZeroAddress() external {
        vm.expectRevert(IModelRegistry.ZeroAddress.selector);
        new ModelRegistry(address(0), PRICE_NOTICE);
    }

    function test_When_Constructed() external {
        ModelRegistry fresh = new ModelRegistry(address(datanets), 6 hours);
        assertEq(fresh.datanets(), address(datanets), "datanets");
        assertEq(fresh.priceNotice(), 6 hours, "priceNotice");
        assertEq(fresh.modelCount(), 0, "modelCount");
        assertEq(models.priceNotice(), PRICE_NOTICE, "fixture's notice");
    }
}
