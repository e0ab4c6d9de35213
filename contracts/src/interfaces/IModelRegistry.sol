// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IModelRegistry
/// @notice Models bound to datanet releases, with a price per 1,000 tokens and a revenue split.
interface IModelRegistry {
    /// @notice Revenue split in basis points; the four parts sum to 10 000.
    struct Split {
        uint16 ownerBps;
        uint16 dataBps;
        uint16 nodeBps;
        uint16 treasuryBps;
    }

    /// @notice A registered model.
    /// @param weightsHash sha256 of the GGUF weights file.
    /// @param pricePerKiloToken Fee for 1,000 tokens (input + output), in token base units, for receipts whose
    ///        deadline is before `nextPriceAt` (all receipts while no change is scheduled).
    /// @param nextPricePerKiloToken The price for receipts whose deadline is at or after `nextPriceAt`.
    /// @param nextPriceAt When the scheduled price applies (by receipt deadline); 0 while none is scheduled.
    /// @param releaseIds Releases its receipts are attributed over (at most `MAX_RELEASES`, one per datanet).
    /// @param baseModelId For an adapter, the model it was trained on top of; 0 for a whole model.
    /// @param baseShareBps For an adapter, the basis points of each fee paid to the base model's current owner,
    ///        carved out of the adapter owner's `split.ownerBps` (never above it): the base's derivative share
    ///        when the adapter was registered, fixed for the adapter's life. 0 for a whole model.
    struct Model {
        address owner;
        uint96 pricePerKiloToken;
        bytes32 weightsHash;
        Split split;
        uint96 nextPricePerKiloToken;
        uint64 nextPriceAt;
        uint64[] releaseIds;
        uint64 baseModelId;
        uint16 baseShareBps;
    }

    /// @notice What makes an adapter's training re-runnable, beyond its `Model` record.
    /// @param manifestHash sha256 of the training manifest (canonical JSON).
    /// @param trainedOnReleaseIds Releases whose documents the adapter was trained on; each is among the
    ///        model's `releaseIds`.
    struct Adapter {
        bytes32 manifestHash;
        uint64[] trainedOnReleaseIds;
    }

    /// @notice The arguments of `registerAdapter`.
    /// @param baseModelId The registered whole model the adapter applies to.
    /// @param adapterHash sha256 of the GGUF LoRA adapter file (the adapter's `weightsHash`).
    /// @param uri Where the adapter file can be fetched (emitted, not stored).
    /// @param manifestHash sha256 of the training manifest.
    /// @param manifestUri Where the training manifest can be fetched (emitted, not stored).
    /// @param releaseIds Releases its receipts are attributed over, as for `registerModel`.
    /// @param trainedOnReleaseIds Releases it was trained on: non-empty, distinct, each among `releaseIds`.
    /// @param pricePerKiloToken Fee per 1,000 tokens.
    /// @param split Revenue split; `ownerBps` includes the base owner's derivative share, so it must be at
    ///        least that share.
    /// @param maxBaseShareBps The most derivative share the registrant accepts: a raise by the base's owner
    ///        front-running the registration makes it revert (`BaseShareAboveMax`) instead of binding the
    ///        adapter to terms its owner did not see.
    struct AdapterRegistration {
        uint64 baseModelId;
        bytes32 adapterHash;
        string uri;
        bytes32 manifestHash;
        string manifestUri;
        uint64[] releaseIds;
        uint64[] trainedOnReleaseIds;
        uint96 pricePerKiloToken;
        Split split;
        uint16 maxBaseShareBps;
    }

    /// @notice A model was registered.
    event ModelRegistered(
        uint64 indexed modelId,
        address indexed owner,
        bytes32 indexed weightsHash,
        uint96 pricePerKiloToken,
        uint16 ownerBps,
        uint16 dataBps,
        uint16 nodeBps,
        uint16 treasuryBps,
        uint64[] releaseIds,
        string uri
    );
    /// @notice A model's price will change: receipts whose deadline is at or after `effectiveAt` pay
    ///         `pricePerKiloToken`.
    event ModelPriceSet(uint64 indexed modelId, uint96 pricePerKiloToken, uint64 effectiveAt);
    /// @notice Model `modelId` is an adapter on `baseModelId`, trained on `trainedOnReleaseIds` as its
    ///         manifest records; every receipt of it pays `baseShareBps` of its fee to the base's owner.
    ///         Emitted right after the adapter's `ModelRegistered`.
    event AdapterRegistered(
        uint64 indexed modelId,
        uint64 indexed baseModelId,
        bytes32 indexed manifestHash,
        uint16 baseShareBps,
        uint64[] trainedOnReleaseIds,
        string manifestUri
    );
    /// @notice The share (basis points of each fee) that adapters registered on `modelId` from now on pay its
    ///         owner; adapters registered before keep theirs.
    event DerivativeShareSet(uint64 indexed modelId, uint16 shareBps);
    /// @notice A model changed hands.
    event ModelOwnerSet(uint64 indexed modelId, address indexed owner);

