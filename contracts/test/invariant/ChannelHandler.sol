// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ModelRegistry} from "../../src/ModelRegistry.sol";
import {SoilToken} from "../../src/SoilToken.sol";
import {UsageChannels} from "../../src/UsageChannels.sol";
import {UsageEscrow} from "../../src/UsageEscrow.sol";
import {IModelRegistry} from "../../src/interfaces/IModelRegistry.sol";
import {IUsageChannels} from "../../src/interfaces/IUsageChannels.sol";
import {ReceiptSplit} from "../utils/ReceiptSplit.sol";
import {Test} from "forge-std/Test.sol";

/// @notice Drives usage channels with an honest node and hostile everyone else: payers open, fund, ask to
///         close and try to close early or settle early vouchers themselves, anyone replays settled
///         vouchers, the model owner changes the price and hands the model over, time passes. The node
///         serves only what a channel's deposit covers, settles its latest voucher at will and always before
///         a requested close takes effect. Ghost totals record what every party is owed.
contract ChannelHandler is Test {
    uint256 internal constant PAYERS = 3;
    uint256 internal constant NODES = 2;

    SoilToken internal immutable token;
    UsageEscrow internal immutable escrow;
    UsageChannels internal immutable channels;
    ModelRegistry internal immutable models;
    address internal immutable minter;

    uint64[] internal modelIds; // a whole model and an adapter on it
    uint64[] internal contributionIds; // the models' release members
    address[] internal authors; // contributionIds[k]'s contributor
    address[PAYERS] internal payers;
    uint256[PAYERS] internal keys;
    address[NODES] internal nodes;
    uint64[] internal opened; // every channel the handler opened

    /// @dev The node's (and payer client's) view of a channel's current period.
    struct Period {
        uint32 inferences;
        uint256 fee;
        uint256 owner;
        uint256 base;
        uint256 node;
        uint256 data;
    }

    mapping(uint64 channelId => Period) internal periods;
    mapping(uint64 channelId => mapping(uint64 contributionId => uint256)) internal periodContributions;
    mapping(uint64 channelId => uint256 key) internal signerKey;
    /// @dev The last voucher settled on each channel and its signature, for replays.
    mapping(uint64 channelId => bytes) internal lastSettled;

    // ghosts
    mapping(address account => uint256) public ghostOwed; // what vouchers credited, the treasury aside
    address[] public recipients;
    mapping(address => bool) internal isRecipient;
    uint256 public ghostTreasuryAndPools; // Σ (fee − owner − base − node − attributed)
    uint256 public ghostChannelsIn; // Σ deposits and funds
    uint256 public ghostSettledFees; // Σ period fees settled
    uint256 public ghostRefunded; // Σ refunds at close
    uint256 public ghostServedUnpaid; // fees of inferences served on channels that closed without paying them
    uint256 public ghostReplaysSettled; // replayed or stale vouchers that settled (must stay 0)
    uint256 public ghostPayerDodges; // early closes and payer settlements that succeeded (must stay 0)

    constructor(
        SoilToken token_,
        UsageEscrow escrow_,
        UsageChannels channels_,
        ModelRegistry models_,
        address minter_,
        uint64[] memory modelIds_,
        uint64[] memory contributionIds_,
        address[] memory authors_
    ) {
        (token, escrow, channels, models, minter) = (token_, escrow_, channels_, models_, minter_);
        (modelIds, contributionIds, authors) = (modelIds_, contributionIds_, authors_);
        for (uint256 k; k < PAYERS; ++k) {
            (payers[k], keys[k]) = makeAddrAndKey(string.concat("channelPayer", vm.toString(k)));
        }
        for (uint256 k; k < NODES; ++k) {
            nodes[k] = makeAddr(string.concat("channelNode", vm.toString(k)));
        }
    }

    function recipientCount() external view returns (uint256) {
        return recipients.length;
    }

    function openedCount() external view returns (uint256) {
        return opened.length;
    }

    function openedAt(uint256 k) external view returns (uint64) {
        return opened[k];
    }

    // ------------------------------------------------------------------ actions

    function open(uint256 payerSeed, uint256 nodeSeed, uint256 modelSeed, uint256 deposit, bool sessionKey)
        external
    {
        uint256 p = payerSeed % PAYERS;
        deposit = bound(deposit, 1e15, 50e18);
        _mint(payers[p], deposit);
        uint256 key = keys[p];
        address signer = payers[p];
        if (sessionKey) (signer, key) = makeAddrAndKey(string.concat("session", vm.toString(opened.length)));
        vm.prank(payers[p]);
        uint64 id =
            channels.open(nodes[nodeSeed % NODES], modelIds[modelSeed % modelIds.length], signer, deposit);
        signerKey[id] = key;
        opened.push(id);
        ghostChannelsIn += deposit;
    }

    function fund(uint256 channelSeed, uint256 amount) external {
        (uint64 id, IUsageChannels.Channel memory c) = _pick(channelSeed);
        if (!c.open || c.closesAt != 0) return;
        amount = bound(amount, 1, 20e18);
        _mint(address(this), amount);
        channels.fund(id, amount);
        ghostChannelsIn += amount;
    }

    /// @notice One inference served on a channel whose deposit covers it, as the node does.
    function serve(uint256 channelSeed, uint256 tokens, uint256 attributionSeed) external {
        (uint64 id, IUsageChannels.Channel memory c) = _pick(channelSeed);
        // forge-lint: disable-next-line(block-timestamp)
        if (!c.open || (c.closesAt != 0 && block.timestamp >= c.closesAt)) return;
        uint256 fee = models.quoteFee(c.modelId, uint32(bound(tokens, 1, 4000)), uint64(block.timestamp));
        Period storage p = periods[id];
        if (c.settledFee + p.fee + fee > c.deposit || p.inferences == type(uint32).max) return;
        ReceiptSplit.Parts memory parts = ReceiptSplit.parts(models.getModel(c.modelId), fee);
        p.inferences += 1;
        p.fee += fee;
        p.owner += parts.owner;
        p.base += parts.base;
        p.node += parts.node;
        p.data += parts.data;
        uint256 left = 1_000_000;
        for (uint256 k; k < contributionIds.length; ++k) {
            uint256 weight = uint256(keccak256(abi.encode(attributionSeed, k))) % (left + 1);
            left -= weight;
            periodContributions[id][contributionIds[k]] += parts.data * weight / 1_000_000;
        }
    }

    /// @notice The node settles its latest voucher.
    function settle(uint256 channelSeed) external {
        (uint64 id, IUsageChannels.Channel memory c) = _pick(channelSeed);
        // forge-lint: disable-next-line(block-timestamp)
        if (!c.open || (c.closesAt != 0 && block.timestamp >= c.closesAt)) return;
        _settleLatest(id, c);
    }

    /// @notice Anyone replays the last settled voucher of a channel, as its node (the only one allowed).
    function replay(uint256 channelSeed) external {
        (uint64 id, IUsageChannels.Channel memory c) = _pick(channelSeed);
        if (lastSettled[id].length == 0) return;
        (IUsageChannels.Voucher memory v, bytes memory sig) =
            abi.decode(lastSettled[id], (IUsageChannels.Voucher, bytes));
        vm.prank(c.node);
        try channels.settle(v, sig, "replay") {
            ++ghostReplaysSettled;
        } catch {}
    }

    /// @notice The payer tries to settle the node's pending voucher itself (e.g. an early one of the period).
    function payerSettles(uint256 channelSeed) external {
        (uint64 id, IUsageChannels.Channel memory c) = _pick(channelSeed);
        Period memory p = periods[id];
        if (!c.open || p.fee == 0) return;
        IUsageChannels.Voucher memory v = _voucher(id, c, p);
        bytes memory sig = _sign(signerKey[id], v);
        vm.prank(c.payer);
        try channels.settle(v, sig, "payer") {
            ++ghostPayerDodges;
        } catch {}
    }

    function requestClose(uint256 channelSeed) external {
        (uint64 id, IUsageChannels.Channel memory c) = _pick(channelSeed);
        if (!c.open) return;
        vm.prank(c.payer);
        channels.requestClose(id);
    }

    /// @notice The payer closes: before `closesAt` it must fail; from then on it refunds the rest.
    function payerCloses(uint256 channelSeed) external {
        (uint64 id, IUsageChannels.Channel memory c) = _pick(channelSeed);
        if (!c.open) return;
        // forge-lint: disable-next-line(block-timestamp)
        bool ready = c.closesAt != 0 && block.timestamp >= c.closesAt;
        vm.prank(c.payer);
        try channels.close(id) returns (uint256 refund) {
            if (!ready) ++ghostPayerDodges;
            _closed(id, refund);
        } catch {}
    }

    /// @notice The node settles what it holds, then closes.
    function nodeCloses(uint256 channelSeed) external {
        (uint64 id, IUsageChannels.Channel memory c) = _pick(channelSeed);
        // forge-lint: disable-next-line(block-timestamp)
        if (!c.open || (c.closesAt != 0 && block.timestamp >= c.closesAt)) return;
        _settleLatest(id, c);
        vm.prank(c.node);
        _closed(id, channels.close(id));
    }

    function changePrice(uint256 modelSeed, uint96 price) external {
        uint64 model = modelIds[modelSeed % modelIds.length];
        IModelRegistry.Model memory m = models.getModel(model);
        if (m.nextPriceAt != 0) return;
        vm.prank(m.owner);
        models.setPrice(model, uint96(bound(price, 1e12, 5e18)));
    }

    function handOver(uint256 modelSeed, uint256 ownerSeed) external {
        uint64 model = modelIds[modelSeed % modelIds.length];
        vm.prank(models.getModel(model).owner);
        models.setModelOwner(model, makeAddr(string.concat("modelOwner", vm.toString(ownerSeed % 3))));
    }

    /// @notice Time passes; the honest node settles every channel whose close would take effect meanwhile.
    function warp(uint256 seconds_) external {
        uint256 to = block.timestamp + bound(seconds_, 1, 2 days);
        for (uint256 k; k < opened.length; ++k) {
            IUsageChannels.Channel memory c = channels.getChannel(opened[k]);
            // forge-lint: disable-next-line(block-timestamp)
            if (c.open && c.closesAt != 0 && c.closesAt <= to && block.timestamp < c.closesAt) {
                _settleLatest(opened[k], c);
            }
        }
        vm.warp(to);
    }

    // ----------------------------------------------------------------- internal

    function _pick(uint256 seed) internal view returns (uint64 id, IUsageChannels.Channel memory c) {
        if (opened.length == 0) return (0, c);
        id = opened[seed % opened.length];
        c = channels.getChannel(id);
    }

    function _mint(address to, uint256 amount) internal {
        vm.prank(minter);
        token.mint(to, amount);
        vm.prank(to);
        token.approve(address(channels), amount);
    }

    function _voucher(uint64 id, IUsageChannels.Channel memory c, Period memory p)
        internal
        view
        returns (IUsageChannels.Voucher memory v)
    {
        uint256 count;
        for (uint256 k; k < contributionIds.length; ++k) {
            if (periodContributions[id][contributionIds[k]] != 0) ++count;
        }
        v.contributionIds = new uint64[](count);
        v.contributionAmounts = new uint256[](count);
        uint256 j;
        // contributionIds ascend (the fixture numbers them so).
        for (uint256 k; k < contributionIds.length; ++k) {
            uint256 amount = periodContributions[id][contributionIds[k]];
            if (amount == 0) continue;
            (v.contributionIds[j], v.contributionAmounts[j]) = (contributionIds[k], amount);
            ++j;
        }
        v.channelId = id;
        v.period = c.period;
        v.inferences = p.inferences;
        v.startFee = c.settledFee;
        v.fee = c.settledFee + p.fee;
        (v.ownerShare, v.baseShare, v.nodeShare, v.dataShare) = (p.owner, p.base, p.node, p.data);
        v.logRoot = keccak256(abi.encode(id, c.period));
    }

    function _sign(uint256 key, IUsageChannels.Voucher memory v) internal view returns (bytes memory) {
        (uint8 sv, bytes32 r, bytes32 s) = vm.sign(key, channels.hashVoucher(v));
        return abi.encodePacked(r, s, sv);
    }

    function _settleLatest(uint64 id, IUsageChannels.Channel memory c) internal {
        Period memory p = periods[id];
        if (p.fee == 0) return;
        IUsageChannels.Voucher memory v = _voucher(id, c, p);
        bytes memory sig = _sign(signerKey[id], v);
        IModelRegistry.Model memory m = models.getModel(c.modelId);
        vm.prank(c.node);
        channels.settle(v, sig, "latest");
        lastSettled[id] = abi.encode(v, sig);
        ghostSettledFees += p.fee;
        _owe(m.owner, p.owner);
        if (p.base != 0) _owe(models.getModel(m.baseModelId).owner, p.base);
        _owe(c.node, p.node);
        uint256 attributed;
        for (uint256 k; k < contributionIds.length; ++k) {
            uint256 amount = periodContributions[id][contributionIds[k]];
            _owe(authors[k], amount);
            attributed += amount;
            delete periodContributions[id][contributionIds[k]];
        }
        ghostTreasuryAndPools += p.fee - p.owner - p.base - p.node - attributed;
        delete periods[id];
    }

    function _closed(uint64 id, uint256 refund) internal {
        ghostRefunded += refund;
        ghostServedUnpaid += periods[id].fee;
        delete periods[id];
    }

    function _owe(address who, uint256 amount) internal {
        if (amount == 0) return;
        if (!isRecipient[who]) {
            isRecipient[who] = true;
            recipients.push(who);
        }
        ghostOwed[who] += amount;
    }
}
