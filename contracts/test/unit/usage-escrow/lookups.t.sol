// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {UsageEscrow} from "../../../src/UsageEscrow.sol";
import {IDatanetRegistry} from "../../../src/interfaces/IDatanetRegistry.sol";
import {IUsageEscrow} from "../../../src/interfaces/IUsageEscrow.sol";
import {BrokenSettlementInfo} from "../../utils/BrokenSettlementInfo.sol";
import {SkipChecks} from "../../utils/SkipChecks.t.sol";

contract Lookups_Unit_Test is SkipChecks {
    function _settleAgainst(BrokenSettlementInfo registry, bytes memory err) internal {
        UsageEscrow other =
            new UsageEscrow(address(token), address(models), address(registry), treasury, owner);
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, a);
        (IUsageEscrow.UsageReceipt[] memory rs, IUsageEscrow.Attribution[] memory as_, bytes[] memory sigs) =
            _one(r, a, hex"");
        vm.expectRevert(err);
        other.settle(rs, as_, sigs);
    }

    function test_RevertWhen_RegistryReverts() external {
        _settleAgainst(
            new BrokenSettlementInfo(true), abi.encodeWithSelector(BrokenSettlementInfo.RegistryDown.selector)
        );
    }

    function test_RevertWhen_AnswerShort() external {
        // Well encoded, but one entry short of the ids asked: refused.
        _settleAgainst(
            new BrokenSettlementInfo(false),
            abi.encodeWithSelector(UsageEscrow.MalformedSettlementInfo.selector)
        );
    }

    function test_When_SeveralAttributions() external {
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        uint64[] memory ids = new uint64[](1);
        ids[0] = contributionIds[3];
        uint32[] memory weights = new uint32[](1);
        weights[0] = 100_000;
        IUsageEscrow.Attribution memory b = _attribution(ids, weights);
        IUsageEscrow.UsageReceipt memory r0 = _receipt(payer, 1, a);
        IUsageEscrow.UsageReceipt memory r1 = _receipt(payer, 2, b);
        (IUsageEscrow.UsageReceipt[] memory rs, IUsageEscrow.Attribution[] memory as_, bytes[] memory sigs) =
            _two(r0, a, _sign(payerKey, r0), r1, b, _sign(payerKey, r1));

        uint64[] memory all = new uint64[](3);
        (all[0], all[1], all[2]) = (contributionIds[0], contributionIds[1], contributionIds[3]);
        vm.expectCall(address(datanets), abi.encodeWithSelector(IDatanetRegistry.settlementInfo.selector), 1);
        vm.expectCall(address(datanets), abi.encodeCall(IDatanetRegistry.settlementInfo, (all)), 1);
        assertEq(escrow.settle(rs, as_, sigs), 2, "both settled");
        // The second receipt's data share, 0.5e18, is 10 % attributed to contribution 4.
        assertEq(escrow.balanceOf(contributors[3]), 0.05e18, "contribution 4 credited");
        _assertSolvent();
    }

    function test_When_AttributionMalformed() external {
        uint64[] memory ids = new uint64[](2);
        (ids[0], ids[1]) = (contributionIds[2], contributionIds[3]);
        IUsageEscrow.Attribution memory malformed = _attribution(ids, new uint32[](1));
        uint64[] memory looked = new uint64[](2);
        (looked[0], looked[1]) = (contributionIds[0], contributionIds[1]); // the valid receipt's only
        vm.expectCall(address(datanets), abi.encodeWithSelector(IDatanetRegistry.settlementInfo.selector), 1);
        vm.expectCall(address(datanets), abi.encodeCall(IDatanetRegistry.settlementInfo, (looked)), 1);
        _assertSkipped(
            _receipt(payer, 1, malformed),
            malformed,
            abi.encodeWithSelector(IUsageEscrow.InvalidAttribution.selector, 0)
        );
    }

    function test_When_NothingAttributed() external {
        IUsageEscrow.Attribution memory empty = _attribution(new uint64[](0), new uint32[](0));
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, empty);
        vm.expectCall(address(datanets), abi.encodeWithSelector(IDatanetRegistry.settlementInfo.selector), 0);
        assertEq(_settle(r, empty, _sign(payerKey, r)), 1, "settled");
    }
}