    /// @notice The model does not exist.
    error UnknownModel(uint64 modelId);
    /// @notice The caller does not own the model.
    error NotModelOwner(uint64 modelId, address caller);
    /// @notice The split does not sum to 10 000 basis points.
    error InvalidSplit(uint256 sumBps);
    /// @notice A model needs 1..MAX_RELEASES distinct releases.
    error InvalidReleaseCount(uint256 given, uint256 max);
    /// @notice The same release was listed twice.
    error DuplicateRelease(uint64 releaseId);
    /// @notice Two of the releases belong to the same datanet (its contributors would be paid twice).
    error DuplicateDatanet(uint64 datanetId);
    /// @notice A price change is already scheduled and not yet in force.
    error PriceChangePending(uint64 effectiveAt);
    /// @notice The weights hash is zero.
    error ZeroWeightsHash();
    /// @notice The model is not an adapter.
    error NotAnAdapter(uint64 modelId);
    /// @notice The model is an adapter, where a whole model is required: an adapter cannot be the base of
    ///         another adapter, nor declare a derivative share.
    error BaseIsAdapter(uint64 baseModelId);
    /// @notice The training manifest hash is zero.
    error ZeroManifestHash();
    /// @notice An adapter names 1..MAX_RELEASES trained-on releases (a repeated one: `DuplicateRelease`).
    error InvalidTrainedOnCount(uint256 given, uint256 max);
    /// @notice A trained-on release is not among the releases the adapter's receipts attribute to.
    error TrainedOnReleaseNotBound(uint64 releaseId);
    /// @notice The base's derivative share is above what the registrant accepted.
    error BaseShareAboveMax(uint16 shareBps, uint16 maxShareBps);
    /// @notice The adapter's owner share is below the base's derivative share, which is carved out of it.
    error OwnerShareBelowBaseShare(uint16 ownerBps, uint16 baseShareBps);
    /// @notice A share above 10 000 basis points.
    error InvalidShare(uint256 shareBps);
    /// @notice A zero address was given where an account is required.
    error ZeroAddress();

    /// @notice Registers a model.
    /// @param weightsHash sha256 of the GGUF weights file.
    /// @param uri Where the weights can be fetched (emitted, not stored).
    /// @param releaseIds Releases the model binds to; each must exist, at most one per datanet.
    /// @param pricePerKiloToken Fee per 1,000 tokens.
    /// @param split Revenue split over owner / data / node / treasury.
    /// @return modelId The new model's id (1-based).
    function registerModel(
        bytes32 weightsHash,
        string calldata uri,
        uint64[] calldata releaseIds,
        uint96 pricePerKiloToken,
        Split calldata split
    ) external returns (uint64 modelId);

    /// @notice Registers a LoRA adapter on a whole model, owned by the caller. Its `Model` record carries the
    ///         base and the base's current derivative share, fixed for the adapter's life (so no signed
    ///         receipt of it ever changes terms); its `Adapter` record the training manifest and the trained-on
    ///         releases. Every receipt of the adapter pays `baseShareBps` of its fee to the base's owner at
    ///         settlement, out of the adapter owner's share. The hash, releases, price and split are checked as
    ///         for `registerModel`; emits `ModelRegistered` then `AdapterRegistered`.
    /// @param registration The adapter, its base, its training record, price and split.
    /// @return modelId The adapter's model id.
    function registerAdapter(AdapterRegistration calldata registration) external returns (uint64 modelId);

    /// @notice Declares the share (basis points of each fee, at most 10 000) that adapters registered on this
    ///         model from now on pay its owner; adapters already registered keep theirs. Only the model's owner;
    ///         not for adapters (`BaseIsAdapter`).
    function setDerivativeShare(uint64 modelId, uint16 shareBps) external;

    /// @notice Schedules a new price, which applies to receipts whose deadline is more than `priceNotice`
    ///         after now: every receipt already signed keeps the price it was signed at. Only the model's owner; one
    ///         change at a time (`PriceChangePending` until the last one is in force).
    function setPrice(uint64 modelId, uint96 pricePerKiloToken) external;

    /// @notice Hands a model to a new owner (who then receives the owner share). Only the model's owner.
    function setModelOwner(uint64 modelId, address owner) external;

    /// @notice The datanet registry releases are checked against.
    function datanets() external view returns (address);
    /// @notice Number of models registered.
    function modelCount() external view returns (uint64);
    /// @notice A model by id.
    function getModel(uint64 modelId) external view returns (Model memory);
    /// @notice An adapter's training record; reverts `NotAnAdapter` for a whole model.
    function getAdapter(uint64 modelId) external view returns (Adapter memory);
    /// @notice The derivative share adapters registered now on `modelId` would pay its owner (0 for an
    ///         adapter, which cannot be a base).
    function derivativeShareOf(uint64 modelId) external view returns (uint16);
    /// @notice A new price applies to receipts whose deadline is more than `priceNotice` seconds after
    ///         `setPrice`. The escrow
    ///         keeps its longest receipt lifetime at most this, so no signed receipt changes price.
    function priceNotice() external view returns (uint64);
    /// @notice The price per 1,000 tokens of a receipt with deadline `deadline`.
    function priceAt(uint64 modelId, uint64 deadline) external view returns (uint96);
    /// @notice The fee for `tokens` tokens of a receipt with deadline `deadline`: priceAt × tokens / 1000,
    ///         rounded down.
    function quoteFee(uint64 modelId, uint256 tokens, uint64 deadline) external view returns (uint256);
}
