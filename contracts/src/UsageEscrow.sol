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

    /// @notice The DatanetRegistry's `settlementInfo` answer did not hold one entry per id asked.
    error MalformedSettlementInfo();
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
        // Memory pointers to the first element of each array `settlementInfo` returned (left in place).
        uint256 contributors;
        uint256 datanetIds;
        uint256 acceptedSeqs;
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
        // forge-lint: disable-next-line(block-timestamp) -- spans of hours to days
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
            _emitSettled(digest, receipts[i], attributions[i], _outputURI(outputURIs, i));
        }
        uint256 pooled = _accruePools(b);
        _closeBatch(b, pooled);
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
        // forge-lint: disable-next-line(incorrect-shift) -- bit mask: 1 << index
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
            // A word that is not a clean uint64 makes `settlementInfo` revert (and could never match a signed
            // attribution hash).
            assembly ("memory-safe") {
                calldatacopy(add(ids, shl(5, add(cursor, 1))), batchIds.offset, shl(5, batchIds.length))
            }
            cursor += batchIds.length;
        }
        if (total != 0) (b.contributors, b.datanetIds, b.acceptedSeqs) = _lookUpContributions(ids);
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
        // forge-lint: disable-next-line(block-timestamp) -- spans of hours to days
        if (r.deadline < block.timestamp) revert ReceiptExpired(i, r.deadline);
        if (r.deadline > b.latestDeadline) revert ReceiptDeadlineTooFar(i, r.deadline, b.latestDeadline);
        ModelTerms memory m = _modelTerms(b, i, r.modelId);
        uint256 fee = r.fee;
        uint256 expected = m.price * (uint256(r.inputTokens) + r.outputTokens) / 1000;
        if (fee != expected) revert FeeMismatch(i, expected, fee);
        if (_hashAttributionCalldata(a) != r.attributionHash) revert AttributionHashMismatch(i);
        _useNonce(i, payer, r.nonce);
        digest = _hashTypedDataV4(_hashReceiptCalldata(r));
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
        uint256 attributed = _creditContributors(b, i, m, a.contributionIds, a.weightsPpm, dataShare);
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
        uint64[] calldata ids,
        uint32[] calldata weights,
        uint256 dataShare
    ) private pure returns (uint256 attributed) {
        uint256 base = b.cursor;
        uint256 n = ids.length;
        uint256 sum;
        // Unchecked: n ≤ MAX_ATTRIBUTIONS, weights < 2^32, dataShare < 2^130 (price < 2^96, tokens < 2^33), and
        // Σ amounts ≤ dataShare since Σ weights is checked ≤ PPM below before anything is used.
        unchecked {
            b.cursor = base + n;
            for (uint256 k; k < n; ++k) {
                uint256 weight;
                // Raw read: the attribution's calldata matched the signed hash of its canonical encoding.
                assembly ("memory-safe") {
                    weight := calldataload(add(weights.offset, shl(5, k)))
                }
                sum += weight;
                attributed += _creditContributor(b, m, i, ids[k], base + k, dataShare * weight / PPM);
            }
        }
        if (sum > PPM) revert WeightsExceedOneMillion(i, sum);
    }

    /// @dev Checks the contribution at `index` of the batch's lookups is an accepted member of one of the
    ///      model's releases and books `amount` for its contributor.
    function _creditContributor(
        Batch memory b,
        ModelTerms memory m,
        uint256 i,
        uint64 contributionId,
        uint256 index,
        uint256 amount
    ) private pure returns (uint256) {
        (address contributor, uint64 datanetId, uint32 acceptedSeq) = _lookup(b, index);
        if (!_inModelReleases(m, datanetId, acceptedSeq)) {
            revert ContributionNotInModelReleases(i, contributionId);
        }
        if (amount != 0) b.credits.add(contributor, amount);
        return amount;
    }

    /// @dev The `index`-th result of the batch's `settlementInfo` lookup (`index` < the ids looked up).
    function _lookup(Batch memory b, uint256 index)
        private
        pure
        returns (address contributor, uint64 datanetId, uint32 acceptedSeq)
    {
        uint256 contributors = b.contributors;
        uint256 datanetIds = b.datanetIds;
        uint256 acceptedSeqs = b.acceptedSeqs;
        assembly ("memory-safe") {
            let offset := shl(5, index)
            contributor := and(mload(add(contributors, offset)), 0xffffffffffffffffffffffffffffffffffffffff)
            datanetId := and(mload(add(datanetIds, offset)), 0xffffffffffffffff)
            acceptedSeq := and(mload(add(acceptedSeqs, offset)), 0xffffffff)
        }
    }

    /// @dev One `settlementInfo` call for the whole batch. Its return data is used where it lies (no
    ///      decoding copy): returns pointers to the first element of each of the three arrays, after checking
    ///      each holds `ids.length` elements inside the return data.
    function _lookUpContributions(uint64[] memory ids)
        private
        view
        returns (uint256 contributors, uint256 datanetIds, uint256 acceptedSeqs)
    {
        (bool ok, bytes memory ret) =
            address(_datanets).staticcall(abi.encodeCall(IDatanetRegistry.settlementInfo, (ids)));
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        contributors = _returnedArray(ret, 0, ids.length);
        datanetIds = _returnedArray(ret, 1, ids.length);
        acceptedSeqs = _returnedArray(ret, 2, ids.length);
    }

    /// @dev Pointer to the first element of the `index`-th dynamic array in ABI-encoded `ret`, which must hold
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
            ptr := add(add(ret, 0x40), offset)
        }
        if (encodedLength != length) revert MalformedSettlementInfo();
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

    /// @dev Writes each distinct payer's deposit and each distinct recipient's balance once.
    function _closeBatch(Batch memory b, uint256 pooled) private {
        if (b.toTreasury != 0) b.credits.add(treasury, b.toTreasury);
        uint256 charged = 0;
        for (uint256 k; k < b.charges.size; ++k) {
            (address payer, uint256 amount) = b.charges.entry(k);
            uint256 available = depositOf[payer];
            if (amount > available) revert InsufficientDeposit(payer, amount, available);
            depositOf[payer] = available - amount;
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
        // forge-lint: disable-next-line(incorrect-shift) -- bit mask: 1 << index
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
        address recovered = address(0);
        ECDSA.RecoverError err = ECDSA.RecoverError.InvalidSignatureLength;
        if (signature.length == 65) {
            // slither-disable-next-line unused-return
            (recovered, err,) = ECDSA.tryRecover(
                digest, uint8(signature[64]), bytes32(signature[0:32]), bytes32(signature[32:64])
            );
        } else if (signature.length == 64) {
            // slither-disable-next-line unused-return
            (recovered, err,) = ECDSA.tryRecover(digest, bytes32(signature[0:32]), bytes32(signature[32:64]));
        }
        if (err == ECDSA.RecoverError.NoError && recovered == payer) return true;
        if (payer.code.length == 0) return false;
        return SignatureChecker.isValidERC1271SignatureNow(payer, digest, signature);
    }

    /// @dev Emits `ReceiptSettled`, ABI-encoding its data in scratch memory past the free pointer (nothing
    ///      is allocated per receipt). Every field of `r` it copies was read, hence validated, by
    ///      `_settleReceipt` first. The attribution is packed 12 bytes per entry: id (uint64) then weight
    ///      (uint32), big-endian.
    function _emitSettled(
        bytes32 digest,
        UsageReceipt calldata r,
        Attribution calldata a,
        string calldata uri
    ) private {
        (uint256 ptr, uint256 uriHead) = _encodeSettledHead(r, a);
        bytes32 topic0 = ReceiptSettled.selector;
        address payer = r.payer;
        uint64 modelId = r.modelId;
        assembly ("memory-safe") {
            let uriLength := uri.length
            let uriPadded := and(add(uriLength, 31), not(31))
            mstore(uriHead, uriLength)
            if uriLength { mstore(add(uriHead, uriPadded), 0)} // zero the last word's padding
            calldatacopy(add(uriHead, 0x20), uri.offset, uriLength)
            log4(ptr, sub(add(add(uriHead, 0x20), uriPadded), ptr), topic0, digest, payer, modelId)
        }
    }

    /// @dev Writes `ReceiptSettled`'s static fields and packed attribution at the free pointer (without
    ///      moving it); returns where the data starts and where `outputURI` goes.
    function _encodeSettledHead(UsageReceipt calldata r, Attribution calldata a)
        private
        pure
        returns (uint256 ptr, uint256 uriHead)
    {
        uint64[] calldata ids = a.contributionIds;
        uint32[] calldata weights = a.weightsPpm;
        uint256 n = ids.length;
        uint256 attributionPadded = (n * 12 + 31) & ~uint256(31);
        assembly ("memory-safe") {
            ptr := mload(0x40)
            mstore(ptr, calldataload(add(r, 0x40))) // node
            mstore(add(ptr, 0x20), calldataload(add(r, 0x100))) // nonce
            mstore(add(ptr, 0x40), calldataload(add(r, 0xe0))) // fee
            mstore(add(ptr, 0x60), calldataload(add(r, 0xa0))) // inputTokens
            mstore(add(ptr, 0x80), calldataload(add(r, 0xc0))) // outputTokens
            mstore(add(ptr, 0xa0), calldataload(add(r, 0x80))) // outputHash
            mstore(add(ptr, 0xc0), 0x100) // offset of `attribution`
            mstore(add(ptr, 0xe0), add(0x120, attributionPadded)) // offset of `outputURI`
            mstore(add(ptr, 0x100), mul(n, 12))
            if n { mstore(add(ptr, add(0x100, attributionPadded)), 0)} // zero the last word's padding
            uriHead := add(add(ptr, 0x120), attributionPadded)
        }
        // The attribution's calldata hashed to the signed `attributionHash` of its canonical encoding, so its
        // words are clean uint64 / uint32 values: read them raw.
        assembly ("memory-safe") {
            let out := add(ptr, 0x120)
            for { let k := 0 } lt(k, n) { k := add(k, 1) } {
                let id := calldataload(add(ids.offset, shl(5, k)))
                let weight := calldataload(add(weights.offset, shl(5, k)))
                mstore(add(out, mul(k, 12)), or(shl(192, id), shl(160, weight)))
            }
        }
    }

    /// @dev Receipt `i`'s output URI, or the empty string when the batch carries none.
    // slither-disable-next-line write-after-write
    function _outputURI(string[] calldata outputURIs, uint256 i) private pure returns (string calldata uri) {
        if (outputURIs.length != 0) return outputURIs[i];
        assembly ("memory-safe") {
            uri.offset := 0
            uri.length := 0
        }
    }

    /// @dev The EIP-712 struct hash of a receipt whose fields `_settleReceipt` already read (so validated):
    ///      all eleven members are static, so encodeData is their 32-byte words as laid out in calldata.
    function _hashReceiptCalldata(UsageReceipt calldata r) private pure returns (bytes32 h) {
        bytes32 typehash = RECEIPT_TYPEHASH;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, typehash)
            calldatacopy(add(ptr, 0x20), r, 0x160)
            h := keccak256(ptr, 0x180)
        }
    }

    /// @dev keccak256 of the attribution's calldata encoding. Equal to keccak256(abi.encode(ids, weights))
    ///      exactly when that encoding is canonical, and a non-canonical one cannot match a hash the payer
    ///      signed over the canonical encoding (its offsets and lengths are part of the hashed bytes).
    function _hashAttributionCalldata(Attribution calldata a) private pure returns (bytes32 h) {
        uint256 length = 0x80 + 32 * (a.contributionIds.length + a.weightsPpm.length);
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            calldatacopy(ptr, a, length)
            h := keccak256(ptr, length)
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
        returns (bool found)
    {
        if (acceptedSeq == 0) return false;
        uint64[] memory releaseDatanets = m.releaseDatanets;
        uint32[] memory releaseCounts = m.releaseCounts; // same length, built together in `_modelTerms`
        assembly ("memory-safe") {
            let count := mload(releaseDatanets)
            for { let r := 0 } lt(r, count) { r := add(r, 1) } {
                let offset := shl(5, add(r, 1))
                if and(
                    eq(mload(add(releaseDatanets, offset)), datanetId),
                    iszero(gt(acceptedSeq, mload(add(releaseCounts, offset))))
                ) {
                    found := 1
                    break
                }
            }
        }
    }
}
