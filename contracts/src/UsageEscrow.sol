// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IDatanetRegistry} from "./interfaces/IDatanetRegistry.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
import {IUsageChannels} from "./interfaces/IUsageChannels.sol";
import {IUsageEscrow} from "./interfaces/IUsageEscrow.sol";
import {AmountMap} from "./libraries/AmountMap.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

/// @title UsageEscrow
/// @notice Deposits, signed usage receipts settled in batches, the fee split, release pools and pull payouts.
/// @dev Settlement checks each receipt completely before it touches anything: a receipt that fails a check is
///      skipped (`ReceiptSkipped`, with the custom error as the reason) and the batch goes on. Charges and
///      credits are aggregated in memory (`AmountMap`), so each distinct payer's deposit and each distinct
///      recipient's balance is written once per batch; the only per-receipt storage write marks its digest
///      settled. Contributions are looked up with one `settlementInfo` call per batch, and each distinct model (with
///      its releases) is read once per batch.
///      Invariant, to the wei: token.balanceOf(this) ≥ totalDeposits + totalCredited + unclaimedPoolRewards,
///      with equality except for tokens sent directly, which `sweep` credits to the treasury.
contract UsageEscrow is IUsageEscrow, EIP712, Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using AmountMap for AmountMap.Map;

    /// @notice Most contributions one receipt may attribute.
    uint256 public constant MAX_ATTRIBUTIONS = 16;
    /// @notice Parts per million in a whole attribution.
    uint256 public constant PPM = 1_000_000;
    /// @notice Longest withdrawal delay the owner may set.
    uint64 public constant MAX_WITHDRAWAL_DELAY = 30 days;
    /// @notice How long an unlocked withdrawal stays executable before it lapses.
    uint64 public constant WITHDRAWAL_WINDOW = 1 days;
    /// @notice The EIP-712 type hash of `UsageReceipt`.
    bytes32 public constant RECEIPT_TYPEHASH = keccak256(
        "UsageReceipt(address payer,uint64 modelId,address node,bytes32 promptHash,bytes32 outputHash,string outputURI,uint32 inputTokens,uint32 outputTokens,uint256 fee,uint256 nonce,uint64 deadline,uint16 attributionVersion,bytes32 attributionHash)"
    );

    /// @notice The DatanetRegistry's `settlementInfo` answer did not hold one entry per id asked.
    error MalformedSettlementInfo();

    uint256 private constant BPS = 10_000;
    uint256 private constant SCALE = 1e18;
    uint64 private constant NO_END = type(uint64).max;

    /// @dev A pending withdrawal.
    struct Withdrawal {
        uint256 amount;
        uint64 unlockAt;
    }

    /// @dev What settlement needs of one model, read once per batch.
    struct ModelTerms {
        uint64 modelId;
        address owner;
        uint256 price;
        uint256 nextPrice;
        uint64 nextPriceAt;
        uint256 ownerBps;
        uint256 dataBps;
        uint256 nodeBps;
        // An adapter's derivative share (0 for a whole model), the base's owner when it is not 0, and the
        // batch's total of it for that owner.
        uint256 baseShareBps;
        address baseOwner;
        uint256 baseShares;
        uint64[] releaseIds;
        uint64[] releaseDatanets;
        uint32[] releaseCounts;
        uint64[] releaseTokens;
        uint256 totalTokens;
        uint256 pool;
    }

    /// @dev A batch in progress.
    struct Batch {
        AmountMap.Map credits;
        AmountMap.Map charges;
        ModelTerms[] models;
        uint256 modelsLoaded;
        uint64 knownModels;
        uint64 latestDeadline;
        // `settlementInfo` of every attributed contribution of the batch, in receipt order.
        address[] contributors;
        uint64[] datanetIds;
        uint32[] acceptedSeqs;
        uint256 cursor;
        uint256 toTreasury;
        // Returned with a skip reason instead of a freshly allocated empty ModelTerms.
        ModelTerms none;
    }

    IERC20 private immutable _token;
    IModelRegistry private immutable _models;
    IDatanetRegistry private immutable _datanets;

    /// @inheritdoc IUsageEscrow
    address public treasury;
    /// @inheritdoc IUsageEscrow
    uint64 public withdrawalDelay;
    /// @inheritdoc IUsageEscrow
    uint64 public maxReceiptValidity;
    /// @dev The latest deadline a receipt signed before the last lowering of `maxReceiptValidity` can have.
    uint64 private _validityFloor;
    /// @inheritdoc IUsageEscrow
    address public channels;
    /// @inheritdoc IUsageEscrow
    uint256 public totalDeposits;
    /// @inheritdoc IUsageEscrow
    uint256 public totalCredited;
    /// @inheritdoc IUsageEscrow
    uint256 public unclaimedPoolRewards;

    /// @inheritdoc IUsageEscrow
    mapping(address payer => uint256) public depositOf;
    /// @inheritdoc IUsageEscrow
    mapping(address account => uint256) public balanceOf;
    /// @inheritdoc IUsageEscrow
    mapping(uint64 releaseId => uint256) public rewardPerToken;

    mapping(address payer => Withdrawal) private _withdrawals;
    /// @dev Settled receipts by EIP-712 digest. Keyed by digest, not by (payer, nonce): a payer could otherwise
    ///      settle a different receipt with the same nonce first and cancel one it signed.
    mapping(bytes32 digest => bool) private _settled;
    mapping(address payer => mapping(address signer => uint64 validUntil)) private _signers;
    mapping(uint64 releaseId => mapping(uint64 contributionId => uint256 paid)) private _poolPaid;

    /// @param token_ The payment token.
    /// @param models_ The model registry; its `priceNotice` must be at least the initial receipt validity.
    /// @param datanets_ The datanet registry.
    /// @param treasury_ Receives the treasury share and rounding dust.
    /// @param owner_ The protocol owner (sets the treasury, the withdrawal delay and the receipt validity).
    constructor(address token_, address models_, address datanets_, address treasury_, address owner_)
        EIP712("Soil UsageEscrow", "1")
        Ownable(owner_)
    {
        if (
            token_ == address(0) || models_ == address(0) || datanets_ == address(0)
                || treasury_ == address(0)
        ) {
            revert ZeroAddress();
        }
        if (IModelRegistry(models_).priceNotice() < 1 days) revert InvalidParameter();
        _token = IERC20(token_);
        _models = IModelRegistry(models_);
        _datanets = IDatanetRegistry(datanets_);
        treasury = treasury_;
        maxReceiptValidity = 1 days;
        withdrawalDelay = 2 days;
        emit TreasurySet(treasury_);
        emit MaxReceiptValiditySet(1 days);
        emit WithdrawalDelaySet(2 days);
    }

    // ---------------------------------------------------------------- deposits

    /// @inheritdoc IUsageEscrow
    function deposit(uint256 amount) external nonReentrant {
        _deposit(msg.sender, amount);
    }

    /// @inheritdoc IUsageEscrow
    function depositFor(address payer, uint256 amount) external nonReentrant {
        if (payer == address(0)) revert ZeroAddress();
        if (payer == address(this)) revert InvalidRecipient(payer);
        _deposit(payer, amount);
    }

    /// @inheritdoc IUsageEscrow
    /// @dev A failing permit is ignored (it may have been front-run); the transfer then needs the allowance.
    function depositWithPermit(uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
        nonReentrant
    {
        // slither-disable-next-line unused-return
        try IERC20Permit(address(_token)).permit(msg.sender, address(this), amount, deadline, v, r, s) {}
            catch {}
        _deposit(msg.sender, amount);
    }

    /// @inheritdoc IUsageEscrow
    function requestWithdrawal(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        uint256 available = depositOf[msg.sender];
        if (amount > available) revert InsufficientDeposit(msg.sender, amount, available);
        uint64 unlockAt = uint64(block.timestamp) + withdrawalDelay;
        _withdrawals[msg.sender] = Withdrawal({amount: amount, unlockAt: unlockAt});
        emit WithdrawalRequested(msg.sender, amount, unlockAt);
    }

    /// @inheritdoc IUsageEscrow
    function withdraw() external nonReentrant returns (uint256 amount) {
        Withdrawal memory w = _withdrawals[msg.sender];
        // forge-lint: disable-next-line(block-timestamp) -- spans of hours to days
        if (w.amount == 0 || block.timestamp < w.unlockAt) revert WithdrawalNotReady(w.unlockAt);
        uint64 expiresAt = w.unlockAt + WITHDRAWAL_WINDOW;
        // forge-lint: disable-next-line(block-timestamp) -- spans of hours to days
        if (block.timestamp > expiresAt) revert WithdrawalExpired(expiresAt);
        uint256 available = depositOf[msg.sender];
        amount = w.amount < available ? w.amount : available;
        delete _withdrawals[msg.sender];
        depositOf[msg.sender] = available - amount;
        totalDeposits -= amount;
        emit Withdrawn(msg.sender, amount);
        if (amount != 0) _token.safeTransfer(msg.sender, amount);
    }

    // -------------------------------------------------------------- settlement

    /// @inheritdoc IUsageEscrow
    function settle(
        UsageReceipt[] calldata receipts,
        Attribution[] calldata attributions,
        bytes[] calldata signatures
    ) external returns (uint256 settled) {
        uint256 n = receipts.length;
        if (n == 0 || attributions.length != n || signatures.length != n) {
            revert BatchLengthMismatch(n, attributions.length, signatures.length);
        }
        Batch memory b = _openBatch(attributions, n);
        for (uint256 i; i < n; ++i) {
            UsageReceipt calldata r = receipts[i];
            Attribution calldata a = attributions[i];
            (bytes32 digest, bytes memory reason) = _settleReceipt(b, i, r, a, signatures[i]);
            if (reason.length == 0) {
                _emitSettled(digest, r, a);
                ++settled;
            } else {
                emit ReceiptSkipped(i, digest, reason);
            }
        }
        uint256 pooled = _accruePools(b);
        _closeBatch(b, pooled);
    }

    /// @inheritdoc IUsageEscrow
    function settleChannel(uint64 modelId, address node, IUsageChannels.Voucher calldata voucher)
        external
        nonReentrant
    {
        address expected = channels;
        if (msg.sender != expected || expected == address(0)) revert NotChannels(msg.sender);
        uint64[] memory ids = voucher.contributionIds;
        uint256 n = ids.length;
        // slither-disable-next-line uninitialized-local
        Batch memory b;
        if (n != 0) _lookUp(b, ids);
        // The contributors, the owner, the node, the base model's owner and the treasury.
        b.credits = AmountMap.create(n + 4);
        b.models = _modelSlots(1);
        ModelTerms memory m = _modelTerms(b, modelId);
        uint256 fee = voucher.fee - voucher.startFee;
        _checkShares(m, voucher, fee);
        uint256 outside = _firstOutside(b, m, 0, n);
        if (outside < n) revert ContributionNotInModelReleases(outside, ids[outside]);
        uint256 attributed = _creditVoucherContributions(b, voucher);
        if (attributed > voucher.dataShare) revert DataShareOverspent(attributed, voucher.dataShare);
        m.pool = voucher.dataShare - attributed;
        m.baseShares = voucher.baseShare;
        if (voucher.ownerShare != 0) b.credits.add(m.owner, voucher.ownerShare);
        if (voucher.nodeShare != 0) b.credits.add(node, voucher.nodeShare);
        // The shares are within their bps of `fee` and the bps sum to at most 10 000: no underflow.
        b.toTreasury = fee - voucher.ownerShare - voucher.baseShare - voucher.nodeShare - voucher.dataShare;
        _closeBatch(b, _accruePools(b));
        _token.safeTransferFrom(msg.sender, address(this), fee);
    }

    /// @inheritdoc IUsageEscrow
    function setChannels(address channels_) external onlyOwner {
        if (channels_ == address(0)) revert ZeroAddress();
        if (channels != address(0)) revert ChannelsAlreadySet();
        channels = channels_;
        emit ChannelsSet(channels_);
    }

    /// @inheritdoc IUsageEscrow
    function claimPoolRewards(uint64 releaseId, uint64[] calldata contributionIds) external {
        IDatanetRegistry.Release memory release = _datanets.getRelease(releaseId);
        uint256 rpt = rewardPerToken[releaseId];
        uint256 paidOut = 0;
        for (uint256 k; k < contributionIds.length; ++k) {
            uint64 id = contributionIds[k];
            IDatanetRegistry.Contribution memory c = _datanets.getContribution(id);
            if (!_isMember(release, c)) revert NotReleaseMember(releaseId, id);
            uint256 owed = uint256(c.tokenCount) * rpt / SCALE - _poolPaid[releaseId][id];
            if (owed == 0) continue;
            _poolPaid[releaseId][id] += owed;
            balanceOf[c.contributor] += owed;
            paidOut += owed;
            emit PoolRewardClaimed(releaseId, id, c.contributor, owed);
            emit Credited(c.contributor, owed);
        }
        unclaimedPoolRewards -= paidOut;
        totalCredited += paidOut;
    }

    /// @inheritdoc IUsageEscrow
    function claim(address to) external nonReentrant returns (uint256 amount) {
        if (to == address(0)) revert ZeroAddress();
        if (to == address(this)) revert InvalidRecipient(to);
        amount = balanceOf[msg.sender];
        if (amount == 0) revert NothingToClaim();
        balanceOf[msg.sender] = 0;
        totalCredited -= amount;
        emit Claimed(msg.sender, to, amount);
        _token.safeTransfer(to, amount);
    }

    /// @inheritdoc IUsageEscrow
    function authorizeSigner(address signer) external {
        if (signer == address(0)) revert ZeroAddress();
        _signers[msg.sender][signer] = NO_END;
        emit SignerAuthorized(msg.sender, signer);
    }

    /// @inheritdoc IUsageEscrow
    function revokeSigner(address signer) external {
        uint64 validUntil = _latestDeadline();
        // Never lengthens an authorization that already ends sooner (or never began).
        if (_signers[msg.sender][signer] > validUntil) _signers[msg.sender][signer] = validUntil;
        emit SignerRevoked(msg.sender, signer, _signers[msg.sender][signer]);
    }

    /// @inheritdoc IUsageEscrow
    function sweep() external nonReentrant returns (uint256 amount) {
        uint256 owed = totalDeposits + totalCredited + unclaimedPoolRewards;
        uint256 held = _token.balanceOf(address(this));
        if (held <= owed) revert NothingToSweep();
        amount = held - owed;
        address to = treasury;
        balanceOf[to] += amount;
        totalCredited += amount;
        emit Swept(amount);
        emit Credited(to, amount);
    }

    // -------------------------------------------------------------- parameters

    /// @inheritdoc IUsageEscrow
    function setTreasury(address treasury_) external onlyOwner {
        if (treasury_ == address(0)) revert ZeroAddress();
        treasury = treasury_;
        emit TreasurySet(treasury_);
    }

    /// @inheritdoc IUsageEscrow
    /// @dev Also capped at `MAX_WITHDRAWAL_DELAY`.
    function setWithdrawalDelay(uint64 delay) external onlyOwner {
        if (delay <= _latestDeadline() - block.timestamp || delay > MAX_WITHDRAWAL_DELAY) {
            revert InvalidParameter();
        }
        withdrawalDelay = delay;
        emit WithdrawalDelaySet(delay);
    }

    /// @inheritdoc IUsageEscrow
    /// @dev Lowering it keeps `latestDeadline()` where it was until the receipts signed under the old value
    ///      have expired, so a receipt already signed never becomes "too far".
    function setMaxReceiptValidity(uint64 validity) external onlyOwner {
        if (validity == 0 || validity >= withdrawalDelay || validity > _models.priceNotice()) {
            revert InvalidParameter();
        }
        if (validity < maxReceiptValidity) _validityFloor = _latestDeadline();
        maxReceiptValidity = validity;
        emit MaxReceiptValiditySet(validity);
    }

    // ------------------------------------------------------------------- views

    /// @inheritdoc IUsageEscrow
    function hashReceipt(UsageReceipt calldata receipt) external view returns (bytes32) {
        return _hashTypedDataV4(_hashReceiptStruct(receipt));
    }

    /// @inheritdoc IUsageEscrow
    function hashAttribution(Attribution calldata attribution) external pure returns (bytes32) {
        return _hashAttribution(attribution);
    }

    /// @inheritdoc IUsageEscrow
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @inheritdoc IUsageEscrow
    function token() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc IUsageEscrow
    function models() external view returns (address) {
        return address(_models);
    }

    /// @inheritdoc IUsageEscrow
    function datanets() external view returns (address) {
        return address(_datanets);
    }

    /// @inheritdoc IUsageEscrow
    function latestDeadline() external view returns (uint64) {
        return _latestDeadline();
    }

    /// @inheritdoc IUsageEscrow
    function signerValidUntil(address payer, address signer) external view returns (uint64) {
        return _signers[payer][signer];
    }

    /// @inheritdoc IUsageEscrow
    /// @dev A request that lapsed (unexecuted `WITHDRAWAL_WINDOW` after `unlockAt`) reads as none.
    function pendingWithdrawal(address payer) external view returns (uint256 amount, uint64 unlockAt) {
        Withdrawal memory w = _withdrawals[payer];
        // forge-lint: disable-next-line(block-timestamp) -- spans of hours to days
        if (w.amount == 0 || block.timestamp > w.unlockAt + WITHDRAWAL_WINDOW) return (0, 0);
        return (w.amount, w.unlockAt);
    }

    /// @inheritdoc IUsageEscrow
    function isSettled(bytes32 digest) external view returns (bool) {
        return _settled[digest];
    }

    /// @inheritdoc IUsageEscrow
    /// @dev Reverts with `NotReleaseMember` when the contribution is not in the release.
    function poolRewardOf(uint64 releaseId, uint64 contributionId) external view returns (uint256) {
        IDatanetRegistry.Release memory release = _datanets.getRelease(releaseId);
        IDatanetRegistry.Contribution memory c = _datanets.getContribution(contributionId);
        if (!_isMember(release, c)) revert NotReleaseMember(releaseId, contributionId);
        return
            uint256(c.tokenCount) * rewardPerToken[releaseId] / SCALE - _poolPaid[releaseId][contributionId];
    }

    // ---------------------------------------------------------------- internal

    function _deposit(address payer, uint256 amount) private {
        if (amount == 0) revert ZeroAmount();
        depositOf[payer] += amount;
        totalDeposits += amount;
        emit Deposited(payer, msg.sender, amount);
        _token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @dev now + `maxReceiptValidity`, or the floor a lowering left while it is later.
    function _latestDeadline() private view returns (uint64) {
        uint64 byValidity = uint64(block.timestamp) + maxReceiptValidity;
        uint64 floor = _validityFloor;
        return floor > byValidity ? floor : byValidity;
    }

    /// @dev Looks up every contribution of the batch's well-formed attributions in one call and sizes the
    ///      in-memory maps for the batch's worst case. A malformed attribution looks nothing up; its receipt is
    ///      skipped.
    function _openBatch(Attribution[] calldata attributions, uint256 n)
        private
        view
        returns (Batch memory b)
    {
        uint256 total;
        for (uint256 i; i < n; ++i) {
            total += _attributionLength(attributions[i]);
        }
        uint64[] memory ids = new uint64[](total);
        uint256 cursor;
        for (uint256 i; i < n; ++i) {
            uint256 len = _attributionLength(attributions[i]);
            uint64[] calldata batchIds = attributions[i].contributionIds;
            assembly ("memory-safe") {
                calldatacopy(add(ids, shl(5, add(cursor, 1))), batchIds.offset, shl(5, len))
            }
            cursor += len;
        }
        if (total != 0) _lookUp(b, ids);
        // Per receipt: its contributors, the model owner, the base model's owner and the node; plus the
        // treasury once.
        b.credits = AmountMap.create(total + 3 * n + 1);
        b.charges = AmountMap.create(n);
        b.models = _modelSlots(n);
        b.knownModels = _models.modelCount();
        b.latestDeadline = _latestDeadline();
    }

    /// @dev Room for `n` models' terms: an array of `n` pointers, each written by `_modelTerms` before it is read
    ///      (only the first `modelsLoaded` are). `new ModelTerms[](n)` would also allocate and zero `n` structs
    ///      that are never used: over 40 000 gas of memory for a batch of 50 receipts.
    function _modelSlots(uint256 n) private pure returns (ModelTerms[] memory slots) {
        assembly ("memory-safe") {
            slots := mload(0x40)
            mstore(slots, n)
            mstore(0x40, add(slots, shl(5, add(n, 1))))
        }
    }

    /// @dev Checks a voucher's shares against the model's split: each is a sum over `inferences` receipts of
    ///      fee × bps / 10 000 rounded down, so it lies in (periodFee × bps / 10 000 − inferences, that bound].
    function _checkShares(ModelTerms memory m, IUsageChannels.Voucher calldata v, uint256 fee) private pure {
        uint256 n = v.inferences;
        _checkShare(0, v.ownerShare + v.baseShare, fee * m.ownerBps / BPS, n);
        _checkShare(1, v.baseShare, fee * m.baseShareBps / BPS, n);
        _checkShare(2, v.nodeShare, fee * m.nodeBps / BPS, n);
        _checkShare(3, v.dataShare, fee * m.dataBps / BPS, n);
    }

    function _checkShare(uint8 share, uint256 given, uint256 bound, uint256 inferences) private pure {
        if (given > bound || bound - given >= inferences) revert ShareOutOfBounds(share, given, bound);
    }

    /// @dev Books each of the voucher's contributions for its contributor (looked up in order); returns their
    ///      total. The ids must be strictly ascending, so each contribution is paid once.
    function _creditVoucherContributions(Batch memory b, IUsageChannels.Voucher calldata v)
        private
        pure
        returns (uint256 attributed)
    {
        uint64[] calldata ids = v.contributionIds;
        uint256[] calldata amounts = v.contributionAmounts;
        if (amounts.length != ids.length) revert InvalidVoucherContributions(amounts.length);
        uint64 previous = 0;
        for (uint256 k; k < ids.length; ++k) {
            uint64 id = ids[k];
            if (id <= previous) revert InvalidVoucherContributions(k);
            previous = id;
            uint256 amount = amounts[k];
            if (amount == 0) continue;
            b.credits.add(b.contributors[k], amount);
            attributed += amount;
        }
    }

    /// @dev Stores the batch's `settlementInfo` answer: one call, its three arrays used where they lie in the
    ///      return data (no decoding copy) once each was checked to hold `ids.length` entries inside it.
    function _lookUp(Batch memory b, uint64[] memory ids) private view {
        (bool ok, bytes memory ret) =
            address(_datanets).staticcall(abi.encodeCall(IDatanetRegistry.settlementInfo, (ids)));
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        uint256 p0 = _returnedArray(ret, 0, ids.length);
        uint256 p1 = _returnedArray(ret, 1, ids.length);
        uint256 p2 = _returnedArray(ret, 2, ids.length);
        address[] memory c;
        uint64[] memory d;
        uint32[] memory q;
        assembly ("memory-safe") {
            c := p0
            d := p1
            q := p2
        }
        (b.contributors, b.datanetIds, b.acceptedSeqs) = (c, d, q);
    }

    /// @dev Pointer to the `index`-th dynamic array (its length word) in ABI-encoded `ret`, which must hold
    ///      exactly `length` elements within `ret`.
    function _returnedArray(bytes memory ret, uint256 index, uint256 length)
        private
        pure
        returns (uint256 ptr)
    {
        uint256 size = ret.length;
        if (size < 0x60) revert MalformedSettlementInfo();
        uint256 offset;
        assembly ("memory-safe") {
            offset := mload(add(ret, add(0x20, shl(5, index))))
        }
        if (offset > size || (size - offset) / 32 < length + 1) revert MalformedSettlementInfo();
        uint256 encodedLength;
        assembly ("memory-safe") {
            encodedLength := mload(add(add(ret, 0x20), offset))
            ptr := add(add(ret, 0x20), offset)
        }
        if (encodedLength != length) revert MalformedSettlementInfo();
    }

    /// @dev How many contributions a well-formed attribution names; 0 for a malformed one.
    function _attributionLength(Attribution calldata a) private pure returns (uint256 len) {
        len = a.contributionIds.length;
        if (len != a.weightsPpm.length || len > MAX_ATTRIBUTIONS) return 0;
    }

    /// @dev Checks one receipt completely; if it passes, marks its digest settled and books its charge and
    ///      credits in memory. Returns its digest and, when it is skipped, the encoded error saying why.
    function _settleReceipt(
        Batch memory b,
        uint256 i,
        UsageReceipt calldata r,
        Attribution calldata a,
        bytes calldata signature
    ) private returns (bytes32 digest, bytes memory reason) {
        digest = _hashTypedDataV4(_hashReceiptStruct(r));
        uint256 base = b.cursor;
        uint256 count = a.contributionIds.length;
        if (count != a.weightsPpm.length || count > MAX_ATTRIBUTIONS) {
            return (digest, abi.encodeWithSelector(InvalidAttribution.selector, i));
        }
        b.cursor = base + count;
        (ModelTerms memory m, bytes memory why) = _checkReceipt(b, i, r, digest, signature);
        if (why.length == 0) why = _checkAttribution(b, i, m, a, r.attributionHash, base);
        if (why.length == 0) why = _checkDeposit(b, r.payer, r.fee);
        if (why.length != 0) return (digest, why);
        _settled[digest] = true;
        _book(b, m, r, a, base);
    }

    /// @dev The receipt's own checks: parties, deadline, model, fee, not settled yet, signature.
    function _checkReceipt(
        Batch memory b,
        uint256 i,
        UsageReceipt calldata r,
        bytes32 digest,
        bytes calldata signature
    ) private view returns (ModelTerms memory, bytes memory) {
        address payer = r.payer;
        if (payer == address(0) || r.node == address(0)) {
            return (b.none, abi.encodeWithSelector(InvalidParty.selector, i));
        }
        uint64 deadline = r.deadline;
        // forge-lint: disable-next-line(block-timestamp) -- spans of hours to days
        if (deadline < block.timestamp) {
            return (b.none, abi.encodeWithSelector(ReceiptExpired.selector, i, deadline));
        }
        if (deadline > b.latestDeadline) {
            return
                (
                    b.none,
                    abi.encodeWithSelector(ReceiptDeadlineTooFar.selector, i, deadline, b.latestDeadline)
                );
        }
        uint64 modelId = r.modelId;
        if (modelId == 0 || modelId > b.knownModels) {
            return (b.none, abi.encodeWithSelector(UnknownModel.selector, i, modelId));
        }
        ModelTerms memory m = _modelTerms(b, modelId);
        uint256 price = m.nextPriceAt != 0 && deadline >= m.nextPriceAt ? m.nextPrice : m.price;
        uint256 expected = price * (uint256(r.inputTokens) + r.outputTokens) / 1000;
        if (r.fee != expected) return (m, abi.encodeWithSelector(FeeMismatch.selector, i, expected, r.fee));
        if (_settled[digest]) return (m, abi.encodeWithSelector(AlreadySettled.selector, i, digest));
        if (!_isAuthorized(payer, digest, signature)) {
            return (m, abi.encodeWithSelector(InvalidSignature.selector, i, payer));
        }
        return (m, _noReason());
    }

    /// @dev The empty reason, without allocating.
    function _noReason() private pure returns (bytes memory none) {}

    /// @dev The attribution's checks: its hash, Σ weights ≤ 1 000 000, and every contribution an accepted
    ///      member of one of the model's releases (looked up at `base` onwards in the batch's lookups).
    function _checkAttribution(
        Batch memory b,
        uint256 i,
        ModelTerms memory m,
        Attribution calldata a,
        bytes32 attributionHash,
        uint256 base
    ) private pure returns (bytes memory) {
        if (_hashAttribution(a) != attributionHash) {
            return abi.encodeWithSelector(AttributionHashMismatch.selector, i);
        }
        uint64[] calldata ids = a.contributionIds;
        uint256 outside = _firstOutside(b, m, base, ids.length);
        if (outside < ids.length) {
            return abi.encodeWithSelector(ContributionNotInModelReleases.selector, i, ids[outside]);
        }
        uint256 sum = _sumWeights(a.weightsPpm);
        if (sum > PPM) return abi.encodeWithSelector(WeightsExceedOneMillion.selector, i, sum);
        return _noReason();
    }

    /// @dev Σ weights, read raw: the attribution's calldata matched the signed hash of its canonical encoding,
    ///      so each word is a clean uint32 (≤ 16 of them: no overflow).
    function _sumWeights(uint32[] calldata weights) private pure returns (uint256 sum) {
        assembly ("memory-safe") {
            for { let k := 0 } lt(k, weights.length) { k := add(k, 1) } {
                sum := add(sum, calldataload(add(weights.offset, shl(5, k))))
            }
        }
    }

    /// @dev The position of the first of the `n` contributions looked up from `base` on that is not an accepted
    ///      member of one of the model's releases (a release holds its datanet's first `contributionCount`
    ///      accepted contributions), or `n` when all are.
    function _firstOutside(Batch memory b, ModelTerms memory m, uint256 base, uint256 n)
        private
        pure
        returns (uint256 k)
    {
        uint64[] memory dns = b.datanetIds;
        uint32[] memory seqs = b.acceptedSeqs;
        uint64[] memory relDns = m.releaseDatanets;
        uint32[] memory relCounts = m.releaseCounts;
        unchecked {
            for (; k < n; ++k) {
                uint256 dn;
                uint256 seq;
                assembly ("memory-safe") {
                    let o := shl(5, add(add(base, k), 1))
                    dn := mload(add(dns, o))
                    seq := mload(add(seqs, o))
                }
                if (seq == 0) return k;
                bool found;
                for (uint256 r; r < relDns.length; ++r) {
                    if (relDns[r] == dn && seq <= relCounts[r]) {
                        found = true;
                        break;
                    }
                }
                if (!found) return k;
            }
        }
    }

    /// @dev Whether the payer's deposit covers `fee` on top of what the batch already charged it.
    function _checkDeposit(Batch memory b, address payer, uint256 fee) private view returns (bytes memory) {
        uint256 needed = b.charges.get(payer) + fee;
        uint256 available = depositOf[payer];
        if (needed > available) {
            return abi.encodeWithSelector(InsufficientDeposit.selector, payer, needed, available);
        }
        return _noReason();
    }

    /// @dev Books a checked receipt's charge and its split in memory.
    function _book(
        Batch memory b,
        ModelTerms memory m,
        UsageReceipt calldata r,
        Attribution calldata a,
        uint256 base
    ) private pure {
        uint256 fee = r.fee;
        uint256 ownerShare = fee * m.ownerBps / BPS;
        uint256 nodeShare = fee * m.nodeBps / BPS;
        uint256 dataShare = fee * m.dataBps / BPS;
        uint256 attributed = _creditContributors(b, a.weightsPpm, base, dataShare);
        if (fee != 0) b.charges.add(r.payer, fee);
        m.pool += dataShare - attributed;
        b.toTreasury += fee - ownerShare - nodeShare - dataShare;
        if (m.baseShareBps != 0) {
            // An adapter: the base's owner takes its derivative share out of the owner share. baseShareBps ≤
            // ownerBps (the registry's check), so baseShare ≤ ownerShare, both rounded down.
            uint256 baseShare = fee * m.baseShareBps / BPS;
            m.baseShares += baseShare;
            ownerShare -= baseShare;
        }
        if (ownerShare != 0) b.credits.add(m.owner, ownerShare);
        if (nodeShare != 0) b.credits.add(r.node, nodeShare);
    }

    /// @dev Books each attributed contribution's part of `dataShare` for its contributor (looked up at `base`
    ///      onwards); returns their total.
    function _creditContributors(Batch memory b, uint32[] calldata weights, uint256 base, uint256 dataShare)
        private
        pure
        returns (uint256 attributed)
    {
        address[] memory contributors = b.contributors;
        unchecked {
            for (uint256 k; k < weights.length; ++k) {
                uint256 w;
                address who;
                assembly ("memory-safe") {
                    w := calldataload(add(weights.offset, shl(5, k)))
                    who := mload(add(contributors, shl(5, add(add(base, k), 1))))
                }
                uint256 amount = dataShare * w / PPM;
                if (amount == 0) continue;
                b.credits.add(who, amount);
                attributed += amount;
            }
        }
    }

    /// @dev Spreads each model's unattributed data share over its releases pro rata by token count through
    ///      the reward-per-token accumulators. What the accumulators cannot represent goes to the treasury, so
    ///      the members' total claim never exceeds what was accrued. Returns the total accrued.
    function _accruePools(Batch memory b) private returns (uint256 pooled) {
        for (uint256 j; j < b.modelsLoaded; ++j) {
            ModelTerms memory m = b.models[j];
            uint256 pool = m.pool;
            if (pool == 0) continue;
            uint256 distributed = 0;
            for (uint256 r; r < m.releaseIds.length; ++r) {
                uint256 tokens = m.releaseTokens[r];
                uint256 share = pool * tokens / m.totalTokens;
                if (share == 0) continue;
                uint64 releaseId = m.releaseIds[r];
                uint256 before = rewardPerToken[releaseId];
                // slither-disable-next-line divide-before-multiply
                uint256 next = before + share * SCALE / tokens;
                // Telescoping: Σ accrued == releaseTokens × rewardPerToken / 1e18 ≥ Σ members' claims. Rounding
                // `next` down first is the point (divide-before-multiply is intended): the accumulator can
                // only promise what it represents, and the rest goes to the treasury.
                // slither-disable-next-line divide-before-multiply
                uint256 accrued = next * tokens / SCALE - before * tokens / SCALE;
                rewardPerToken[releaseId] = next;
                distributed += accrued;
                emit PoolAccrued(releaseId, m.modelId, accrued, next);
            }
            b.toTreasury += pool - distributed;
            pooled += distributed;
        }
    }

    /// @dev Writes each distinct payer's deposit and each distinct recipient's balance once. Every charge was
    ///      checked against its payer's deposit when its receipt was.
    function _closeBatch(Batch memory b, uint256 pooled) private {
        for (uint256 j; j < b.modelsLoaded; ++j) {
            ModelTerms memory m = b.models[j];
            if (m.baseShares != 0) b.credits.add(m.baseOwner, m.baseShares);
        }
        if (b.toTreasury != 0) b.credits.add(treasury, b.toTreasury);
        uint256 charged = 0;
        for (uint256 k; k < b.charges.size; ++k) {
            (address payer, uint256 amount) = b.charges.entry(k);
            depositOf[payer] -= amount;
            charged += amount;
        }
        uint256 credited = 0;
        for (uint256 k; k < b.credits.size; ++k) {
            (address account, uint256 amount) = b.credits.entry(k);
            balanceOf[account] += amount;
            credited += amount;
            emit Credited(account, amount);
        }
        totalDeposits -= charged;
        totalCredited += credited;
        unclaimedPoolRewards += pooled;
    }

    /// @dev The model's settlement terms, read from the registries the first time the batch meets it. For an
    ///      adapter with a derivative share, the base model's owner is read then too (its current owner: one
    ///      who took the base over is paid for the receipts settled after).
    // slither-disable-next-line calls-loop
    function _modelTerms(Batch memory b, uint64 modelId) private view returns (ModelTerms memory) {
        for (uint256 j; j < b.modelsLoaded; ++j) {
            if (b.models[j].modelId == modelId) return b.models[j];
        }
        // Zeroed memory, every field written below.
        // slither-disable-next-line uninitialized-local
        ModelTerms memory m;
        IModelRegistry.Model memory model = _models.getModel(modelId);
        uint256 count = model.releaseIds.length;
        m.modelId = modelId;
        m.owner = model.owner;
        m.price = model.pricePerKiloToken;
        m.nextPrice = model.nextPricePerKiloToken;
        m.nextPriceAt = model.nextPriceAt;
        m.ownerBps = model.split.ownerBps;
        m.dataBps = model.split.dataBps;
        m.nodeBps = model.split.nodeBps;
        m.baseShareBps = model.baseShareBps;
        if (model.baseShareBps != 0) m.baseOwner = _ownerOf(b, model.baseModelId);
        m.releaseIds = model.releaseIds;
        m.releaseDatanets = new uint64[](count);
        m.releaseCounts = new uint32[](count);
        m.releaseTokens = new uint64[](count);
        for (uint256 r; r < count; ++r) {
            IDatanetRegistry.Release memory release = _datanets.getRelease(model.releaseIds[r]);
            m.releaseDatanets[r] = release.datanetId;
            m.releaseCounts[r] = release.contributionCount;
            m.releaseTokens[r] = release.tokenCount;
            m.totalTokens += release.tokenCount;
        }
        b.models[b.modelsLoaded++] = m;
        return m;
    }

    /// @dev The current owner of a registered model: from the batch's terms when it was loaded already, else
    ///      from the registry.
    // slither-disable-next-line calls-loop
    function _ownerOf(Batch memory b, uint64 modelId) private view returns (address) {
        for (uint256 j; j < b.modelsLoaded; ++j) {
            if (b.models[j].modelId == modelId) return b.models[j].owner;
        }
        return _models.getModel(modelId).owner;
    }

    /// @dev A 65-byte (r,s,v) or 64-byte EIP-2098 signature by the payer, or by a signer the payer authorized
    ///      whose authorization has not ended. No contract is called: nothing the payer deploys can change the
    ///      answer after the receipt was signed.
    function _isAuthorized(address payer, bytes32 digest, bytes calldata signature)
        private
        view
        returns (bool)
    {
        address signer;
        ECDSA.RecoverError err;
        if (signature.length == 65) {
            // slither-disable-next-line unused-return
            (signer, err,) = ECDSA.tryRecover(
                digest, uint8(signature[64]), bytes32(signature[0:32]), bytes32(signature[32:64])
            );
        } else if (signature.length == 64) {
            // slither-disable-next-line unused-return
            (signer, err,) = ECDSA.tryRecover(digest, bytes32(signature[0:32]), bytes32(signature[32:64]));
        } else {
            return false;
        }
        if (err != ECDSA.RecoverError.NoError) return false;
        // forge-lint: disable-next-line(block-timestamp) -- spans of hours to days
        return signer == payer || block.timestamp <= _signers[payer][signer];
    }

    /// @dev Emits `ReceiptSettled`, ABI-encoded at the free pointer without moving it (nothing allocated per
    ///      receipt).
    function _emitSettled(bytes32 digest, UsageReceipt calldata r, Attribution calldata a) private {
        (uint256 ptr, uint256 size) = _encodeSettled(r, a);
        bytes32 topic0 = ReceiptSettled.selector;
        address payer = r.payer;
        uint64 modelId = r.modelId;
        assembly ("memory-safe") {
            log4(ptr, size, topic0, digest, payer, modelId)
        }
    }

    /// @dev `ReceiptSettled`'s data: the receipt's 13 head words copied from calldata (checked clean by
    ///      `_hashReceiptStruct`), its URI, then the attribution packed 12 bytes per entry (id uint64, weight
    ///      uint32, big-endian; words clean since they matched the signed hash). Returns where and how long.
    function _encodeSettled(UsageReceipt calldata r, Attribution calldata a)
        private
        pure
        returns (uint256 ptr, uint256 size)
    {
        assembly ("memory-safe") {
            ptr := mload(0x40)
            let uriOffset := add(r, calldataload(add(r, 0xa0)))
            let uriLength := calldataload(uriOffset)
            let uriPadded := and(add(uriLength, 31), not(31))
            let receiptSize := add(0x1c0, uriPadded)
            mstore(ptr, 0x40)
            mstore(add(ptr, 0x20), add(0x40, receiptSize))
            let rp := add(ptr, 0x40)
            calldatacopy(rp, r, 0x1a0)
            mstore(add(rp, 0xa0), 0x1a0)
            mstore(add(rp, 0x1a0), uriLength)
            mstore(add(add(rp, 0x1a0), uriPadded), 0)
            calldatacopy(add(rp, 0x1c0), add(uriOffset, 0x20), uriLength)
            let ap := add(rp, receiptSize)
            let ids := add(a, calldataload(a))
            let weights := add(a, calldataload(add(a, 0x20)))
            let n := calldataload(ids)
            mstore(ap, mul(n, 12))
            let d := add(ap, 0x20)
            for { let k := 0 } lt(k, n) { k := add(k, 1) } {
                let o := shl(5, add(k, 1))
                mstore(
                    add(d, mul(k, 12)),
                    or(shl(192, calldataload(add(ids, o))), shl(160, calldataload(add(weights, o))))
                )
            }
            mstore(add(d, mul(n, 12)), 0)
            size := sub(add(d, and(add(mul(n, 12), 31), not(31))), ptr)
        }
    }

    /// @dev The EIP-712 struct hash of a receipt: its static words hashed as they lie in calldata, the URI
    ///      as keccak256 of its bytes. Reverts unless every narrow member is a clean word (as the ABI decoder
    ///      would), so the digest, the signature and the emitted receipt all speak of the same values.
    function _hashReceiptStruct(UsageReceipt calldata r) private pure returns (bytes32 h) {
        bytes32 typehash = RECEIPT_TYPEHASH;
        string calldata uri = r.outputURI;
        assembly ("memory-safe") {
            // payer, node: 160 bits; modelId, deadline: 64; inputTokens, outputTokens: 32; version: 16.
            if or(
                or(shr(160, calldataload(r)), shr(160, calldataload(add(r, 0x40)))),
                or(
                    or(shr(64, calldataload(add(r, 0x20))), shr(64, calldataload(add(r, 0x140)))),
                    or(
                        or(shr(32, calldataload(add(r, 0xc0))), shr(32, calldataload(add(r, 0xe0)))),
                        shr(16, calldataload(add(r, 0x160)))
                    )
                )
            ) { revert(0, 0) }
            let ptr := mload(0x40)
            calldatacopy(ptr, uri.offset, uri.length)
            let uriHash := keccak256(ptr, uri.length)
            mstore(ptr, typehash)
            calldatacopy(add(ptr, 0x20), r, 0xa0)
            mstore(add(ptr, 0xc0), uriHash)
            calldatacopy(add(ptr, 0xe0), add(r, 0xc0), 0xe0)
            h := keccak256(ptr, 0x1c0)
        }
    }

    /// @dev keccak256 of the attribution's calldata encoding. Equal to keccak256(abi.encode(ids, weights))
    ///      exactly when that encoding is canonical; a non-canonical one cannot match a hash the payer signed
    ///      over the canonical encoding (its offsets and lengths are part of the hashed bytes).
    function _hashAttribution(Attribution calldata a) private pure returns (bytes32 h) {
        uint256 length = 0x80 + 32 * (a.contributionIds.length + a.weightsPpm.length);
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            calldatacopy(ptr, a, length)
            h := keccak256(ptr, length)
        }
    }

    function _isMember(IDatanetRegistry.Release memory release, IDatanetRegistry.Contribution memory c)
        private
        pure
        returns (bool)
    {
        return c.status == IDatanetRegistry.ContributionStatus.Accepted && c.datanetId == release.datanetId
            && c.acceptedSeq <= release.contributionCount;
    }
}
