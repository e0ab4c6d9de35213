// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IModelRegistry} from "../../src/interfaces/IModelRegistry.sol";
import {IUsageEscrow} from "../../src/interfaces/IUsageEscrow.sol";
import {ChannelBase} from "../utils/ChannelBase.t.sol";

/// @notice Gas of the hot paths, written to contracts/snapshots/*.json by `make snapshot`.
/// @dev Isolated: every external call from a test is its own transaction, so storage starts cold as on a
///      real chain. The figures are the transaction's gas: the 21,000 base, the calldata and the execution;
///      the ERC-20 transfer is measured the same way as the reference. Receipts carry random 256-bit nonces,
///      as the client signs them (each receipt's digest is its own storage slot whatever its nonce; the
///      nonce's bytes count only in the calldata).
abstract contract GasFixture is ChannelBase {
    uint256 internal constant PAYERS = 10;
    uint256 internal constant RECEIPTS_PER_PAYER = 5;
    uint256 internal constant BATCH = PAYERS * RECEIPTS_PER_PAYER;
    uint256 internal constant CONTRIBUTIONS = 100;
    uint256 internal constant PER_RECEIPT = 8;

    uint64 internal bigModel;
    uint64 internal gasModel; // the model the measured receipts use: bigModel, or an adapter on it
    uint64[] internal pool; // the 100 accepted contributions, 50 in each of 2 datanets
    address[] internal payers;
    uint256[] internal keys;

    /// @dev How many distinct contributors the 100 contributions come from.
    function _authors() internal pure virtual returns (uint256);

    function setUp() public virtual override {
        super.setUp();
        uint64[] memory releases = new uint64[](2);
        for (uint256 d; d < 2; ++d) {
            uint64 dn = _createDatanet(curator);
            for (uint256 k; k < CONTRIBUTIONS / 2; ++k) {
                address author = makeAddr(string.concat("author", vm.toString((d * 50 + k) % _authors())));
                uint64 id = _contribute(author, dn, uint32(200 + k));
                vm.prank(curator);
                datanets.review(id, true);
                pool.push(id);
            }
            releases[d] = _publish(dn);
        }
        bigModel = _registerModel(releases, PRICE, _split(3000, 5000, 1500, 500));
        gasModel = bigModel;
        for (uint256 p; p < PAYERS; ++p) {
            (address who, uint256 key) = makeAddrAndKey(string.concat("gasPayer", vm.toString(p)));
            payers.push(who);
            keys.push(key);
            _fund(who, 100e18);
        }
    }

    /// @dev 50 receipts, 5 per payer, each attributing 8 of the 100 contributions (pseudo-random).
    function _batch(uint256 salt)
        internal
        view
        returns (
            IUsageEscrow.UsageReceipt[] memory rs,
            IUsageEscrow.Attribution[] memory as_,
            bytes[] memory sigs
        )
    {
        rs = new IUsageEscrow.UsageReceipt[](BATCH);
        as_ = new IUsageEscrow.Attribution[](BATCH);
        sigs = new bytes[](BATCH);
        for (uint256 i; i < BATCH; ++i) {
            uint256 p = i % PAYERS;
            uint64[] memory ids = new uint64[](PER_RECEIPT);
            uint32[] memory weights = new uint32[](PER_RECEIPT);
            uint256 start = uint256(keccak256(abi.encode(salt, i))) % CONTRIBUTIONS;
            for (uint256 k; k < PER_RECEIPT; ++k) {
                ids[k] = pool[(start + k * 13) % CONTRIBUTIONS];
                weights[k] = uint32(100_000 + k * 1000);
            }
            as_[i] = _attribution(ids, weights);
            rs[i] = _gasReceipt(payers[p], _randomNonce(salt, i), as_[i]);
            sigs[i] = _sign(keys[p], rs[i]);
        }
    }

    /// @dev A nonce as the client draws it: 256 random bits.
    function _randomNonce(uint256 salt, uint256 i) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode("nonce", salt, i)));
    }

    /// @dev A receipt for the measured model as a node writes it: the output published under a URI naming its
    ///      hash (`http://127.0.0.1:8080/v1/outputs/0x` + 64 hex digits, 99 bytes), attribution version 1.
    function _gasReceipt(address payer_, uint256 nonce, IUsageEscrow.Attribution memory a)
        internal
        view
        returns (IUsageEscrow.UsageReceipt memory r)
    {
        r = _receipt(payer_, nonce, a);
        r.modelId = gasModel;
        r.outputURI = string.concat("http://127.0.0.1:8080/v1/outputs/", vm.toString(r.outputHash));
        r.attributionVersion = 1;
    }

    function _eight() internal view returns (IUsageEscrow.Attribution memory) {
        uint64[] memory ids = new uint64[](PER_RECEIPT);
        uint32[] memory weights = new uint32[](PER_RECEIPT);
        for (uint256 k; k < PER_RECEIPT; ++k) {
            (ids[k], weights[k]) = (pool[k * 12], uint32(100_000 + k * 1000));
        }
        return _attribution(ids, weights);
    }

    /// @dev Claims every contribution's pool reward, which credits each contributor.
    function _creditEveryContributor() internal {
        uint64[] memory half = new uint64[](CONTRIBUTIONS / 2);
        for (uint256 d; d < 2; ++d) {
            for (uint256 k; k < CONTRIBUTIONS / 2; ++k) {
                half[k] = pool[d * 50 + k];
            }
            escrow.claimPoolRewards(models.getModel(bigModel).releaseIds[d], half);
        }
    }

    function _settleBatch50Cold(string memory group) internal {
        (IUsageEscrow.UsageReceipt[] memory rs, IUsageEscrow.Attribution[] memory as_, bytes[] memory sigs) =
            _batch(1);
        // Skipped receipts would make the figure meaningless: every one must settle.
        assertEq(escrow.settle(rs, as_, sigs), BATCH, "all settled");
        uint256 gasUsed = vm.snapshotGasLastCall(group, "settle_batch50_cold_recipients");
        vm.snapshotValue(group, "settle_batch50_cold_recipients_per_receipt", gasUsed / BATCH);
        _assertSolvent();
    }

    /// @dev An adapter on the big model, bound to the same two releases and trained on the first, registered
    ///      by its own owner while the big model's derivative share is 10 %: 1000 of its 3000 owner bps go to
    ///      the big model's owner.
    function _registerGasAdapter() internal returns (uint64 id) {
        vm.prank(modelOwner);
        models.setDerivativeShare(bigModel, 1000);
        uint64[] memory releases = models.getModel(bigModel).releaseIds;
        uint64[] memory trainedOn = new uint64[](1);
        trainedOn[0] = releases[0];
        vm.prank(adapterOwner);
        id = models.registerAdapter(
            IModelRegistry.AdapterRegistration({
                baseModelId: bigModel,
                adapterHash: keccak256("adapter.gguf"),
                uri: "http://127.0.0.1:8080/v1/models/adapter.gguf",
                manifestHash: keccak256("manifest.json"),
                manifestUri: "http://127.0.0.1:8080/v1/models/adapter.manifest.json",
                releaseIds: releases,
                trainedOnReleaseIds: trainedOn,
                pricePerKiloToken: PRICE,
                split: _split(3000, 5000, 1500, 500),
                maxBaseShareBps: 1000
            })
        );
    }

    function _settleBatch50Credited(string memory group) internal {
        // A first batch credits the model owner, the node and the treasury; claiming every pool reward then
        // credits every contributor, so every account of the measured batch already holds a balance.
        (IUsageEscrow.UsageReceipt[] memory rs, IUsageEscrow.Attribution[] memory as_, bytes[] memory sigs) =
            _batch(1);
        escrow.settle(rs, as_, sigs);
        _creditEveryContributor();
        (rs, as_, sigs) = _batch(2);
        assertEq(escrow.settle(rs, as_, sigs), BATCH, "all settled");
        uint256 gasUsed = vm.snapshotGasLastCall(group, "settle_batch50_credited_recipients");
        vm.snapshotValue(group, "settle_batch50_credited_recipients_per_receipt", gasUsed / BATCH);
        _assertSolvent();
    }
}

