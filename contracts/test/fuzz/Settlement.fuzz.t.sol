// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IModelRegistry} from "../../src/interfaces/IModelRegistry.sol";
import {IUsageEscrow} from "../../src/interfaces/IUsageEscrow.sol";
import {Base} from "../utils/Base.t.sol";

/// @notice Fuzzes the fee split, attribution weights, release pools and batch sizes.
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
        _settle(r, a, _sign(payerKey, r));
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
            _settle(r, a, _sign(payerKey, r));
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

    /// @dev Batches of 1..24 receipts from 3 payers over 2 nodes.
    function testFuzz_BatchSize(uint8 size, uint256 seed) external {
        size = uint8(bound(size, 1, 24));
        uint256[3] memory keys;
        address[3] memory payers;
        for (uint256 p; p < 3; ++p) {
            (payers[p], keys[p]) = makeAddrAndKey(string.concat("batchPayer", vm.toString(p)));
            _fund(payers[p], 100e18);
        }
        IUsageEscrow.UsageReceipt[] memory rs = new IUsageEscrow.UsageReceipt[](size);
        IUsageEscrow.Attribution[] memory as_ = new IUsageEscrow.Attribution[](size);
        bytes[] memory sigs = new bytes[](size);
        uint256[3] memory charged;
        for (uint256 k; k < size; ++k) {
            uint256 p = uint256(keccak256(abi.encode(seed, k))) % 3;
            uint256 n = uint256(keccak256(abi.encode(seed, k, "n"))) % 5;
            uint64[] memory ids = new uint64[](n);
            uint32[] memory weights = new uint32[](n);
            for (uint256 j; j < n; ++j) {
                ids[j] = contributionIds[(seed >> j) % 4];
                weights[j] = uint32(uint256(keccak256(abi.encode(seed, k, j))) % 250_001);
            }
            as_[k] = _attribution(ids, weights);
            rs[k] = _receipt(payers[p], k, as_[k]);
            rs[k].node = k % 2 == 0 ? node : makeAddr("node2");
            sigs[k] = _sign(keys[p], rs[k]);
            charged[p] += rs[k].fee;
        }
        uint256 credited = escrow.totalCredited();
        uint256 pooled = escrow.unclaimedPoolRewards();
        escrow.settle(rs, as_, sigs);
        for (uint256 p; p < 3; ++p) {
            assertEq(
                escrow.depositOf(payers[p]), 100e18 - charged[p], "each payer charged its receipts' fees"
            );
        }
        assertEq(
            escrow.totalCredited() - credited + escrow.unclaimedPoolRewards() - pooled,
            charged[0] + charged[1] + charged[2],
            "fees fully distributed"
        );
        for (uint256 k; k < size; ++k) {
            assertTrue(escrow.isNonceUsed(rs[k].payer, k), "nonce used");
        }
        _assertSolvent();
    }

    function testFuzz_NonceBitmap(uint256 nonce) external {
        IUsageEscrow.Attribution memory a = _defaultAttribution();
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, nonce, a);
        _settle(r, a, _sign(payerKey, r));
        assertTrue(escrow.isNonceUsed(payer, nonce), "used");
        if (nonce != 0) assertFalse(escrow.isNonceUsed(payer, nonce - 1), "neighbour below free");
        if (nonce != type(uint256).max) {
            assertFalse(escrow.isNonceUsed(payer, nonce + 1), "neighbour above free");
        }
    }

    function testFuzz_DepositAndWithdraw(uint256 amount, uint256 request, uint256 topUp) external {
        address alice = makeAddr("alice");
        amount = bound(amount, 1, 1e30);
        request = bound(request, 1, amount);
        _fund(alice, amount);
        vm.prank(alice);
        escrow.requestWithdrawal(request);
        // A top-up while the request waits stays deposited.
        topUp = bound(topUp, 0, 1e30);
        if (topUp != 0) _fund(alice, topUp);
        vm.warp(block.timestamp + escrow.withdrawalDelay());
        vm.prank(alice);
        assertEq(escrow.withdraw(), request, "withdrew the request");
        assertEq(escrow.depositOf(alice), amount + topUp - request, "rest stays");
        assertEq(token.balanceOf(alice), request, "paid");
        _assertSolvent();
    }
}
