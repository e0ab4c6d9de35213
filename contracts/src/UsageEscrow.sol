// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IDatanetRegistry} from "./interfaces/IDatanetRegistry.sol";
import {IModelRegistry} from "./interfaces/IModelRegistry.sol";
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
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

/// @title UsageEscrow
/// @notice Deposits, signed usage receipts settled in batches, the fee split, release pools and pull payouts.
/// @dev Settlement aggregates every charge and credit of a batch in memory (`AmountMap`) and writes each
///      distinct payer's deposit and each distinct recipient's balance once; the only per-receipt storage
///      write is the payer's nonce bit. Contributions are looked up with one `settlementInfo` call per batch
///      and each distinct model (with its releases) is read once per batch.
///      Invariant, to the wei: token.balanceOf(this) == totalDeposits + totalCredited + unclaimedPoolRewards.
contract UsageEscrow is IUsageEscrow, EIP712, Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using AmountMap for AmountMap.Map;

    /// @notice Most contributions one receipt may attribute.
    uint256 public constant MAX_ATTRIBUTIONS = 16;
    /// @notice Parts per million in a whole attribution.
    uint256 public constant PPM = 1_000_000;
    /// @notice Longest withdrawal delay the owner may set.
    uint64 public constant MAX_WITHDRAWAL_DELAY = 30 days;
    /// @notice The EIP-712 type hash of `UsageReceipt`.
    bytes32 public constant RECEIPT_TYPEHASH = keccak256(
        "UsageReceipt(address payer,uint64 modelId,address node,bytes32 promptHash,bytes32 outputHash,uint32 inputTokens,uint32 outputTokens,uint256 fee,uint256 nonce,uint64 deadline,bytes32 attributionHash)"
    );

    uint256 private constant BPS = 10_000;
    uint256 private constant SCALE = 1e18;

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
        uint256 ownerBps;
        uint256 dataBps;
        uint256 nodeBps;
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
        address[] contributors;
        uint64[] datanetIds;
        uint32[] acceptedSeqs;
        uint256 cursor;
        uint256 toTreasury;
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
    mapping(address payer => mapping(uint256 wordPos => uint256 bits)) private _nonceBitmap;
    mapping(uint64 releaseId => mapping(uint64 contributionId => uint256 paid)) private _poolPaid;

    /// @param token_ The payment token.
    /// @param models_ The model registry.
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
        if (w.amount == 0 || block.timestamp < w.unlockAt) revert WithdrawalNotReady(w.unlockAt);
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
        bytes[] calldata signatures,
        string[] calldata outputURIs
    ) external {
        uint256 n = receipts.length;
        if (
            n == 0 || attributions.length != n || signatures.length != n
                || (outputURIs.length != 0 && outputURIs.length != n)
        ) {
            revert BatchLengthMismatch(n, attributions.length, signatures.length, outputURIs.length);
        }
        Batch memory b = _openBatch(attributions, n);
        for (uint256 i; i < n; ++i) {
            bytes32 digest = _settleReceipt(b, i, receipts[i], attributions[i], signatures[i]);
            _emitSettled(digest, receipts[i], attributions[i], outputURIs, i);
        }
        uint256 pooled = _accruePools(b);
        _closeBatch(b, pooled);
    }

    /// @inheritdoc IUsageEscrow
    function claimPoolRewards(uint64 releaseId, uint64[] calldata contributionIds) external {
        IDatanetRegistry.Release memory release = _datanets.getRelease(releaseId);
        uint256 rpt = rewardPerToken[releaseId];
        uint256 paidOut;
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
        amount = balanceOf[msg.sender];
        if (amount == 0) revert NothingToClaim();
        balanceOf[msg.sender] = 0;
        totalCredited -= amount;
        emit Claimed(msg.sender, to, amount);
        _token.safeTransfer(to, amount);
    }

    /// @inheritdoc IUsageEscrow
    function invalidateNonces(uint256 wordPos, uint256 mask) external {
        _nonceBitmap[msg.sender][wordPos] |= mask;
        emit NoncesInvalidated(msg.sender, wordPos, mask);
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
        if (delay <= maxReceiptValidity || delay > MAX_WITHDRAWAL_DELAY) revert InvalidParameter();
        withdrawalDelay = delay;
        emit WithdrawalDelaySet(delay);
    }

    /// @inheritdoc IUsageEscrow
    /// @dev Must also be nonzero.
    function setMaxReceiptValidity(uint64 validity) external onlyOwner {
        if (validity == 0 || validity >= withdrawalDelay) revert InvalidParameter();
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
    function pendingWithdrawal(address payer) external view returns (uint256 amount, uint64 unlockAt) {
        Withdrawal memory w = _withdrawals[payer];
        return (w.amount, w.unlockAt);
    }

    /// @inheritdoc IUsageEscrow
    function isNonceUsed(address payer, uint256 nonce) external view returns (bool) {
        return _nonceBitmap[payer][nonce >> 8] & (1 << (nonce & 0xff)) != 0;
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

    /// @dev Checks the attributions' shapes, looks every attributed contribution up in one call, sizes the
    ///      in-memory maps for the batch's worst case.
    function _openBatch(Attribution[] calldata attributions, uint256 n)
        private
        view
        returns (Batch memory b)
    {
        uint256 total;
        for (uint256 i; i < n; ++i) {
            uint256 len = attributions[i].contributionIds.length;
            if (len != attributions[i].weightsPpm.length || len > MAX_ATTRIBUTIONS) {
                revert InvalidAttribution(i);
            }
            total += len;
        }
        uint64[] memory ids = new uint64[](total);
        uint256 cursor;
        for (uint256 i; i < n; ++i) {
            uint64[] calldata batchIds = attributions[i].contributionIds;
            for (uint256 k; k < batchIds.length; ++k) {
                ids[cursor++] = batchIds[k];
            }
        }
        if (total != 0) (b.contributors, b.datanetIds, b.acceptedSeqs) = _datanets.settlementInfo(ids);
        // Per receipt: its contributors, the model owner and the node; plus the treasury once.
        b.credits = AmountMap.create(total + 2 * n + 1);
        b.charges = AmountMap.create(n);
        b.models = new ModelTerms[](n);
        b.knownModels = _models.modelCount();
        b.latestDeadline = uint64(block.timestamp) + maxReceiptValidity;
    }

    /// @dev Checks one receipt, uses its nonce and books its charge and credits in memory.
    function _settleReceipt(
        Batch memory b,
        uint256 i,
        UsageReceipt calldata r,
        Attribution calldata a,
        bytes calldata signature
    ) private returns (bytes32 digest) {
        address payer = r.payer;
        address node = r.node;
        if (payer == address(0) || node == address(0)) revert InvalidParty(i);
        if (r.deadline < block.timestamp) revert ReceiptExpired(i, r.deadline);
        if (r.deadline > b.latestDeadline) revert ReceiptDeadlineTooFar(i, r.deadline, b.latestDeadline);
        ModelTerms memory m = _modelTerms(b, i, r.modelId);
        uint256 fee = r.fee;
        uint256 expected = m.price * (uint256(r.inputTokens) + r.outputTokens) / 1000;
        if (fee != expected) revert FeeMismatch(i, expected, fee);
        if (_hashAttribution(a) != r.attributionHash) revert AttributionHashMismatch(i);
        _useNonce(i, payer, r.nonce);
        digest = _hashTypedDataV4(_hashReceiptStruct(r));
        if (!_isValidSignature(payer, digest, signature)) revert InvalidSignature(i, payer);

        _book(b, i, m, r, a);
    }

    /// @dev Books a checked receipt's charge and its split in memory.
    function _book(
        Batch memory b,
        uint256 i,
        ModelTerms memory m,
        UsageReceipt calldata r,
        Attribution calldata a
    ) private pure {
        uint256 fee = r.fee;
        uint256 ownerShare = fee * m.ownerBps / BPS;
        uint256 nodeShare = fee * m.nodeBps / BPS;
        uint256 dataShare = fee * m.dataBps / BPS;
        uint256 attributed = _creditContributors(b, i, m, a, dataShare);
        if (fee != 0) b.charges.add(r.payer, fee);
        if (ownerShare != 0) b.credits.add(m.owner, ownerShare);
        if (nodeShare != 0) b.credits.add(r.node, nodeShare);
        m.pool += dataShare - attributed;
        b.toTreasury += fee - ownerShare - nodeShare - dataShare;
    }

    /// @dev Checks each attributed contribution is an accepted member of one of the model's releases and
    ///      books its share of the data part. Returns the attributed total.
    function _creditContributors(
        Batch memory b,
        uint256 i,
        ModelTerms memory m,
        Attribution calldata a,
        uint256 dataShare
    ) private pure returns (uint256 attributed) {
        uint256 len = a.contributionIds.length;
        uint256 base = b.cursor;
        b.cursor = base + len;
        uint256 sum;
        for (uint256 k; k < len; ++k) {
            uint256 weight = a.weightsPpm[k];
            sum += weight;
            if (!_inModelReleases(m, b.datanetIds[base + k], b.acceptedSeqs[base + k])) {
                revert ContributionNotInModelReleases(i, a.contributionIds[k]);
            }
            uint256 amount = dataShare * weight / PPM;
            if (amount != 0) {
                b.credits.add(b.contributors[base + k], amount);
                attributed += amount;
            }
        }
        if (sum > PPM) revert WeightsExceedOneMillion(i, sum);
    }

    /// @dev Spreads each model's unattributed data share over its releases pro rata by token count through
    ///      the reward-per-token accumulators. What the accumulators cannot represent goes to the treasury, so
    ///      the members' total claim never exceeds what was accrued. Returns the total accrued.
    function _accruePools(Batch memory b) private returns (uint256 pooled) {
        for (uint256 j; j < b.modelsLoaded; ++j) {
            ModelTerms memory m = b.models[j];
            uint256 pool = m.pool;
            if (pool == 0) continue;
            uint256 distributed;
            for (uint256 r; r < m.releaseIds.length; ++r) {
                uint256 tokens = m.releaseTokens[r];
                uint256 share = pool * tokens / m.totalTokens;
                if (share == 0) continue;
                uint64 releaseId = m.releaseIds[r];
                uint256 before = rewardPerToken[releaseId];
                uint256 next = before + share * SCALE / tokens;
                // Telescoping: Σ accrued == releaseTokens × rewardPerToken / 1e18 ≥ Σ members' claims.
                uint256 accrued = next * tokens / SCALE - before * tokens / SCALE;
                rewardPerToken[releaseId] = next;
                distributed += accrued;
                emit PoolAccrued(releaseId, m.modelId, accrued, next);
            }
            b.toTreasury += pool - distributed;
            pooled += distributed;
        }
    }

    /// @dev Writes each distinct payer's deposit and each distinct recipient's balance once.
    function _closeBatch(Batch memory b, uint256 pooled) private {
        if (b.toTreasury != 0) b.credits.add(treasury, b.toTreasury);
        uint256 charged;
        for (uint256 k; k < b.charges.size; ++k) {
            (address payer, uint256 amount) = b.charges.entry(k);
            uint256 available = depositOf[payer];
            if (amount > available) revert InsufficientDeposit(payer, amount, available);
            depositOf[payer] = available - amount;
            charged += amount;
        }
        uint256 credited;
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

    /// @dev The model's settlement terms, read from the registries the first time the batch meets it.
    function _modelTerms(Batch memory b, uint256 i, uint64 modelId)
        private
        view
        returns (ModelTerms memory m)
    {
        for (uint256 j; j < b.modelsLoaded; ++j) {
            if (b.models[j].modelId == modelId) return b.models[j];
        }
        if (modelId == 0 || modelId > b.knownModels) revert UnknownModel(i, modelId);
        IModelRegistry.Model memory model = _models.getModel(modelId);
        uint256 count = model.releaseIds.length;
        m.modelId = modelId;
        m.owner = model.owner;
        m.price = model.pricePerKiloToken;
        m.ownerBps = model.split.ownerBps;
        m.dataBps = model.split.dataBps;
        m.nodeBps = model.split.nodeBps;
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
    }

    function _useNonce(uint256 i, address payer, uint256 nonce) private {
        uint256 bit = 1 << (nonce & 0xff);
        mapping(uint256 => uint256) storage bitmap = _nonceBitmap[payer];
        uint256 word = bitmap[nonce >> 8];
        if (word & bit != 0) revert NonceAlreadyUsed(i, payer, nonce);
        bitmap[nonce >> 8] = word | bit;
    }

    /// @dev EOA signatures (65-byte r,s,v or 64-byte EIP-2098 r,vs), then EIP-1271 if the payer has code.
    function _isValidSignature(address payer, bytes32 digest, bytes calldata signature)
        private
        view
        returns (bool)
    {
        address recovered;
        ECDSA.RecoverError err = ECDSA.RecoverError.InvalidSignatureLength;
        if (signature.length == 65) {
            (recovered, err,) = ECDSA.tryRecover(
                digest, uint8(signature[64]), bytes32(signature[0:32]), bytes32(signature[32:64])
            );
        } else if (signature.length == 64) {
            (recovered, err,) = ECDSA.tryRecover(digest, bytes32(signature[0:32]), bytes32(signature[32:64]));
        }
        if (err == ECDSA.RecoverError.NoError && recovered == payer) return true;
        if (payer.code.length == 0) return false;
        return SignatureChecker.isValidERC1271SignatureNow(payer, digest, signature);
    }

    function _emitSettled(
        bytes32 digest,
        UsageReceipt calldata r,
        Attribution calldata a,
        string[] calldata outputURIs,
        uint256 i
    ) private {
        string calldata uri = outputURIs.length == 0 ? _emptyString() : outputURIs[i];
        // ABI-encoded as `emit ReceiptSettled(..)` would, assembled in two steps to keep the stack shallow.
        bytes memory data = abi.encode(
            r.node, r.nonce, r.fee, r.inputTokens, r.outputTokens, r.outputHash, _packAttribution(a), uri
        );
        bytes32 topic0 = ReceiptSettled.selector;
        address payer = r.payer;
        uint64 modelId = r.modelId;
        assembly ("memory-safe") {
            log4(add(data, 0x20), mload(data), topic0, digest, payer, modelId)
        }
    }

    function _emptyString() private pure returns (string calldata s) {
        assembly ("memory-safe") {
            s.offset := 0
            s.length := 0
        }
    }

    /// @dev Each entry as 12 bytes: contribution id (uint64) then weight (uint32), big-endian.
    function _packAttribution(Attribution calldata a) private pure returns (bytes memory packed) {
        uint256 len = a.contributionIds.length;
        packed = new bytes(len * 12);
        for (uint256 k; k < len; ++k) {
            uint256 word = (uint256(a.contributionIds[k]) << 192) | (uint256(a.weightsPpm[k]) << 160);
            assembly ("memory-safe") {
                mstore(add(add(packed, 0x20), mul(k, 12)), word)
            }
        }
    }

    function _hashReceiptStruct(UsageReceipt calldata r) private pure returns (bytes32) {
        return keccak256(
            abi.encode(
                RECEIPT_TYPEHASH,
                r.payer,
                r.modelId,
                r.node,
                r.promptHash,
                r.outputHash,
                r.inputTokens,
                r.outputTokens,
                r.fee,
                r.nonce,
                r.deadline,
                r.attributionHash
            )
        );
    }

    function _hashAttribution(Attribution calldata a) private pure returns (bytes32) {
        return keccak256(abi.encode(a.contributionIds, a.weightsPpm));
    }

    function _isMember(IDatanetRegistry.Release memory release, IDatanetRegistry.Contribution memory c)
        private
        pure
        returns (bool)
    {
        return c.status == IDatanetRegistry.ContributionStatus.Accepted && c.datanetId == release.datanetId
            && c.acceptedSeq <= release.contributionCount;
    }

    function _inModelReleases(ModelTerms memory m, uint64 datanetId, uint32 acceptedSeq)
        private
        pure
        returns (bool)
    {
        if (acceptedSeq == 0) return false;
        for (uint256 r; r < m.releaseIds.length; ++r) {
            if (m.releaseDatanets[r] == datanetId && acceptedSeq <= m.releaseCounts[r]) return true;
        }
        return false;
    }
}
