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
    /// @param releaseIds Releases the model was trained on (at most `MAX_RELEASES`, one per datanet).
    struct Model {
        address owner;
        uint96 pricePerKiloToken;
        bytes32 weightsHash;
        Split split;
        uint96 nextPricePerKiloToken;
        uint64 nextPriceAt;
        uint64[] releaseIds;
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
