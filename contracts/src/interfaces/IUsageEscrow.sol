// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC5267} from "@openzeppelin/contracts/interfaces/IERC5267.sol";

/// @title IUsageEscrow
/// @notice "Payable AI": payers deposit, sign EIP-712 usage receipts off-chain, and anyone settles them in
///         batches. Each fee is split over the model's owner, the node that ran it, the treasury and the
///         data: contributors named in the receipt's attribution by weight, the unattributed rest to the
///         model's releases through a reward-per-token accumulator. Everything owed is credited internally
///         and pulled with `claim`.
/// @dev Accounting invariant, to the wei:
///      token.balanceOf(this) == Σ deposits + Σ credited balances + Σ pool accruals − Σ pool claims.
///      The EIP-712 domain is exposed through EIP-5267 `eip712Domain()` (IERC5267).
interface IUsageEscrow is IERC5267 {
    /// @notice What a payer signs for one use of a model (EIP-712 primary type).
    /// @param payer The account charged; signs the receipt (EOA or EIP-1271 contract).
    /// @param modelId The model used.
    /// @param node The node that ran the model; receives the node share.
    /// @param promptHash keccak256 of the prompt bytes.
    /// @param outputHash keccak256 of the output bytes.
    /// @param inputTokens Prompt tokens.
    /// @param outputTokens Generated tokens.
    /// @param fee Must equal price × (inputTokens + outputTokens) / 1000, rounded down.
    /// @param nonce Unordered nonce: any unused value, tracked in a bitmap per payer.
    /// @param deadline Last timestamp at which the receipt settles.
    /// @param attributionHash keccak256(abi.encode(contributionIds, weightsPpm)) of the attribution.
    struct UsageReceipt {
        address payer;
        uint64 modelId;
        address node;
        bytes32 promptHash;
        bytes32 outputHash;
        uint32 inputTokens;
        uint32 outputTokens;
        uint256 fee;
        uint256 nonce;
        uint64 deadline;
        bytes32 attributionHash;
    }

    /// @notice The attribution a receipt commits to: at most `MAX_ATTRIBUTIONS` contributions, each with a
    ///         weight in parts per million; Σ weights ≤ 1 000 000.
    struct Attribution {
        uint64[] contributionIds;
        uint32[] weightsPpm;
    }

    /// @notice Tokens entered a payer's deposit.
    event Deposited(address indexed payer, address indexed from, uint256 amount);
    /// @notice A payer asked to withdraw; executable at `unlockAt`.
    event WithdrawalRequested(address indexed payer, uint256 amount, uint64 unlockAt);
    /// @notice A payer withdrew from their deposit.
    event Withdrawn(address indexed payer, uint256 amount);
    /// @notice A receipt settled. `attribution` packs each (contributionId uint64, weightPpm uint32) in
    ///         12 bytes, big-endian; `outputURI` optionally says where the output is published.
    event ReceiptSettled(
        bytes32 indexed digest,
        address indexed payer,
        uint64 indexed modelId,
        address node,
        uint256 nonce,
        uint256 fee,
        uint32 inputTokens,
        uint32 outputTokens,
        bytes32 outputHash,
        bytes attribution,
        string outputURI
    );
    /// @notice An account's claimable balance grew (once per distinct account per settled batch).
    event Credited(address indexed account, uint256 amount);
    /// @notice A release's pool received `amount`; `rewardPerToken` is its new accumulator (scaled 1e18).
    event PoolAccrued(
        uint64 indexed releaseId, uint64 indexed modelId, uint256 amount, uint256 rewardPerToken
    );
    /// @notice A contribution's share of a release pool moved to its contributor's balance.
    event PoolRewardClaimed(
        uint64 indexed releaseId, uint64 indexed contributionId, address indexed contributor, uint256 amount
    );
    /// @notice An account paid out its balance.
    event Claimed(address indexed account, address indexed to, uint256 amount);
    /// @notice A payer cancelled nonces: `mask` bits set in word `wordPos`.
    event NoncesInvalidated(address indexed payer, uint256 wordPos, uint256 mask);
    /// @notice The treasury changed.
    event TreasurySet(address indexed treasury);
    /// @notice The withdrawal delay changed.
    event WithdrawalDelaySet(uint64 delay);
    /// @notice The longest accepted receipt lifetime changed.
    event MaxReceiptValiditySet(uint64 validity);

    /// @notice Amount is zero.
    error ZeroAmount();
    /// @notice A zero address was given where an account is required.
    error ZeroAddress();
    /// @notice The arrays of a batch differ in length, or the batch is empty.
    error BatchLengthMismatch(uint256 receipts, uint256 attributions, uint256 signatures, uint256 outputURIs);
    /// @notice Receipt `index` is past its deadline.
    error ReceiptExpired(uint256 index, uint64 deadline);
    /// @notice Receipt `index` has a deadline further than `maxReceiptValidity` from now.
    error ReceiptDeadlineTooFar(uint256 index, uint64 deadline, uint64 latest);
    /// @notice Receipt `index`'s nonce was used or cancelled.
    error NonceAlreadyUsed(uint256 index, address payer, uint256 nonce);
    /// @notice Receipt `index`'s signature is not the payer's.
    error InvalidSignature(uint256 index, address payer);
    /// @notice Receipt `index`'s fee is not price × tokens / 1000.
    error FeeMismatch(uint256 index, uint256 expected, uint256 given);
    /// @notice Receipt `index`'s attribution does not hash to its `attributionHash`.
    error AttributionHashMismatch(uint256 index);
    /// @notice Receipt `index`'s attribution is malformed (lengths differ or above `MAX_ATTRIBUTIONS`).
    error InvalidAttribution(uint256 index);
    /// @notice Receipt `index`'s weights sum above 1 000 000 ppm.
    error WeightsExceedOneMillion(uint256 index, uint256 sum);
    /// @notice Receipt `index` attributes a contribution not in the model's releases (or not accepted).
    error ContributionNotInModelReleases(uint256 index, uint64 contributionId);
    /// @notice Receipt `index` names an unknown model.
    error UnknownModel(uint256 index, uint64 modelId);
    /// @notice Receipt `index` names a zero payer or node.
    error InvalidParty(uint256 index);
    /// @notice The payer's deposit cannot cover the batch's charges.
    error InsufficientDeposit(address payer, uint256 needed, uint256 available);
    /// @notice No withdrawal is pending, or it is not yet unlocked.
    error WithdrawalNotReady(uint64 unlockAt);
    /// @notice Nothing to claim.
    error NothingToClaim();
    /// @notice The contribution is not a member of the release.
    error NotReleaseMember(uint64 releaseId, uint64 contributionId);
    /// @notice A protocol parameter is out of range.
    error InvalidParameter();

