// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IUsageChannels} from "./IUsageChannels.sol";
import {IERC5267} from "@openzeppelin/contracts/interfaces/IERC5267.sol";

/// @title IUsageEscrow
/// @notice "Payable AI": payers deposit, sign EIP-712 usage receipts off-chain, and anyone settles them in
///         batches. Each fee is split over the model's owner, the node that ran it, the treasury and the
///         data: contributors named in the receipt's attribution by weight, the unattributed rest to the
///         model's releases through a reward-per-token accumulator. A receipt of an adapter pays its base
///         model's current owner the adapter's derivative share out of the owner share. Everything owed is
///         credited internally and pulled with `claim`.
/// @dev Accounting invariant, to the wei:
///      token.balanceOf(this) == Σ deposits + Σ credited balances + Σ pool accruals − Σ pool claims
///      (plus whatever was sent to the escrow directly until `sweep` credits it to the treasury).
///      Liveness: a receipt that was valid when signed (deposit covering it net of pending withdrawals and
///      earlier receipts, fee at the price in force for its deadline, deadline within `latestDeadline()`)
///      settles at any time up to its deadline, whatever the payer, its signers, the model owner, the
///      protocol owner or a third party do in between.
///      The EIP-712 domain is exposed through EIP-5267 `eip712Domain()` (IERC5267).
interface IUsageEscrow is IERC5267 {
    /// @notice What a payer signs for one use of a model (EIP-712 primary type).
    /// @param payer The account charged. Signs the receipt itself, or through a signer it authorized.
    /// @param modelId The model used.
    /// @param node The node that ran the model; receives the node share.
    /// @param promptHash keccak256 of the prompt bytes.
    /// @param outputHash keccak256 of the output bytes.
    /// @param outputURI Where the output is published (signed, so nobody can point the audit trail elsewhere).
    /// @param inputTokens Prompt tokens.
    /// @param outputTokens Generated tokens.
    /// @param fee Must equal the model's price at `deadline` × (inputTokens + outputTokens) / 1000, rounded
    ///        down (`IModelRegistry.quoteFee`).
    /// @param nonce Any value: it keeps two receipts of identical use apart (each receipt settles at most once,
    ///        by digest).
    /// @param deadline Last timestamp at which the receipt settles; at most `latestDeadline()` when signed.
    /// @param attributionVersion The attribution protocol version the attribution was computed under.
    /// @param attributionHash keccak256(abi.encode(contributionIds, weightsPpm)) of the attribution.
    struct UsageReceipt {
        address payer;
        uint64 modelId;
        address node;
        bytes32 promptHash;
        bytes32 outputHash;
        string outputURI;
        uint32 inputTokens;
        uint32 outputTokens;
        uint256 fee;
        uint256 nonce;
        uint64 deadline;
        uint16 attributionVersion;
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
    /// @notice A payer asked to withdraw; executable from `unlockAt` for `WITHDRAWAL_WINDOW` seconds.
    event WithdrawalRequested(address indexed payer, uint256 amount, uint64 unlockAt);
    /// @notice A payer withdrew from their deposit.
    event Withdrawn(address indexed payer, uint256 amount);
    /// @notice A receipt settled. `receipt` is the signed receipt as it is (its digest can be recomputed from
    ///         the log alone); `attribution` packs each (contributionId uint64, weightPpm uint32) in 12 bytes,
    ///         big-endian, and hashes to the receipt's `attributionHash` once unpacked and ABI-encoded.
    event ReceiptSettled(
        bytes32 indexed digest,
        address indexed payer,
        uint64 indexed modelId,
        UsageReceipt receipt,
        bytes attribution
    );
    /// @notice Receipt `index` of a batch was not settled; `reason` is the ABI-encoded custom error saying
    ///         why (one of this interface's receipt errors). The batch's other receipts settled.
    event ReceiptSkipped(uint256 indexed index, bytes32 indexed digest, bytes reason);
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
    /// @notice A payer let `signer` sign receipts on its behalf.
    event SignerAuthorized(address indexed payer, address indexed signer);
    /// @notice A payer revoked `signer`; receipts it signed still settle until `validUntil`.
    event SignerRevoked(address indexed payer, address indexed signer, uint64 validUntil);
    /// @notice Tokens the escrow held beyond everything it owes went to the treasury's balance.
    event Swept(uint256 amount);
    /// @notice The treasury changed.
    event TreasurySet(address indexed treasury);
    /// @notice The withdrawal delay changed.
    event WithdrawalDelaySet(uint64 delay);
    /// @notice The usage-channels contract was set (once).
    event ChannelsSet(address indexed channels);
    /// @notice The longest accepted receipt lifetime changed. A lower value binds only receipts signed after:
    ///         `latestDeadline()` does not fall below what it was before the change.
    event MaxReceiptValiditySet(uint64 validity);

