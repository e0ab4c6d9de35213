// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IModelRegistry} from "../../src/interfaces/IModelRegistry.sol";
import {IUsageChannels} from "../../src/interfaces/IUsageChannels.sol";
import {IUsageEscrow} from "../../src/interfaces/IUsageEscrow.sol";
import {ChannelBase} from "../utils/ChannelBase.t.sol";

/// @notice Differential test of the two settlement paths: a random stream of inferences, cut into random
///         periods, settled once as per-receipt batches (one batch per period) and once as channel vouchers
///         (one per period), must leave every balance, pool accumulator and total equal to the wei.
contract ChannelDifferential_Fuzz_Test is ChannelBase {
    uint256 internal constant MAX_INFERENCES = 24;
    uint256 internal constant MAX_PERIODS = 3;

    uint64 internal twoReleases; // a model over two releases with a split that rounds
    uint64 internal adapter; // an adapter on it paying a derivative share
    uint64[] internal candidates; // contributions of both releases
    address[] internal accounts; // everyone a settlement can credit
    uint64[] internal releases;

    /// @dev Everything the paths must agree on.
    struct Outcome {
        uint256[] balances;
        uint256[] rewardPerToken;
        uint256 unclaimedPoolRewards;
        uint256 totalCredited;
        uint256 escrowTokens;
        uint256 payerSpent;
    }

    /// @dev One inference of the stream.
    struct Inference {
        uint32 inputTokens;
        uint32 outputTokens;
        IUsageEscrow.Attribution attribution;
    }

    function setUp() public override {
        super.setUp();
        uint64 dn = _createDatanet(curator);
        for (uint256 k; k < 3; ++k) {
            uint64 id = _contribute(contributors[k + 1], dn, uint32(7 + 13 * k));
            vm.prank(curator);
            datanets.review(id, true);
            candidates.push(id);
        }
        for (uint256 k; k < contributionIds.length; ++k) {
            candidates.push(contributionIds[k]);
        }
        releases.push(releaseId);
        releases.push(_publish(dn));
        twoReleases = _registerModel(releases, 3.7e15, _split(2500, 5500, 1333, 667));
        vm.prank(modelOwner);
        models.setDerivativeShare(twoReleases, 777);
        IModelRegistry.AdapterRegistration memory r = _adapterArgs();
        r.baseModelId = twoReleases;
        r.releaseIds = releases;
        r.pricePerKiloToken = 2.9e15;
        r.split = _split(3001, 4999, 1499, 501);
        adapter = _registerAdapter(r);
        accounts.push(modelOwner);
        accounts.push(adapterOwner);
        accounts.push(node);
        accounts.push(treasury);
        for (uint256 k; k < 4; ++k) {
            accounts.push(contributors[k]);
        }
    }

    function testFuzz_ChannelSettlesWhatReceiptsWould(uint256 seed, uint8 modelChoice) external {
        uint64 model = [modelId, twoReleases, adapter][modelChoice % 3];
        Inference[] memory stream = _stream(seed, model);
        uint256[] memory cuts = _cuts(seed, stream.length);

        uint256 state = vm.snapshotState();
        Outcome memory byReceipts = _settleReceipts(model, stream, cuts);
        vm.revertToState(state);
        Outcome memory byChannel = _settleChannel(model, stream, cuts);

        for (uint256 k; k < accounts.length; ++k) {
            assertEq(byChannel.balances[k], byReceipts.balances[k], "balance");
        }
        for (uint256 k; k < releases.length; ++k) {
            assertEq(byChannel.rewardPerToken[k], byReceipts.rewardPerToken[k], "rewardPerToken");
        }
        assertEq(byChannel.unclaimedPoolRewards, byReceipts.unclaimedPoolRewards, "unclaimed pool rewards");
        assertEq(byChannel.totalCredited, byReceipts.totalCredited, "total credited");
        assertEq(byChannel.payerSpent, byReceipts.payerSpent, "payer spent");
        // The receipts' fees moved within the escrow (deposit to balances); the channel's came in from outside.
        assertEq(byChannel.escrowTokens - byChannel.payerSpent, byReceipts.escrowTokens, "escrow tokens");
    }

    // ------------------------------------------------------------------ stream

    function _stream(uint256 seed, uint64 model) internal view returns (Inference[] memory stream) {
        stream = new Inference[](1 + _rand(seed, "n") % MAX_INFERENCES);
        uint256 members = model == modelId ? contributionIds.length : candidates.length;
        for (uint256 i; i < stream.length; ++i) {
            uint256 r = _rand(seed, i);
            stream[i].inputTokens = uint32(1 + r % 3000);
            stream[i].outputTokens = uint32((r >> 16) % 2000);
            uint256 count = (r >> 32) % 5;
            uint64[] memory ids = new uint64[](count);
            uint32[] memory weights = new uint32[](count);
            uint256 left = 1_000_000;
            uint256 start = (r >> 40) % members;
            for (uint256 k; k < count; ++k) {
                ids[k] = model == modelId
                    ? contributionIds[(start + k) % members]
                    : candidates[(start + k) % members];
                weights[k] = uint32(uint256(keccak256(abi.encode(r, k))) % (left + 1));
                left -= weights[k];
            }
            stream[i].attribution = _attribution(ids, weights);
        }
    }

    /// @dev Period ends: ascending indexes into the stream, the last one its length.
    function _cuts(uint256 seed, uint256 n) internal pure returns (uint256[] memory cuts) {
        uint256 periods = 1 + _rand(seed, "periods") % MAX_PERIODS;
        if (periods > n) periods = n;
        cuts = new uint256[](periods);
        for (uint256 p; p + 1 < periods; ++p) {
            uint256 lo = p == 0 ? 1 : cuts[p - 1] + 1;
            uint256 hi = n - (periods - 1 - p);
            cuts[p] = lo + _rand(seed, p) % (hi - lo + 1);
        }
        cuts[periods - 1] = n;
    }

    function _rand(uint256 seed, uint256 salt) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(seed, salt)));
    }

    function _rand(uint256 seed, string memory salt) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(seed, salt)));
    }

    // ------------------------------------------------------------------- paths

    function _settleReceipts(uint64 model, Inference[] memory stream, uint256[] memory cuts)
        internal
        returns (Outcome memory)
    {
        uint256 deposit = escrow.depositOf(payer);
        uint256 from;
        for (uint256 p; p < cuts.length; ++p) {
            uint256 n = cuts[p] - from;
            IUsageEscrow.UsageReceipt[] memory rs = new IUsageEscrow.UsageReceipt[](n);
            IUsageEscrow.Attribution[] memory as_ = new IUsageEscrow.Attribution[](n);
            bytes[] memory sigs = new bytes[](n);
            for (uint256 i; i < n; ++i) {
                Inference memory inf = stream[from + i];
                IUsageEscrow.UsageReceipt memory r = _receipt(payer, from + i, inf.attribution);
                r.modelId = model;
                (r.inputTokens, r.outputTokens) = (inf.inputTokens, inf.outputTokens);
                r.fee = _fee(model, uint256(inf.inputTokens) + inf.outputTokens);
                (rs[i], as_[i], sigs[i]) = (r, inf.attribution, _sign(payerKey, r));
            }
            assertEq(escrow.settle(rs, as_, sigs), n, "every receipt settles");
            from = cuts[p];
        }
        Outcome memory o = _outcome();
        o.payerSpent = deposit - escrow.depositOf(payer);
        return o;
    }

    function _settleChannel(uint64 model, Inference[] memory stream, uint256[] memory cuts)
        internal
        returns (Outcome memory)
    {
        uint64 id = _open(model, DEPOSIT);
        uint256 from;
        uint256 settled;
        for (uint256 p; p < cuts.length; ++p) {
            Totals memory t = _totals();
            for (uint256 i = from; i < cuts[p]; ++i) {
                Inference memory inf = stream[i];
                _add(t, model, _fee(model, uint256(inf.inputTokens) + inf.outputTokens), inf.attribution);
            }
            if (t.fee == 0) {
                // A period of zero fees has nothing to settle: it carries into the next one.
                continue;
            }
            IUsageChannels.Voucher memory v = _voucher(id, channels.getChannel(id).period, settled, t);
            assertEq(_settleSigned(v), t.fee, "period fee");
            settled += t.fee;
            from = cuts[p];
        }
        vm.prank(node);
        channels.close(id);
        _assertChannelsSolvent();
        Outcome memory o = _outcome();
        o.payerSpent = DEPOSIT - token.balanceOf(payer);
        return o;
    }

    function _outcome() internal view returns (Outcome memory o) {
        o.balances = new uint256[](accounts.length);
        for (uint256 k; k < accounts.length; ++k) {
            o.balances[k] = escrow.balanceOf(accounts[k]);
        }
        o.rewardPerToken = new uint256[](releases.length);
        for (uint256 k; k < releases.length; ++k) {
            o.rewardPerToken[k] = escrow.rewardPerToken(releases[k]);
        }
        o.unclaimedPoolRewards = escrow.unclaimedPoolRewards();
        o.totalCredited = escrow.totalCredited();
        o.escrowTokens = token.balanceOf(address(escrow));
        _assertSolvent();
    }
}
