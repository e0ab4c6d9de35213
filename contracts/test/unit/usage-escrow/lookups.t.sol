// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {UsageEscrow} from "../../../src/UsageEscrow.sol";
import {IUsageEscrow} from "../../../src/interfaces/IUsageEscrow.sol";
import {Base} from "../../utils/Base.t.sol";
import {BrokenSettlementInfo} from "../../utils/BrokenSettlementInfo.sol";

contract Lookups_Unit_Test is Base {
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
        // The answer cannot be ABI-decoded: the call reverts without data.
        _settleAgainst(new BrokenSettlementInfo(false), "");
    }
}