    /// @notice Amount is zero.
    error ZeroAmount();
    /// @notice A zero address was given where an account is required.
    error ZeroAddress();
    /// @notice The escrow cannot pay itself: the tokens would be owned by nobody.
    error InvalidRecipient(address to);
    /// @notice The arrays of a batch differ in length, or the batch is empty.
    error BatchLengthMismatch(uint256 receipts, uint256 attributions, uint256 signatures);
    /// @notice Receipt `index` is past its deadline.
    error ReceiptExpired(uint256 index, uint64 deadline);
    /// @notice Receipt `index` has a deadline later than `latestDeadline()`.
    error ReceiptDeadlineTooFar(uint256 index, uint64 deadline, uint64 latest);
    /// @notice Receipt `index` (EIP-712 digest `digest`) already settled.
    error AlreadySettled(uint256 index, bytes32 digest);
    /// @notice Receipt `index`'s signature is neither the payer's nor an authorized signer's.
    error InvalidSignature(uint256 index, address payer);
    /// @notice Receipt `index`'s fee is not the price at its deadline × tokens / 1000.
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
    /// @notice The payer's deposit cannot cover `needed` (for a receipt: its fee plus what the batch already
    ///         charged the payer; for a withdrawal request: the amount).
    error InsufficientDeposit(address payer, uint256 needed, uint256 available);
    /// @notice No withdrawal is pending, or it is not yet unlocked.
    error WithdrawalNotReady(uint64 unlockAt);
    /// @notice The pending withdrawal was not executed within `WITHDRAWAL_WINDOW` after `unlockAt`.
    error WithdrawalExpired(uint64 expiredAt);
    /// @notice Nothing to claim.
    error NothingToClaim();
    /// @notice The escrow holds no tokens beyond what it owes.
    error NothingToSweep();
    /// @notice The contribution is not a member of the release.
    error NotReleaseMember(uint64 releaseId, uint64 contributionId);
    /// @notice A protocol parameter is out of range.
    error InvalidParameter();
    /// @notice Only the usage-channels contract may settle a channel's voucher.
    error NotChannels(address caller);
    /// @notice The usage-channels contract is set once.
    error ChannelsAlreadySet();
    /// @notice A voucher's share (0: owner + base, 1: base, 2: node, 3: data) is not what the model's split
    ///         gives its period: Σ over `inferences` receipts of fee × bps / 10 000, each rounded down, lies in
    ///         (`bound` − inferences, `bound`] with `bound` = periodFee × bps / 10 000.
    error ShareOutOfBounds(uint8 share, uint256 given, uint256 bound);
    /// @notice A voucher's contributions are not strictly ascending at `index` (or its arrays differ in length).
    error InvalidVoucherContributions(uint256 index);
    /// @notice A voucher pays its contributions more than its data share.
    error DataShareOverspent(uint256 attributed, uint256 dataShare);

    /// @notice Deposits `amount` for the caller (approve first).
    function deposit(uint256 amount) external;

    /// @notice Deposits `amount` for `payer` (not the escrow itself), paid by the caller (approve first).
    function depositFor(address payer, uint256 amount) external;

