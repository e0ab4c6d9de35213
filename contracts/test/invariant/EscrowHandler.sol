// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {DatanetRegistry} from "../../src/DatanetRegistry.sol";
import {ModelRegistry} from "../../src/ModelRegistry.sol";
import {SoilToken} from "../../src/SoilToken.sol";
import {UsageEscrow} from "../../src/UsageEscrow.sol";
import {IDatanetRegistry} from "../../src/interfaces/IDatanetRegistry.sol";
import {IModelRegistry} from "../../src/interfaces/IModelRegistry.sol";
import {IUsageEscrow} from "../../src/interfaces/IUsageEscrow.sol";
import {Test} from "forge-std/Test.sol";
import {Vm} from "forge-std/Vm.sol";

/// @notice Plays a node that has payers sign receipts only when they are valid at signing time (the payer's
///         deposit, net of its live pending withdrawal and of the receipts it signed that have not settled,
///         covers the fee; the fee is `quoteFee` at the deadline; the deadline is within `latestDeadline()`) and
///         keeps them in an outbox, interleaved with everything the other parties may do: payers withdraw,
///         revoke signers and settle receipts of their own with an outbox receipt's nonce, the model owner
///         changes prices, the protocol owner moves the receipt validity and the
///         withdrawal delay, a third party copies receipts out of the outbox and settles them first (in its own
///         batches, re-encoded, duplicated, tampered with), batches carry invalid receipts, tokens are sent
///         directly and swept, balances are claimed, time passes.
/// @dev Time never passes a receipt's deadline before the node settled its outbox (`_advanceTo`), so every
///      receipt of the outbox is due to settle: the liveness ghost counts those that did not. Ghost totals of
///      what every recipient is owed are computed from the fee split of each receipt that settled, by whichever
///      party, from the batch's `ReceiptSettled` / `ReceiptSkipped` logs.
contract EscrowHandler is Test {
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant RECEIPT_TYPEHASH = keccak256(
        "UsageReceipt(address payer,uint64 modelId,address node,bytes32 promptHash,bytes32 outputHash,string outputURI,uint32 inputTokens,uint32 outputTokens,uint256 fee,uint256 nonce,uint64 deadline,uint16 attributionVersion,bytes32 attributionHash)"
    );
    uint256 internal constant BPS = 10_000;
    uint256 internal constant PPM = 1_000_000;
    uint256 internal constant SCALE = 1e18;
    /// @dev Invalid receipts use nonces from here up, the node's receipts nonces below.
    uint256 internal constant GARBAGE_NONCE = 1 << 255;
    uint256 internal constant SESSION_PAYER = 2;
    uint64 internal constant NO_END = type(uint64).max;
    uint256 internal constant SECP256K1_N =
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    uint8 internal constant REAL = 0;
    uint8 internal constant GARBAGE = 1;

    /// @dev A signed receipt as the node keeps it.
    struct Entry {
        IUsageEscrow.UsageReceipt r;
        IUsageEscrow.Attribution a;
        bytes sig;
        bytes32 digest;
    }

    /// @dev One receipt of a batch: a receipt the node had signed (REAL, in whatever encoding) or an invalid
    ///      one (GARBAGE) with the skip reason it must get (0: any).
    struct Item {
        Entry e;
        uint8 kind;
        bytes4 expect;
    }

    /// @dev A model's settlement terms, read once at construction.
    struct Terms {
        uint64 id;
        address owner;
        uint256 ownerBps;
        uint256 dataBps;
        uint256 nodeBps;
        uint64[] releases;
        uint64[] members;
    }

    SoilToken internal immutable token;
    UsageEscrow internal immutable escrow;
    ModelRegistry internal immutable models;
    address internal immutable minter;
    address internal immutable protocolOwner;
    address internal immutable treasury;
    address internal immutable frontRunner = makeAddr("frontRunner");
    address internal immutable stranger = makeAddr("stranger");

    address[] public payers;
    uint256[] internal payerKeys;
    address internal session;
    uint256 internal sessionKey;
    address internal poorPayer; // never deposits: its receipts are never covered
    uint256 internal poorKey;
    address[] internal nodes;
    address[] public recipients; // every account that may be credited, each once

    Terms[] internal terms;
    mapping(uint64 modelId => uint256) internal modelIndex;
    uint64[] internal releases;
    mapping(uint64 releaseId => uint64) internal releaseTokens;
    mapping(uint64 releaseId => uint64[]) internal releaseMembers;
    mapping(uint64 contributionId => address) internal contributorOf;
    mapping(uint64 contributionId => uint32) internal tokenCountOf;
    uint64 internal outsider; // an accepted contribution in none of the models' releases

    mapping(address payer => uint256) internal nextNonce;
    uint256 internal garbageNonce = GARBAGE_NONCE;
    uint256 public currentTime;

    Entry[] internal outbox; // signed by the node's payers, not yet settled by the node
    Entry[] internal archive; // settled

    // ------------------------------------------------------------------ ghosts

    // money
    mapping(address account => uint256) public ghostOwed; // Σ credits the fee split, pool claims and sweeps owe
    mapping(address account => uint256) public ghostClaimedBy;
    mapping(address payer => uint256) public ghostDepositedBy;
    mapping(address payer => uint256) public ghostWithdrawnBy;
    mapping(address payer => uint256) public ghostChargedBy;
    mapping(uint64 releaseId => uint256) public ghostRewardPerToken;
    mapping(uint64 releaseId => mapping(uint64 contributionId => uint256)) internal ghostPoolPaid;
    uint256 public ghostPoolAccrued;
    uint256 public ghostPoolClaimed;
    uint256 public ghostUnswept; // tokens sent to the escrow directly, not yet swept

    // receipts
    mapping(bytes32 digest => uint256) public ghostTimesSettled;
    uint256 public ghostSettledTwice;
    uint256 public ghostValidSkipped; // liveness: a receipt of the outbox skipped though not settled before
    bytes public ghostLastLostReason;
    uint256 public ghostWrongSkipReason;
    uint256 public ghostInvalidSettled;
    uint256 public ghostEventMismatch;
    uint256 public ghostUnexpectedSuccess; // a call that must revert did not
    uint256 public ghostSweepMismatch;

    // coverage
    uint256 public ghostSigned;
    uint256 public ghostSignRefused;
    uint256 public ghostSettledByNode;
    uint256 public ghostSettledByOthers;
    uint256 public ghostPayerReceiptsSettled; // zero-fee receipts the payers settled with a nonce of the outbox
    uint256 public ghostPayerReceiptSkipped; // such a receipt skipped: it must settle
    uint256 public ghostAlreadySettledSkipped;
    uint256 public ghostInvalidSkipped;
    uint256 public ghostWithdrawals;
    uint256 public ghostPriceChanges;

    constructor(
        SoilToken token_,
        UsageEscrow escrow_,
        ModelRegistry models_,
        DatanetRegistry datanets_,
        address minter_,
        address treasury_,
        uint64[] memory modelIds,
        address[] memory nodes_,
        uint64 outsider_
    ) {
        (token, escrow, models, minter, protocolOwner, treasury) =
        (token_, escrow_, models_, minter_, escrow_.owner(), treasury_);
        currentTime = block.timestamp;
        outsider = outsider_;
        for (uint256 p; p < 3; ++p) {
            (address who, uint256 key) = makeAddrAndKey(string.concat("invariantPayer", vm.toString(p)));
            payers.push(who);
            payerKeys.push(key);
        }
        (session, sessionKey) = makeAddrAndKey("sessionKey");
        vm.prank(payers[SESSION_PAYER]);
        escrow_.authorizeSigner(session);
        for (uint256 p; p < payers.length; ++p) {
            _deposit(payers[p], payers[p], 20e18);
        }
        (poorPayer, poorKey) = makeAddrAndKey("poorPayer");
        for (uint256 k; k < nodes_.length; ++k) {
            nodes.push(nodes_[k]);
            _addRecipient(nodes_[k]);
        }
        _addRecipient(treasury_);
        for (uint256 j; j < modelIds.length; ++j) {
            _loadModel(models_, datanets_, modelIds[j]);
        }
    }

    function _loadModel(ModelRegistry models_, DatanetRegistry datanets_, uint64 id) internal {
        IModelRegistry.Model memory m = models_.getModel(id);
        modelIndex[id] = terms.length;
        Terms storage t = terms.push();
        (t.id, t.owner) = (id, m.owner);
        (t.ownerBps, t.dataBps, t.nodeBps) = (m.split.ownerBps, m.split.dataBps, m.split.nodeBps);
        _addRecipient(m.owner);
        for (uint256 j; j < m.releaseIds.length; ++j) {
            uint64 rel = m.releaseIds[j];
            t.releases.push(rel);
            IDatanetRegistry.Release memory release = datanets_.getRelease(rel);
            if (releaseTokens[rel] == 0) {
                releases.push(rel);
                releaseTokens[rel] = release.tokenCount;
            }
            for (uint32 s = 1; s <= release.contributionCount; ++s) {
                uint64 c = datanets_.acceptedContributionAt(release.datanetId, s);
                t.members.push(c);
                if (contributorOf[c] != address(0)) continue;
                IDatanetRegistry.Contribution memory info = datanets_.getContribution(c);
                (contributorOf[c], tokenCountOf[c]) = (info.contributor, info.tokenCount);
                releaseMembers[rel].push(c);
                _addRecipient(info.contributor);
            }
        }
    }

    function _addRecipient(address who) internal {
        for (uint256 k; k < recipients.length; ++k) {
            if (recipients[k] == who) return;
        }
        recipients.push(who);
    }

    modifier useTime() {
        vm.warp(currentTime);
        _;
    }

    // ------------------------------------------------------------------- views

    function recipientCount() external view returns (uint256) {
        return recipients.length;
    }

    function payerCount() external view returns (uint256) {
        return payers.length;
    }

    function releaseCount() external view returns (uint256) {
        return releases.length;
    }

    function releaseAt(uint256 k) external view returns (uint64) {
        return releases[k];
    }

    function outboxLength() external view returns (uint256) {
        return outbox.length;
    }

    /// @notice Σ fees of the outbox receipts of `payer` that have not settled: what the node counts on.
    function outstanding(address payer) public view returns (uint256 sum) {
        for (uint256 k; k < outbox.length; ++k) {
            IUsageEscrow.UsageReceipt storage r = outbox[k].r;
            if (r.payer == payer && !escrow.isSettled(outbox[k].digest)) sum += r.fee;
        }
    }

    // ----------------------------------------------------------- node actions

    /// @notice The node has 1-4 receipts signed, each only if valid for it now.
    function sign(uint256 seed) external useTime {
        uint256 count = 1 + seed % 4;
        for (uint256 k; k < count; ++k) {
            _signOne(uint256(keccak256(abi.encode(seed, k))));
        }
    }

    /// @dev The same as `sign`, so that signing is drawn twice as often as the other actions.
    function signMore(uint256 seed) external useTime {
        _signOne(seed);
    }

    /// @notice Some time passes (no deadline of the outbox passes), then the node settles its whole outbox, in an
    ///         order drawn from `seed`.
    function settleOutbox(uint256 seed) external useTime {
        _advanceWithinDeadlines(seed);
        _nodeSettle(seed, 0);
    }

    /// @notice The node settles its whole outbox with 1-3 invalid receipts mixed in.
    function settleOutboxWithGarbage(uint256 seed) external useTime {
        _advanceWithinDeadlines(seed);
        _nodeSettle(seed, 1 + (seed >> 128) % 3);
    }

    // -------------------------------------------------------- hostile actions

    /// @notice Some time passes (no deadline of the outbox passes), then a third party copies 1-5 receipts out of the outbox (possibly the same one twice, possibly
    ///         re-encoding the signature) and settles them first, with 0-2 invalid receipts mixed in.
    function frontRun(uint256 seed) external useTime {
        _advanceWithinDeadlines(seed >> 16);
        uint256 len = outbox.length;
        uint256 picks = len == 0 ? 0 : 1 + seed % 5;
        uint256 junk = (seed >> 8) % 3;
        if (picks + junk == 0) return;
        Item[] memory items = new Item[](picks + junk);
        for (uint256 k; k < picks; ++k) {
            uint256 s = uint256(keccak256(abi.encode(seed, k)));
            Entry memory e = outbox[s % len];
            if ((s >> 64) % 2 == 0) e.sig = _reencode(e.sig);
            items[k].e = e;
        }
        for (uint256 k; k < junk; ++k) {
            items[picks + k] = _garbage(uint256(keccak256(abi.encode(seed, "junk", k))));
        }
        _shuffle(items, seed >> 32);
        _submit(frontRunner, items, false);
    }

    /// @notice A third party resubmits 1-4 receipts that already settled: they must never settle again.
    function replaySettled(uint256 seed) external useTime {
        uint256 len = archive.length;
        if (len == 0) return;
        uint256 picks = 1 + seed % 4;
        Item[] memory items = new Item[](picks);
        for (uint256 k; k < picks; ++k) {
            uint256 s = uint256(keccak256(abi.encode(seed, k)));
            items[k].e = archive[s % len];
            if ((s >> 64) % 2 == 0) items[k].e.sig = _reencode(items[k].e.sig);
        }
        _submit(frontRunner, items, false);
    }

    /// @notice A payer settles a receipt of its own with the nonce of one of its receipts in the outbox: no
    ///         tokens, no fee, itself as the node. It settles, and cancels nothing: the outbox receipt, another
    ///         digest, still settles (the liveness ghosts).
    function payerSettlesSameNonce(uint256 seed) external useTime {
        uint256 len = outbox.length;
        if (len == 0) return;
        IUsageEscrow.UsageReceipt memory r = outbox[seed % len].r;
        (r.node, r.inputTokens, r.outputTokens, r.fee) = (r.payer, 0, 0, 0);
        r.deadline = uint64(block.timestamp);
        r.promptHash = keccak256(abi.encode("own prompt", seed));
        IUsageEscrow.Attribution memory none;
        r.attributionHash = keccak256(abi.encode(none.contributionIds, none.weightsPpm));
        bytes32 digest = _digest(r);
        if (escrow.isSettled(digest)) return; // the very same receipt, settled by an earlier call
        uint256 key;
        for (uint256 p; p < payers.length; ++p) {
            if (payers[p] == r.payer) key = payerKeys[p];
        }
        (IUsageEscrow.UsageReceipt[] memory rs, IUsageEscrow.Attribution[] memory as_, bytes[] memory sigs) =
            (new IUsageEscrow.UsageReceipt[](1), new IUsageEscrow.Attribution[](1), new bytes[](1));
        (rs[0], as_[0], sigs[0]) = (r, none, _signDigest(key, digest, seed % 2 == 0));
        vm.prank(r.payer);
        if (escrow.settle(rs, as_, sigs) == 1) ++ghostPayerReceiptsSettled;
        else ++ghostPayerReceiptSkipped;
    }

    function deposit(uint256 payerIndex, uint256 amount, bool byThirdParty) external useTime {
        address who = payers[payerIndex % payers.length];
        _deposit(who, byThirdParty ? stranger : who, bound(amount, 1, 50e18));
    }

    function _deposit(address who, address from, uint256 amount) internal {
        vm.prank(minter);
        token.mint(from, amount);
        vm.startPrank(from);
        token.approve(address(escrow), amount);
        if (from != who) escrow.depositFor(who, amount);
        else escrow.deposit(amount);
        vm.stopPrank();
        ghostDepositedBy[who] += amount;
    }

    /// @notice The payer asks to withdraw any amount up to its whole deposit (replacing a pending request).
    function requestWithdrawal(uint256 payerIndex, uint256 amount) external useTime {
        address who = payers[payerIndex % payers.length];
        uint256 available = escrow.depositOf(who);
        if (available == 0) return;
        amount = bound(amount, 1, available);
        vm.prank(who);
        escrow.requestWithdrawal(amount);
    }

    /// @notice The payer withdraws as soon as it may (often the very second it unlocks), or tries too early.
    function withdraw(uint256 payerIndex, uint256 offset) external useTime {
        address who = payers[payerIndex % payers.length];
        (uint256 amount, uint64 unlockAt) = escrow.pendingWithdrawal(who);
        if (amount == 0) {
            // Nothing pending: ask for all of it, to withdraw the moment it unlocks.
            amount = escrow.depositOf(who);
            if (amount == 0) return;
            vm.prank(who);
            escrow.requestWithdrawal(amount);
            (, unlockAt) = escrow.pendingWithdrawal(who);
        }
        if (block.timestamp < unlockAt && offset % 5 == 1) {
            vm.prank(who);
            try escrow.withdraw() {
                ++ghostUnexpectedSuccess;
            } catch {}
            return;
        }
        uint256 target =
            uint256(unlockAt) + (offset % 3 == 0 ? 0 : bound(offset, 0, escrow.WITHDRAWAL_WINDOW()));
        if (target > block.timestamp) _advanceTo(target);
        uint256 before = token.balanceOf(who);
        vm.prank(who);
        uint256 paid = escrow.withdraw();
        if (token.balanceOf(who) - before != paid) ++ghostEventMismatch;
        ghostWithdrawnBy[who] += paid;
        ++ghostWithdrawals;
    }

    /// @notice The session payer revokes its signer (mostly) or authorizes it again.
    function toggleSigner(uint256 seed) external useTime {
        vm.prank(payers[SESSION_PAYER]);
        if (seed % 3 == 0) escrow.authorizeSigner(session);
        else escrow.revokeSigner(session);
    }

    /// @notice The model owner schedules a new price (a second change before the first is in force reverts).
    function setPrice(uint256 modelSeed, uint256 price) external useTime {
        Terms storage t = terms[modelSeed % terms.length];
        uint64 pendingAt = models.getModel(t.id).nextPriceAt;
        uint96 newPrice = uint96(bound(price, 1e9, 5e18));
        address modelOwner = t.owner;
        vm.prank(modelOwner);
        if (pendingAt != 0 && block.timestamp < pendingAt) {
            try models.setPrice(t.id, newPrice) {
                ++ghostUnexpectedSuccess;
            } catch {}
        } else {
            models.setPrice(t.id, newPrice);
            ++ghostPriceChanges;
        }
    }

    /// @notice The protocol owner lowers or raises the receipt validity within range (or tries out of range).
    function setMaxReceiptValidity(uint256 seed) external useTime {
        uint64 delay = escrow.withdrawalDelay();
        uint64 notice = models.priceNotice();
        uint64 hi = delay - 1 < notice ? delay - 1 : notice;
        uint64 bad = seed % 16 == 0 ? 0 : hi + 1 + uint64(seed >> 8) % 1 days;
        // Often very short: receipts then expire within seconds.
        uint64 v = uint64(bound(seed >> 8, 1, seed % 4 == 1 && hi > 60 ? 60 : hi));
        vm.prank(protocolOwner);
        if (seed % 8 == 0) {
            try escrow.setMaxReceiptValidity(bad) {
                ++ghostUnexpectedSuccess;
            } catch {}
        } else {
            escrow.setMaxReceiptValidity(v);
        }
    }

    /// @notice The protocol owner moves the withdrawal delay within range (or tries below the floor).
    function setWithdrawalDelay(uint256 seed) external useTime {
        uint256 lo = escrow.latestDeadline() - block.timestamp + 1;
        // Mostly the shortest allowed: withdrawals then unlock right after the receipts signed so far.
        uint256 d = seed % 2 == 0 ? lo : bound(seed >> 8, lo, escrow.MAX_WITHDRAWAL_DELAY());
        vm.prank(protocolOwner);
        if (seed % 8 == 0) {
            try escrow.setWithdrawalDelay(uint64(lo - 1)) {
                ++ghostUnexpectedSuccess;
            } catch {}
        } else {
            escrow.setWithdrawalDelay(uint64(d));
        }
    }

    function transferDirectly(uint256 amount) external useTime {
        amount = bound(amount, 1, 10e18);
        vm.prank(minter);
        token.mint(stranger, amount);
        vm.prank(stranger);
        token.transfer(address(escrow), amount);
        ghostUnswept += amount;
    }

    function sweep() external useTime {
        vm.prank(stranger);
        if (ghostUnswept == 0) {
            try escrow.sweep() {
                ++ghostUnexpectedSuccess;
            } catch {}
            return;
        }
        uint256 swept = escrow.sweep();
        if (swept != ghostUnswept) ++ghostSweepMismatch;
        ghostOwed[treasury] += swept;
        ghostUnswept = 0;
    }

    /// @notice A recipient claims its balance, to itself or to another account.
    function claim(uint256 index, bool elsewhere) external useTime {
        address who = recipients[index % recipients.length];
        address to = elsewhere ? stranger : who;
        uint256 balance = escrow.balanceOf(who);
        uint256 before = token.balanceOf(to);
        vm.prank(who);
        if (balance == 0) {
            try escrow.claim(to) {
                ++ghostUnexpectedSuccess;
            } catch {}
            return;
        }
        uint256 paid = escrow.claim(to);
        if (paid != balance || token.balanceOf(to) - before != paid) ++ghostEventMismatch;
        ghostClaimedBy[who] += paid;
    }

    /// @notice A recipient tries to claim to the escrow itself: refused.
    function claimToEscrow(uint256 index) external useTime {
        vm.prank(recipients[index % recipients.length]);
        try escrow.claim(address(escrow)) {
            ++ghostUnexpectedSuccess;
        } catch (bytes memory err) {
            if (bytes4(err) != IUsageEscrow.InvalidRecipient.selector) ++ghostWrongSkipReason;
        }
    }

    /// @notice Anyone moves pool rewards of some members of a release (or names a non-member: refused).
    function claimPoolRewards(uint256 releaseSeed, uint256 seed) external useTime {
        uint64 rel = releases[releaseSeed % releases.length];
        uint64[] storage members = releaseMembers[rel];
        uint64[] memory ids = new uint64[](1 + seed % (members.length + 1));
        for (uint256 k; k < ids.length; ++k) {
            ids[k] = members[uint256(keccak256(abi.encode(seed, k))) % members.length];
        }
        vm.prank(stranger);
        if ((seed >> 128) % 8 == 0) {
            ids[ids.length - 1] = outsider;
            try escrow.claimPoolRewards(rel, ids) {
                ++ghostUnexpectedSuccess;
            } catch {}
            return;
        }
        escrow.claimPoolRewards(rel, ids);
        uint256 rpt = ghostRewardPerToken[rel];
        for (uint256 k; k < ids.length; ++k) {
            uint256 owed = uint256(tokenCountOf[ids[k]]) * rpt / SCALE - ghostPoolPaid[rel][ids[k]];
            if (owed == 0) continue;
            ghostPoolPaid[rel][ids[k]] += owed;
            ghostOwed[contributorOf[ids[k]]] += owed;
            ghostPoolClaimed += owed;
        }
    }

    function warp(uint256 seconds_) external useTime {
        _advanceTo(block.timestamp + bound(seconds_, 1, 3 days));
    }

    /// @notice The node settles whatever is left (called after each run).
    function finalSettle() external useTime {
        if (outbox.length != 0) _nodeSettle(0, 0);
    }

    // ------------------------------------------------------------ node's duty

    /// @dev Moves time to `target`, the node first settling its outbox if a receipt's deadline would pass.
    function _advanceTo(uint256 target) internal {
        for (uint256 k; k < outbox.length; ++k) {
            if (outbox[k].r.deadline < target) {
                _nodeSettle(target, 0);
                break;
            }
        }
        vm.warp(target);
        currentTime = target;
    }

    /// @dev Lets some time pass, up to the earliest deadline in the outbox at most (an hour if it is empty).
    function _advanceWithinDeadlines(uint256 seed) internal {
        uint256 until = block.timestamp + 1 hours;
        for (uint256 k; k < outbox.length; ++k) {
            if (outbox[k].r.deadline < until) until = outbox[k].r.deadline;
        }
        uint256 target = block.timestamp + seed % (until - block.timestamp + 1);
        vm.warp(target);
        currentTime = target;
    }

    /// @dev How much the payer's deposit falls short of covering `fee` on top of its pending withdrawal and
    ///      the receipts it signed that are still outstanding (0 when it covers it).
    function _shortfall(uint256 p, uint256 fee) internal view returns (uint256) {
        address payer = payers[p];
        (uint256 pending,) = escrow.pendingWithdrawal(payer);
        uint256 needed = pending + outstanding(payer) + fee;
        uint256 held = escrow.depositOf(payer);
        return needed > held ? needed - held : 0;
    }

    function _signOne(uint256 seed) internal {
        uint256 p = seed % payers.length;
        Terms storage t = terms[(seed >> 8) % terms.length];
        IUsageEscrow.UsageReceipt memory r;
        r.payer = payers[p];
        r.modelId = t.id;
        r.node = nodes[(seed >> 12) % nodes.length];
        r.inputTokens = uint32(bound(seed >> 16, 0, 4000));
        r.outputTokens = uint32(bound(seed >> 32, 0, 2000));
        uint256 latest = escrow.latestDeadline();
        r.deadline = uint64(bound(seed >> 48, block.timestamp, latest));
        uint256 key = payerKeys[p];
        if (p == SESSION_PAYER) {
            // A revoked signer still signs, for receipts that end by the end of its authorization.
            uint64 until = escrow.signerValidUntil(r.payer, session);
            if (until >= block.timestamp) {
                key = sessionKey;
                if (r.deadline > until) r.deadline = until;
            }
        }
        r.fee = models.quoteFee(t.id, uint256(r.inputTokens) + r.outputTokens, r.deadline);
        uint256 shortfall = _shortfall(p, r.fee);
        if (shortfall != 0) {
            ++ghostSignRefused;
            if ((seed >> 144) % 2 == 0) return;
            // The payer tops up first (through a third party half the time): by the whole shortfall, which
            // exceeds the fee when a pending withdrawal asks for more than the deposit holds.
            _deposit(r.payer, (seed >> 145) % 2 == 0 ? stranger : r.payer, shortfall);
        }
        IUsageEscrow.Attribution memory a = _randomAttribution(t, seed >> 80);
        r.attributionHash = keccak256(abi.encode(a.contributionIds, a.weightsPpm));
        r.promptHash = keccak256(abi.encode("prompt", seed, ghostSigned)); // no two receipts alike
        r.outputHash = keccak256(abi.encode("output", seed));
        r.outputURI = _uri(seed >> 100, r.outputHash);
        r.attributionVersion = uint16(seed >> 120);
        // Mostly sequential nonces; sometimes one anywhere below the invalid receipts' range; sometimes the
        // payer's last sequential nonce again, its receipt settled or not (receipts are told apart by digest).
        uint256 pick = (seed >> 136) % 4;
        if (pick == 0) r.nonce = uint256(keccak256(abi.encode(seed, ghostSigned))) >> 1;
        else if (pick == 1 && nextNonce[r.payer] != 0) r.nonce = nextNonce[r.payer] - 1;
        else r.nonce = nextNonce[r.payer]++;
        Entry storage e = outbox.push();
        e.r = r;
        e.a = a;
        e.digest = _digest(r);
        e.sig = _signDigest(key, e.digest, (seed >> 140) % 2 == 0);
        ++ghostSigned;
    }

    /// @dev The node's batch: its whole outbox, in random order, with `junk` invalid receipts mixed in. The
    ///      outbox is emptied: every receipt in it was due to settle now.
    function _nodeSettle(uint256 seed, uint256 junk) internal {
        uint256 len = outbox.length;
        if (len + junk == 0) return;
        Item[] memory items = new Item[](len + junk);
        for (uint256 k; k < len; ++k) {
            items[k].e = outbox[k];
        }
        for (uint256 k; k < junk; ++k) {
            items[len + k] = _garbage(uint256(keccak256(abi.encode(seed, "junk", k))));
        }
        _shuffle(items, seed);
        delete outbox;
        _submit(nodes[seed % nodes.length], items, true);
    }

    // -------------------------------------------------------------- settlement

    /// @dev Settles `items` from `sender` and books the outcome, receipt by receipt, from the batch's logs.
    function _submit(address sender, Item[] memory items, bool byNode) internal {
        uint256 n = items.length;
        IUsageEscrow.UsageReceipt[] memory rs = new IUsageEscrow.UsageReceipt[](n);
        IUsageEscrow.Attribution[] memory as_ = new IUsageEscrow.Attribution[](n);
        bytes[] memory sigs = new bytes[](n);
        bool[] memory settledBefore = new bool[](n);
        for (uint256 k; k < n; ++k) {
            (rs[k], as_[k], sigs[k]) = (items[k].e.r, items[k].e.a, items[k].e.sig);
            settledBefore[k] = escrow.isSettled(items[k].e.digest);
        }
        vm.recordLogs();
        vm.prank(sender);
        uint256 settled = escrow.settle(rs, as_, sigs);
        (bool[] memory ok, bytes[] memory reasons) = _outcomes(vm.getRecordedLogs(), items, settled);

        uint256[] memory pools = new uint256[](terms.length);
        for (uint256 k; k < n; ++k) {
            Item memory it = items[k];
            if (it.kind == GARBAGE) {
                if (ok[k]) ++ghostInvalidSettled;
                else if (it.expect != bytes4(0) && bytes4(reasons[k]) != it.expect) ++ghostWrongSkipReason;
                else ++ghostInvalidSkipped;
                continue;
            }
            bool already = settledBefore[k] || _settledEarlier(items, ok, k);
            if (ok[k]) {
                if (already || ++ghostTimesSettled[it.e.digest] > 1) ++ghostSettledTwice;
                _book(it.e.r, it.e.a, pools);
                archive.push(it.e);
                if (byNode) ++ghostSettledByNode;
                else ++ghostSettledByOthers;
            } else if (!already) {
                // The liveness failure: a receipt valid when signed, before its deadline, not settled.
                ++ghostValidSkipped;
                ghostLastLostReason = reasons[k];
            } else {
                // A copy of a receipt that settled before (earlier, or earlier in this batch): skipped as
                // such, by its digest, or as expired.
                bytes memory expected = it.e.r.deadline < block.timestamp
                    ? abi.encodeWithSelector(IUsageEscrow.ReceiptExpired.selector, k, it.e.r.deadline)
                    : abi.encodeWithSelector(IUsageEscrow.AlreadySettled.selector, k, it.e.digest);
                if (keccak256(reasons[k]) != keccak256(expected)) ++ghostWrongSkipReason;
                ++ghostAlreadySettledSkipped;
            }
        }
        _accrue(pools);
    }

    /// @dev Whether an earlier item of the batch was the same receipt and settled.
    function _settledEarlier(Item[] memory items, bool[] memory ok, uint256 k) internal pure returns (bool) {
        for (uint256 j; j < k; ++j) {
            if (ok[j] && items[j].kind == REAL && items[j].e.digest == items[k].e.digest) return true;
        }
        return false;
    }

    /// @dev Reads one `ReceiptSettled` or `ReceiptSkipped` per receipt, in order, checking each against the
    ///      receipt (index, digest, the receipt and its packed attribution as emitted).
    function _outcomes(Vm.Log[] memory logs, Item[] memory items, uint256 settled)
        internal
        returns (bool[] memory ok, bytes[] memory reasons)
    {
        ok = new bool[](items.length);
        reasons = new bytes[](items.length);
        uint256 i;
        uint256 count;
        for (uint256 k; k < logs.length; ++k) {
            Vm.Log memory log = logs[k];
            if (log.emitter != address(escrow)) continue;
            bytes32 topic = log.topics[0];
            if (topic == IUsageEscrow.ReceiptSettled.selector) {
                if (i >= items.length || log.topics[1] != items[i].e.digest) {
                    ++ghostEventMismatch;
                    return (ok, reasons);
                }
                (IUsageEscrow.UsageReceipt memory r, bytes memory packed) =
                    abi.decode(log.data, (IUsageEscrow.UsageReceipt, bytes));
                if (
                    keccak256(abi.encode(r)) != keccak256(abi.encode(items[i].e.r))
                        || keccak256(packed) != keccak256(_pack(items[i].e.a))
                ) ++ghostEventMismatch;
                ok[i++] = true;
                ++count;
            } else if (topic == IUsageEscrow.ReceiptSkipped.selector) {
                if (i >= items.length || uint256(log.topics[1]) != i || log.topics[2] != items[i].e.digest) {
                    ++ghostEventMismatch;
                    return (ok, reasons);
                }
                reasons[i++] = abi.decode(log.data, (bytes));
            }
        }
        if (i != items.length || count != settled) ++ghostEventMismatch;
    }

    /// @dev The fee split of one settled receipt, computed from the model's terms read at construction.
    function _book(
        IUsageEscrow.UsageReceipt memory r,
        IUsageEscrow.Attribution memory a,
        uint256[] memory pools
    ) internal {
        uint256 m = modelIndex[r.modelId];
        Terms storage t = terms[m];
        uint256 fee = r.fee;
        uint256 ownerShare = fee * t.ownerBps / BPS;
        uint256 nodeShare = fee * t.nodeBps / BPS;
        uint256 dataShare = fee * t.dataBps / BPS;
        uint256 attributed;
        for (uint256 k; k < a.contributionIds.length; ++k) {
            uint256 amount = dataShare * a.weightsPpm[k] / PPM;
            ghostOwed[contributorOf[a.contributionIds[k]]] += amount;
            attributed += amount;
        }
        _bookOwnerShare(t, fee, ownerShare);
        ghostOwed[r.node] += nodeShare;
        ghostOwed[treasury] += fee - ownerShare - nodeShare - dataShare;
        pools[m] += dataShare - attributed;
        ghostChargedBy[r.payer] += fee;
    }

    /// @dev Books a receipt's owner share (`fee × ownerBps / BPS`) of model `t`: all of it to the model's owner
    ///      here; `EscrowAdapterHandler` carves an adapter's derivative share out of it.
    function _bookOwnerShare(Terms storage t, uint256 fee, uint256 ownerShare) internal virtual {
        fee; // used by the override
        ghostOwed[t.owner] += ownerShare;
    }

    /// @dev Each model's unattributed data share over its releases by token count, through reward-per-token
    ///      accumulators; what they cannot represent to the treasury.
    function _accrue(uint256[] memory pools) internal {
        for (uint256 m; m < pools.length; ++m) {
            uint256 pool = pools[m];
            if (pool == 0) continue;
            uint64[] storage rels = terms[m].releases;
            uint256 total;
            for (uint256 j; j < rels.length; ++j) {
                total += releaseTokens[rels[j]];
            }
            uint256 distributed;
            for (uint256 j; j < rels.length; ++j) {
                uint256 tokens = releaseTokens[rels[j]];
                uint256 share = pool * tokens / total;
                if (share == 0) continue;
                uint256 before = ghostRewardPerToken[rels[j]];
                uint256 next = before + share * SCALE / tokens;
                ghostRewardPerToken[rels[j]] = next;
                distributed += next * tokens / SCALE - before * tokens / SCALE;
            }
            ghostOwed[treasury] += pool - distributed;
            ghostPoolAccrued += distributed;
        }
    }

    // -------------------------------------------------------- invalid receipts

    /// @dev An invalid receipt, of a kind drawn from `seed`, and the reason it must be skipped for.
    function _garbage(uint256 seed) internal returns (Item memory it) {
        it.kind = GARBAGE;
        uint256 kind = seed % 12;
        Terms storage t = terms[(seed >> 8) % terms.length];
        uint256 p = (seed >> 16) % payers.length;
        IUsageEscrow.UsageReceipt memory r = _validLooking(t, payers[p], seed);
        IUsageEscrow.Attribution memory a = _randomAttribution(t, seed >> 40);
        uint256 key = payerKeys[p];
        if (kind == 0) {
            // Signed by someone else.
            key = uint256(keccak256(abi.encode("not the payer", seed))) % (SECP256K1_N - 1) + 1;
            it.expect = IUsageEscrow.InvalidSignature.selector;
        } else if (kind == 1) {
            r.fee += 1 + (seed >> 64) % 1000;
            it.expect = IUsageEscrow.FeeMismatch.selector;
        } else if (kind == 2) {
            r.deadline = uint64(block.timestamp - 1 - (seed >> 64) % 1 days);
            r.fee = models.quoteFee(t.id, uint256(r.inputTokens) + r.outputTokens, r.deadline);
            it.expect = IUsageEscrow.ReceiptExpired.selector;
        } else if (kind == 3) {
            r.deadline = escrow.latestDeadline() + 1 + uint64((seed >> 64) % 1 days);
            r.fee = models.quoteFee(t.id, uint256(r.inputTokens) + r.outputTokens, r.deadline);
            it.expect = IUsageEscrow.ReceiptDeadlineTooFar.selector;
        } else if (kind == 4) {
            // Properly signed by a payer with no deposit.
            (r.payer, key) = (poorPayer, poorKey);
            it.expect = IUsageEscrow.InsufficientDeposit.selector;
        } else if (kind == 5) {
            // Weights above one million, hashed and signed as they are.
            a.weightsPpm = new uint32[](a.contributionIds.length + 1);
            a.contributionIds = _append(a.contributionIds, t.members[0]);
            a.weightsPpm[a.weightsPpm.length - 1] = uint32(PPM + 1);
            it.expect = IUsageEscrow.WeightsExceedOneMillion.selector;
        } else if (kind == 6) {
            // A contribution outside the model's releases (or no contribution at all).
            a.contributionIds = _append(a.contributionIds, (seed >> 64) % 2 == 0 ? outsider : 1e9);
            a.weightsPpm = new uint32[](a.contributionIds.length);
            it.expect = IUsageEscrow.ContributionNotInModelReleases.selector;
        } else if (kind == 7) {
            r.modelId = uint64(models.modelCount() + 1 + (seed >> 64) % 100);
            it.expect = IUsageEscrow.UnknownModel.selector;
        } else if (kind == 8) {
            // Lengths that differ: malformed.
            a.weightsPpm = new uint32[](a.contributionIds.length + 1);
            it.expect = IUsageEscrow.InvalidAttribution.selector;
        } else if (kind == 9) {
            r.node = address(0);
            it.expect = IUsageEscrow.InvalidParty.selector;
        } else if (kind == 10 && outbox.length != 0) {
            // A receipt of the outbox with its real signature, but another attribution (or a high-s copy of its
            // signature): never settles, never marks the receipt settled.
            Entry memory e = outbox[(seed >> 64) % outbox.length];
            if ((seed >> 72) % 2 == 0) {
                e.a.weightsPpm = new uint32[](e.a.contributionIds.length + 1);
                e.a.contributionIds = _append(e.a.contributionIds, t.members[0]);
            } else {
                e.sig = _malleate(e.sig);
            }
            it.e = e;
            return it;
        } else {
            // Anything: random fields, a random signature of a random length.
            r.payer = address(uint160(seed >> 80));
            r.modelId = uint64(seed >> 100) % 4;
            r.fee = seed >> 200;
            r.deadline = uint64(block.timestamp + (seed >> 60) % 2 days);
            it.e.r = r;
            it.e.a = a;
            it.e.sig = abi.encodePacked(keccak256(abi.encode(seed, "sig")), keccak256(abi.encode(seed)));
            if ((seed >> 30) % 2 == 0) it.e.sig = abi.encodePacked(it.e.sig, uint8(seed >> 40));
            it.e.digest = _digest(r);
            return it;
        }
        r.attributionHash = keccak256(abi.encode(a.contributionIds, a.weightsPpm));
        it.e.r = r;
        it.e.a = a;
        it.e.digest = _digest(r);
        it.e.sig = _signDigest(key, it.e.digest, (seed >> 90) % 2 == 0);
    }

    /// @dev A receipt valid in every respect but the one the caller breaks (nonce in the invalid range).
    function _validLooking(Terms storage t, address payer, uint256 seed)
        internal
        returns (IUsageEscrow.UsageReceipt memory r)
    {
        r.payer = payer;
        r.modelId = t.id;
        r.node = nodes[(seed >> 24) % nodes.length];
        r.inputTokens = uint32(1000 + (seed >> 28) % 3000);
        r.outputTokens = uint32((seed >> 36) % 2000);
        r.deadline = uint64(block.timestamp);
        r.fee = models.quoteFee(t.id, uint256(r.inputTokens) + r.outputTokens, r.deadline);
        r.nonce = garbageNonce++;
        r.promptHash = keccak256(abi.encode("bad prompt", seed));
        r.outputURI = "http://127.0.0.1:8080/v1/outputs/invalid";
        r.attributionVersion = 1;
    }

    // ----------------------------------------------------------------- helpers

    function _randomAttribution(Terms storage t, uint256 seed)
        internal
        view
        returns (IUsageEscrow.Attribution memory a)
    {
        uint256 n = seed % 9;
        a.contributionIds = new uint64[](n);
        a.weightsPpm = new uint32[](n);
        uint256 left = PPM;
        for (uint256 j; j < n; ++j) {
            uint256 s = uint256(keccak256(abi.encode(seed, j)));
            a.contributionIds[j] = t.members[s % t.members.length];
            uint32 w = uint32((s >> 64) % (left + 1));
            a.weightsPpm[j] = w;
            left -= w;
        }
    }

    function _append(uint64[] memory ids, uint64 id) internal pure returns (uint64[] memory out) {
        out = new uint64[](ids.length + 1);
        for (uint256 k; k < ids.length; ++k) {
            out[k] = ids[k];
        }
        out[ids.length] = id;
    }

    /// @dev Empty, the realistic form, long, or with multi-byte characters.
    function _uri(uint256 seed, bytes32 outputHash) internal pure returns (string memory) {
        uint256 kind = seed % 4;
        if (kind == 0) return "";
        if (kind == 1) return string.concat("http://127.0.0.1:8080/v1/outputs/", vm.toString(outputHash));
        if (kind == 2) {
            bytes memory long = new bytes(300 + seed % 700);
            for (uint256 k; k < long.length; ++k) {
                long[k] = bytes1(uint8(0x21 + (k * 7 + seed) % 90));
            }
            return string(long);
        }
        return unicode"ipfs://出力/ünïcödé/🦀";
    }

    /// @dev The packed attribution `ReceiptSettled` must carry: (uint64 id, uint32 weight) per entry.
    function _pack(IUsageEscrow.Attribution memory a) internal pure returns (bytes memory packed) {
        for (uint256 k; k < a.contributionIds.length; ++k) {
            packed = abi.encodePacked(packed, a.contributionIds[k], a.weightsPpm[k]);
        }
    }

    function _shuffle(Item[] memory items, uint256 seed) internal pure {
        for (uint256 k = items.length; k > 1; --k) {
            uint256 j = uint256(keccak256(abi.encode(seed, k))) % k;
            (items[k - 1], items[j]) = (items[j], items[k - 1]);
        }
    }

    function _signDigest(uint256 key, bytes32 digest, bool compact) internal pure returns (bytes memory) {
        if (compact) {
            (bytes32 r, bytes32 vs) = vm.signCompact(key, digest);
            return abi.encodePacked(r, vs);
        }
        (uint8 v, bytes32 r_, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r_, s, v);
    }

    /// @dev The same signature in the other encoding: 65-byte (r, s, v) <-> 64-byte EIP-2098 (r, vs).
    function _reencode(bytes memory sig) internal pure returns (bytes memory) {
        (bytes32 r, bytes32 s, uint8 v) = _split(sig);
        if (sig.length == 65) return abi.encodePacked(r, bytes32(uint256(s) | (uint256(v - 27) << 255)));
        return abi.encodePacked(r, s, v);
    }

    /// @dev The high-s twin of a signature: the same signer for ecrecover, refused by the escrow.
    function _malleate(bytes memory sig) internal pure returns (bytes memory) {
        (bytes32 r, bytes32 s, uint8 v) = _split(sig);
        return abi.encodePacked(r, bytes32(SECP256K1_N - uint256(s)), v == 27 ? uint8(28) : uint8(27));
    }

    function _split(bytes memory sig) internal pure returns (bytes32 r, bytes32 s, uint8 v) {
        bytes32 w1;
        bytes32 w2;
        assembly ("memory-safe") {
            w1 := mload(add(sig, 0x20))
            w2 := mload(add(sig, 0x40))
        }
        r = w1;
        if (sig.length == 65) {
            s = w2;
            v = uint8(sig[64]);
        } else {
            s = bytes32(uint256(w2) & ((1 << 255) - 1));
            v = uint8(27 + (uint256(w2) >> 255));
        }
    }

    /// @dev The EIP-712 digest from the type strings, without asking the escrow.
    function _digest(IUsageEscrow.UsageReceipt memory r) internal view returns (bytes32) {
        bytes32 domain = keccak256(
            abi.encode(
                DOMAIN_TYPEHASH, keccak256("Soil UsageEscrow"), keccak256("1"), block.chainid, address(escrow)
            )
        );
        bytes32 structHash = keccak256(
            bytes.concat(
                abi.encode(RECEIPT_TYPEHASH, r.payer, r.modelId, r.node, r.promptHash, r.outputHash),
                abi.encode(
                    keccak256(bytes(r.outputURI)),
                    r.inputTokens,
                    r.outputTokens,
                    r.fee,
                    r.nonce,
                    r.deadline,
                    r.attributionVersion,
                    r.attributionHash
                )
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }
}
