// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ModelRegistry} from "../../src/ModelRegistry.sol";
import {SoilToken} from "../../src/SoilToken.sol";
import {UsageEscrow} from "../../src/UsageEscrow.sol";
import {IDatanetRegistry} from "../../src/interfaces/IDatanetRegistry.sol";
import {IUsageEscrow} from "../../src/interfaces/IUsageEscrow.sol";
import {AmountMap} from "../../src/libraries/AmountMap.sol";
import {Base} from "../utils/Base.t.sol";
import {PermissiveDatanets} from "../utils/PermissiveDatanets.sol";
import {Vm} from "forge-std/Vm.sol";

/// @dev Runs a sequence of `add` / `get` on one AmountMap, in memory made as hostile as the EVM allows: dirty
///      memory past the free pointer before `create`, and allocations filled with ones between operations
///      (they must never overlap the map).
contract AmountMapOpsHarness {
    using AmountMap for AmountMap.Map;

    error Clobbered();

    function run(
        uint256 maxEntries,
        address[] calldata keys,
        uint256[] calldata amounts,
        bool[] calldata isGet,
        bool dirty
    )
        external
        pure
        returns (address[] memory entryKeys, uint256[] memory entryAmounts, uint256[] memory gets)
    {
        if (dirty) {
            assembly ("memory-safe") {
                let p := mload(0x40)
                for { let i := 0 } lt(i, 0x8000) { i := add(i, 0x20) } { mstore(add(p, i), not(0)) }
            }
        }
        AmountMap.Map memory map = AmountMap.create(maxEntries);
        bytes memory sentinel = _ones(96);
        gets = new uint256[](keys.length);
        for (uint256 k; k < keys.length; ++k) {
            if (isGet[k]) gets[k] = map.get(keys[k]);
            else map.add(keys[k], amounts[k]);
            _ones(32 + k % 64);
        }
        if (keccak256(sentinel) != keccak256(_ones(96))) revert Clobbered();
        entryKeys = new address[](map.size);
        entryAmounts = new uint256[](map.size);
        for (uint256 k; k < map.size; ++k) {
            (entryKeys[k], entryAmounts[k]) = map.entry(k);
        }
    }

    function _ones(uint256 len) private pure returns (bytes memory b) {
        b = new bytes(len);
        for (uint256 i; i < len; ++i) {
            b[i] = 0xff;
        }
    }
}

