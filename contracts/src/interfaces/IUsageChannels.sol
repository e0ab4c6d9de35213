// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC5267} from "@openzeppelin/contracts/interfaces/IERC5267.sol";

/// @title IUsageChannels
/// @notice Usage channels: a payer locks a deposit for one node and one model, signs after every inference a
///         cumulative voucher ("I owe you `fee` in total"), and the node settles a voucher whenever it likes.
///         A voucher commits to what the fee owes each party since the channel's last settlement (model
///         owner, base model owner, node, data: each attributed contribution, the rest to the model's release
///         pools; the treasury takes the remainder) and to the Merkle root of the receipts log it covers, so a
///         settlement costs in proportion to the distinct recipients it pays, not to the inferences. The escrow
///         (`IUsageEscrow.settleChannel`) checks the split against the model's terms and credits everyone on
///         the same ledger, pools and `claim` as per-receipt settlement.
/// @dev Vouchers are grouped in periods. Period `p` starts at the cumulative fee the channel had settled when
///      it began (`startFee`); the payer signs, after each inference, the next voucher of the current period.
///      Settling one voucher of period `p` pays its period totals, sets `settledFee = fee` and moves the
///      channel to period `p + 1`: every other voucher of period `p` and before is stale. The node therefore
///      settles the last voucher of a period, after asking the payer to sign the next inference in the next
///      period (starting at that voucher's `fee`). Only the node settles: a payer settling an early voucher of
///      the period would otherwise void the later ones.
///      Invariant, to the wei: token.balanceOf(this) == Σ open channels' (deposit − settledFee).
///      Liveness: a voucher signed by the channel's signer, of the channel's current period, starting at its
///      settled fee, within its deposit and split by the model's terms, settles until the channel closes;
///      the payer can close only `CLOSE_WINDOW` after asking, and cannot take back its deposit before.
interface IUsageChannels is IERC5267 {
    /// @notice A channel's state.
    /// @param payer Funds the channel; receives what is left when it closes.
    /// @param modelId The one model the channel pays for (an adapter or a whole model).
    /// @param period The period the next settled voucher must belong to (starts at 0).
    /// @param node Runs the model, receives the node share, and alone settles vouchers.
    /// @param closesAt 0 while open; after `requestClose`, the time from which the payer may close.
    /// @param signer Signs the vouchers: the payer or a key it named at opening, fixed for the channel's life.
    /// @param deposit Tokens locked in the channel (grows with `fund`).
    /// @param settledFee Σ fees settled so far (the `startFee` of the current period).
    /// @param open False once closed.
    struct Channel {
        address payer;
        uint64 modelId;
        uint32 period;
        address node;
        uint64 closesAt;
        bool open;
        address signer;
        uint128 deposit;
        uint128 settledFee;
    }

    /// @notice What the channel's signer signs after every inference (EIP-712 primary type `Voucher`).
    /// @param channelId The channel.
    /// @param period The channel's period this voucher belongs to.
    /// @param inferences How many inferences the period covers so far (bounds the rounding of the split).
    /// @param startFee The cumulative fee settled before the period began.
    /// @param fee The cumulative fee of the channel up to this voucher ("I owe you `fee` in total").
    /// @param ownerShare Σ over the period's receipts of fee × ownerBps / 10 000 (each rounded down), less the
    ///        base share: the model owner's part.
    /// @param baseShare Σ of fee × baseShareBps / 10 000 (an adapter's derivative share; 0 for a whole model).
    /// @param nodeShare Σ of fee × nodeBps / 10 000.
    /// @param dataShare Σ of fee × dataBps / 10 000.
    /// @param contributionIds The contributions attributed in the period, strictly ascending.
    /// @param contributionAmounts Per contribution: Σ over the period's receipts of dataShare × weightPpm /
    ///        1 000 000 (each rounded down). The rest of `dataShare` goes to the model's release pools.
    /// @param logRoot Merkle root of the period's receipts log (docs/PROTOCOL.md, "The receipts log").
    struct Voucher {
        uint64 channelId;
        uint32 period;
        uint32 inferences;
        uint256 startFee;
        uint256 fee;
        uint256 ownerShare;
        uint256 baseShare;
        uint256 nodeShare;
        uint256 dataShare;
        uint64[] contributionIds;
        uint256[] contributionAmounts;
        bytes32 logRoot;
    }

    /// @notice A channel opened.
    event ChannelOpened(
        uint64 indexed channelId,
        address indexed payer,
        address indexed node,
        uint64 modelId,
        address signer,
        uint256 deposit
    );
    /// @notice A channel's deposit grew to `deposit`.
    event ChannelFunded(uint64 indexed channelId, address indexed from, uint256 amount, uint256 deposit);
    /// @notice A voucher settled: `voucher` as signed (its digest can be recomputed from the log alone), and
    ///         where the node published the period's receipts log (`logURI`, not signed: only the node settles).
    event VoucherSettled(uint64 indexed channelId, bytes32 indexed digest, Voucher voucher, string logURI);
    /// @notice The payer asked to close; the node may still settle until `closesAt`.
    event CloseRequested(uint64 indexed channelId, uint64 closesAt);
    /// @notice A channel closed; `refund` went back to the payer.
    event ChannelClosed(uint64 indexed channelId, uint256 settledFee, uint256 refund);

