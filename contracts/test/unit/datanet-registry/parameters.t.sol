// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {DatanetRegistry} from "../../../src/DatanetRegistry.sol";
import {IDatanetRegistry} from "../../../src/interfaces/IDatanetRegistry.sol";
import {Base} from "../../utils/Base.t.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

contract DatanetParameters_Unit_Test is Base {
    function test_RevertWhen_SetStakeLockPeriodCallerNotOwner() external {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        datanets.setStakeLockPeriod(1 days);
    }

    function test_RevertWhen_StakeLockTooLong() external {
        vm.expectRevert(
            abi.encodeWithSelector(IDatanetRegistry.StakeLockTooLong.selector, 366 days, 365 days)
        );
        vm.prank(owner);
        datanets.setStakeLockPeriod(366 days);
    }

    function test_When_StakeLockPeriodValid() external {
        vm.expectEmit(address(datanets));
        emit IDatanetRegistry.StakeLockPeriodSet(1 days);
        vm.prank(owner);
        datanets.setStakeLockPeriod(1 days);
        assertEq(datanets.stakeLockPeriod(), 1 days);

        uint64 id = _contribute(contributors[0], datanetId, 9);
        vm.prank(curator);
        datanets.review(id, true);
        assertEq(datanets.getContribution(id).unlockAt, block.timestamp + 1 days, "new lock applies");
    }

    function test_RevertWhen_SetTreasuryCallerNotOwner() external {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        datanets.setTreasury(address(1));
    }

    function test_RevertWhen_TreasuryZero() external {
        vm.expectRevert(IDatanetRegistry.ZeroAddress.selector);
        vm.prank(owner);
        datanets.setTreasury(address(0));
    }

    function test_When_TreasuryValid() external {
        address next = makeAddr("nextTreasury");
        vm.expectEmit(address(datanets));
        emit IDatanetRegistry.TreasurySet(next);
        vm.prank(owner);
        datanets.setTreasury(next);
        assertEq(datanets.treasury(), next);

        uint64 id = _contribute(contributors[0], datanetId, 9);
        vm.prank(curator);
        datanets.review(id, false);
        assertEq(token.balanceOf(next), MIN_STAKE, "slash goes to the new treasury");
    }

    function test_RevertWhen_ConstructedWithZeroAddress() external {
        vm.expectRevert(IDatanetRegistry.ZeroAddress.selector);
        new DatanetRegistry(address(0), treasury, owner);
        vm.expectRevert(IDatanetRegistry.ZeroAddress.selector);
        new DatanetRegistry(address(token), address(0), owner);
    }

    function test_When_OwnershipTransferred_InTwoSteps() external {
        address next = makeAddr("nextOwner");
        vm.prank(owner);
        datanets.transferOwnership(next);
        assertEq(datanets.owner(), owner, "still the old owner until accepted");
        vm.prank(next);
        datanets.acceptOwnership();
        assertEq(datanets.owner(), next, "new owner");
    }
}
