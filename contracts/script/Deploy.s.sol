// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {DatanetRegistry} from "../src/DatanetRegistry.sol";
import {ModelRegistry} from "../src/ModelRegistry.sol";
import {SoilToken} from "../src/SoilToken.sol";
import {UsageChannels} from "../src/UsageChannels.sol";
import {UsageEscrow} from "../src/UsageEscrow.sol";
import {Script} from "forge-std/Script.sol";

/// @title Deploy
/// @notice Deploys Soil's contracts and writes their addresses to a JSON deployment file.
/// @dev Environment: `PRIVATE_KEY` (the deployer, never logged); optional `TOKEN` (an existing ERC-20; when
///      absent a `SoilToken` owned by the deployer is deployed), `TREASURY` (default: the deployer) and
///      `DEPLOYMENT_FILE` (default: `deployments/<chainId>.json`, must lie under `./deployments`).
///      The deployer owns the protocol parameters; the defaults are a 7-day stake lock, 1-day receipt
///      validity and 2-day withdrawal delay; model price changes take a 1-day notice.
contract Deploy is Script {
    /// @notice Seconds from a model's `setPrice` to the first receipt deadline the new price applies to: the
    ///         escrow's default longest receipt lifetime (1 day), so no receipt already signed changes price.
    uint64 public constant PRICE_NOTICE = 1 days;

    /// @notice The deployed addresses.
    struct Deployment {
        address token;
        address datanetRegistry;
        address modelRegistry;
        address usageEscrow;
        address usageChannels;
    }

    /// @notice Runs the deployment and writes the deployment file.
    function run() external returns (Deployment memory d) {
        uint256 startBlock = block.number;
        uint256 key = vm.envUint("PRIVATE_KEY");
        address deployer = vm.addr(key);
        address treasury = vm.envOr("TREASURY", deployer);
        string memory file =
            vm.envOr("DEPLOYMENT_FILE", string.concat("deployments/", vm.toString(block.chainid), ".json"));

        vm.startBroadcast(key);
        d.token = vm.envOr("TOKEN", address(0));
        if (d.token == address(0)) d.token = address(new SoilToken(deployer));
        DatanetRegistry datanets = new DatanetRegistry(d.token, treasury, deployer);
        ModelRegistry models = new ModelRegistry(address(datanets), PRICE_NOTICE);
        UsageEscrow escrow = new UsageEscrow(d.token, address(models), address(datanets), treasury, deployer);
        UsageChannels channels = new UsageChannels(address(escrow));
        escrow.setChannels(address(channels));
        vm.stopBroadcast();

        d.datanetRegistry = address(datanets);
        d.modelRegistry = address(models);
        d.usageEscrow = address(escrow);
        d.usageChannels = address(channels);
        vm.writeFile(file, _json(d, startBlock));
    }

    function _json(Deployment memory d, uint256 startBlock) private view returns (string memory) {
        return string.concat(
            '{"chainId":',
            vm.toString(block.chainid),
            ',"token":"',
            vm.toString(d.token),
            '","datanetRegistry":"',
            vm.toString(d.datanetRegistry),
            '","modelRegistry":"',
            vm.toString(d.modelRegistry),
            '","usageEscrow":"',
            vm.toString(d.usageEscrow),
            '","usageChannels":"',
            vm.toString(d.usageChannels),
            '","startBlock":',
            vm.toString(startBlock),
            "}"
        );
    }
}
