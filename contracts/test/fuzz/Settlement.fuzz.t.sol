// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IModelRegistry} from "../../src/interfaces/IModelRegistry.sol";
import {IUsageEscrow} from "../../src/interfaces/IUsageEscrow.sol";
import {Base} from "../utils/Base.t.sol";
import {Vm} from "forge-std/Vm.sol";

/// @notice Fuzzes the fee split, attribution weights, release pools, batch sizes with uncovered and invalid
///         receipts skipped, replay protection by digest, withdrawal windows, prices by deadline, the
///         validity floor and delayed signer revocation.
contract Settlement_Fuzz_Test is Base {
    uint64 internal release2;
    uint64 internal smallContribution;

    function setUp() public override {
        super.setUp();
        uint64 dn = _createDatanet(curator);
        smallContribution = _contribute(contributors[2], dn, 7);
        vm.prank(curator);
        datanets.review(smallContribution, true);
        release2 = _publish(dn);
    }

    function _model(uint96 price, uint16[4] memory bps, uint32 smallTokens) internal returns (uint64 id) {
        // Optionally a third release of a fuzzed size, to exercise the pro-rata rounding: its datanet takes
        // contributions of any uint32 token count, so the fuzzed size is not capped by the fixture's bound.
        address[] memory curators = new address[](1);
        curators[0] = curator;
        vm.prank(makeAddr("datanetOwner"));
        uint64 dn =
            datanets.createDatanet("ipfs://large", MIN_STAKE, REVIEW_WINDOW, type(uint32).max, curators);
        uint64 c = _contribute(contributors[3], dn, smallTokens);
        vm.prank(curator);
        datanets.review(c, true);
        uint64[] memory releases = new uint64[](3);
        (releases[0], releases[1], releases[2]) = (releaseId, release2, _publish(dn));
        id = _registerModel(releases, price, _split(bps[0], bps[1], bps[2], bps[3]));
    }

    function _bps(uint16 a, uint16 b, uint16 c) internal pure returns (uint16[4] memory bps) {
        bps[0] = uint16(bound(a, 0, 10_000));
        bps[1] = uint16(bound(b, 0, 10_000 - bps[0]));
        bps[2] = uint16(bound(c, 0, 10_000 - bps[0] - bps[1]));
        bps[3] = 10_000 - bps[0] - bps[1] - bps[2];
    }

    struct Before {
        uint256 owner;
        uint256 node;
        uint256 treasury;
        uint256 c0;
        uint256 small;
        uint256 pooled;
        uint256 deposit;
    }

    struct SplitCase {
        uint96 price;
        uint32 inputTokens;
        uint32 outputTokens;
        uint16 ownerBps;
        uint16 dataBps;
        uint16 nodeBps;
        uint32 w0;
        uint32 w1;
        uint32 smallTokens;
    }

    function testFuzz_Split(SplitCase memory c) external {
        c.price = uint96(bound(c.price, 0, 1e24));
        uint16[4] memory bps = _bps(c.ownerBps, c.dataBps, c.nodeBps);
        uint64 m = _model(c.price, bps, uint32(bound(c.smallTokens, 1, type(uint32).max)));
        c.w0 = uint32(bound(c.w0, 0, 1_000_000));
        c.w1 = uint32(bound(c.w1, 0, 1_000_000 - c.w0));

        uint64[] memory ids = new uint64[](2);
        uint32[] memory weights = new uint32[](2);
        (ids[0], ids[1], weights[0], weights[1]) = (contributionIds[0], smallContribution, c.w0, c.w1);
        IUsageEscrow.Attribution memory a = _attribution(ids, weights);
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 5, a);
        r.modelId = m;
        (r.inputTokens, r.outputTokens) = (c.inputTokens, c.outputTokens);
        r.fee = uint256(c.price) * (uint256(c.inputTokens) + c.outputTokens) / 1000;
        _fund(payer, r.fee + 1);

        Before memory b = _snapshot();
        _settleExpecting(r, a, _sign(payerKey, r), 1);
        _checkSplit(b, r.fee, bps, c.w0, c.w1);
    }

    function _snapshot() internal view returns (Before memory) {
        return Before(
            escrow.balanceOf(modelOwner),
            escrow.balanceOf(node),
            escrow.balanceOf(treasury),
            escrow.balanceOf(contributors[0]),
            escrow.balanceOf(contributors[2]),
            escrow.unclaimedPoolRewards(),
            escrow.depositOf(payer)
        );
    }

    function _checkSplit(Before memory b, uint256 fee, uint16[4] memory bps, uint32 w0, uint32 w1)
        internal
        view
    {
        uint256 data = fee * bps[1] / 10_000;
        uint256 ownerGot = escrow.balanceOf(modelOwner) - b.owner;
        uint256 nodeGot = escrow.balanceOf(node) - b.node;
        uint256 c0Got = escrow.balanceOf(contributors[0]) - b.c0;
        uint256 smallGot = escrow.balanceOf(contributors[2]) - b.small;
        uint256 treasuryGot = escrow.balanceOf(treasury) - b.treasury;
        uint256 pooled = escrow.unclaimedPoolRewards() - b.pooled;
        assertEq(b.deposit - escrow.depositOf(payer), fee, "charged exactly the fee");
        assertEq(ownerGot, fee * bps[0] / 10_000, "owner share");
        assertEq(nodeGot, fee * bps[2] / 10_000, "node share");
        assertEq(c0Got, data * w0 / 1e6, "contributor by weight");
        assertEq(smallGot, data * w1 / 1e6, "contributor by weight");
        assertGe(treasuryGot, fee * bps[3] / 10_000, "treasury at least its share");
        assertEq(
            ownerGot + nodeGot + c0Got + smallGot + treasuryGot + pooled, fee, "every wei owed to someone"
        );
        assertLe(pooled, data - c0Got - smallGot, "pool at most the unattributed data share");
        _assertSolvent();
    }

    /// @dev After any number of accruals, the members can claim at most what was accrued, and the part
    ///      they cannot claim is below one wei per member.
    function testFuzz_PoolRewardsNeverExceedAccruals(uint8 rounds, uint96 price, uint32 smallTokens)
        external
    {
        rounds = uint8(bound(rounds, 1, 12));
        price = uint96(bound(price, 1, 1e22));
        smallTokens = uint32(bound(smallTokens, 1, 1e9));
        uint64 m = _model(price, [uint16(1000), uint16(8000), uint16(500), uint16(500)], smallTokens);
        IUsageEscrow.Attribution memory a = _attribution(new uint64[](0), new uint32[](0));
        _fund(payer, uint256(price) * 1000);
        for (uint256 k; k < rounds; ++k) {
            IUsageEscrow.UsageReceipt memory r = _receipt(payer, 100 + k, a);
            r.modelId = m;
            (r.inputTokens, r.outputTokens) = (uint32(13 + k * 31), uint32(7 * k));
            r.fee = uint256(price) * (uint256(r.inputTokens) + r.outputTokens) / 1000;
            _settleExpecting(r, a, _sign(payerKey, r), 1);
        }
        uint256 accrued = escrow.unclaimedPoolRewards();
        IModelRegistry.Model memory model = models.getModel(m);
        uint256 members;
        for (uint256 j; j < model.releaseIds.length; ++j) {
            uint64 rel = model.releaseIds[j];
            uint32 count = datanets.getRelease(rel).contributionCount;
            uint64[] memory ids = new uint64[](count);
            uint64 dn = datanets.getRelease(rel).datanetId;
            for (uint32 s = 1; s <= count; ++s) {
                ids[s - 1] = datanets.acceptedContributionAt(dn, s);
            }
            members += count;
            escrow.claimPoolRewards(rel, ids);
        }
        uint256 left = escrow.unclaimedPoolRewards();
        assertLe(left, accrued, "claims never exceed accruals");
        assertLe(left, members, "less than one wei per member stays unclaimable");
        _assertSolvent();
    }

    struct BatchCase {
        uint8 size;
        uint256 seed;
        uint96[3] deposits;
    }

    /// @dev Batches of 1..24 receipts from 3 payers over 2 nodes, each payer's deposit anywhere from nothing to
    ///      more than all its receipts, some receipts invalid: the receipts a payer's deposit covers, taken in
    ///      batch order, settle; each one it cannot cover is skipped with `InsufficientDeposit`, each invalid one
    ///      with its reason; the rest of the batch settles whatever the others do.
    function testFuzz_BatchSize(BatchCase memory c) external {
        MixedBatch memory b = _mixedBatch(c);
        uint256 credited = escrow.totalCredited();
        uint256 pooled = escrow.unclaimedPoolRewards();
        vm.recordLogs();
        uint256 settled = escrow.settle(b.rs, b.as_, b.sigs);
        bytes4[] memory outcome = _outcomes(vm.getRecordedLogs(), b.rs.length);
        uint256 expectedSettled;
        for (uint256 k; k < b.rs.length; ++k) {
            assertEq(outcome[k], b.expected[k], "receipt settled or skipped for its reason");
            assertEq(
                escrow.isSettled(_digest(b.rs[k])), b.expected[k] == bytes4(0), "marked settled iff settled"
            );
            if (b.expected[k] == bytes4(0)) ++expectedSettled;
        }
        assertEq(settled, expectedSettled, "settled count");
        for (uint256 p; p < 3; ++p) {
            assertEq(
                escrow.depositOf(b.payers[p]), b.held[p] - b.charged[p], "each payer charged its settled fees"
            );
        }
        assertEq(
            escrow.totalCredited() - credited + escrow.unclaimedPoolRewards() - pooled,
            b.fees,
            "fees fully distributed"
        );
        _assertSolvent();
    }

    struct MixedBatch {
        IUsageEscrow.UsageReceipt[] rs;
        IUsageEscrow.Attribution[] as_;
        bytes[] sigs;
        bytes4[] expected; // per receipt: 0 if it must settle, else its skip reason
        address[3] payers;
        uint256[3] keys;
        uint256[3] held;
        uint256[3] charged;
        uint256 fees;
    }

    function _mixedBatch(BatchCase memory c) internal returns (MixedBatch memory b) {
        uint256 size = bound(c.size, 1, 24);
        for (uint256 p; p < 3; ++p) {
            (b.payers[p], b.keys[p]) = makeAddrAndKey(string.concat("batchPayer", vm.toString(p)));
            b.held[p] = bound(c.deposits[p], 0, 12e18); // fees are 1e18 each: 0 to 12 receipts covered
            if (b.held[p] != 0) _fund(b.payers[p], b.held[p]);
        }
        b.rs = new IUsageEscrow.UsageReceipt[](size);
        b.as_ = new IUsageEscrow.Attribution[](size);
        b.sigs = new bytes[](size);
        b.expected = new bytes4[](size);
        for (uint256 k; k < size; ++k) {
            uint256 p = uint256(keccak256(abi.encode(c.seed, k))) % 3;
            b.as_[k] = _batchAttribution(c.seed, k);
            b.rs[k] = _receipt(b.payers[p], k, b.as_[k]);
            b.rs[k].node = k % 2 == 0 ? node : makeAddr("node2");
            uint256 kind = uint256(keccak256(abi.encode(c.seed, k, "kind"))) % 8;
            uint256 key = b.keys[p];
            if (kind == 0) {
                key = b.keys[(p + 1) % 3];
                b.expected[k] = IUsageEscrow.InvalidSignature.selector;
            } else if (kind == 1) {
                b.rs[k].deadline = uint64(block.timestamp - 1);
                b.expected[k] = IUsageEscrow.ReceiptExpired.selector;
            } else if (b.charged[p] + b.rs[k].fee > b.held[p]) {
                b.expected[k] = IUsageEscrow.InsufficientDeposit.selector;
            } else {
                b.charged[p] += b.rs[k].fee;
                b.fees += b.rs[k].fee;
            }
            b.sigs[k] = _sign(key, b.rs[k]);
        }
    }

    function _batchAttribution(uint256 seed, uint256 k)
        internal
        view
        returns (IUsageEscrow.Attribution memory)
    {
        uint256 n = uint256(keccak256(abi.encode(seed, k, "n"))) % 5;
        uint64[] memory ids = new uint64[](n);
        uint32[] memory weights = new uint32[](n);
        for (uint256 j; j < n; ++j) {
            ids[j] = contributionIds[(seed >> j) % 4];
            weights[j] = uint32(uint256(keccak256(abi.encode(seed, k, j))) % 250_001);
        }
        return _attribution(ids, weights);
    }

    /// @dev Per receipt of the batch, in order: 0 if it settled, else the selector of its skip reason.
    function _outcomes(Vm.Log[] memory logs, uint256 size) internal view returns (bytes4[] memory outcome) {
        outcome = new bytes4[](size);
        uint256 i;
        for (uint256 k; k < logs.length; ++k) {
            if (logs[k].emitter != address(escrow)) continue;
            bytes32 topic = logs[k].topics[0];
            if (topic == IUsageEscrow.ReceiptSettled.selector) {
                ++i;
            } else if (topic == IUsageEscrow.ReceiptSkipped.selector) {
                assertEq(uint256(logs[k].topics[1]), i, "skip index");
                outcome[i++] = bytes4(abi.decode(logs[k].data, (bytes)));
            }
        }
        assertEq(i, size, "one outcome per receipt");
    }

    /// @dev Settles one receipt and checks how many settled (1 or 0).
    function _settleExpecting(
        IUsageEscrow.UsageReceipt memory r,
        IUsageEscrow.Attribution memory a,
        bytes memory sig,
        uint256 count
    ) internal {
        (IUsageEscrow.UsageReceipt[] memory rs, IUsageEscrow.Attribution[] memory as_, bytes[] memory sigs) =
            _one(r, a, sig);
        assertEq(escrow.settle(rs, as_, sigs), count, count == 1 ? "settled" : "skipped");
    }

    /// @dev A receipt's single skip reason, from a batch of one.
    function _skipReason(
        IUsageEscrow.UsageReceipt memory r,
        IUsageEscrow.Attribution memory a,
        bytes memory sig
    ) internal returns (bytes4) {
        (IUsageEscrow.UsageReceipt[] memory rs, IUsageEscrow.Attribution[] memory as_, bytes[] memory sigs) =
            _one(r, a, sig);
        vm.recordLogs();
        escrow.settle(rs, as_, sigs);
        return _outcomes(vm.getRecordedLogs(), 1)[0];
    }

    /// @dev Any nonce: a receipt settles once (a replay, in either signature encoding, is skipped
    ///      `AlreadySettled` with its digest and charges nothing); another receipt with the same nonce but
    ///      other content (one field drawn from `field`, its value from `salt`) still settles, once.
    function testFuzz_SettlesOnceByDigest(uint256 nonce, uint8 field, uint256 salt) external {
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, nonce, a);
        bytes32 digest = _digest(r);
        assertEq(escrow.hashReceipt(r), digest, "the escrow's digest");
        assertFalse(escrow.isSettled(digest), "not settled yet");
        _settleExpecting(r, a, _sign(payerKey, r), 1);
        assertTrue(escrow.isSettled(digest), "settled");

        uint256 held = escrow.depositOf(payer);
        for (uint256 compact; compact < 2; ++compact) {
            _expectReplay(r, digest);
            _settleExpecting(r, a, compact == 0 ? _sign(payerKey, r) : _signCompact(payerKey, r), 0);
        }
        assertEq(escrow.depositOf(payer), held, "charged once");

        IUsageEscrow.UsageReceipt memory other = _otherContent(r, field, salt);
        bytes32 otherDigest = _digest(other);
        assertTrue(otherDigest != digest, "other content, other digest");
        assertFalse(escrow.isSettled(otherDigest), "the other not settled by the first");
        _settleExpecting(other, a, _signCompact(payerKey, other), 1);
        assertTrue(escrow.isSettled(otherDigest), "the other settled");
        assertEq(escrow.depositOf(payer), held - other.fee, "the other charged its fee");
        _expectReplay(other, otherDigest);
        _settleExpecting(other, a, _sign(payerKey, other), 0);
        assertEq(escrow.depositOf(payer), held - other.fee, "the other charged once");
        _assertSolvent();
    }

    function _expectReplay(IUsageEscrow.UsageReceipt memory r, bytes32 digest) internal {
        vm.expectEmit(address(escrow));
        emit IUsageEscrow.ReceiptSkipped(
            0, digest, abi.encodeWithSelector(IUsageEscrow.AlreadySettled.selector, 0, digest)
        );
    }

    /// @dev `r` with the same nonce and one other field changed, still valid for the fixture.
    function _otherContent(IUsageEscrow.UsageReceipt memory r, uint8 field, uint256 salt)
        internal
        returns (IUsageEscrow.UsageReceipt memory o)
    {
        o = _receipt(r.payer, r.nonce, _defaultAttribution());
        uint256 kind = field % 5;
        if (kind == 0) {
            o.promptHash = keccak256(abi.encode("prompt", salt));
        } else if (kind == 1) {
            o.outputHash = keccak256(abi.encode("other output", salt));
        } else if (kind == 2) {
            o.node = makeAddr(string.concat("node", vm.toString(salt)));
        } else if (kind == 3) {
            // Other input tokens, at the fee they are due.
            o.inputTokens = uint32(bound(salt, 0, 1800));
            if (o.inputTokens >= r.inputTokens) ++o.inputTokens;
            o.fee = uint256(PRICE) * (uint256(o.inputTokens) + o.outputTokens) / 1000;
        } else {
            o.deadline = uint64(bound(salt, block.timestamp, escrow.latestDeadline() - 1));
            if (o.deadline >= r.deadline) ++o.deadline;
        }
    }

    /// @dev A withdrawal executes at any moment of its window `[unlockAt, unlockAt + WITHDRAWAL_WINDOW]`,
    ///      never before, never after (it then reads as none); a top-up while it waits stays deposited.
    function testFuzz_DepositAndWithdraw(uint256 amount, uint256 request, uint256 topUp, uint256 at)
        external
    {
        address alice = makeAddr("alice");
        amount = bound(amount, 1, 1e30);
        request = bound(request, 1, amount);
        _fund(alice, amount);
        vm.prank(alice);
        escrow.requestWithdrawal(request);
        (, uint64 unlockAt) = escrow.pendingWithdrawal(alice);
        assertEq(unlockAt, block.timestamp + escrow.withdrawalDelay(), "unlocks after the delay");
        topUp = bound(topUp, 0, 1e30);
        if (topUp != 0) _fund(alice, topUp);
        uint64 window = escrow.WITHDRAWAL_WINDOW();
        at = bound(at, block.timestamp, uint256(unlockAt) + 2 * window);
        vm.warp(at);
        vm.prank(alice);
        if (at < unlockAt) {
            vm.expectRevert(abi.encodeWithSelector(IUsageEscrow.WithdrawalNotReady.selector, unlockAt));
            escrow.withdraw();
            return;
        }
        if (at > unlockAt + window) {
            vm.expectRevert(
                abi.encodeWithSelector(IUsageEscrow.WithdrawalExpired.selector, unlockAt + window)
            );
            escrow.withdraw();
            (uint256 pending,) = escrow.pendingWithdrawal(alice);
            assertEq(pending, 0, "a lapsed request reads as none");
            return;
        }
        assertEq(escrow.withdraw(), request, "withdrew the request");
        assertEq(escrow.depositOf(alice), amount + topUp - request, "rest stays");
        assertEq(token.balanceOf(alice), request, "paid");
        _assertSolvent();
    }

    /// @dev A withdrawal requested after receipts were signed unlocks after every one of their deadlines, for
    ///      any delay and validity the owner may set: each settles first, then the payer gets the rest.
    function testFuzz_WithdrawalUnlocksAfterSignedReceipts(uint64 validity, uint64 delay, uint256 wait)
        external
    {
        vm.startPrank(owner);
        escrow.setWithdrawalDelay(
            uint64(bound(delay, escrow.latestDeadline() - block.timestamp + 1, 30 days))
        );
        escrow.setMaxReceiptValidity(uint64(bound(validity, 1, 1 days)));
        vm.stopPrank();
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, a);
        r.deadline = escrow.latestDeadline();
        bytes memory sig = _sign(payerKey, r);
        // The payer asks for everything, at once or later, while the receipt is live.
        vm.warp(bound(wait, block.timestamp, r.deadline));
        vm.prank(payer);
        escrow.requestWithdrawal(DEPOSIT);
        (, uint64 unlockAt) = escrow.pendingWithdrawal(payer);
        assertGt(unlockAt, r.deadline, "unlocks after the deadline of a receipt signed before");
        vm.warp(r.deadline);
        _settleExpecting(r, a, sig, 1);
        vm.warp(unlockAt);
        vm.prank(payer);
        assertEq(escrow.withdraw(), DEPOSIT - r.fee, "the rest");
        _assertSolvent();
    }

    /// @dev A price change applies by receipt deadline: a receipt's fee is the price at its deadline
    ///      (`quoteFee`), before and after the change is scheduled and in force; the other price is refused.
    function testFuzz_PriceByDeadline(uint96 newPrice, uint256 signAt, uint256 lifetime, uint256 settleAt)
        external
    {
        newPrice = uint96(bound(newPrice, 0, 1e24));
        vm.assume(newPrice != PRICE);
        vm.prank(modelOwner);
        models.setPrice(modelId, newPrice);
        uint64 effectiveAt = models.getModel(modelId).nextPriceAt;
        vm.warp(bound(signAt, block.timestamp, effectiveAt + 1 days));
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, a);
        r.deadline = uint64(bound(lifetime, block.timestamp, escrow.latestDeadline()));
        uint256 atDeadline = r.deadline >= effectiveAt ? newPrice : PRICE;
        r.fee = models.quoteFee(modelId, 500, r.deadline);
        assertEq(r.fee, atDeadline * 500 / 1000, "quote by deadline");
        IUsageEscrow.UsageReceipt memory other = _receipt(payer, 2, a);
        other.deadline = r.deadline;
        other.fee = (r.deadline >= effectiveAt ? PRICE : newPrice) * uint256(500) / 1000;
        _fund(payer, r.fee + other.fee);
        vm.warp(bound(settleAt, block.timestamp, r.deadline));
        if (other.fee != r.fee) {
            assertEq(
                _skipReason(other, a, _sign(payerKey, other)), IUsageEscrow.FeeMismatch.selector, "other"
            );
        }
        _settleExpecting(r, a, _sign(payerKey, r), 1);
    }

    /// @dev Lowering the receipt validity never makes a receipt already signed "too far": `latestDeadline()`
    ///      never decreases, and the receipt settles up to its deadline.
    function testFuzz_ValidityFloor(uint64 lower, uint256 settleAt) external {
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, a);
        r.deadline = escrow.latestDeadline();
        bytes memory sig = _sign(payerKey, r);
        lower = uint64(bound(lower, 1, escrow.maxReceiptValidity()));
        vm.prank(owner);
        escrow.setMaxReceiptValidity(lower);
        assertGe(escrow.latestDeadline(), r.deadline, "latestDeadline kept");
        vm.warp(bound(settleAt, block.timestamp, r.deadline));
        assertGe(escrow.latestDeadline(), r.deadline, "latestDeadline kept while the receipt lives");
        _settleExpecting(r, a, sig, 1);
    }

    /// @dev A revoked signer's receipts settle until `latestDeadline()` at the revocation, whenever it was
    ///      revoked; after that its signatures are refused.
    function testFuzz_RevokedSignerValidUntilLatestDeadline(
        uint256 lifetime,
        uint256 revokeAt,
        uint256 settleAt
    ) external {
        (address session, uint256 sessionKey) = makeAddrAndKey("session");
        vm.prank(payer);
        escrow.authorizeSigner(session);
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 1, a);
        r.deadline = uint64(bound(lifetime, block.timestamp, escrow.latestDeadline()));
        bytes memory sig = _sign(sessionKey, r);
        vm.warp(bound(revokeAt, block.timestamp, r.deadline));
        uint64 latest = escrow.latestDeadline();
        vm.prank(payer);
        escrow.revokeSigner(session);
        assertEq(escrow.signerValidUntil(payer, session), latest, "valid until latestDeadline");
        vm.warp(bound(settleAt, block.timestamp, r.deadline));
        _settleExpecting(r, a, sig, 1);
        // Past the end of the authorization, a new receipt by the signer is refused.
        vm.warp(uint256(latest) + 1);
        IUsageEscrow.UsageReceipt memory late = _receipt(payer, 2, a);
        assertEq(
            _skipReason(late, a, _sign(sessionKey, late)), IUsageEscrow.InvalidSignature.selector, "late"
        );
    }
}