    /// @notice EIP-2612 permit and deposit in one call.
    function depositWithPermit(uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external;

    /// @notice Starts a withdrawal of up to `amount` (at most the deposit), executable from `withdrawalDelay`
    ///         after now and for `WITHDRAWAL_WINDOW` seconds; it lapses after that. Replaces any pending request.
    ///         The deposit stays chargeable until the withdrawal executes: nodes count a pending amount as
    ///         unavailable, and a request made after a receipt was signed unlocks after its deadline.
    function requestWithdrawal(uint256 amount) external;

    /// @notice Executes the caller's unlocked withdrawal within its window (capped at the remaining deposit).
    /// @return amount What was paid out.
    function withdraw() external returns (uint256 amount);

    /// @notice Settles a batch of signed receipts. Anyone may call. A receipt that is invalid, already
    ///         settled or not covered by its payer's deposit is skipped with `ReceiptSkipped`; the rest settle.
    /// @param receipts The receipts.
    /// @param attributions One per receipt, matching its `attributionHash`.
    /// @param signatures One per receipt: 65-byte (r,s,v) or 64-byte EIP-2098, by the payer or a signer it
    ///        authorized.
    /// @return settled How many receipts settled.
    function settle(
        UsageReceipt[] calldata receipts,
        Attribution[] calldata attributions,
        bytes[] calldata signatures
    ) external returns (uint256 settled);

    /// @notice Credits one period of a usage channel (see `IUsageChannels`): checks its shares against the
    ///         model's split and its contributions against the model's releases, credits the owner, the base
    ///         model's owner, the node, each contribution's contributor and the treasury, accrues the rest of
    ///         the data share to the release pools, and pulls the period's fee from the caller. Only the
    ///         usage-channels contract, which checked the channel, the period and the signature.
    /// @param modelId The channel's model.
    /// @param node The channel's node.
    /// @param voucher The settled voucher; its period's fee is `fee − startFee`.
    function settleChannel(uint64 modelId, address node, IUsageChannels.Voucher calldata voucher) external;

    /// @notice Sets the usage-channels contract, once. Only the protocol owner.
    function setChannels(address channels) external;

    /// @notice Moves the pool rewards of `contributionIds` in release `releaseId` to their contributors'
    ///         balances. Anyone may call; the contributors are credited.
    function claimPoolRewards(uint64 releaseId, uint64[] calldata contributionIds) external;

    /// @notice Pays the caller's whole balance to `to` (not the escrow itself).
    /// @return amount What was paid.
    function claim(address to) external returns (uint256 amount);

    /// @notice Lets `signer` sign receipts that charge the caller (for contract wallets, and session keys).
    function authorizeSigner(address signer) external;

    /// @notice Revokes `signer`. Receipts it signed before keep settling until `latestDeadline()` (the latest
    ///         deadline any of them can have); after that its signatures are refused.
    function revokeSigner(address signer) external;

    /// @notice Credits the treasury with the tokens the escrow holds beyond everything it owes (tokens sent to
    ///         it directly). Anyone may call; owed funds are never touched.
    /// @return amount What was swept.
    function sweep() external returns (uint256 amount);

    /// @notice Sets the treasury. Only the protocol owner.
    function setTreasury(address treasury) external;
    /// @notice Sets the withdrawal delay; must exceed the longest lifetime of any receipt signed so far
    ///         (`latestDeadline() − now`). Only the protocol owner.
    function setWithdrawalDelay(uint64 delay) external;
    /// @notice Sets the longest receipt lifetime; must be nonzero, below `withdrawalDelay` and at most the model
    ///         registry's `priceNotice`. Only the protocol owner.
    function setMaxReceiptValidity(uint64 validity) external;

    /// @notice The EIP-712 digest the payer signs for `receipt`.
    function hashReceipt(UsageReceipt calldata receipt) external view returns (bytes32);
    /// @notice keccak256(abi.encode(contributionIds, weightsPpm)).
    function hashAttribution(Attribution calldata attribution) external pure returns (bytes32);
    /// @notice The EIP-712 domain separator.
    function DOMAIN_SEPARATOR() external view returns (bytes32);
    /// @notice The payment token.
    function token() external view returns (address);
    /// @notice The usage-channels contract (zero until set).
    function channels() external view returns (address);
    /// @notice The model registry.
    function models() external view returns (address);
    /// @notice The datanet registry.
    function datanets() external view returns (address);
    /// @notice Receives the treasury share and rounding dust.
    function treasury() external view returns (address);
    /// @notice Seconds between a withdrawal request and its execution.
    function withdrawalDelay() external view returns (uint64);
    /// @notice Longest lifetime (deadline − signing time) of a receipt signed now.
    function maxReceiptValidity() external view returns (uint64);
    /// @notice The latest deadline a receipt may have now: now + `maxReceiptValidity`, or later while receipts
    ///         signed under a longer validity may still be live.
    function latestDeadline() external view returns (uint64);
    /// @notice Until when `signer` may sign receipts for `payer` (0: never authorized; max uint64: no end).
    function signerValidUntil(address payer, address signer) external view returns (uint64);
    /// @notice A payer's deposit.
    function depositOf(address payer) external view returns (uint256);
    /// @notice A payer's pending withdrawal.
    function pendingWithdrawal(address payer) external view returns (uint256 amount, uint64 unlockAt);
    /// @notice An account's claimable balance.
    function balanceOf(address account) external view returns (uint256);
    /// @notice Whether the receipt with EIP-712 digest `digest` settled.
    function isSettled(bytes32 digest) external view returns (bool);
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
