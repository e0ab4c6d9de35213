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

    IDatanetRegistry private immutable _datanets;

    /// @inheritdoc IModelRegistry
    uint64 public modelCount;

    mapping(uint64 modelId => Model) private _models;

    /// @param datanets_ The registry releases are checked against.
    constructor(address datanets_) {
        if (datanets_ == address(0)) revert ZeroAddress();
        _datanets = IDatanetRegistry(datanets_);
    }

    /// @inheritdoc IModelRegistry
    /// @dev Each release is looked up in the DatanetRegistry, whose `UnknownRelease` error bubbles up.
    function registerModel(
        bytes32 weightsHash,
        string calldata uri,
        uint64[] calldata releaseIds,
        uint96 pricePerKiloToken,
        Split calldata split
    ) external returns (uint64 modelId) {
        if (weightsHash == bytes32(0)) revert ZeroWeightsHash();
        uint256 n = releaseIds.length;
        if (n == 0 || n > MAX_RELEASES) revert InvalidReleaseCount(n, MAX_RELEASES);
        uint256 sumBps = uint256(split.ownerBps) + split.dataBps + split.nodeBps + split.treasuryBps;
        if (sumBps != BPS) revert InvalidSplit(sumBps);
        for (uint256 i; i < n; ++i) {
            uint64 releaseId = releaseIds[i];
            for (uint256 j; j < i; ++j) {
                if (releaseIds[j] == releaseId) revert DuplicateRelease(releaseId);
            }
            // Called for its `UnknownRelease` revert: the release's content is not needed here.
            // slither-disable-next-line unused-return
            _datanets.getRelease(releaseId);
        }
        modelId = ++modelCount;
        Model storage m = _models[modelId];
        m.owner = msg.sender;
        m.pricePerKiloToken = pricePerKiloToken;
        m.weightsHash = weightsHash;
        m.split = split;
        m.releaseIds = releaseIds;
        _emitRegistered(modelId, m, uri);
    }

    /// @inheritdoc IModelRegistry
    function setPrice(uint64 modelId, uint96 pricePerKiloToken) external {
        Model storage m = _ownedModel(modelId);
        m.pricePerKiloToken = pricePerKiloToken;
        emit ModelPriceSet(modelId, pricePerKiloToken);
    }

    /// @inheritdoc IModelRegistry
    function setModelOwner(uint64 modelId, address owner) external {
        Model storage m = _ownedModel(modelId);
        if (owner == address(0)) revert ZeroAddress();
        m.owner = owner;
        emit ModelOwnerSet(modelId, owner);
    }

    /// @inheritdoc IModelRegistry
    function datanets() external view returns (address) {
        return address(_datanets);
    }

    /// @inheritdoc IModelRegistry
    function getModel(uint64 modelId) external view returns (Model memory) {
        return _model(modelId);
    }

    /// @inheritdoc IModelRegistry
    function quoteFee(uint64 modelId, uint256 tokens) external view returns (uint256) {
        return uint256(_model(modelId).pricePerKiloToken) * tokens / 1000;
    }

    /// @dev Emits from storage to keep the stack shallow.
    function _emitRegistered(uint64 modelId, Model storage m, string calldata uri) private {
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

    function _model(uint64 modelId) private view returns (Model storage m) {
        m = _models[modelId];
        if (m.owner == address(0)) revert UnknownModel(modelId);
    }

    function _ownedModel(uint64 modelId) private view returns (Model storage m) {
        m = _model(modelId);
        if (msg.sender != m.owner) revert NotModelOwner(modelId, msg.sender);
    }
}
