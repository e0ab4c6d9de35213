// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {UsageEscrow} from "../../../src/UsageEscrow.sol";
import {IUsageEscrow} from "../../../src/interfaces/IUsageEscrow.sol";
import {SkipChecks} from "../../utils/SkipChecks.t.sol";

contract Signatures_Unit_Test is SkipChecks {
    function test_When_DigestComputedOutside() external view {
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 77, a);
        assertEq(escrow.hashReceipt(r), _digest(r), "hashReceipt == independent digest");
        assertEq(
            escrow.hashAttribution(a), keccak256(abi.encode(a.contributionIds, a.weightsPpm)), "attribution"
        );
        assertEq(escrow.RECEIPT_TYPEHASH(), RECEIPT_TYPEHASH, "typehash");

        (, string memory name, string memory version, uint256 chainId, address verifyingContract,,) =
            escrow.eip712Domain();
        assertEq(name, "Soil UsageEscrow", "name");
        assertEq(version, "1", "version");
        assertEq(chainId, block.chainid, "chainId");
        assertEq(verifyingContract, address(escrow), "verifyingContract");
        assertEq(
            escrow.DOMAIN_SEPARATOR(),
            keccak256(
                abi.encode(
                    DOMAIN_TYPEHASH,
                    keccak256(bytes(name)),
                    keccak256(bytes(version)),
                    chainId,
                    verifyingContract
                )
            ),
            "domain separator"
        );
    }

    function test_When_SignedWithVmSign() external {
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, a);
        bytes memory sig = _sign(payerKey, r);
        assertEq(sig.length, 65);
        assertEq(_settle(r, a, sig), 1, "settled");
        assertTrue(escrow.isSettled(_digest(r)), "marked settled");
        assertEq(escrow.depositOf(payer), DEPOSIT - FEE, "charged");
    }

    function test_When_SignatureIsEip2098() external {
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, a);
        bytes memory sig = _signCompact(payerKey, r);
        assertEq(sig.length, 64);
        assertEq(_settle(r, a, sig), 1, "settled");
        assertEq(escrow.depositOf(payer), DEPOSIT - FEE, "charged");
    }

    function test_When_OutputURIChangedAfterSigning() external {
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, a);
        bytes memory sig = _sign(payerKey, r);
        r.outputURI = "https://elsewhere.example/1";
        _assertSkipped(r, a, sig, abi.encodeWithSelector(IUsageEscrow.InvalidSignature.selector, 0, payer));
    }

    function test_When_AttributionVersionChangedAfterSigning() external {
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, a);
        bytes memory sig = _sign(payerKey, r);
        r.attributionVersion = 2;
        _assertSkipped(r, a, sig, abi.encodeWithSelector(IUsageEscrow.InvalidSignature.selector, 0, payer));
    }

    function test_When_SignedForAnotherChain() external {
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, a);
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(payerKey, _digest(r, 999, address(escrow)));
        _assertSkipped(
            r,
            a,
            abi.encodePacked(rr, s, v),
            abi.encodeWithSelector(IUsageEscrow.InvalidSignature.selector, 0, payer)
        );
    }

    function test_When_ChainIdChangedAfterSigning() external {
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, a);
        bytes memory sig = _sign(payerKey, r); // for this chain
        vm.chainId(999); // a fork: the escrow's domain follows the chain id, so does the valid receipt's
        _assertSkipped(r, a, sig, abi.encodeWithSelector(IUsageEscrow.InvalidSignature.selector, 0, payer));
    }

    function test_When_SignedForAnotherEscrow() external {
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, a);
        bytes memory sig = _sign(payerKey, r); // for `escrow`
        // The same payer, funded in a second escrow: the receipt is settled there.
        escrow = new UsageEscrow(address(token), address(models), address(datanets), treasury, owner);
        _fund(payer, 5e18);
        _assertSkipped(r, a, sig, abi.encodeWithSelector(IUsageEscrow.InvalidSignature.selector, 0, payer));
    }
}
