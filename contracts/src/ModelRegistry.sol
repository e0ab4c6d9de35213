// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IDatanetRegistry} from "./interfaces/IDatanetRegistry.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";

/// @title ModelRegistry
/// @notice Models (GGUF weights by hash) bound to datanet releases, with a price per 1,000 tokens and a
///         basis-point revenue split.
contract ModelRegistry is IModelRegistry {
    /// @notice Most releases a model can bind to.
    uint256 public constant MAX_RELEASES = 8;
    /// @notice Basis points in a whole split.
    uint256 public constant BPS = 10_000;

    /// @dev A model as stored: `Model`'s fields reordered to pack into five slots (in `Model`'s ABI order the
    ///      split's slot cannot be shared and the adapter fields would take a sixth), plus the derivative share
    ///      a whole model declares. Settlement reads every slot of the record once per model per batch.
    struct Record {
        // slot 0
        address owner;
        uint96 pricePerKiloToken;
        // slot 1
        bytes32 weightsHash;
        // slot 2 (32 bytes): the scheduled price, and the derivative terms
        uint96 nextPricePerKiloToken;
        uint64 nextPriceAt;
        uint64 baseModelId; // an adapter's base; 0 for a whole model
        uint16 baseShareBps; // an adapter's derivative share, fixed at its registration
        uint16 derivativeShareBps; // a whole model's share for adapters registered on it from now on
        // slot 3
        Split split;
        // slot 4
        uint64[] releaseIds;
    }

    IDatanetRegistry private immutable _datanets;

    /// @inheritdoc IModelRegistry
    uint64 public immutable priceNotice;

    /// @inheritdoc IModelRegistry
    uint64 public modelCount;

    mapping(uint64 modelId => Record) private _models;
    mapping(uint64 modelId => Adapter) private _adapters;

    /// @param datanets_ The registry releases are checked against.
    /// @param priceNotice_ Seconds from `setPrice` to the first receipt deadline the new price applies to.
    constructor(address datanets_, uint64 priceNotice_) {
        if (datanets_ == address(0)) revert ZeroAddress();
        _datanets = IDatanetRegistry(datanets_);
        priceNotice = priceNotice_;
    }

    /// @inheritdoc IModelRegistry
    function registerModel(
        bytes32 weightsHash,
        string calldata uri,
        uint64[] calldata releaseIds,
        uint96 pricePerKiloToken,
        Split calldata split
    ) external returns (uint64 modelId) {
        Record storage m;
        (modelId, m) = _register(weightsHash, releaseIds, pricePerKiloToken, split);
        _emitRegistered(modelId, m, uri);
    }

    /// @inheritdoc IModelRegistry
    /// @dev Checks the base, the manifest and the derivative share first, then the trained-on releases against
    ///      the given `releaseIds` (which `_register` then checks as for any model).
    function registerAdapter(AdapterRegistration calldata registration) external returns (uint64 modelId) {
        AdapterRegistration calldata r = registration;
        uint64 baseId = r.baseModelId;
        Record storage base = _model(baseId);
        if (base.baseModelId != 0) revert BaseIsAdapter(baseId);
        if (r.manifestHash == bytes32(0)) revert ZeroManifestHash();
        uint16 share = base.derivativeShareBps;
        if (share > r.maxBaseShareBps) revert BaseShareAboveMax(share, r.maxBaseShareBps);
        if (r.split.ownerBps < share) revert OwnerShareBelowBaseShare(r.split.ownerBps, share);
        _checkTrainedOn(r.trainedOnReleaseIds, r.releaseIds);
        Record storage m;
        (modelId, m) = _register(r.adapterHash, r.releaseIds, r.pricePerKiloToken, r.split);
        m.baseModelId = baseId;
        m.baseShareBps = share;
        Adapter storage a = _adapters[modelId];
        a.manifestHash = r.manifestHash;
        a.trainedOnReleaseIds = r.trainedOnReleaseIds;
        _emitRegistered(modelId, m, r.uri);
        emit AdapterRegistered(modelId, baseId, r.manifestHash, share, r.trainedOnReleaseIds, r.manifestUri);
    }

    /// @inheritdoc IModelRegistry
    function setDerivativeShare(uint64 modelId, uint16 shareBps) external {
        Record storage m = _ownedModel(modelId);
        if (m.baseModelId != 0) revert BaseIsAdapter(modelId);
        if (shareBps > BPS) revert InvalidShare(shareBps);
        m.derivativeShareBps = shareBps;
        emit DerivativeShareSet(modelId, shareBps);
    }

    /// @inheritdoc IModelRegistry
    /// @dev A change already in force is folded into `pricePerKiloToken` first: receipts that could still
    ///      need the price before it have deadlines in the past.
    function setPrice(uint64 modelId, uint96 pricePerKiloToken) external {
        Record storage m = _ownedModel(modelId);
        uint64 pendingAt = m.nextPriceAt;
        if (pendingAt != 0) {
            // forge-lint: disable-next-line(block-timestamp) -- spans of hours to days
            if (block.timestamp < pendingAt) revert PriceChangePending(pendingAt);
            m.pricePerKiloToken = m.nextPricePerKiloToken;
        }
        // The second after the notice: a receipt signed in this very second has a deadline of at most now +
        // priceNotice (the escrow keeps receipt lifetimes within the notice), so it keeps the old price.
        uint64 effectiveAt = uint64(block.timestamp) + priceNotice + 1;
        m.nextPricePerKiloToken = pricePerKiloToken;
        m.nextPriceAt = effectiveAt;
        emit ModelPriceSet(modelId, pricePerKiloToken, effectiveAt);
    }

    /// @inheritdoc IModelRegistry
    function setModelOwner(uint64 modelId, address owner) external {
        Record storage m = _ownedModel(modelId);
        if (owner == address(0)) revert ZeroAddress();
        m.owner = owner;
        emit ModelOwnerSet(modelId, owner);
    }

    /// @inheritdoc IModelRegistry
    function datanets() external view returns (address) {
        return address(_datanets);
    }

    /// @inheritdoc IModelRegistry
    function getModel(uint64 modelId) external view returns (Model memory model) {
        Record storage m = _model(modelId);
        model.owner = m.owner;
        model.pricePerKiloToken = m.pricePerKiloToken;
        model.weightsHash = m.weightsHash;
        model.split = m.split;
        model.nextPricePerKiloToken = m.nextPricePerKiloToken;
        model.nextPriceAt = m.nextPriceAt;
        model.releaseIds = m.releaseIds;
        model.baseModelId = m.baseModelId;
        model.baseShareBps = m.baseShareBps;
    }

    /// @inheritdoc IModelRegistry
    function getAdapter(uint64 modelId) external view returns (Adapter memory) {
        if (_model(modelId).baseModelId == 0) revert NotAnAdapter(modelId);
        return _adapters[modelId];
    }

    /// @inheritdoc IModelRegistry
    function derivativeShareOf(uint64 modelId) external view returns (uint16) {
        return _model(modelId).derivativeShareBps;
    }

    /// @inheritdoc IModelRegistry
    function priceAt(uint64 modelId, uint64 deadline) public view returns (uint96) {
        Record storage m = _model(modelId);
        uint64 nextAt = m.nextPriceAt;
        return nextAt != 0 && deadline >= nextAt ? m.nextPricePerKiloToken : m.pricePerKiloToken;
    }

    /// @inheritdoc IModelRegistry
    function quoteFee(uint64 modelId, uint256 tokens, uint64 deadline) external view returns (uint256) {
        return uint256(priceAt(modelId, deadline)) * tokens / 1000;
    }

    /// @dev Checks and stores what every model has. Each release is looked up in the DatanetRegistry, whose
    ///      `UnknownRelease` error bubbles up.
    // slither-disable-next-line calls-loop
    function _register(
        bytes32 weightsHash,
        uint64[] calldata releaseIds,
        uint96 pricePerKiloToken,
        Split calldata split
    ) private returns (uint64 modelId, Record storage m) {
        if (weightsHash == bytes32(0)) revert ZeroWeightsHash();
        uint256 n = releaseIds.length;
        if (n == 0 || n > MAX_RELEASES) revert InvalidReleaseCount(n, MAX_RELEASES);
        uint256 sumBps = uint256(split.ownerBps) + split.dataBps + split.nodeBps + split.treasuryBps;
        if (sumBps != BPS) revert InvalidSplit(sumBps);
        uint64[] memory datanetIds = new uint64[](n);
        for (uint256 i; i < n; ++i) {
            uint64 releaseId = releaseIds[i];
            uint64 datanetId = _datanets.getRelease(releaseId).datanetId;
            for (uint256 j; j < i; ++j) {
                if (releaseIds[j] == releaseId) revert DuplicateRelease(releaseId);
                if (datanetIds[j] == datanetId) revert DuplicateDatanet(datanetId);
            }
            datanetIds[i] = datanetId;
        }
        modelId = ++modelCount;
        m = _models[modelId];
        m.owner = msg.sender;
        m.pricePerKiloToken = pricePerKiloToken;
        m.weightsHash = weightsHash;
        m.split = split;
        m.releaseIds = releaseIds;
    }

    /// @dev `trainedOn` is 1..MAX_RELEASES distinct releases, each among `bound` (the adapter's releases, at
    ///      most MAX_RELEASES, checked afterwards).
    function _checkTrainedOn(uint64[] calldata trainedOn, uint64[] calldata bound) private pure {
        uint256 n = trainedOn.length;
        if (n == 0 || n > MAX_RELEASES) revert InvalidTrainedOnCount(n, MAX_RELEASES);
        for (uint256 i; i < n; ++i) {
            uint64 releaseId = trainedOn[i];
            for (uint256 j; j < i; ++j) {
                if (trainedOn[j] == releaseId) revert DuplicateRelease(releaseId);
            }
            if (!_contains(bound, releaseId)) revert TrainedOnReleaseNotBound(releaseId);
        }
    }

    function _contains(uint64[] calldata ids, uint64 id) private pure returns (bool) {
        for (uint256 j; j < ids.length; ++j) {
            if (ids[j] == id) return true;
        }
        return false;
    }

    function _emitRegistered(uint64 modelId, Record storage m, string calldata uri) private {
        Split memory split = m.split;
        emit ModelRegistered(
            modelId,
            m.owner,
            m.weightsHash,
            m.pricePerKiloToken,
            split.ownerBps,
            split.dataBps,
            split.nodeBps,
            split.treasuryBps,
            m.releaseIds,
            uri
        );
    }

    function _model(uint64 modelId) private view returns (Record storage m) {
        m = _models[modelId];
        if (m.owner == address(0)) revert UnknownModel(modelId);
    }

    function _ownedModel(uint64 modelId) private view returns (Record storage m) {
        m = _model(modelId);
        if (msg.sender != m.owner) revert NotModelOwner(modelId, msg.sender);
    }
}