/// @notice The 100 contributions come from 100 distinct contributors: the worst case for credits.
/// forge-config: default.isolate = true
contract Gas_Test is GasFixture {
    function _authors() internal pure override returns (uint256) {
        return 100;
    }

    function test_Gas_SettleOneReceipt_EightAttributions() external {
        IUsageEscrow.Attribution memory a = _eight();
        IUsageEscrow.UsageReceipt memory r = _gasReceipt(payers[0], _randomNonce(0, 0), a);
        (IUsageEscrow.UsageReceipt[] memory rs, IUsageEscrow.Attribution[] memory as_, bytes[] memory sigs) =
            _one(r, a, _sign(keys[0], r));
        assertEq(escrow.settle(rs, as_, sigs), 1, "settled");
        vm.snapshotGasLastCall("UsageEscrow", "settle_1_receipt_8_attributions");
        assertTrue(escrow.isSettled(_digest(r)), "marked settled");
    }

    function test_Gas_SettleBatch50_ColdRecipients() external {
        _settleBatch50Cold("UsageEscrow");
    }

    function test_Gas_SettleBatch50_CreditedRecipients() external {
        _settleBatch50Credited("UsageEscrow");
    }

    function test_Gas_RegisterModel() external {
        uint64[] memory releases = models.getModel(bigModel).releaseIds;
        _registerModel(releases, PRICE, _split(3000, 5000, 1500, 500));
        vm.snapshotGasLastCall("ModelRegistry", "register_model_2_releases");
    }

    function test_Gas_RegisterAdapter() external {
        _registerGasAdapter();
        vm.snapshotGasLastCall("ModelRegistry", "register_adapter_2_releases");
    }

    /// @notice 50 receipts of an adapter with a derivative share: the base owner is looked up once and credited
    ///         once for the batch.
    function test_Gas_SettleBatch50_Adapter_ColdRecipients() external {
        gasModel = _registerGasAdapter();
        (IUsageEscrow.UsageReceipt[] memory rs, IUsageEscrow.Attribution[] memory as_, bytes[] memory sigs) =
            _batch(1);
        assertEq(escrow.settle(rs, as_, sigs), BATCH, "all settled");
        uint256 gasUsed = vm.snapshotGasLastCall("UsageEscrow", "settle_batch50_adapter_cold_recipients");
        vm.snapshotValue("UsageEscrow", "settle_batch50_adapter_cold_recipients_per_receipt", gasUsed / BATCH);
        assertGt(escrow.balanceOf(modelOwner), 0, "base owner credited");
        _assertSolvent();
    }

    function test_Gas_Claim() external {
        IUsageEscrow.Attribution memory a = _eight();
        IUsageEscrow.UsageReceipt memory r = _gasReceipt(payers[0], 1, a);
        _settle(r, a, _sign(keys[0], r));
        vm.prank(node);
        escrow.claim(node);
        vm.snapshotGasLastCall("UsageEscrow", "claim");
    }

    function test_Gas_Contribute() external {
        address author = makeAddr("gasAuthor");
        vm.prank(owner);
        token.mint(author, MIN_STAKE);
        vm.prank(author);
        token.approve(address(datanets), MIN_STAKE);
        vm.prank(author);
        datanets.contribute(datanetId, keccak256("gas doc"), 512, "file:///data/doc-0001.txt", MIN_STAKE);
        vm.snapshotGasLastCall("DatanetRegistry", "contribute");
    }

    function test_Gas_Review() external {
        uint64 id = _contribute(makeAddr("gasAuthor"), datanetId, 512);
        vm.prank(curator);
        datanets.review(id, true);
        vm.snapshotGasLastCall("DatanetRegistry", "review_accept");
    }

    function test_Gas_Erc20Transfer_Reference() external {
        vm.prank(owner);
        token.mint(payers[0], 10e18);
        vm.prank(payers[0]);
        token.transfer(makeAddr("fresh recipient"), 1e18);
        vm.snapshotGasLastCall("Reference", "erc20_transfer_to_new_holder");
        vm.prank(payers[0]);
        token.transfer(makeAddr("fresh recipient"), 1e18);
        vm.snapshotGasLastCall("Reference", "erc20_transfer_to_existing_holder");
    }
}

/// @notice The same batches when the 100 contributions come from 20 contributors (5 documents each).
/// forge-config: default.isolate = true
contract Gas20Contributors_Test is GasFixture {
    function _authors() internal pure override returns (uint256) {
        return 20;
    }

    function test_Gas_SettleBatch50_ColdRecipients() external {
        _settleBatch50Cold("UsageEscrow20Contributors");
    }

    function test_Gas_SettleBatch50_CreditedRecipients() external {
        _settleBatch50Credited("UsageEscrow20Contributors");
    }
}
