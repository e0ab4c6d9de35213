// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {DatanetRegistry} from "../../src/DatanetRegistry.sol";
import {ModelRegistry} from "../../src/ModelRegistry.sol";
import {SoilToken} from "../../src/SoilToken.sol";
import {UsageEscrow} from "../../src/UsageEscrow.sol";
import {IUsageEscrow} from "../../src/interfaces/IUsageEscrow.sol";
import {Test} from "forge-std/Test.sol";

/// @notice Drives the escrow with valid deposits, withdrawals, settlements, replays and claims, and keeps
///         ghost totals to check the accounting against.
contract EscrowHandler is Test {
    SoilToken internal immutable token;
    UsageEscrow internal immutable escrow;
    ModelRegistry internal immutable models;
    address internal immutable minter;
    uint64 internal immutable modelId;

    uint256[] internal payerKeys;
    address[] public payers;
    address[] public recipients; // everyone who may hold a claimable balance
    uint64[] internal members;
    uint64[] internal releases;
    mapping(uint64 releaseId => uint64[]) internal releaseMembers;

    mapping(address payer => uint256) internal nextNonce;

    // ghosts
    uint256 public ghostDeposited;
    uint256 public ghostWithdrawn;
    uint256 public ghostClaimed;
    uint256 public ghostReceiptsSettled;
    uint256 public ghostReplaysSettled;
    mapping(address payer => uint256) public ghostDepositedBy;
    mapping(address payer => uint256) public ghostWithdrawnBy;
    mapping(address payer => uint256) public ghostMaxChargeOf; // Σ price × tokens / 1000 of its settled receipts
    mapping(bytes32 digest => bool) public ghostSettled;

    IUsageEscrow.UsageReceipt[] internal lastReceipts;
    IUsageEscrow.Attribution[] internal lastAttributions;
    bytes[] internal lastSignatures;

    constructor(
        SoilToken token_,
        UsageEscrow escrow_,
        ModelRegistry models_,
        DatanetRegistry datanets_,
        address minter_,
        uint64 modelId_,
        address[] memory extraRecipients
    ) {
        (token, escrow, models, minter, modelId) = (token_, escrow_, models_, minter_, modelId_);
        for (uint256 p; p < 4; ++p) {
            (address who, uint256 key) = makeAddrAndKey(string.concat("invariantPayer", vm.toString(p)));
            payers.push(who);
            payerKeys.push(key);
        }
        uint64[] memory modelReleases = models_.getModel(modelId_).releaseIds;
        for (uint256 j; j < modelReleases.length; ++j) {
            uint64 rel = modelReleases[j];
            releases.push(rel);
            uint64 dn = datanets_.getRelease(rel).datanetId;
            uint32 count = datanets_.getRelease(rel).contributionCount;
            for (uint32 s = 1; s <= count; ++s) {
                uint64 id = datanets_.acceptedContributionAt(dn, s);
                members.push(id);
                releaseMembers[rel].push(id);
                recipients.push(datanets_.getContribution(id).contributor);
            }
        }
        for (uint256 k; k < extraRecipients.length; ++k) {
            recipients.push(extraRecipients[k]);
        }
    }

    function recipientCount() external view returns (uint256) {
        return recipients.length;
    }

    function payerCount() external view returns (uint256) {
        return payers.length;
    }

    // ---------------------------------------------------------------- actions

    function deposit(uint256 payerIndex, uint256 amount) external {
        _deposit(payers[payerIndex % payers.length], bound(amount, 1, 1e24));
    }

    function _deposit(address who, uint256 amount) internal {
        vm.prank(minter);
        token.mint(who, amount);
        vm.startPrank(who);
        token.approve(address(escrow), amount);
        escrow.deposit(amount);
        vm.stopPrank();
        ghostDeposited += amount;
        ghostDepositedBy[who] += amount;
    }

    function requestWithdrawal(uint256 payerIndex, uint256 amount) external {
        address who = payers[payerIndex % payers.length];
        uint256 available = escrow.depositOf(who);
        if (available == 0) return;
        vm.prank(who);
        escrow.requestWithdrawal(bound(amount, 1, available));
    }

    function withdraw(uint256 payerIndex) external {
        address who = payers[payerIndex % payers.length];
        (uint256 amount, uint64 unlockAt) = escrow.pendingWithdrawal(who);
        if (amount == 0) return;
        if (block.timestamp < unlockAt) vm.warp(unlockAt);
        vm.prank(who);
        uint256 paid = escrow.withdraw();
        ghostWithdrawn += paid;
        ghostWithdrawnBy[who] += paid;
    }

    function settle(uint256 seed, uint256 size, uint256 tokens) external {
        size = bound(size, 1, 6);
        uint256 price = models.getModel(modelId).pricePerKiloToken;
        IUsageEscrow.UsageReceipt[] memory rs = new IUsageEscrow.UsageReceipt[](size);
        IUsageEscrow.Attribution[] memory as_ = new IUsageEscrow.Attribution[](size);
        bytes[] memory sigs = new bytes[](size);
        uint256[] memory charge = new uint256[](payers.length);
        for (uint256 k; k < size; ++k) {
            uint256 p = uint256(keccak256(abi.encode(seed, k, "payer"))) % payers.length;
            as_[k] = _attribution(seed, k);
            uint32 input = uint32(bound(uint256(keccak256(abi.encode(tokens, k))), 0, 4000));
            rs[k] = IUsageEscrow.UsageReceipt({
                payer: payers[p],
                modelId: modelId,
                node: recipients[recipients.length - 1 - (k % 2)],
                promptHash: keccak256(abi.encode(seed, k)),
                outputHash: keccak256(abi.encode(seed, k, "out")),
                outputURI: "",
                inputTokens: input,
                outputTokens: uint32(tokens % 2000),
                fee: price * (uint256(input) + tokens % 2000) / 1000,
                nonce: nextNonce[payers[p]]++,
                deadline: uint64(block.timestamp + 1 hours),
                attributionVersion: 1,
                attributionHash: keccak256(abi.encode(as_[k].contributionIds, as_[k].weightsPpm))
            });
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(payerKeys[p], escrow.hashReceipt(rs[k]));
            sigs[k] = abi.encodePacked(r, s, v);
            charge[p] += rs[k].fee;
        }
        for (uint256 p; p < payers.length; ++p) {
            uint256 available = escrow.depositOf(payers[p]);
            if (charge[p] > available) _deposit(payers[p], charge[p] - available); // else the batch reverts whole
        }
        escrow.settle(rs, as_, sigs);
        delete lastReceipts;
        delete lastAttributions;
        delete lastSignatures;
        for (uint256 k; k < size; ++k) {
            bytes32 digest = escrow.hashReceipt(rs[k]);
            if (ghostSettled[digest]) ++ghostReplaysSettled;
            ghostSettled[digest] = true;
            ghostMaxChargeOf[rs[k].payer] += price * (uint256(rs[k].inputTokens) + rs[k].outputTokens) / 1000;
            lastReceipts.push(rs[k]);
            lastAttributions.push(as_[k]);
            lastSignatures.push(sigs[k]);
        }
        ghostReceiptsSettled += size;
    }

    /// @dev Resubmits the last settled batch: it must never settle again.
    function replay() external {
        if (lastReceipts.length == 0) return;
        try escrow.settle(lastReceipts, lastAttributions, lastSignatures) {
            ghostReplaysSettled += lastReceipts.length;
        } catch {}
    }

    function claim(uint256 index) external {
        address who = recipients[index % recipients.length];
        uint256 balance = escrow.balanceOf(who);
        if (balance == 0) return;
        vm.prank(who);
        ghostClaimed += escrow.claim(who);
    }

    function claimPoolRewards(uint256 releaseIndex) external {
        uint64 rel = releases[releaseIndex % releases.length];
        escrow.claimPoolRewards(rel, releaseMembers[rel]);
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 1, 3 days));
    }

    function _attribution(uint256 seed, uint256 k) internal view returns (IUsageEscrow.Attribution memory a) {
        uint256 n = uint256(keccak256(abi.encode(seed, k, "n"))) % 9;
        a.contributionIds = new uint64[](n);
        a.weightsPpm = new uint32[](n);
        uint256 left = 1_000_000;
        for (uint256 j; j < n; ++j) {
            a.contributionIds[j] = members[uint256(keccak256(abi.encode(seed, k, j))) % members.length];
            uint32 w = uint32(uint256(keccak256(abi.encode(seed, k, j, "w"))) % (left + 1));
            a.weightsPpm[j] = w;
            left -= w;
        }
    }
}
