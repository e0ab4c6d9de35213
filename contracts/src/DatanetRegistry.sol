// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IDatanetRegistry} from "./interfaces/IDatanetRegistry.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title DatanetRegistry
/// @notice Datanets, staked contributions, curator reviews and releases. Stakes are held here: a rejected
///         contribution's stake goes to the treasury, an accepted one's back to its contributor after
///         `stakeLockPeriod`.
/// @dev A contribution's first storage slot packs (contributor, datanetId, acceptedSeq): everything
///      `settlementInfo` needs, so settlement costs one SLOAD per contribution. `acceptedSeq != 0` iff the
///      contribution was accepted (acceptance is final).
contract DatanetRegistry is IDatanetRegistry, Ownable2Step {
    using SafeERC20 for IERC20;

    /// @notice Most curators a datanet can be created with.
    uint256 public constant MAX_CURATORS = 32;
    /// @notice Longest review window a datanet may declare.
    uint64 public constant MAX_REVIEW_WINDOW = 90 days;
    /// @notice Longest stake lock period the owner may set.
    uint64 public constant MAX_STAKE_LOCK = 365 days;

    /// @dev Storage layout of a contribution; slot 0 is what settlement reads.
    struct StoredContribution {
        // slot 0
        address contributor;
        uint64 datanetId;
        uint32 acceptedSeq;
        // slot 1
        bytes32 contentHash;
        // slot 2
        uint96 stake;
        uint32 tokenCount;
        uint64 unlockAt;
        ContributionStatus status;
        bool stakeReturned;
    }

    IERC20 private immutable _token;

    /// @inheritdoc IDatanetRegistry
    address public treasury;
    /// @inheritdoc IDatanetRegistry
    uint64 public stakeLockPeriod;
    /// @inheritdoc IDatanetRegistry
    uint64 public datanetCount;
    /// @inheritdoc IDatanetRegistry
    uint64 public contributionCount;
    /// @inheritdoc IDatanetRegistry
    uint64 public releaseCount;

    mapping(uint64 datanetId => Datanet) private _datanets;
    mapping(uint64 contributionId => StoredContribution) private _contributions;
    mapping(uint64 releaseId => Release) private _releases;
    mapping(uint64 datanetId => mapping(uint32 acceptedSeq => uint64 contributionId)) private _acceptedAt;
    mapping(uint64 datanetId => mapping(address account => bool)) private _curators;
    mapping(address contributor => Reputation) private _reputations;

    /// @param token_ The payment and stake token.
    /// @param treasury_ Receives slashed stakes.
    /// @param owner_ The protocol owner (sets the lock period and the treasury).
    constructor(address token_, address treasury_, address owner_) Ownable(owner_) {
        if (token_ == address(0) || treasury_ == address(0)) revert ZeroAddress();
        _token = IERC20(token_);
        treasury = treasury_;
        stakeLockPeriod = 7 days;
        emit TreasurySet(treasury_);
        emit StakeLockPeriodSet(7 days);
    }

    // ---------------------------------------------------------------- datanets

    /// @inheritdoc IDatanetRegistry
    function createDatanet(
        string calldata metadataURI,
        uint96 minStake,
        uint64 reviewWindow,
        uint32 maxContributionTokens,
        address[] calldata curators
    ) external returns (uint64 datanetId) {
        if (curators.length > MAX_CURATORS) {
            revert TooManyCurators(curators.length, MAX_CURATORS);
        }
        if (reviewWindow == 0 || reviewWindow > MAX_REVIEW_WINDOW) {
            revert InvalidReviewWindow(reviewWindow, MAX_REVIEW_WINDOW);
        }
        if (maxContributionTokens == 0) revert ZeroMaxContributionTokens();
        datanetId = ++datanetCount;
        Datanet storage d = _datanets[datanetId];
        d.owner = msg.sender;
        d.minStake = minStake;
        d.reviewWindow = reviewWindow;
        d.maxContributionTokens = maxContributionTokens;
        emit DatanetCreated(datanetId, msg.sender, minStake, reviewWindow, maxContributionTokens, metadataURI);
        for (uint256 i; i < curators.length; ++i) {
            _setCurator(datanetId, curators[i], true);
        }
    }

    /// @inheritdoc IDatanetRegistry
    function setCurator(uint64 datanetId, address curator, bool enabled) external {
        address owner_ = _datanet(datanetId).owner;
        if (msg.sender != owner_) revert NotDatanetOwner(datanetId, msg.sender);
        _setCurator(datanetId, curator, enabled);
    }

    // ----------------------------------------------------------- contributions

    /// @inheritdoc IDatanetRegistry
    function contribute(
        uint64 datanetId,
        bytes32 contentHash,
        uint32 tokenCount,
        string calldata uri,
        uint96 stake
    ) external returns (uint64 contributionId) {
        Datanet storage d = _datanet(datanetId);
        if (d.curatorCount == 0) revert NoCurators(datanetId);
        if (contentHash == bytes32(0)) revert ZeroContentHash();
        if (tokenCount == 0) revert ZeroTokenCount();
        uint32 maxTokens = d.maxContributionTokens;
        if (tokenCount > maxTokens) revert TooManyTokens(tokenCount, maxTokens);
        uint96 minStake = d.minStake;
        if (stake < minStake) revert StakeTooLow(stake, minStake);
        contributionId = ++contributionCount;
        StoredContribution storage c = _contributions[contributionId];
        c.contributor = msg.sender;
        c.datanetId = datanetId;
        c.contentHash = contentHash;
        c.stake = stake;
        c.tokenCount = tokenCount;
        c.unlockAt = uint64(block.timestamp) + d.reviewWindow;
        c.status = ContributionStatus.Pending;
        emit ContributionSubmitted(contributionId, datanetId, msg.sender, contentHash, tokenCount, stake, uri);
        if (stake != 0) _token.safeTransferFrom(msg.sender, address(this), stake);
    }

    /// @inheritdoc IDatanetRegistry
    function review(uint64 contributionId, bool accept) external {
        StoredContribution storage c = _contribution(contributionId);
        uint64 datanetId = c.datanetId;
        if (!_curators[datanetId][msg.sender]) revert NotCurator(datanetId, msg.sender);
        if (c.status != ContributionStatus.Pending) revert AlreadyReviewed(contributionId, c.status);
        uint64 closesAt = c.unlockAt;
        // Past the window the contribution is its contributor's to withdraw: a late rejection cannot race it.
        // forge-lint: disable-next-line(block-timestamp) -- spans of hours to days
        if (block.timestamp >= closesAt) revert ReviewWindowClosed(contributionId, closesAt);
        address contributor = c.contributor;
        if (contributor == msg.sender) revert SelfReview(contributionId);
        Reputation storage rep = _reputations[contributor];
        if (accept) {
            Datanet storage d = _datanets[datanetId];
            uint32 seq = ++d.acceptedCount;
            uint32 tokenCount = c.tokenCount;
            d.acceptedTokens += tokenCount;
            _acceptedAt[datanetId][seq] = contributionId;
            c.acceptedSeq = seq;
            c.status = ContributionStatus.Accepted;
            c.unlockAt = uint64(block.timestamp) + stakeLockPeriod;
            rep.accepted += 1;
            rep.acceptedTokens += tokenCount;
            emit ContributionReviewed(contributionId, datanetId, msg.sender, true, seq, 0);
        } else {
            uint96 stake = c.stake;
            c.status = ContributionStatus.Rejected;
            rep.rejected += 1;
            rep.slashed += stake;
            emit ContributionReviewed(contributionId, datanetId, msg.sender, false, 0, stake);
            if (stake != 0) _token.safeTransfer(treasury, stake);
        }
    }

    /// @inheritdoc IDatanetRegistry
    function withdrawStake(uint64 contributionId) external {
        StoredContribution storage c = _contribution(contributionId);
        if (msg.sender != c.contributor) revert NotContributor(contributionId, msg.sender);
        if (c.status != ContributionStatus.Accepted) revert NotAccepted(contributionId);
        if (c.stakeReturned) revert StakeAlreadyReturned(contributionId);
        uint64 unlockAt = c.unlockAt;
        // forge-lint: disable-next-line(block-timestamp) -- spans of hours to days
        if (block.timestamp < unlockAt) revert StakeLocked(contributionId, unlockAt);
        uint96 stake = c.stake;
        c.stakeReturned = true;
        emit StakeReturned(contributionId, msg.sender, stake);
        if (stake != 0) _token.safeTransfer(msg.sender, stake);
    }

    /// @inheritdoc IDatanetRegistry
    function withdrawContribution(uint64 contributionId) external {
        StoredContribution storage c = _contribution(contributionId);
        if (msg.sender != c.contributor) revert NotContributor(contributionId, msg.sender);
        if (c.status != ContributionStatus.Pending) revert NotPending(contributionId, c.status);
        uint64 closesAt = c.unlockAt;
        // forge-lint: disable-next-line(block-timestamp) -- spans of hours to days
        if (block.timestamp < closesAt) revert ReviewWindowOpen(contributionId, closesAt);
        uint96 stake = c.stake;
        c.status = ContributionStatus.Withdrawn;
        c.stakeReturned = true;
        emit ContributionWithdrawn(contributionId, c.datanetId, msg.sender, stake);
        if (stake != 0) _token.safeTransfer(msg.sender, stake);
    }

    // ---------------------------------------------------------------- releases

    /// @inheritdoc IDatanetRegistry
    function publishRelease(uint64 datanetId, bytes32 root, uint32 contributionCount_)
        external
        returns (uint64 releaseId)
    {
        Datanet storage d = _datanet(datanetId);
        if (!_curators[datanetId][msg.sender]) revert NotCurator(datanetId, msg.sender);
        if (contributionCount_ == 0 || root == bytes32(0)) revert EmptyRelease();
        if (contributionCount_ != d.acceptedCount) {
            revert ReleaseCountMismatch(contributionCount_, d.acceptedCount);
        }
        uint64 tokenCount = d.acceptedTokens;
        d.releaseCount += 1;
        releaseId = ++releaseCount;
        _releases[releaseId] = Release({
            datanetId: datanetId, contributionCount: contributionCount_, tokenCount: tokenCount, root: root
        });
        emit ReleasePublished(releaseId, datanetId, root, contributionCount_, tokenCount);
    }

    // -------------------------------------------------------------- parameters

    /// @inheritdoc IDatanetRegistry
    function setStakeLockPeriod(uint64 period) external onlyOwner {
        if (period > MAX_STAKE_LOCK) revert StakeLockTooLong(period, MAX_STAKE_LOCK);
        stakeLockPeriod = period;
        emit StakeLockPeriodSet(period);
    }

    /// @inheritdoc IDatanetRegistry
    function setTreasury(address treasury_) external onlyOwner {
        if (treasury_ == address(0)) revert ZeroAddress();
        treasury = treasury_;
        emit TreasurySet(treasury_);
    }

    // ------------------------------------------------------------------- views

    /// @inheritdoc IDatanetRegistry
    function token() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc IDatanetRegistry
    function getDatanet(uint64 datanetId) external view returns (Datanet memory) {
        return _datanet(datanetId);
    }

    /// @inheritdoc IDatanetRegistry
    function getContribution(uint64 contributionId) external view returns (Contribution memory) {
        StoredContribution storage c = _contribution(contributionId);
        return Contribution({
            contributor: c.contributor,
            datanetId: c.datanetId,
            acceptedSeq: c.acceptedSeq,
            status: c.status,
            contentHash: c.contentHash,
            stake: c.stake,
            tokenCount: c.tokenCount,
            unlockAt: c.unlockAt,
            stakeReturned: c.stakeReturned
        });
    }

    /// @inheritdoc IDatanetRegistry
    function getRelease(uint64 releaseId) external view returns (Release memory) {
        if (releaseId == 0 || releaseId > releaseCount) revert UnknownRelease(releaseId);
        return _releases[releaseId];
    }

    /// @inheritdoc IDatanetRegistry
    function acceptedContributionAt(uint64 datanetId, uint32 acceptedSeq) external view returns (uint64) {
        _datanet(datanetId);
        return _acceptedAt[datanetId][acceptedSeq];
    }

    /// @inheritdoc IDatanetRegistry
    function isCurator(uint64 datanetId, address account) external view returns (bool) {
        return _curators[datanetId][account];
    }

    /// @inheritdoc IDatanetRegistry
    function reputationOf(address contributor) external view returns (Reputation memory) {
        return _reputations[contributor];
    }

    /// @inheritdoc IDatanetRegistry
    /// @dev Encodes its answer directly: one SLOAD per id (slot 0 of a contribution packs contributor in bits
    ///      0-159, datanetId in 160-223 and acceptedSeq in 224-255) written into the three ABI-encoded arrays,
    ///      without intermediate copies. Unknown ids answer zeros.
    function settlementInfo(uint64[] calldata contributionIds)
        external
        view
        returns (address[] memory, uint64[] memory, uint32[] memory)
    {
        uint256 n = contributionIds.length;
        uint256 mappingSlot;
        assembly ("memory-safe") {
            mappingSlot := _contributions.slot
        }
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            let arrayBytes := shl(5, add(n, 1))
            let contributors := add(ptr, 0x60)
            let datanetIds := add(contributors, arrayBytes)
            let acceptedSeqs := add(datanetIds, arrayBytes)
            mstore(ptr, 0x60)
            mstore(add(ptr, 0x20), add(0x60, arrayBytes))
            mstore(add(ptr, 0x40), add(0x60, shl(1, arrayBytes)))
            mstore(contributors, n)
            mstore(datanetIds, n)
            mstore(acceptedSeqs, n)
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                let id := calldataload(add(contributionIds.offset, shl(5, i)))
                if gt(id, 0xffffffffffffffff) { revert(0, 0) } // not a uint64: malformed calldata
                mstore(0x00, id)
                mstore(0x20, mappingSlot)
                let word := sload(keccak256(0x00, 0x40))
                let offset := shl(5, add(i, 1))
                mstore(add(contributors, offset), and(word, 0xffffffffffffffffffffffffffffffffffffffff))
                mstore(add(datanetIds, offset), and(shr(160, word), 0xffffffffffffffff))
                mstore(add(acceptedSeqs, offset), shr(224, word))
            }
            return(ptr, add(0x60, mul(3, arrayBytes)))
        }
    }

    // ---------------------------------------------------------------- internal

    /// @dev Keeps the datanet's `curatorCount` in step with the curator set.
    function _setCurator(uint64 datanetId, address curator, bool enabled) private {
        if (curator == address(0)) revert ZeroAddress();
        mapping(address => bool) storage curators = _curators[datanetId];
        if (curators[curator] != enabled) {
            curators[curator] = enabled;
            Datanet storage d = _datanets[datanetId];
            if (enabled) d.curatorCount += 1;
            else d.curatorCount -= 1;
        }
        emit CuratorSet(datanetId, curator, enabled);
    }

    function _datanet(uint64 datanetId) private view returns (Datanet storage d) {
        d = _datanets[datanetId];
        if (d.owner == address(0)) revert UnknownDatanet(datanetId);
    }

    function _contribution(uint64 contributionId) private view returns (StoredContribution storage c) {
        c = _contributions[contributionId];
        if (c.contributor == address(0)) revert UnknownContribution(contributionId);
    }
}
