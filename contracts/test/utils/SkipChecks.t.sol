// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IUsageEscrow} from "../../src/interfaces/IUsageEscrow.sol";
import {Base} from "./Base.t.sol";
import {Vm} from "forge-std/Vm.sol";

/// @notice Base plus the check of a skipped receipt: settled in a batch beside a valid receipt of the fixture's
///         payer, it must be skipped with exactly its reason while the valid one settles, and nothing may be
///         charged or credited for it.
abstract contract SkipChecks is Base {
    /// @dev The nonce of the valid receipt settled beside the one expected skipped (bad receipts use other
    ///      nonces, so that none is ever the valid receipt itself).
    uint256 internal constant GOOD_NONCE = 1_000_000;
    /// @dev The fixture's fee for 500 tokens at PRICE, and its split: owner 30 %, node 15 %, treasury 5 %,
    ///      data 50 % (the default attribution's contributions 1 and 2 at 50 % and 25 % of it, the pool 25 %).
    uint256 internal constant FEE = 1e18;
    uint256 internal constant OWNER_SHARE = 0.3e18;
    uint256 internal constant NODE_SHARE = 0.15e18;
    uint256 internal constant TREASURY_SHARE = 0.05e18;
    uint256 internal constant C1_SHARE = 0.25e18;
    uint256 internal constant C2_SHARE = 0.125e18;
    uint256 internal constant POOL_SHARE = 0.125e18;

    /// @dev Every amount a settlement can move, for one payer besides the fixture's.
    struct Snapshot {
        uint256 payerDeposit;
        uint256 otherDeposit;
        uint256 owner;
        uint256 node;
        uint256 treasury;
        uint256[4] contributors;
        uint256 totalDeposits;
        uint256 totalCredited;
        uint256 pool;
        uint256 rewardPerToken;
    }

    function _snapshot(address otherPayer) internal view returns (Snapshot memory s) {
        s.payerDeposit = escrow.depositOf(payer);
        s.otherDeposit = escrow.depositOf(otherPayer);
        s.owner = escrow.balanceOf(modelOwner);
        s.node = escrow.balanceOf(node);
        s.treasury = escrow.balanceOf(treasury);
        for (uint256 k; k < 4; ++k) {
            s.contributors[k] = escrow.balanceOf(contributors[k]);
        }
        s.totalDeposits = escrow.totalDeposits();
        s.totalCredited = escrow.totalCredited();
        s.pool = escrow.unclaimedPoolRewards();
        s.rewardPerToken = escrow.rewardPerToken(releaseId);
    }

    /// @dev Asserts that, since `s`, the escrow moved exactly `count` fixture receipts' worth (fee FEE each, the
    ///      default attribution) charged to the payer and nothing else.
    function _assertMovedBy(Snapshot memory s, uint256 count) internal view {
        assertEq(escrow.depositOf(payer), s.payerDeposit - count * FEE, "payer charged");
        assertEq(escrow.balanceOf(modelOwner), s.owner + count * OWNER_SHARE, "owner");
        assertEq(escrow.balanceOf(node), s.node + count * NODE_SHARE, "node");
        assertEq(escrow.balanceOf(treasury), s.treasury + count * TREASURY_SHARE, "treasury");
        assertEq(escrow.balanceOf(contributors[0]), s.contributors[0] + count * C1_SHARE, "contributor 1");
        assertEq(escrow.balanceOf(contributors[1]), s.contributors[1] + count * C2_SHARE, "contributor 2");
        assertEq(escrow.balanceOf(contributors[2]), s.contributors[2], "contributor 3");
        assertEq(escrow.balanceOf(contributors[3]), s.contributors[3], "contributor 4");
        assertEq(escrow.totalDeposits(), s.totalDeposits - count * FEE, "totalDeposits");
        assertEq(
            escrow.totalCredited(),
            s.totalCredited + count * (OWNER_SHARE + NODE_SHARE + TREASURY_SHARE + C1_SHARE + C2_SHARE),
            "totalCredited"
        );
        assertEq(escrow.unclaimedPoolRewards(), s.pool + count * POOL_SHARE, "pool");
        assertEq(
            escrow.rewardPerToken(releaseId),
            s.rewardPerToken + count * POOL_SHARE * 1e18 / 1000,
            "rewardPerToken"
        );
    }

    /// @dev Counts the escrow's settlement events among `logs`.
    function _count(Vm.Log[] memory logs, bytes32 topic) internal view returns (uint256 n) {
        for (uint256 k; k < logs.length; ++k) {
            if (logs[k].emitter == address(escrow) && logs[k].topics[0] == topic) ++n;
        }
    }

    /// @dev Settles [bad, a valid receipt of the payer] and asserts: `ReceiptSkipped(0, digest of bad, reason)`,
    ///      `ReceiptSettled` for the valid one (and no other), `settle` returned 1, every balance moved by the
    ///      valid receipt's split alone, bad's payer's deposit untouched, bad's digest not marked settled by
    ///      this batch (settled only if it was before), and the escrow solvent.
    function _assertSkipped(
        IUsageEscrow.UsageReceipt memory bad,
        IUsageEscrow.Attribution memory badAttribution,
        bytes memory badSignature,
        bytes memory reason
    ) internal {
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        IUsageEscrow.UsageReceipt memory good = _receipt(payer, GOOD_NONCE, a);
        (IUsageEscrow.UsageReceipt[] memory rs, IUsageEscrow.Attribution[] memory as_, bytes[] memory sigs) =
            _two(bad, badAttribution, badSignature, good, a, _sign(payerKey, good));
        Snapshot memory s = _snapshot(bad.payer);
        bool badSettledBefore = escrow.isSettled(_digest(bad));

        _expectSkipped(0, bad, reason);
        _expectSettled(good, a);
        vm.recordLogs();
        assertEq(escrow.settle(rs, as_, sigs), 1, "settle returned");
        Vm.Log[] memory logs = vm.getRecordedLogs();

        assertEq(_count(logs, IUsageEscrow.ReceiptSkipped.selector), 1, "one ReceiptSkipped");
        assertEq(_count(logs, IUsageEscrow.ReceiptSettled.selector), 1, "one ReceiptSettled");
        assertEq(_count(logs, IUsageEscrow.Credited.selector), 5, "Credited: owner, node, c1, c2, treasury");
        _assertMovedBy(s, 1);
        assertTrue(escrow.isSettled(_digest(good)), "valid receipt settled");
        if (bad.payer != payer) {
            assertEq(escrow.depositOf(bad.payer), s.otherDeposit, "bad payer not charged");
        }
        assertEq(escrow.isSettled(_digest(bad)), badSettledBefore, "bad receipt's settled mark untouched");
        _assertSolvent();
    }

    /// @dev `_assertSkipped` for a receipt the payer signs with its own key.
    function _assertSkipped(
        IUsageEscrow.UsageReceipt memory bad,
        IUsageEscrow.Attribution memory badAttribution,
        bytes memory reason
    ) internal {
        _assertSkipped(bad, badAttribution, _sign(payerKey, bad), reason);
    }
}
