// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IUsageChannels} from "../../src/interfaces/IUsageChannels.sol";
import {GasFixture} from "./Gas.t.sol";

/// @notice Gas and calldata of settling a channel voucher covering 1 to 10,000 inferences of the big model,
///         each of 500 tokens attributing 8 of the 100 contributions as the receipts of `_batch` do: the same
///         recipients as the per-receipt batches beside it. "Credited" is the steady state (a first
///         settlement credited every recipient); "cold" the first settlement of a fresh deployment.
abstract contract ChannelGasFixture is GasFixture {
    /// @dev Where a node publishes a period's log: `/v1/logs/0x` + the root (64 hex digits), 96 bytes.
    string internal constant GAS_LOG_URI =
        "http://127.0.0.1:8080/v1/logs/0x1111111111111111111111111111111111111111111111111111111111111111";

    uint64 internal gasChannel;

    function setUp() public override {
        super.setUp();
        _mintTo(payer, 1_000_000e18);
        vm.prank(payer);
        gasChannel = channels.open(node, bigModel, payer, 1_000_000e18);
    }

    /// @dev The period totals of `n` inferences from `salt`, each 500 tokens (fee 1e18: owner 30 %, data 50 %,
    ///      node 15 %), attributing 8 of the 100 contributions at 10.0–10.7 % each.
    function _gasTotals(uint256 n, uint256 salt) internal view returns (Totals memory t) {
        t = _totals();
        uint256 fee = _fee(bigModel, 500);
        uint256 data = fee * 5000 / 10_000;
        t.inferences = uint32(n);
        t.fee = n * fee;
        t.owner = n * (fee * 3000 / 10_000);
        t.node = n * (fee * 1500 / 10_000);
        t.data = n * data;
        for (uint256 i; i < n; ++i) {
            uint256 start = uint256(keccak256(abi.encode(salt, i))) % CONTRIBUTIONS;
            for (uint256 k; k < PER_RECEIPT; ++k) {
                t.byId[pool[(start + k * 13) % CONTRIBUTIONS]] += data * (100_000 + k * 1000) / 1_000_000;
            }
        }
    }

    /// @dev Settles the channel's next period of `n` inferences as the node; returns the voucher's calldata size.
    function _settlePeriod(uint256 n, uint256 salt) internal returns (uint256 calldataBytes) {
        IUsageChannels.Channel memory c = channels.getChannel(gasChannel);
        IUsageChannels.Voucher memory v = _voucher(gasChannel, c.period, c.settledFee, _gasTotals(n, salt));
        bytes memory sig = _signVoucher(payerKey, v);
        calldataBytes = abi.encodeCall(IUsageChannels.settle, (v, sig, GAS_LOG_URI)).length;
        vm.prank(node);
        channels.settle(v, sig, GAS_LOG_URI);
    }

    function _measure(string memory group, uint256 n) internal {
        _settlePeriod(100, 0); // credits every recipient once
        uint256 size = _settlePeriod(n, 1);
        string memory name = string.concat("channel_settle_", vm.toString(n), "_inferences");
        uint256 gasUsed = vm.snapshotGasLastCall(group, name);
        vm.snapshotValue(group, string.concat(name, "_per_inference"), gasUsed / n);
        vm.snapshotValue(group, string.concat(name, "_calldata_bytes"), size);
        _assertSolvent();
        _assertChannelsSolvent();
    }

    function test_Gas_ChannelSettle_1() external {
        _measure(_group(), 1);
    }

    function test_Gas_ChannelSettle_10() external {
        _measure(_group(), 10);
    }

    function test_Gas_ChannelSettle_100() external {
        _measure(_group(), 100);
    }

    function test_Gas_ChannelSettle_1000() external {
        _measure(_group(), 1000);
    }

    function test_Gas_ChannelSettle_10000() external {
        _measure(_group(), 10_000);
    }

    function test_Gas_ChannelSettle_1000_ColdRecipients() external {
        uint256 size = _settlePeriod(1000, 1);
        uint256 gasUsed = vm.snapshotGasLastCall(_group(), "channel_settle_1000_inferences_cold_recipients");
        vm.snapshotValue(
            _group(), "channel_settle_1000_inferences_cold_recipients_per_inference", gasUsed / 1000
        );
        vm.snapshotValue(_group(), "channel_settle_1000_inferences_cold_recipients_calldata_bytes", size);
    }

    function _group() internal pure virtual returns (string memory);
}

/// @notice The 100 contributions come from 100 distinct contributors: the worst case for credits.
/// forge-config: default.isolate = true
contract ChannelGas_Test is ChannelGasFixture {
    function _authors() internal pure override returns (uint256) {
        return 100;
    }

    function _group() internal pure override returns (string memory) {
        return "UsageChannels";
    }

    function test_Gas_Open() external {
        _mintTo(payer, 10e18);
        vm.prank(payer);
        channels.open(node, bigModel, payer, 10e18);
        vm.snapshotGasLastCall("UsageChannels", "open");
    }

    function test_Gas_Close() external {
        _settlePeriod(10, 0);
        vm.prank(node);
        channels.close(gasChannel);
        vm.snapshotGasLastCall("UsageChannels", "close");
    }
}

/// @notice The same settlements when the 100 contributions come from 20 contributors (5 documents each).
/// forge-config: default.isolate = true
contract ChannelGas20Contributors_Test is ChannelGasFixture {
    function _authors() internal pure override returns (uint256) {
        return 20;
    }

    function _group() internal pure override returns (string memory) {
        return "UsageChannels20Contributors";
    }
}
