// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IDatanetRegistry} from "../../../src/interfaces/IDatanetRegistry.sol";
import {Base} from "../../utils/Base.t.sol";

contract DatanetViews_Unit_Test is Base {
    function test_RevertWhen_GetDatanetUnknown() external {
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.UnknownDatanet.selector, 0));
        datanets.getDatanet(0);
    }

    function test_RevertWhen_GetContributionUnknown() external {
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.UnknownContribution.selector, 0));
        datanets.getContribution(0);
    }

    function test_RevertWhen_GetReleaseUnknown() external {
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.UnknownRelease.selector, 2));
        datanets.getRelease(2);
    }

    function test_RevertWhen_AcceptedAtDatanetUnknown() external {
        vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.UnknownDatanet.selector, 4));
        datanets.acceptedContributionAt(4, 1);
    }

    function test_When_EnumeratingTheAcceptedSet() external view {
        for (uint32 seq = 1; seq <= 4; ++seq) {
            assertEq(datanets.acceptedContributionAt(datanetId, seq), contributionIds[seq - 1]);
        }
        assertEq(datanets.acceptedContributionAt(datanetId, 5), 0, "past the end");
        assertEq(datanets.token(), address(token));
        assertEq(datanets.stakeLockPeriod(), 7 days);
    }

    function test_When_SettlementInfo() external {
        uint64 pending = _contribute(contributors[3], datanetId, 1);
        uint64[] memory ids = new uint64[](3);
        (ids[0], ids[1], ids[2]) = (contributionIds[2], pending, 1000);
        (address[] memory who, uint64[] memory dns, uint32[] memory seqs) = datanets.settlementInfo(ids);
        assertEq(who.length, 3);
        assertEq(who[0], contributors[2]);
        assertEq(dns[0], datanetId);
        assertEq(seqs[0], 3);
        assertEq(who[1], contributors[3]);
        assertEq(dns[1], datanetId);
        assertEq(seqs[1], 0);
        assertEq(who[2], address(0));
        assertEq(dns[2], 0);
        assertEq(seqs[2], 0);
    }
}
