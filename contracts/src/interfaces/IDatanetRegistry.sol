// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IDatanetRegistry
/// @notice Community datasets ("datanets"): contributions staked by their authors, reviewed by curators,
///         and published as releases that models bind to.
/// @dev A release snapshots the datanet's accepted set at publication time: it holds exactly the
///      contributions whose `acceptedSeq` is in `1..contributionCount`. Acceptance is final, so the
///      accepted set only grows and membership in a release is an O(1) check.
interface IDatanetRegistry {
    /// @notice Review state of a contribution.
    enum ContributionStatus {
        None,
        Pending,
        Accepted,
        Rejected,
        Withdrawn
    }

    /// @notice A datanet.
    /// @param owner Creator; manages the curator set.
    /// @param minStake Smallest stake a contribution must lock.
    /// @param acceptedCount Accepted contributions so far (the last `acceptedSeq` handed out).
    /// @param acceptedTokens Σ token count of accepted contributions.
    /// @param releaseCount Releases published so far.
    /// @param reviewWindow Seconds a contribution may wait for review; past it, its contributor may withdraw
    ///        it and take the stake back.
    /// @param maxContributionTokens Largest token count one contribution may declare: what bounds the share
    ///        of a release pool a single declaration can take.
    /// @param curatorCount Curators enabled now; a datanet without one takes no contributions.
    struct Datanet {
        address owner;
        uint96 minStake;
        uint32 acceptedCount;
        uint64 acceptedTokens;
        uint32 releaseCount;
        uint64 reviewWindow;
        uint32 maxContributionTokens;
        uint32 curatorCount;
    }

    /// @notice A contribution. Settlement reads only the contributor, datanet and `acceptedSeq` (nonzero once
    ///         accepted), which the registry packs into one storage slot.
    /// @param acceptedSeq 1-based position in the datanet's accepted set; 0 unless accepted.
    /// @param unlockAt Pending: when the review window closes and the contributor may withdraw the
    ///        contribution. Accepted: when the stake may be withdrawn.
    struct Contribution {
        address contributor;
        uint64 datanetId;
        uint32 acceptedSeq;
        ContributionStatus status;
        bytes32 contentHash;
        uint96 stake;
        uint32 tokenCount;
        uint64 unlockAt;
        bool stakeReturned;
    }

    /// @notice A release: the first `contributionCount` accepted contributions of a datanet.
    /// @param root Merkle root over the leaves keccak256(abi.encode(contributionId, contentHash)) in
    ///        `acceptedSeq` order (OpenZeppelin MerkleProof conventions: sorted pairs).
    struct Release {
        uint64 datanetId;
        uint32 contributionCount;
        uint64 tokenCount;
        bytes32 root;
    }

    /// @notice Per-contributor reputation counters.
    struct Reputation {
        uint32 accepted;
        uint32 rejected;
        uint64 acceptedTokens;
        uint128 slashed;
    }

    /// @notice A datanet was created.
    event DatanetCreated(
        uint64 indexed datanetId,
        address indexed owner,
        uint96 minStake,
        uint64 reviewWindow,
        uint32 maxContributionTokens,
        string metadataURI
    );
    /// @notice A curator was added to or removed from a datanet.
    event CuratorSet(uint64 indexed datanetId, address indexed curator, bool enabled);
    /// @notice A contribution was submitted and its stake pulled.
    event ContributionSubmitted(
        uint64 indexed contributionId,
        uint64 indexed datanetId,
        address indexed contributor,
        bytes32 contentHash,
        uint32 tokenCount,
        uint96 stake,
        string uri
    );
    /// @notice A curator accepted or rejected a contribution. `slashed` is the stake sent to the treasury.
    event ContributionReviewed(
        uint64 indexed contributionId,
        uint64 indexed datanetId,
        address indexed curator,
        bool accepted,
        uint32 acceptedSeq,
        uint96 slashed
    );
    /// @notice An accepted contribution's stake went back to its contributor.
    event StakeReturned(uint64 indexed contributionId, address indexed contributor, uint96 amount);
    /// @notice A contribution left unreviewed past its datanet's review window was withdrawn by its
    ///         contributor, and its stake went back.
    event ContributionWithdrawn(
        uint64 indexed contributionId, uint64 indexed datanetId, address indexed contributor, uint96 amount
    );
    /// @notice A release was published.
    event ReleasePublished(
        uint64 indexed releaseId,
        uint64 indexed datanetId,
        bytes32 root,
        uint32 contributionCount,
        uint64 tokenCount
    );
    /// @notice The stake lock period changed.
    event StakeLockPeriodSet(uint64 period);
    /// @notice The address receiving slashed stakes changed.
    event TreasurySet(address indexed treasury);

