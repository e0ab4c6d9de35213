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

/// @notice The deployed protocol with one datanet of four accepted contributions, one release, one model
///         and a funded payer; helpers that build and sign receipts with an independently computed digest.
abstract contract Base is Test {
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant RECEIPT_TYPEHASH = keccak256(
        "UsageReceipt(address payer,uint64 modelId,address node,bytes32 promptHash,bytes32 outputHash,string outputURI,uint32 inputTokens,uint32 outputTokens,uint256 fee,uint256 nonce,uint64 deadline,uint16 attributionVersion,bytes32 attributionHash)"
    );
    uint96 internal constant PRICE = 2e18; // per 1,000 tokens
    uint96 internal constant MIN_STAKE = 10e18;
    uint64 internal constant REVIEW_WINDOW = 7 days;
    uint32 internal constant MAX_CONTRIBUTION_TOKENS = 1_000_000;
    uint64 internal constant PRICE_NOTICE = 1 days;
    uint256 internal constant DEPOSIT = 1000e18;

    SoilToken internal token;
    DatanetRegistry internal datanets;
    ModelRegistry internal models;
    UsageEscrow internal escrow;

    address internal owner = makeAddr("owner");
    address internal treasury = makeAddr("treasury");
    address internal curator = makeAddr("curator");
    address internal modelOwner = makeAddr("modelOwner");
    address internal node = makeAddr("node");
    address internal adapterOwner = makeAddr("adapterOwner");
    address internal payer;
    uint256 internal payerKey;
    address[4] internal contributors;

    uint64 internal datanetId;
    uint64[] internal contributionIds;
    uint64 internal releaseId;
    uint64 internal modelId;

    function setUp() public virtual {
        vm.warp(1_700_000_000);
        (payer, payerKey) = makeAddrAndKey("payer");
        for (uint256 k; k < 4; ++k) {
            contributors[k] = makeAddr(string.concat("contributor", vm.toString(k)));
        }
        vm.startPrank(owner);
        token = new SoilToken(owner);
        datanets = new DatanetRegistry(address(token), treasury, owner);
        models = new ModelRegistry(address(datanets), PRICE_NOTICE);
        escrow = new UsageEscrow(address(token), address(models), address(datanets), treasury, owner);
        vm.stopPrank();

        datanetId = _createDatanet(curator);
        for (uint256 k; k < 4; ++k) {
            uint64 id = _contribute(contributors[k], datanetId, uint32(100 * (k + 1)));
            vm.prank(curator);
            datanets.review(id, true);
            contributionIds.push(id);
        }
        releaseId = _publish(datanetId);
        uint64[] memory releases = new uint64[](1);
        releases[0] = releaseId;
        modelId = _registerModel(releases, PRICE, _split(3000, 5000, 1500, 500));
        _fund(payer, DEPOSIT);
    }

    // ------------------------------------------------------------- registries

    function _createDatanet(address curator_) internal returns (uint64 id) {
        address[] memory curators = new address[](1);
        curators[0] = curator_;
        vm.prank(makeAddr("datanetOwner"));
        id = datanets.createDatanet(
            "ipfs://datanet", MIN_STAKE, REVIEW_WINDOW, MAX_CONTRIBUTION_TOKENS, curators
        );
    }

    function _contribute(address who, uint64 datanet, uint32 tokenCount) internal returns (uint64 id) {
        vm.prank(owner);
        token.mint(who, MIN_STAKE);
        vm.startPrank(who);
        token.approve(address(datanets), MIN_STAKE);
        id = datanets.contribute(
            datanet,
            keccak256(abi.encode(who, datanet, datanets.contributionCount())),
            tokenCount,
            "file://doc",
            MIN_STAKE
        );
        vm.stopPrank();
    }

    function _publish(uint64 datanet) internal returns (uint64 id) {
        uint32 count = datanets.getDatanet(datanet).acceptedCount;
        vm.prank(curator);
        id = datanets.publishRelease(datanet, keccak256(abi.encode("root", datanet, count)), count);
    }

    function _registerModel(uint64[] memory releases, uint96 price, IModelRegistry.Split memory split)
        internal
        returns (uint64 id)
    {
        vm.prank(modelOwner);
        id = models.registerModel(keccak256("weights"), "file://model.gguf", releases, price, split);
    }

    /// @dev An adapter on the fixture's model, bound to and trained on the fixture's release, at `PRICE` with
    ///      the fixture's split, accepting any derivative share.
    function _adapterArgs() internal view returns (IModelRegistry.AdapterRegistration memory r) {
        uint64[] memory releases = new uint64[](1);
        releases[0] = releaseId;
        r = IModelRegistry.AdapterRegistration({
            baseModelId: modelId,
            adapterHash: keccak256("adapter.gguf"),
            uri: "file://adapter.gguf",
            manifestHash: keccak256("manifest.json"),
            manifestUri: "file://manifest.json",
            releaseIds: releases,
            trainedOnReleaseIds: releases,
            pricePerKiloToken: PRICE,
            split: _split(3000, 5000, 1500, 500),
            maxBaseShareBps: 10_000
        });
    }

    /// @dev Registers `r` as `adapterOwner`.
    function _registerAdapter(IModelRegistry.AdapterRegistration memory r) internal returns (uint64 id) {
        vm.prank(adapterOwner);
        id = models.registerAdapter(r);
    }

    /// @dev Sets the fixture model's derivative share as its owner.
    function _setDerivativeShare(uint16 shareBps) internal {
        vm.prank(modelOwner);
        models.setDerivativeShare(modelId, shareBps);
    }

    function _split(uint16 ownerBps, uint16 dataBps, uint16 nodeBps, uint16 treasuryBps)
        internal
        pure
        returns (IModelRegistry.Split memory)
    {
        return IModelRegistry.Split({
            ownerBps: ownerBps, dataBps: dataBps, nodeBps: nodeBps, treasuryBps: treasuryBps
        });
    }

    function _fund(address who, uint256 amount) internal {
        vm.prank(owner);
        token.mint(who, amount);
        vm.startPrank(who);
        token.approve(address(escrow), amount);
        escrow.deposit(amount);
        vm.stopPrank();
    }

    // --------------------------------------------------------------- receipts

    function _attribution(uint64[] memory ids, uint32[] memory weights)
        internal
        pure
        returns (IUsageEscrow.Attribution memory)
    {
        return IUsageEscrow.Attribution({contributionIds: ids, weightsPpm: weights});
    }

    /// @dev Contributions 1 and 2 of the fixture at 500k and 250k ppm.
    function _defaultAttribution() internal view returns (IUsageEscrow.Attribution memory) {
        uint64[] memory ids = new uint64[](2);
        uint32[] memory weights = new uint32[](2);
        (ids[0], ids[1]) = (contributionIds[0], contributionIds[1]);
        (weights[0], weights[1]) = (500_000, 250_000);
        return _attribution(ids, weights);
    }

    function _receipt(address payer_, uint256 nonce, IUsageEscrow.Attribution memory a)
        internal
        view
        returns (IUsageEscrow.UsageReceipt memory r)
    {
        r = IUsageEscrow.UsageReceipt({
            payer: payer_,
            modelId: modelId,
            node: node,
            promptHash: keccak256("prompt"),
            outputHash: keccak256(abi.encode("output", nonce)),
            outputURI: string.concat("https://outputs.example/", vm.toString(nonce)),
            inputTokens: 300,
            outputTokens: 200,
            fee: uint256(PRICE) * 500 / 1000,
            nonce: nonce,
            deadline: uint64(block.timestamp + 1 hours),
            attributionVersion: 1,
            attributionHash: keccak256(abi.encode(a.contributionIds, a.weightsPpm))
        });
    }

    /// @dev The EIP-712 digest computed from the type strings, without asking the escrow.
    function _digest(IUsageEscrow.UsageReceipt memory r, uint256 chainId, address verifyingContract)
        internal
        pure
        returns (bytes32)
    {
        bytes32 domain = keccak256(
            abi.encode(
                DOMAIN_TYPEHASH, keccak256("Soil UsageEscrow"), keccak256("1"), chainId, verifyingContract
            )
        );
        // EIP-712 encodeData: each static member as a 32-byte word, the string as keccak256 of its bytes.
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

    function _digest(IUsageEscrow.UsageReceipt memory r) internal view returns (bytes32) {
        return _digest(r, block.chainid, address(escrow));
    }

    function _sign(uint256 key, IUsageEscrow.UsageReceipt memory r) internal view returns (bytes memory) {
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(key, _digest(r));
        return abi.encodePacked(rr, s, v);
    }

    function _signCompact(uint256 key, IUsageEscrow.UsageReceipt memory r)
        internal
        view
        returns (bytes memory)
    {
        (bytes32 rr, bytes32 vs) = vm.signCompact(key, _digest(r));
        return abi.encodePacked(rr, vs);
    }

    /// @dev Settles `r` alone; returns how many settled (1, or 0 when it was skipped).
    function _settle(IUsageEscrow.UsageReceipt memory r, IUsageEscrow.Attribution memory a, bytes memory sig)
        internal
        returns (uint256 settled)
    {
        (IUsageEscrow.UsageReceipt[] memory rs, IUsageEscrow.Attribution[] memory as_, bytes[] memory sigs) =
            _one(r, a, sig);
        settled = escrow.settle(rs, as_, sigs);
    }

    function _one(IUsageEscrow.UsageReceipt memory r, IUsageEscrow.Attribution memory a, bytes memory sig)
        internal
        pure
        returns (
            IUsageEscrow.UsageReceipt[] memory rs,
            IUsageEscrow.Attribution[] memory as_,
            bytes[] memory sigs
        )
    {
        rs = new IUsageEscrow.UsageReceipt[](1);
        as_ = new IUsageEscrow.Attribution[](1);
        sigs = new bytes[](1);
        (rs[0], as_[0], sigs[0]) = (r, a, sig);
    }

    /// @dev A batch of two receipts: (r0, a0, sig0) at index 0, (r1, a1, sig1) at index 1.
    function _two(
        IUsageEscrow.UsageReceipt memory r0,
        IUsageEscrow.Attribution memory a0,
        bytes memory sig0,
        IUsageEscrow.UsageReceipt memory r1,
        IUsageEscrow.Attribution memory a1,
        bytes memory sig1
    )
        internal
        pure
        returns (
            IUsageEscrow.UsageReceipt[] memory rs,
            IUsageEscrow.Attribution[] memory as_,
            bytes[] memory sigs
        )
    {
        rs = new IUsageEscrow.UsageReceipt[](2);
        as_ = new IUsageEscrow.Attribution[](2);
        sigs = new bytes[](2);
        (rs[0], as_[0], sigs[0]) = (r0, a0, sig0);
        (rs[1], as_[1], sigs[1]) = (r1, a1, sig1);
    }

    /// @dev An attribution as `ReceiptSettled` packs it: (contributionId uint64, weightPpm uint32) per entry.
    function _pack(IUsageEscrow.Attribution memory a) internal pure returns (bytes memory packed) {
        for (uint256 k; k < a.contributionIds.length; ++k) {
            packed = abi.encodePacked(packed, a.contributionIds[k], a.weightsPpm[k]);
        }
    }

    /// @dev Expects `ReceiptSkipped(index, digest of r, reason)` from the escrow.
    function _expectSkipped(uint256 index, IUsageEscrow.UsageReceipt memory r, bytes memory reason) internal {
        vm.expectEmit(address(escrow));
        emit IUsageEscrow.ReceiptSkipped(index, _digest(r), reason);
    }

    /// @dev Expects `ReceiptSettled` for `r` with `a` packed from the escrow.
    function _expectSettled(IUsageEscrow.UsageReceipt memory r, IUsageEscrow.Attribution memory a) internal {
        vm.expectEmit(address(escrow));
        emit IUsageEscrow.ReceiptSettled(_digest(r), r.payer, r.modelId, r, _pack(a));
    }

    /// @dev The escrow's accounting invariant.
    function _assertSolvent() internal view {
        assertEq(
            token.balanceOf(address(escrow)),
            escrow.totalDeposits() + escrow.totalCredited() + escrow.unclaimedPoolRewards(),
            "escrow balance != deposits + credited + unclaimed pool rewards"
        );
    }
}