/// @notice Differential fuzz of the hand-written assembly against plain-Solidity references:
///         `DatanetRegistry.settlementInfo` (its encoder, and its decoding of non-canonical calldata),
///         `AmountMap`, the escrow's packed attribution in `ReceiptSettled`, and `hashReceipt`.
contract Assembly_Fuzz_Test is Base {
    string internal constant RECEIPT_TYPE =
        "UsageReceipt(address payer,uint64 modelId,address node,bytes32 promptHash,bytes32 outputHash,string outputURI,uint32 inputTokens,uint32 outputTokens,uint256 fee,uint256 nonce,uint64 deadline,uint16 attributionVersion,bytes32 attributionHash)";

    AmountMapOpsHarness internal mapHarness;
    PermissiveDatanets internal anyIds;
    UsageEscrow internal looseEscrow; // over PermissiveDatanets: any uint64 id can be attributed
    uint64 internal looseModel;

    function setUp() public override {
        super.setUp();
        // Contributions in every state settlementInfo can see: pending, rejected, accepted in a second datanet.
        _contribute(contributors[0], datanetId, 5);
        uint64 rejected = _contribute(contributors[1], datanetId, 6);
        vm.prank(curator);
        datanets.review(rejected, false);
        uint64 dn = _createDatanet(curator);
        uint64 other = _contribute(contributors[2], dn, 7);
        vm.prank(curator);
        datanets.review(other, true);

        mapHarness = new AmountMapOpsHarness();

        anyIds = new PermissiveDatanets();
        ModelRegistry looseModels = new ModelRegistry(address(anyIds), 1 days);
        looseEscrow = new UsageEscrow(address(token), address(looseModels), address(anyIds), treasury, owner);
        uint64[] memory releases = new uint64[](1);
        releases[0] = 1;
        vm.prank(modelOwner);
        looseModel = looseModels.registerModel(
            keccak256("weights"), "file://model.gguf", releases, PRICE, _split(3000, 5000, 1500, 500)
        );
        vm.prank(owner);
        token.mint(payer, DEPOSIT);
        vm.startPrank(payer);
        token.approve(address(looseEscrow), DEPOSIT);
        looseEscrow.deposit(DEPOSIT);
        vm.stopPrank();
    }

    // ------------------------------------------------ (a) settlementInfo

    /// @dev Known, unknown, 0, max and arbitrary ids.
    function _pickId(uint256 s) internal view returns (uint64) {
        uint256 count = datanets.contributionCount();
        uint256 kind = s % 5;
        if (kind == 0) return 0;
        if (kind == 1) return type(uint64).max;
        if (kind == 2) return uint64(1 + (s >> 8) % count);
        if (kind == 3) return uint64(count + 1 + (s >> 8) % 1000);
        return uint64(s >> 8);
    }

    /// @dev The plain-Solidity answer: `getContribution`'s fields, zeros for an unknown id.
    function _reference(uint64[] memory ids)
        internal
        view
        returns (address[] memory who, uint64[] memory dns, uint32[] memory seqs)
    {
        (who, dns, seqs) = (new address[](ids.length), new uint64[](ids.length), new uint32[](ids.length));
        for (uint256 k; k < ids.length; ++k) {
            try datanets.getContribution(ids[k]) returns (IDatanetRegistry.Contribution memory c) {
                (who[k], dns[k], seqs[k]) = (c.contributor, c.datanetId, c.acceptedSeq);
            } catch {}
        }
    }

    function _referenceEncoded(uint64[] memory ids) internal view returns (bytes memory) {
        (address[] memory who, uint64[] memory dns, uint32[] memory seqs) = _reference(ids);
        return abi.encode(who, dns, seqs);
    }

    function testFuzz_SettlementInfo_MatchesGetContribution(uint256 seed, uint8 len) external view {
        uint64[] memory ids = new uint64[](len % 48);
        for (uint256 k; k < ids.length; ++k) {
            ids[k] = _pickId(uint256(keccak256(abi.encode(seed, k))));
        }
        (address[] memory who, uint64[] memory dns, uint32[] memory seqs) = datanets.settlementInfo(ids);
        (address[] memory rWho, uint64[] memory rDns, uint32[] memory rSeqs) = _reference(ids);
        assertEq(who.length, ids.length, "length");
        for (uint256 k; k < ids.length; ++k) {
            assertEq(who[k], rWho[k], "contributor");
            assertEq(dns[k], rDns[k], "datanetId");
            assertEq(seqs[k], rSeqs[k], "acceptedSeq");
        }
        // And the return data is the canonical encoding, byte for byte.
        (bool ok, bytes memory ret) =
            address(datanets).staticcall(abi.encodeCall(IDatanetRegistry.settlementInfo, (ids)));
        assertTrue(ok, "call");
        assertEq(ret, _referenceEncoded(ids), "canonical encoding");
    }

    function testFuzz_SettlementInfo_RevertWhen_IdHasDirtyHighBits(
        uint256 seed,
        uint8 len,
        uint8 at,
        uint256 dirt
    ) external view {
        uint64[] memory ids = new uint64[](1 + len % 24);
        for (uint256 k; k < ids.length; ++k) {
            ids[k] = _pickId(uint256(keccak256(abi.encode(seed, k))));
        }
        bytes memory data = abi.encodeCall(IDatanetRegistry.settlementInfo, (ids));
        uint256 i = at % ids.length;
        dirt = bound(dirt, 1, type(uint192).max);
        // selector, offset, length, then the elements
        _writeWord(data, 4 + 0x40 + 0x20 * i, uint256(ids[i]) | (dirt << 64));
        (bool ok,) = address(datanets).staticcall(data);
        assertFalse(ok, "a word that is not a uint64 was read as an id");
    }

    /// @dev Calldata with the array at any offset (odd, or overlapping the head: the offset word, the length
    ///      and the elements written in that order, each possibly over the previous), trailing bytes, and
    ///      lengths that may overrun: the call decodes what the ABI rules read there, or reverts where they
    ///      reject it; it never answers for other ids.
    function testFuzz_SettlementInfo_NonCanonicalCalldata(
        uint256 seed,
        uint256 offset,
        uint8 len,
        uint8 extra
    ) external view {
        uint256 n = len % 12;
        uint256 off = offset % 4 == 0 ? 0x20 : bound(offset >> 2, 0, 0xa0);
        bytes memory body = new bytes(off + 0x20 + 0x20 * n + extra % 48);
        for (uint256 k; k < n; ++k) {
            _writeWord(body, off + 0x20 + 0x20 * k, _pickId(uint256(keccak256(abi.encode(seed, k)))));
        }
        // Sometimes a length that claims more elements than there are.
        _writeWord(body, off, (seed >> 200) % 8 == 0 ? n + 1 + extra % 3 : n);
        _writeWord(body, 0, off);
        (bool valid, uint64[] memory ids) = _abiDecodeIds(body);
        (bool ok, bytes memory ret) =
            address(datanets).staticcall(bytes.concat(IDatanetRegistry.settlementInfo.selector, body));
        assertEq(ok, valid, "accepts exactly the calldata the ABI decoder accepts");
        if (ok) assertEq(ret, _referenceEncoded(ids), "answer for the ids the calldata holds");
    }

    /// @dev The ABI decoding rules for one `uint64[] calldata` parameter, as Solidity applies them, with
    ///      settlementInfo's own rule that every element is a clean uint64; bytes past the end read as zero.
    function _abiDecodeIds(bytes memory body) internal pure returns (bool valid, uint64[] memory ids) {
        uint256 size = body.length;
        if (size < 0x20) return (false, ids);
        uint256 off = _readWord(body, 0);
        if (off > type(uint64).max || off + 0x1f >= size) return (false, ids);
        uint256 n = _readWord(body, off);
        if (n > type(uint64).max || off + 0x20 + 0x20 * n > size) return (false, ids);
        ids = new uint64[](n);
        for (uint256 k; k < n; ++k) {
            uint256 word = _readWord(body, off + 0x20 + 0x20 * k);
            if (word > type(uint64).max) return (false, ids);
            ids[k] = uint64(word);
        }
        return (true, ids);
    }

    function _writeWord(bytes memory b, uint256 at, uint256 word) internal pure {
        for (uint256 i; i < 32; ++i) {
            if (at + i < b.length) b[at + i] = bytes1(uint8(word >> (8 * (31 - i))));
        }
    }

    function _readWord(bytes memory b, uint256 at) internal pure returns (uint256 word) {
        for (uint256 i; i < 32; ++i) {
            word = (word << 8) | (at + i < b.length ? uint8(b[at + i]) : 0);
        }
    }

    // ---------------------------------------------------------- (b) AmountMap

    struct MapCase {
        uint256 seed;
        uint8 ops;
        uint8 pool;
        uint8 slack;
        bool dirty;
    }

    function testFuzz_AmountMap_MatchesMappingAndArray(MapCase memory c) external view {
        uint256 poolSize = 1 + c.pool % 40;
        address[] memory pool = new address[](poolSize);
        for (uint256 k; k < poolSize; ++k) {
            uint256 s = uint256(keccak256(abi.encode(c.seed, "key", k)));
            pool[k] = s % 7 == 0
                ? address(type(uint160).max - uint160(k))
                : address(uint160(s % 5 == 0 ? k + 1 : s));
            if (pool[k] == address(0)) pool[k] = address(1);
        }
        uint256 n = c.ops % 160;
        address[] memory keys = new address[](n);
        uint256[] memory amounts = new uint256[](n);
        bool[] memory isGet = new bool[](n);
        for (uint256 k; k < n; ++k) {
            uint256 s = uint256(keccak256(abi.encode(c.seed, "op", k)));
            isGet[k] = s % 3 == 0;
            // Gets also ask for absent keys, and for the zero key.
            keys[k] = isGet[k] && s % 7 == 0
                ? address(uint160((s >> 8) % 3 == 0 ? 0 : s >> 32))
                : pool[(s >> 8) % poolSize];
            amounts[k] = (s >> 64) % 5 == 0 ? 0 : uint128(s >> 64);
        }
        (address[] memory entryKeys, uint256[] memory entryAmounts, uint256[] memory gets) =
            mapHarness.run(poolSize + c.slack % 4, keys, amounts, isGet, c.dirty);

        // The reference: insertion-ordered arrays searched linearly.
        address[] memory refKeys = new address[](n);
        uint256[] memory refAmounts = new uint256[](n);
        uint256 size;
        for (uint256 k; k < n; ++k) {
            uint256 j;
            while (j < size && refKeys[j] != keys[k]) ++j;
            if (isGet[k]) {
                assertEq(gets[k], j < size ? refAmounts[j] : 0, "get");
                continue;
            }
            if (j == size) refKeys[size++] = keys[k];
            refAmounts[j] += amounts[k];
        }
        assertEq(entryKeys.length, size, "distinct keys");
        for (uint256 j; j < size; ++j) {
            assertEq(entryKeys[j], refKeys[j], "insertion order");
            assertEq(entryAmounts[j], refAmounts[j], "sum");
        }
    }

    /// @dev Exactly `maxEntries` distinct keys fit; one more reverts.
    function testFuzz_AmountMap_CapacityIsMaxEntries(uint8 maxRaw, uint256 seed, bool over) external {
        uint256 maxEntries = 1 + maxRaw % 100;
        uint256 n = over ? maxEntries + 1 : maxEntries;
        address[] memory keys = new address[](n);
        uint256[] memory amounts = new uint256[](n);
        for (uint256 k; k < n; ++k) {
            keys[k] = address(uint160(uint256(keccak256(abi.encode(seed, k)))) | 1);
            amounts[k] = k;
        }
        if (over) vm.expectRevert(AmountMap.AmountMapFull.selector);
        (address[] memory entryKeys,,) = mapHarness.run(maxEntries, keys, amounts, new bool[](n), false);
        if (!over) assertEq(entryKeys.length, maxEntries, "all fit");
    }

    // ------------------------------------------ (c) ReceiptSettled attribution

    /// @dev 0..16 entries, ids anywhere in uint64 (0 and max included), weights up to a whole million.
    function _anyAttribution(uint256 seed, uint8 len)
        internal
        pure
        returns (IUsageEscrow.Attribution memory a)
    {
        uint256 n = len % 17;
        a.contributionIds = new uint64[](n);
        a.weightsPpm = new uint32[](n);
        uint256 left = PPM_;
        for (uint256 k; k < n; ++k) {
            uint256 s = uint256(keccak256(abi.encode(seed, k)));
            uint256 kind = s % 4;
            a.contributionIds[k] = kind == 0 ? 0 : kind == 1 ? type(uint64).max : uint64(s >> 8);
            uint256 w = (s >> 100) % 3 == 0 ? left : (s >> 128) % (left + 1);
            a.weightsPpm[k] = uint32(w);
            left -= w;
        }
    }

    uint256 internal constant PPM_ = 1_000_000;

    function testFuzz_ReceiptSettled_PackedAttribution(uint256 seed, uint8 len) external {
        IUsageEscrow.Attribution memory a = _anyAttribution(seed, len);
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, seed, a);
        r.modelId = looseModel;
        (uint8 v, bytes32 rr, bytes32 s) = vm.sign(payerKey, _digest(r, block.chainid, address(looseEscrow)));
        (IUsageEscrow.UsageReceipt[] memory rs, IUsageEscrow.Attribution[] memory as_, bytes[] memory sigs) =
            _one(r, a, abi.encodePacked(rr, s, v));
        vm.recordLogs();
        assertEq(looseEscrow.settle(rs, as_, sigs), 1, "settled");
        bytes memory packed = _settledAttribution(vm.getRecordedLogs(), r);

        bytes memory expected;
        for (uint256 k; k < a.contributionIds.length; ++k) {
            expected = abi.encodePacked(expected, a.contributionIds[k], a.weightsPpm[k]);
        }
        assertEq(packed, expected, "12 bytes per entry: uint64 id then uint32 weight, big-endian");
        // Unpacked and ABI-encoded, it hashes to the receipt's attributionHash.
        uint256 n = packed.length / 12;
        (uint64[] memory ids, uint32[] memory weights) = (new uint64[](n), new uint32[](n));
        for (uint256 k; k < n; ++k) {
            uint256 word = _readWord(packed, 12 * k);
            (ids[k], weights[k]) = (uint64(word >> 192), uint32(word >> 160));
        }
        assertEq(keccak256(abi.encode(ids, weights)), r.attributionHash, "unpacks to the signed attribution");
    }

    /// @dev The `attribution` of the one `ReceiptSettled` in `logs`, after checking its receipt is `r`.
    function _settledAttribution(Vm.Log[] memory logs, IUsageEscrow.UsageReceipt memory r)
        internal
        view
        returns (bytes memory packed)
    {
        uint256 found;
        for (uint256 k; k < logs.length; ++k) {
            if (
                logs[k].emitter != address(looseEscrow)
                    || logs[k].topics[0] != IUsageEscrow.ReceiptSettled.selector
            ) {
                continue;
            }
            IUsageEscrow.UsageReceipt memory emitted;
            (emitted, packed) = abi.decode(logs[k].data, (IUsageEscrow.UsageReceipt, bytes));
            assertEq(keccak256(abi.encode(emitted)), keccak256(abi.encode(r)), "the receipt as signed");
            assertEq(logs[k].topics[1], _digest(r, block.chainid, address(looseEscrow)), "digest");
            ++found;
        }
        assertEq(found, 1, "one ReceiptSettled");
    }

    // --------------------------------------------------------- (d) hashReceipt

    function _assertDigest(IUsageEscrow.UsageReceipt memory r) internal view {
        _assertDigest(r, true);
    }

    /// @dev `utf8`: whether the URI is valid UTF-8, so that forge's own encoder can be asked too (it reads the
    ///      string as text: invalid UTF-8 is not hashed as the bytes it is).
    function _assertDigest(IUsageEscrow.UsageReceipt memory r, bool utf8) internal view {
        bytes32 digest = _digest(r);
        assertEq(escrow.hashReceipt(r), digest, "hashReceipt != the EIP-712 digest from the type strings");
        if (!utf8) return;
        // A third computation: forge's own EIP-712 encoder over the type string.
        bytes32 structHash = vm.eip712HashStruct(RECEIPT_TYPE, abi.encode(r));
        assertEq(
            keccak256(abi.encodePacked("\x19\x01", escrow.DOMAIN_SEPARATOR(), structHash)),
            digest,
            "forge's EIP-712 encoder disagrees"
        );
    }

    function testFuzz_HashReceipt_MatchesIndependentDigest(IUsageEscrow.UsageReceipt memory r) external view {
        _assertDigest(r);
    }

    /// @dev Output URIs of every length around the word boundaries and far beyond, of any bytes (and the same
    ///      length of printable ASCII, for forge's encoder).
    function testFuzz_HashReceipt_AnyOutputURI(uint256 seed, uint16 len) external view {
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, seed, _defaultAttribution());
        bytes memory uri = new bytes(seed % 3 == 0 ? len % 100 : len);
        bytes memory ascii = new bytes(uri.length);
        for (uint256 k; k < uri.length; ++k) {
            uint8 b = uint8(uint256(keccak256(abi.encode(seed, k))));
            (uri[k], ascii[k]) = (bytes1(b), bytes1(0x20 + b % 95));
        }
        r.attributionVersion = uint16(seed >> 16);
        r.outputURI = string(uri);
        _assertDigest(r, false);
        r.outputURI = string(ascii);
        _assertDigest(r, true);
    }

    function test_HashReceipt_EmptyLongAndUnicodeOutputURIs() external view {
        IUsageEscrow.UsageReceipt memory r = _receipt(payer, 7, _defaultAttribution());
        string[5] memory uris = [
            "",
            "http://127.0.0.1:8080/v1/outputs/0x0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            unicode"ipfs://出力/ünïcödé/🦀?q=✓",
            string(abi.encodePacked(bytes1(0), "nul inside", bytes1(0))),
            string(new bytes(20_000))
        ];
        for (uint256 k; k < uris.length; ++k) {
            r.outputURI = uris[k];
            _assertDigest(r);
        }
        // The URI is signed: any change changes the digest.
        r.outputURI = "https://outputs.example/7";
        bytes32 before = escrow.hashReceipt(r);
        r.outputURI = "https://outputs.example/8";
        assertTrue(escrow.hashReceipt(r) != before, "URI not bound");
    }
}
