// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {UsageChannels} from "../../src/UsageChannels.sol";
import {IUsageChannels} from "../../src/interfaces/IUsageChannels.sol";
import {IUsageEscrow} from "../../src/interfaces/IUsageEscrow.sol";
import {Base} from "./Base.t.sol";
import {ReceiptSplit} from "./ReceiptSplit.sol";

/// @notice Base plus the channels contract wired to the escrow, and the client's side of a channel: period
///         totals summed receipt by receipt with the escrow's rounding, vouchers built from them and signed
///         with an independently computed EIP-712 digest.
abstract contract ChannelBase is Base {
    bytes32 internal constant VOUCHER_TYPEHASH = keccak256(
        "Voucher(uint64 channelId,uint32 period,uint32 inferences,uint256 startFee,uint256 fee,uint256 ownerShare,uint256 baseShare,uint256 nodeShare,uint256 dataShare,uint64[] contributionIds,uint256[] contributionAmounts,bytes32 logRoot)"
    );
    uint256 internal constant CHANNEL_DEPOSIT = 100e18;
    bytes32 internal constant LOG_ROOT = keccak256("log");
    string internal constant LOG_URI = "http://127.0.0.1:8080/v1/logs/0x01";

    UsageChannels internal channels;

    /// @dev A period's totals as the payer's client keeps them. `byId[id]` is contribution `id`'s sum.
    struct Totals {
        uint32 inferences;
        uint256 fee;
        uint256 owner;
        uint256 base;
        uint256 node;
        uint256 data;
        uint256[] byId;
    }

    function setUp() public virtual override {
        super.setUp();
        vm.startPrank(owner);
        channels = new UsageChannels(address(escrow));
        escrow.setChannels(address(channels));
        vm.stopPrank();
    }

    /// @dev Opens a channel from the fixture's payer to the fixture's node for `model`, signed by the payer.
    function _open(uint64 model, uint256 deposit) internal returns (uint64 id) {
        _mintTo(payer, deposit);
        vm.prank(payer);
        id = channels.open(node, model, payer, deposit);
    }

    function _mintTo(address who, uint256 amount) internal {
        vm.prank(owner);
        token.mint(who, amount);
        vm.prank(who);
        token.approve(address(channels), amount);
    }

    function _totals() internal view returns (Totals memory t) {
        t.byId = new uint256[](datanets.contributionCount() + 1);
    }

    /// @dev Adds one receipt of `fee` attributed by `a` for `model`, each product rounded down as `settle`
    ///      rounds it.
    function _add(Totals memory t, uint64 model, uint256 fee, IUsageEscrow.Attribution memory a)
        internal
        view
    {
        ReceiptSplit.Parts memory parts = ReceiptSplit.parts(models.getModel(model), fee);
        t.inferences += 1;
        t.fee += fee;
        t.owner += parts.owner;
        t.base += parts.base;
        t.node += parts.node;
        t.data += parts.data;
        for (uint256 k; k < a.contributionIds.length; ++k) {
            t.byId[a.contributionIds[k]] += parts.data * a.weightsPpm[k] / 1_000_000;
        }
    }

    /// @dev The fee of `tokens` tokens of `model` at the price in force now.
    function _fee(uint64 model, uint256 tokens) internal view returns (uint256) {
        return uint256(models.getModel(model).pricePerKiloToken) * tokens / 1000;
    }

    function _voucher(uint64 channelId, uint32 period, uint256 startFee, Totals memory t)
        internal
        pure
        returns (IUsageChannels.Voucher memory v)
    {
        uint256 count;
        for (uint256 id; id < t.byId.length; ++id) {
            if (t.byId[id] != 0) ++count;
        }
        v.contributionIds = new uint64[](count);
        v.contributionAmounts = new uint256[](count);
        uint256 k;
        for (uint256 id; id < t.byId.length; ++id) {
            if (t.byId[id] == 0) continue;
            (v.contributionIds[k], v.contributionAmounts[k]) = (uint64(id), t.byId[id]);
            ++k;
        }
        v.channelId = channelId;
        v.period = period;
        v.inferences = t.inferences;
        v.startFee = startFee;
        v.fee = startFee + t.fee;
        v.ownerShare = t.owner;
        v.baseShare = t.base;
        v.nodeShare = t.node;
        v.dataShare = t.data;
        v.logRoot = LOG_ROOT;
    }

    /// @dev The EIP-712 digest computed from the type strings, without asking the contract.
    function _voucherDigest(IUsageChannels.Voucher memory v) internal view returns (bytes32) {
        bytes32 domain = keccak256(
            abi.encode(
                DOMAIN_TYPEHASH,
                keccak256("Soil UsageChannels"),
                keccak256("1"),
                block.chainid,
                address(channels)
            )
        );
        bytes32 structHash = keccak256(
            bytes.concat(
                abi.encode(
                    VOUCHER_TYPEHASH,
                    v.channelId,
                    v.period,
                    v.inferences,
                    v.startFee,
                    v.fee,
                    v.ownerShare,
                    v.baseShare,
                    v.nodeShare,
                    v.dataShare
                ),
                abi.encode(
                    keccak256(abi.encodePacked(v.contributionIds)),
                    keccak256(abi.encodePacked(v.contributionAmounts)),
                    v.logRoot
                )
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }

    function _signVoucher(uint256 key, IUsageChannels.Voucher memory v) internal view returns (bytes memory) {
        (uint8 sv, bytes32 r, bytes32 s) = vm.sign(key, _voucherDigest(v));
        return abi.encodePacked(r, s, sv);
    }

    /// @dev Settles `v` signed by the payer, as the node.
    function _settleSigned(IUsageChannels.Voucher memory v) internal returns (uint256) {
        bytes memory sig = _signVoucher(payerKey, v);
        vm.prank(node);
        return channels.settle(v, sig, LOG_URI);
    }

    /// @dev `count` receipts of 500 tokens with the default attribution, as one period's totals.
    function _defaultTotals(uint256 count) internal view returns (Totals memory t) {
        t = _totals();
        for (uint256 i; i < count; ++i) {
            _add(t, modelId, _fee(modelId, 500), _defaultAttribution());
        }
    }

    /// @dev token.balanceOf(channels) == Σ open channels' deposit − settled fee, over channels 1…count.
    function _assertChannelsSolvent() internal view {
        uint256 owed;
        for (uint64 id = 1; id <= channels.channelCount(); ++id) {
            IUsageChannels.Channel memory c = channels.getChannel(id);
            if (c.open) owed += c.deposit - c.settledFee;
        }
        assertEq(token.balanceOf(address(channels)), owed, "channels balance != open deposits - settled");
    }
}