    /// @notice Deposits `amount` for the caller (approve first).
    function deposit(uint256 amount) external;

    /// @notice Deposits `amount` for `payer`, paid by the caller (approve first).
    function depositFor(address payer, uint256 amount) external;

    /// @notice EIP-2612 permit and deposit in one call.
    function depositWithPermit(uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external;

    /// @notice Starts a withdrawal of up to `amount`, executable after `withdrawalDelay`. Replaces any pending
    ///         request. The deposit stays chargeable until the withdrawal executes.
    function requestWithdrawal(uint256 amount) external;

    /// @notice Executes the caller's unlocked withdrawal (capped at the remaining deposit).
    /// @return amount What was paid out.
    function withdraw() external returns (uint256 amount);

    /// @notice Settles a batch of signed receipts. Anyone may call. Reverts whole on any invalid receipt.
    /// @param receipts The receipts.
    /// @param attributions One per receipt, matching its `attributionHash`.
    /// @param signatures One per receipt: 65-byte (r,s,v), 64-byte EIP-2098, or EIP-1271 bytes.
    /// @param outputURIs Empty, or one per receipt (emitted only).
    function settle(
        UsageReceipt[] calldata receipts,
        Attribution[] calldata attributions,
        bytes[] calldata signatures,
        string[] calldata outputURIs
    ) external;

    /// @notice Moves the pool rewards of `contributionIds` in release `releaseId` to their contributors'
    ///         balances. Anyone may call; the contributors are credited.
    function claimPoolRewards(uint64 releaseId, uint64[] calldata contributionIds) external;

    /// @notice Pays the caller's whole balance to `to`.
    /// @return amount What was paid.
    function claim(address to) external returns (uint256 amount);

    /// @notice Cancels the caller's nonces: bits of `mask` in bitmap word `wordPos`.
    function invalidateNonces(uint256 wordPos, uint256 mask) external;

    /// @notice Sets the treasury. Only the protocol owner.
    function setTreasury(address treasury) external;
    /// @notice Sets the withdrawal delay; must exceed `maxReceiptValidity`. Only the protocol owner.
    function setWithdrawalDelay(uint64 delay) external;
    /// @notice Sets the longest receipt lifetime; must stay below `withdrawalDelay`. Only the protocol owner.
    function setMaxReceiptValidity(uint64 validity) external;

    /// @notice The EIP-712 digest the payer signs for `receipt`.
    function hashReceipt(UsageReceipt calldata receipt) external view returns (bytes32);
    /// @notice keccak256(abi.encode(contributionIds, weightsPpm)).
    function hashAttribution(Attribution calldata attribution) external pure returns (bytes32);
    /// @notice The EIP-712 domain separator.
    function DOMAIN_SEPARATOR() external view returns (bytes32);
    /// @notice The payment token.
    function token() external view returns (address);
    /// @notice The model registry.
    function models() external view returns (address);
    /// @notice The datanet registry.
    function datanets() external view returns (address);
    /// @notice Receives the treasury share and rounding dust.
    function treasury() external view returns (address);
    /// @notice Seconds between a withdrawal request and its execution.
    function withdrawalDelay() external view returns (uint64);
    /// @notice Longest time from settlement to a receipt's deadline.
    function maxReceiptValidity() external view returns (uint64);
    /// @notice A payer's deposit.
    function depositOf(address payer) external view returns (uint256);
    /// @notice A payer's pending withdrawal.
    function pendingWithdrawal(address payer) external view returns (uint256 amount, uint64 unlockAt);
    /// @notice An account's claimable balance.
    function balanceOf(address account) external view returns (uint256);
    /// @notice Whether a payer's nonce is used or cancelled.
    function isNonceUsed(address payer, uint256 nonce) external view returns (bool);
    /// @notice A release pool's reward per accepted token, scaled 1e18.
    function rewardPerToken(uint64 releaseId) external view returns (uint256);
    /// @notice A contribution's unclaimed pool reward in a release.
    function poolRewardOf(uint64 releaseId, uint64 contributionId) external view returns (uint256);
    /// @notice Σ pool accruals − Σ pool claims: pool rewards still held for contributors.
    function unclaimedPoolRewards() external view returns (uint256);
    /// @notice Σ deposits.
    function totalDeposits() external view returns (uint256);
    /// @notice Σ credited balances.
    function totalCredited() external view returns (uint256);
}
