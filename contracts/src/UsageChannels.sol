// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {IUsageChannels} from "./interfaces/IUsageChannels.sol";
import {IUsageEscrow} from "./interfaces/IUsageEscrow.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

/// @title UsageChannels
/// @notice Usage channels with cumulative vouchers, settled through the escrow's ledger.
/// @dev This contract keeps the channels (deposits, periods, settled fees) and checks who settles what and
///      the signature; `IUsageEscrow.settleChannel` checks the split and credits everyone, pulling each
///      period's fee from here (approved once, at construction).
contract UsageChannels is IUsageChannels, EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @inheritdoc IUsageChannels
    uint64 public constant CLOSE_WINDOW = 1 days;
    /// @notice The EIP-712 type hash of `Voucher`.
    bytes32 public constant VOUCHER_TYPEHASH = keccak256(
        "Voucher(uint64 channelId,uint32 period,uint32 inferences,uint256 startFee,uint256 fee,uint256 ownerShare,uint256 baseShare,uint256 nodeShare,uint256 dataShare,uint64[] contributionIds,uint256[] contributionAmounts,bytes32 logRoot)"
    );

    IUsageEscrow private immutable _escrow;
    IModelRegistry private immutable _models;
    IERC20 private immutable _token;

    /// @inheritdoc IUsageChannels
    uint64 public channelCount;
    mapping(uint64 channelId => Channel) private _channels;

    /// @param escrow_ The escrow whose ledger the channels pay into; its owner then calls `setChannels`.
    constructor(address escrow_) EIP712("Soil UsageChannels", "1") {
        if (escrow_ == address(0)) revert ZeroAddress();
        _escrow = IUsageEscrow(escrow_);
        _models = IModelRegistry(_escrow.models());
        _token = IERC20(_escrow.token());
        _token.forceApprove(escrow_, type(uint256).max);
    }

    /// @inheritdoc IUsageChannels
    function open(address node, uint64 modelId, address signer, uint256 deposit)
        external
        nonReentrant
        returns (uint64 channelId)
    {
        if (node == address(0) || signer == address(0)) revert ZeroAddress();
        if (deposit == 0) revert ZeroAmount();
        if (deposit > type(uint128).max) revert DepositTooLarge(deposit);
        if (modelId == 0 || modelId > _models.modelCount()) revert UnknownModel(modelId);
        channelId = ++channelCount;
        _channels[channelId] = Channel({
            payer: msg.sender,
            modelId: modelId,
            period: 0,
            node: node,
            closesAt: 0,
            open: true,
            signer: signer,
            deposit: uint128(deposit),
            settledFee: 0
        });
        emit ChannelOpened(channelId, msg.sender, node, modelId, signer, deposit);
        _token.safeTransferFrom(msg.sender, address(this), deposit);
    }

    /// @inheritdoc IUsageChannels
    function fund(uint64 channelId, uint256 amount) external nonReentrant {
        Channel storage c = _openChannel(channelId);
        if (amount == 0) revert ZeroAmount();
        if (c.closesAt != 0) revert ChannelClosing(channelId, c.closesAt);
        uint256 deposit = uint256(c.deposit) + amount;
        if (deposit > type(uint128).max) revert DepositTooLarge(deposit);
        c.deposit = uint128(deposit);
        emit ChannelFunded(channelId, msg.sender, amount, deposit);
        _token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IUsageChannels
    function settle(Voucher calldata voucher, bytes calldata signature, string calldata logURI)
        external
        nonReentrant
        returns (uint256 amount)
    {
        uint64 channelId = voucher.channelId;
        Channel storage c = _openChannel(channelId);
        if (msg.sender != c.node) revert NotChannelNode(channelId, msg.sender);
        uint64 closesAt = c.closesAt;
        // forge-lint: disable-next-line(block-timestamp) -- a window of a day
        if (closesAt != 0 && block.timestamp >= closesAt) revert ChannelClosing(channelId, closesAt);
        if (voucher.period != c.period) revert WrongPeriod(channelId, c.period, voucher.period);
        uint256 settledFee = c.settledFee;
        if (voucher.startFee != settledFee) revert StartFeeMismatch(channelId, settledFee, voucher.startFee);
        uint256 fee = voucher.fee;
        if (fee <= settledFee) revert NothingToSettle(channelId);
        if (fee > c.deposit) revert VoucherExceedsDeposit(channelId, fee, c.deposit);
        bytes32 digest = _hashTypedDataV4(_hashVoucherStruct(voucher));
        if (!_signedBy(c.signer, digest, signature)) revert InvalidVoucherSignature(channelId);
        c.period = voucher.period + 1;
        // fee ≤ deposit < 2^128.
        c.settledFee = uint128(fee);
        amount = fee - settledFee;
        emit VoucherSettled(channelId, digest, voucher, logURI);
        _escrow.settleChannel(c.modelId, c.node, voucher);
    }

    /// @inheritdoc IUsageChannels
    function requestClose(uint64 channelId) external returns (uint64 closesAt) {
        Channel storage c = _openChannel(channelId);
        if (msg.sender != c.payer) revert NotChannelPayer(channelId, msg.sender);
        closesAt = c.closesAt;
        if (closesAt != 0) return closesAt;
        closesAt = uint64(block.timestamp) + CLOSE_WINDOW;
        c.closesAt = closesAt;
        emit CloseRequested(channelId, closesAt);
    }

    /// @inheritdoc IUsageChannels
    function close(uint64 channelId) external nonReentrant returns (uint256 refund) {
        Channel storage c = _openChannel(channelId);
        if (msg.sender != c.node) {
            if (msg.sender != c.payer) revert NotChannelPayer(channelId, msg.sender);
            uint64 closesAt = c.closesAt;
            // forge-lint: disable-next-line(block-timestamp) -- a window of a day
            if (closesAt == 0 || block.timestamp < closesAt) revert CloseNotReady(channelId, closesAt);
        }
        c.open = false;
        refund = uint256(c.deposit) - c.settledFee;
        emit ChannelClosed(channelId, c.settledFee, refund);
        if (refund != 0) _token.safeTransfer(c.payer, refund);
    }

    /// @inheritdoc IUsageChannels
    function getChannel(uint64 channelId) external view returns (Channel memory) {
        return _channels[channelId];
    }

    /// @inheritdoc IUsageChannels
    function hashVoucher(Voucher calldata voucher) external view returns (bytes32) {
        return _hashTypedDataV4(_hashVoucherStruct(voucher));
    }

    /// @inheritdoc IUsageChannels
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @inheritdoc IUsageChannels
    function escrow() external view returns (address) {
        return address(_escrow);
    }

    /// @inheritdoc IUsageChannels
    function token() external view returns (address) {
        return address(_token);
    }

    /// @dev The channel, which must exist and be open.
    function _openChannel(uint64 channelId) private view returns (Channel storage c) {
        c = _channels[channelId];
        if (!c.open) {
            if (c.payer == address(0)) revert UnknownChannel(channelId);
            revert ChannelNotOpen(channelId);
        }
    }

    /// @dev The EIP-712 struct hash of a voucher: each array as keccak256 of its 32-byte words.
    function _hashVoucherStruct(Voucher calldata v) private pure returns (bytes32) {
        return keccak256(
            bytes.concat(
                abi.encode(
                    VOUCHER_TYPEHASH,
                    v.channelId,
                    v.period,
                    v.inferences,
                    v.startFee,
                    v.fee,
                    v.ownerShare,
                    v.baseShare,
                    v.nodeShare,
                    v.dataShare
                ),
                abi.encode(
                    keccak256(abi.encodePacked(v.contributionIds)),
                    keccak256(abi.encodePacked(v.contributionAmounts)),
                    v.logRoot
                )
            )
        );
    }

    /// @dev A 65-byte (r,s,v) or 64-byte EIP-2098 signature by `signer`. No contract is called: nothing a
    ///      payer deploys can change the answer after the voucher was signed.
    function _signedBy(address signer, bytes32 digest, bytes calldata signature) private pure returns (bool) {
        address recovered;
        ECDSA.RecoverError err;
        if (signature.length == 65) {
            // slither-disable-next-line unused-return
            (recovered, err,) = ECDSA.tryRecover(
                digest, uint8(signature[64]), bytes32(signature[0:32]), bytes32(signature[32:64])
            );
        } else if (signature.length == 64) {
            // slither-disable-next-line unused-return
            (recovered, err,) = ECDSA.tryRecover(digest, bytes32(signature[0:32]), bytes32(signature[32:64]));
        } else {
            return false;
        }
        return err == ECDSA.RecoverError.NoError && recovered == signer;
    }
}
