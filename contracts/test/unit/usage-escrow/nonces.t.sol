// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IUsageEscrow} from "../../../src/interfaces/IUsageEscrow.sol";
import {Base} from "../../utils/Base.t.sol";

contract Nonces_Unit_Test is Base {
    function test_When_InvalidatingNonces() external {
        vm.expectEmit(address(escrow));
        emit IUsageEscrow.NoncesInvalidated(payer, 1, (1 << 4) | (1 << 200));
        vm.prank(payer);
        escrow.invalidateNonces(1, (1 << 4) | (1 << 200));
        assertTrue(escrow.isNonceUsed(payer, 256 + 4), "bit 4 of word 1");
        assertTrue(escrow.isNonceUsed(payer, 256 + 200), "bit 200 of word 1");
        assertFalse(escrow.isNonceUsed(payer, 4), "word 0 untouched");
        assertFalse(escrow.isNonceUsed(makeAddr("someone"), 256 + 4), "other payer untouched");

        IUsageEscrow.Attribution memory a = _defaultAttribution();
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 260, a);
        bytes memory sig = _sign(payerKey, r);
        vm.expectRevert(abi.encodeWithSelector(IUsageEscrow.NonceAlreadyUsed.selector, 0, payer, 260));
        _settle(r, a, sig);
    }
}
