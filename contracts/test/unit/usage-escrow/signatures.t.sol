// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {UsageEscrow} from "../../../src/UsageEscrow.sol";
import {IUsageEscrow} from "../../../src/interfaces/IUsageEscrow.sol";
import {Base} from "../../utils/Base.t.sol";
import {ERC1271Wallet} from "../../utils/ERC1271Wallet.sol";

contract Signatures_Unit_Test is Base {
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
        _settle(r, a, _sign(payerKey, r));
        assertTrue(escrow.isNonceUsed(payer, 1));
    }

    function test_When_SignatureIsEip2098() external {
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, a);
        bytes memory sig = _signCompact(payerKey, r);
        assertEq(sig.length, 64);
        _settle(r, a, sig);
        assertEq(escrow.depositOf(payer), DEPOSIT - r.fee, "charged");
    }

    function test_When_PayerIsEip1271Wallet() external {
        (address walletSigner, uint256 walletKey) = makeAddrAndKey("walletSigner");
        ERC1271Wallet wallet = new ERC1271Wallet(walletSigner);
        _fund(address(wallet), 10e18);
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        IUsageEscrow.UsageReceipt memory r = _receipt(address(wallet), 1, a);
        _settle(r, a, _sign(walletKey, r));
        assertEq(escrow.depositOf(address(wallet)), 10e18 - r.fee, "wallet charged");
    }

    function test_RevertWhen_SignedForAnotherChain() external {
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, a);
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(payerKey, _digest(r, 999, address(escrow)));
        vm.expectRevert(abi.encodeWithSelector(IUsageEscrow.InvalidSignature.selector, 0, payer));
        _settle(r, a, abi.encodePacked(rr, s, v));

        // The same receipt signed for this chain settles, and a fork to another chain id rejects it.
        bytes memory good = _sign(payerKey, r);
        vm.chainId(999);
        vm.expectRevert(abi.encodeWithSelector(IUsageEscrow.InvalidSignature.selector, 0, payer));
        _settle(r, a, good);
    }

    function test_RevertWhen_SignedForAnotherEscrow() external {
        UsageEscrow other =
            new UsageEscrow(address(token), address(models), address(datanets), treasury, owner);
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, a);
        bytes memory sig = _sign(payerKey, r); // for `escrow`
        _fundOther(other);
        (IUsageEscrow.UsageReceipt[] memory rs, IUsageEscrow.Attribution[] memory as_, bytes[] memory sigs) =
            _one(r, a, sig);
        vm.expectRevert(abi.encodeWithSelector(IUsageEscrow.InvalidSignature.selector, 0, payer));
        other.settle(rs, as_, sigs);
    }

    function _fundOther(UsageEscrow other) internal {
        vm.prank(owner);
        token.mint(payer, 5e18);
        vm.startPrank(payer);
        token.approve(address(other), 5e18);
        other.deposit(5e18);
        vm.stopPrank();
    }
}
