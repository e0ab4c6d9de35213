// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {DatanetRegistry} from "../../src/DatanetRegistry.sol";
import {ModelRegistry} from "../../src/ModelRegistry.sol";
import {SoilToken} from "../../src/SoilToken.sol";
import {UsageEscrow} from "../../src/UsageEscrow.sol";
import {IModelRegistry} from "../../src/interfaces/IModelRegistry.sol";
import {EscrowHandler} from "./EscrowHandler.sol";

/// @notice `EscrowHandler` with adapters: the whole models' owners declare and change derivative shares and
///         hand their models over, adapters are registered on them (sometimes with a `maxBaseShareBps` below the
///         share, which must revert), and the node signs receipts of adapters as of any model, interleaved with
///         everything else the base handler does.
/// @dev Ghosts: each adapter's derivative share as the handler saw it declared when the adapter registered
///      (never re-read), the base owner credited per settled adapter receipt being the base's owner at the time,
///      and three totals: what base owners were credited as derivative shares, what whole models paid their
///      owners, and the owner shares of adapter receipts. The whole models' owners (`baseOwnerPool`) and the
///      adapters' owners (`adapterOwnerPool`) receive nothing else, so the invariant test can check each pool's
///      balances against those totals.
contract EscrowAdapterHandler is EscrowHandler {
    uint256 internal constant MAX_ADAPTERS = 5;

    DatanetRegistry internal immutable registry;

    uint64[] internal wholeModels;
    address[] public baseOwnerPool; // who may own the whole models (the first owns them at the start)
    address[] public adapterOwnerPool;
    mapping(uint64 modelId => uint64) internal baseOf; // adapter => its base; 0 for a whole model
    mapping(uint64 modelId => uint256) internal shareOf; // adapter => the share it registered with
    mapping(uint64 modelId => uint16) internal declared; // whole model => its current derivative share

    uint256 public ghostDerivativeCredited; // Σ fee × baseShareBps / BPS over settled adapter receipts
    uint256 public ghostWholeOwnerShares; // Σ owner shares of settled whole-model receipts
    uint256 public ghostAdapterOwnerShares; // Σ fee × ownerBps / BPS over settled adapter receipts
    uint256 public ghostAdapterReceipts;
    uint256 public ghostAdaptersRegistered;
    uint256 public ghostShareChanges;
    uint256 public ghostBaseHandovers;

    constructor(
        SoilToken token_,
        UsageEscrow escrow_,
        ModelRegistry models_,
        DatanetRegistry datanets_,
        address minter_,
        address treasury_,
        uint64[] memory modelIds,
        address[] memory nodes_,
        uint64 outsider_
    ) EscrowHandler(token_, escrow_, models_, datanets_, minter_, treasury_, modelIds, nodes_, outsider_) {
        registry = datanets_;
        for (uint256 j; j < modelIds.length; ++j) {
            wholeModels.push(modelIds[j]);
            address owner_ = models_.getModel(modelIds[j]).owner;
            if (baseOwnerPool.length == 0) baseOwnerPool.push(owner_);
        }
        for (uint256 k; k < 2; ++k) {
            baseOwnerPool.push(makeAddr(string.concat("baseOwner", vm.toString(k))));
            adapterOwnerPool.push(makeAddr(string.concat("adapterOwner", vm.toString(k))));
        }
        for (uint256 k; k < baseOwnerPool.length; ++k) {
            _addRecipient(baseOwnerPool[k]);
        }
        for (uint256 k; k < adapterOwnerPool.length; ++k) {
            _addRecipient(adapterOwnerPool[k]);
        }
    }

    function baseOwnerPoolLength() external view returns (uint256) {
        return baseOwnerPool.length;
    }

    function adapterOwnerPoolLength() external view returns (uint256) {
        return adapterOwnerPool.length;
    }

    // ------------------------------------------------------------- adapters

    /// @notice An adapter owner registers an adapter on a whole model, bound to the base's releases (or the
    ///         first of them), trained on the first, with an owner share at least the base's current share.
    ///         One time in six it accepts less than that share: the registration must revert.
    function registerAdapter(uint256 seed) external useTime {
        if (ghostAdaptersRegistered >= MAX_ADAPTERS) return;
        uint64 base = wholeModels[seed % wholeModels.length];
        uint16 share = declared[base];
        Terms storage bt = terms[modelIndex[base]];
        IModelRegistry.AdapterRegistration memory r;
        r.baseModelId = base;
        r.adapterHash = keccak256(abi.encode("adapter", seed));
        r.uri = "http://127.0.0.1:8080/v1/adapters/a.gguf";
        r.manifestHash = keccak256(abi.encode("manifest", seed));
        r.manifestUri = "http://127.0.0.1:8080/v1/adapters/a.manifest.json";
        r.releaseIds = new uint64[]((seed >> 8) % 2 == 0 ? bt.releases.length : 1);
        for (uint256 j; j < r.releaseIds.length; ++j) {
            r.releaseIds[j] = bt.releases[j];
        }
        r.trainedOnReleaseIds = new uint64[](1);
        r.trainedOnReleaseIds[0] = bt.releases[0];
        r.pricePerKiloToken = uint96(bound(seed >> 16, 1e9, 5e18));
        uint16 ownerBps = uint16(bound(seed >> 40, share, 10_000));
        uint16 dataBps = uint16(bound(seed >> 56, 0, 10_000 - ownerBps));
        uint16 nodeBps = uint16(bound(seed >> 72, 0, 10_000 - ownerBps - dataBps));
        r.split = IModelRegistry.Split({
            ownerBps: ownerBps,
            dataBps: dataBps,
            nodeBps: nodeBps,
            treasuryBps: 10_000 - ownerBps - dataBps - nodeBps
        });
        r.maxBaseShareBps = uint16(bound(seed >> 88, share, 10_000));
        address owner_ = adapterOwnerPool[(seed >> 104) % adapterOwnerPool.length];
        vm.prank(owner_);
        if (share != 0 && (seed >> 112) % 6 == 0) {
            r.maxBaseShareBps = share - 1;
            try models.registerAdapter(r) {
                ++ghostUnexpectedSuccess;
            } catch (bytes memory err) {
                if (bytes4(err) != IModelRegistry.BaseShareAboveMax.selector) ++ghostWrongSkipReason;
            }
            return;
        }
        uint64 id = models.registerAdapter(r);
        (baseOf[id], shareOf[id]) = (base, share);
        if (models.getModel(id).baseShareBps != share) ++ghostEventMismatch;
        _loadModel(models, registry, id);
        ++ghostAdaptersRegistered;
    }

    /// @notice A whole model's owner declares a new derivative share (one time in eight above 10 000:
    ///         refused). Adapters already registered, and their receipts already signed, keep their terms.
    function setDerivativeShare(uint256 seed) external useTime {
        uint64 base = wholeModels[seed % wholeModels.length];
        address owner_ = terms[modelIndex[base]].owner;
        vm.prank(owner_);
        if ((seed >> 8) % 8 == 0) {
            try models.setDerivativeShare(base, uint16(bound(seed >> 16, 10_001, type(uint16).max))) {
                ++ghostUnexpectedSuccess;
            } catch {}
            return;
        }
        // Often a round figure, sometimes the whole fee.
        uint16 share = (seed >> 16) % 5 == 0 ? 10_000 : uint16(bound(seed >> 24, 0, 5000));
        models.setDerivativeShare(base, share);
        declared[base] = share;
        ++ghostShareChanges;
    }

    /// @notice A whole model changes hands within the base owner pool: its owner share and the derivative share
    ///         of its adapters' receipts settled from now on go to the new owner.
    function handOverBase(uint256 seed) external useTime {
        uint64 base = wholeModels[seed % wholeModels.length];
        Terms storage t = terms[modelIndex[base]];
        address next = baseOwnerPool[(seed >> 8) % baseOwnerPool.length];
        vm.prank(t.owner);
        models.setModelOwner(base, next);
        t.owner = next;
        ++ghostBaseHandovers;
    }

    // ------------------------------------------------------------- booking

    /// @dev An adapter's receipt: `fee × share / BPS` (the share it registered with) to its base's current
    ///      owner, the rest of the owner share to the adapter's owner.
    function _bookOwnerShare(Terms storage t, uint256 fee, uint256 ownerShare) internal override {
        uint64 base = baseOf[t.id];
        if (base == 0) {
            ghostOwed[t.owner] += ownerShare;
            ghostWholeOwnerShares += ownerShare;
            return;
        }
        uint256 baseShare = fee * shareOf[t.id] / BPS;
        ghostOwed[terms[modelIndex[base]].owner] += baseShare;
        ghostOwed[t.owner] += ownerShare - baseShare;
        ghostDerivativeCredited += baseShare;
        ghostAdapterOwnerShares += ownerShare;
        ++ghostAdapterReceipts;
    }
}