    /// @notice The datanet does not exist.
    error UnknownDatanet(uint64 datanetId);
    /// @notice The contribution does not exist.
    error UnknownContribution(uint64 contributionId);
    /// @notice The release does not exist.
    error UnknownRelease(uint64 releaseId);
    /// @notice The caller is not a curator of the datanet.
    error NotCurator(uint64 datanetId, address caller);
    /// @notice The caller is not the datanet's owner.
    error NotDatanetOwner(uint64 datanetId, address caller);
    /// @notice More curators than `MAX_CURATORS` were given at creation.
    error TooManyCurators(uint256 given, uint256 max);
    /// @notice A zero address was given where an account is required.
    error ZeroAddress();
    /// @notice The stake is below the datanet's minimum.
    error StakeTooLow(uint96 stake, uint96 minStake);
    /// @notice A contribution must hold at least one token.
    error ZeroTokenCount();
    /// @notice The content hash is zero.
    error ZeroContentHash();
    /// @notice The contribution was already reviewed.
    error AlreadyReviewed(uint64 contributionId, ContributionStatus status);
    /// @notice Curators may not review their own contributions.
    error SelfReview(uint64 contributionId);
    /// @notice Only an accepted contribution's stake can be returned.
    error NotAccepted(uint64 contributionId);
    /// @notice The stake is still locked.
    error StakeLocked(uint64 contributionId, uint64 unlockAt);
    /// @notice The stake was already returned.
    error StakeAlreadyReturned(uint64 contributionId);
    /// @notice Only the contributor may withdraw a stake.
    error NotContributor(uint64 contributionId, address caller);
    /// @notice The release's count does not match the datanet's accepted count (another review landed first).
    error ReleaseCountMismatch(uint32 given, uint32 acceptedCount);
    /// @notice A release must hold at least one contribution and a nonzero root.
    error EmptyRelease();
    /// @notice The stake lock period is above `MAX_STAKE_LOCK`.
    error StakeLockTooLong(uint64 period, uint64 max);
    /// @notice The review window is zero or above `MAX_REVIEW_WINDOW`.
    error InvalidReviewWindow(uint64 window, uint64 max);
    /// @notice A datanet's largest contribution must allow at least one token.
    error ZeroMaxContributionTokens();
    /// @notice The datanet has no curator, so nobody could review the contribution.
    error NoCurators(uint64 datanetId);
    /// @notice The declared token count is above the datanet's `maxContributionTokens`.
    error TooManyTokens(uint32 tokenCount, uint32 maxContributionTokens);
    /// @notice Only a pending contribution can be withdrawn.
    error NotPending(uint64 contributionId, ContributionStatus status);
    /// @notice The contribution's review window is still open.
    error ReviewWindowOpen(uint64 contributionId, uint64 closesAt);
    /// @notice The contribution's review window has closed: only its contributor may act on it now.
    error ReviewWindowClosed(uint64 contributionId, uint64 closedAt);

    /// @notice Creates a datanet.
    /// @param metadataURI Where the datanet's description lives (emitted, not stored).
    /// @param minStake Smallest stake a contribution must lock, in the payment token.
    /// @param reviewWindow Seconds a contribution may wait for review before its contributor may withdraw
    ///        it (1 second to `MAX_REVIEW_WINDOW`).
    /// @param maxContributionTokens Largest token count one contribution may declare (nonzero).
    /// @param curators Initial curators (at most `MAX_CURATORS`); contributions need at least one.
    /// @return datanetId The new datanet's id (1-based).
    function createDatanet(
        string calldata metadataURI,
        uint96 minStake,
        uint64 reviewWindow,
        uint32 maxContributionTokens,
        address[] calldata curators
    ) external returns (uint64 datanetId);