    /// @notice Amount is zero.
    error ZeroAmount();
    /// @notice A zero address was given where an account is required.
    error ZeroAddress();
    /// @notice No channel has this id.
    error UnknownChannel(uint64 channelId);
    /// @notice The model does not exist.
    error UnknownModel(uint64 modelId);
    /// @notice The channel is closed.
    error ChannelNotOpen(uint64 channelId);
    /// @notice The payer asked to close the channel: it takes no more funds.
    error ChannelClosing(uint64 channelId, uint64 closesAt);
    /// @notice Only the channel's payer may do this.
    error NotChannelPayer(uint64 channelId, address caller);
    /// @notice Only the channel's node may do this.
    error NotChannelNode(uint64 channelId, address caller);
    /// @notice The voucher belongs to another period than the channel's current one (a stale voucher).
    error WrongPeriod(uint64 channelId, uint32 expected, uint32 given);
    /// @notice The voucher's `startFee` is not what the channel settled so far.
    error StartFeeMismatch(uint64 channelId, uint256 settledFee, uint256 startFee);
    /// @notice The voucher owes nothing beyond what was settled (`fee ≤ startFee`).
    error NothingToSettle(uint64 channelId);
    /// @notice The voucher's cumulative fee exceeds the channel's deposit.
    error VoucherExceedsDeposit(uint64 channelId, uint256 fee, uint256 deposit);
    /// @notice The voucher's signature is not the channel signer's.
    error InvalidVoucherSignature(uint64 channelId);
    /// @notice The channel's close window has not passed (or no close was asked for).
    error CloseNotReady(uint64 channelId, uint64 closesAt);
    /// @notice The deposit would not fit the channel's 128-bit accounting.
    error DepositTooLarge(uint256 deposit);

    /// @notice Opens a channel from the caller to `node` for `modelId`, locking `deposit` (approve first).
    /// @param node Runs the model and settles the vouchers.
    /// @param modelId The model the channel pays for.
    /// @param signer Signs the vouchers (the caller itself, or a session key); fixed for the channel's life.
    /// @param deposit Tokens locked now; `fund` adds more.
    /// @return channelId The new channel (ids start at 1).
    function open(address node, uint64 modelId, address signer, uint256 deposit)
        external
        returns (uint64 channelId);

    /// @notice Adds `amount` to an open channel's deposit, paid by the caller (approve first). Not once the
    ///         payer asked to close.
    function fund(uint64 channelId, uint256 amount) external;

    /// @notice Settles a voucher of the channel's current period: pays its period totals through the escrow,
    ///         sets the settled fee to the voucher's `fee` and starts the next period. Only the channel's node,
    ///         while the channel is open and before `closesAt`.
    /// @param voucher The voucher, as signed.
    /// @param signature 65-byte (r,s,v) or 64-byte EIP-2098 signature of the channel's signer.
    /// @param logURI Where the period's receipts log is published (content-addressed by `voucher.logRoot`).
    /// @return amount The period's fee (`fee − startFee`), now credited to its recipients.
    function settle(Voucher calldata voucher, bytes calldata signature, string calldata logURI)
        external
        returns (uint256 amount);

    /// @notice Asks to close the channel: from `now + CLOSE_WINDOW` the payer may `close` it; until then the
    ///         node may settle its latest voucher. Only the payer; a second request keeps the first time.
    /// @return closesAt When the payer may close.
    function requestClose(uint64 channelId) external returns (uint64 closesAt);

    /// @notice Closes the channel and refunds `deposit − settledFee` to the payer. The node may close at any
    ///         time (it gives up vouchers it did not settle); the payer only from `closesAt`.
    /// @return refund What went back to the payer.
    function close(uint64 channelId) external returns (uint256 refund);

    /// @notice A channel's state.
    function getChannel(uint64 channelId) external view returns (Channel memory);
    /// @notice How many channels were opened (the last id).
    function channelCount() external view returns (uint64);
    /// @notice The EIP-712 digest the channel's signer signs for `voucher`.
    function hashVoucher(Voucher calldata voucher) external view returns (bytes32);
    /// @notice The EIP-712 domain separator.
    function DOMAIN_SEPARATOR() external view returns (bytes32);
    /// @notice Seconds between `requestClose` and the payer's `close`: the node's window to settle.
    function CLOSE_WINDOW() external view returns (uint64);
    /// @notice The escrow that checks the split and credits the recipients.
    function escrow() external view returns (address);
    /// @notice The payment token.
    function token() external view returns (address);
}