    /// @notice Adds or removes a curator. Only the datanet's owner.
    function setCurator(uint64 datanetId, address curator, bool enabled) external;

    /// @notice Submits a contribution and pulls `stake` from the caller (approve first). The datanet must
    ///         have a curator. Unreviewed after the datanet's `reviewWindow`, it may be withdrawn.
    /// @param contentHash keccak256 of the document's bytes.
    /// @param tokenCount Token count under the datanet's reference tokenizer, at most
    ///        `maxContributionTokens`. Clients that sync a release check it against the document.
    /// @param uri Where the document can be fetched (`file://`, `http(s)://`); emitted, not stored.
    /// @param stake Stake to lock, at least the datanet's `minStake`.
    /// @return contributionId The new contribution's id (1-based, global).
    function contribute(
        uint64 datanetId,
        bytes32 contentHash,
        uint32 tokenCount,
        string calldata uri,
        uint96 stake
    ) external returns (uint64 contributionId);

    /// @notice Accepts or rejects a pending contribution within its review window. Rejection slashes the
    ///         stake to the treasury.
    function review(uint64 contributionId, bool accept) external;

    /// @notice Returns an accepted contribution's stake to its contributor once the lock has passed.
    function withdrawStake(uint64 contributionId) external;

    /// @notice Withdraws the caller's contribution left pending past its datanet's review window and returns
    ///         its stake. The contribution can then never be reviewed.
    function withdrawContribution(uint64 contributionId) external;

    /// @notice Publishes a release of the datanet's whole accepted set.
    /// @param root Merkle root of the accepted set (see `Release`).
    /// @param contributionCount Must equal the datanet's current `acceptedCount`.
    /// @return releaseId The new release's id (1-based, global).
    function publishRelease(uint64 datanetId, bytes32 root, uint32 contributionCount)
        external
        returns (uint64 releaseId);

    /// @notice Sets the lock period of accepted stakes. Only the protocol owner.
    function setStakeLockPeriod(uint64 period) external;

    /// @notice Sets the recipient of slashed stakes. Only the protocol owner.
    function setTreasury(address treasury) external;

    /// @notice The payment and stake token.
    function token() external view returns (address);
    /// @notice The recipient of slashed stakes.
    function treasury() external view returns (address);
    /// @notice Lock period of accepted stakes, in seconds.
    function stakeLockPeriod() external view returns (uint64);
    /// @notice Number of datanets created.
    function datanetCount() external view returns (uint64);
    /// @notice Number of contributions submitted.
    function contributionCount() external view returns (uint64);
    /// @notice Number of releases published.
    function releaseCount() external view returns (uint64);
    /// @notice A datanet by id.
    function getDatanet(uint64 datanetId) external view returns (Datanet memory);
    /// @notice A contribution by id.
    function getContribution(uint64 contributionId) external view returns (Contribution memory);
    /// @notice A release by id.
    function getRelease(uint64 releaseId) external view returns (Release memory);
    /// @notice The contribution at position `acceptedSeq` (1-based) of a datanet's accepted set.
    function acceptedContributionAt(uint64 datanetId, uint32 acceptedSeq) external view returns (uint64);
    /// @notice Whether `account` curates the datanet.
    function isCurator(uint64 datanetId, address account) external view returns (bool);
    /// @notice A contributor's reputation counters.
    function reputationOf(address contributor) external view returns (Reputation memory);
    /// @notice Settlement view: for each id, its contributor, and the release-membership facts.
    /// @return contributors Contributor of each id (zero if unknown).
    /// @return datanetIds Datanet of each id.
    /// @return acceptedSeqs Accepted position of each id (0 unless accepted).
    function settlementInfo(uint64[] calldata contributionIds)
        external
        view
        returns (address[] memory contributors, uint64[] memory datanetIds, uint32[] memory acceptedSeqs);
}
