// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {DatanetRegistry} from "../../src/DatanetRegistry.sol";
import {SoilToken} from "../../src/SoilToken.sol";
import {IDatanetRegistry} from "../../src/interfaces/IDatanetRegistry.sol";
import {Test} from "forge-std/Test.sol";

/// @notice Drives the DatanetRegistry over two datanets it owns: contributions, reviews, stake and
///         contribution withdrawals, curator changes and time, keeping ghost totals of where every stake is.
/// @dev Contributions the registry already holds when the handler is built (the fixture's) are counted in
///      the ghosts too, so the totals cover the registry's whole balance.
contract DatanetHandler is Test {
    uint256 internal constant DATANETS = 2;
    uint256 internal constant CURATORS = 3;
    uint256 internal constant CONTRIBUTORS = 3;

    SoilToken internal immutable token;
    DatanetRegistry internal immutable registry;
    address internal immutable minter;

    uint64[DATANETS] public datanetIds;
    address[CURATORS] public curators;
    address[CONTRIBUTORS] internal contributors;
    uint64[] internal ids; // every contribution, fixture's included

    // ghosts
    uint256 public ghostPendingStakes; // Σ stake of Pending contributions
    uint256 public ghostLockedStakes; // Σ stake of Accepted contributions not yet returned
    uint256 public ghostContributed; // Σ stake pulled by contribute (fixture's included)
    uint256 public ghostReturned; // Σ stake sent back by withdrawStake
    uint256 public ghostWithdrawn; // Σ stake sent back by withdrawContribution
    uint256 public ghostSlashed; // Σ stake sent to the treasury
    uint256 public ghostContributions;
    uint256 public ghostWithdrawals; // withdrawContribution calls that succeeded
    mapping(uint256 datanetIndex => uint32) public ghostCuratorCount;
    mapping(uint256 datanetIndex => mapping(uint256 curatorIndex => bool)) public ghostIsCurator;

    constructor(SoilToken token_, DatanetRegistry registry_, address minter_) {
        (token, registry, minter) = (token_, registry_, minter_);
        for (uint256 k; k < CURATORS; ++k) {
            curators[k] = makeAddr(string.concat("invariantCurator", vm.toString(k)));
        }
        for (uint256 k; k < CONTRIBUTORS; ++k) {
            contributors[k] = makeAddr(string.concat("invariantContributor", vm.toString(k)));
        }
        // Datanet 0: free to contribute to, 1-hour window, 500-token bound, curator 0.
        address[] memory initial = new address[](1);
        initial[0] = curators[0];
        datanetIds[0] = registry_.createDatanet("ipfs://a", 0, 1 hours, 500, initial);
        _noteCurator(0, 0, true);
        // Datanet 1: 1-token minimum stake, 3-day window, 1,000,000-token bound, curators 1 and 2.
        initial = new address[](2);
        (initial[0], initial[1]) = (curators[1], curators[2]);
        datanetIds[1] = registry_.createDatanet("ipfs://b", 1e18, 3 days, 1_000_000, initial);
        _noteCurator(1, 1, true);
        _noteCurator(1, 2, true);

        uint64 count = registry_.contributionCount();
        for (uint64 id = 1; id <= count; ++id) {
            IDatanetRegistry.Contribution memory c = registry_.getContribution(id);
            ids.push(id);
            ghostContributed += c.stake;
            if (c.status == IDatanetRegistry.ContributionStatus.Pending) {
                ghostPendingStakes += c.stake;
            } else if (c.status == IDatanetRegistry.ContributionStatus.Accepted && !c.stakeReturned) {
                ghostLockedStakes += c.stake;
            }
        }
    }

    function contributionIdCount() external view returns (uint256) {
        return ids.length;
    }

    function datanetCount() external pure returns (uint256) {
        return DATANETS;
    }

    function curatorCandidateCount() external pure returns (uint256) {
        return CURATORS;
    }

    // ---------------------------------------------------------------- actions

    function contribute(uint256 datanetIndex, uint256 contributorIndex, uint256 tokens, uint256 stake)
        external
    {
        uint256 d = datanetIndex % DATANETS;
        uint64 dn = datanetIds[d];
        IDatanetRegistry.Datanet memory info = registry.getDatanet(dn);
        address who = contributors[contributorIndex % CONTRIBUTORS];
        uint32 tokenCount = uint32(bound(tokens, 1, uint256(info.maxContributionTokens) + 10));
        uint96 amount = uint96(bound(stake, info.minStake, uint256(info.minStake) + 100e18));
        bytes32 contentHash = keccak256(abi.encode(who, registry.contributionCount()));

        vm.prank(minter);
        token.mint(who, amount);
        vm.startPrank(who);
        token.approve(address(registry), amount);
        if (ghostCuratorCount[d] == 0) {
            vm.expectRevert(abi.encodeWithSelector(IDatanetRegistry.NoCurators.selector, dn));
            registry.contribute(dn, contentHash, tokenCount, "file://doc", amount);
        } else if (tokenCount > info.maxContributionTokens) {
            vm.expectRevert(
                abi.encodeWithSelector(
                    IDatanetRegistry.TooManyTokens.selector, tokenCount, info.maxContributionTokens
                )
            );
            registry.contribute(dn, contentHash, tokenCount, "file://doc", amount);
        } else {
            uint64 id = registry.contribute(dn, contentHash, tokenCount, "file://doc", amount);
            ids.push(id);
            ghostPendingStakes += amount;
            ghostContributed += amount;
            ++ghostContributions;
        }
        vm.stopPrank();
    }

    function review(uint256 idSeed, uint256 curatorSeed, bool accept) external {
        (bool found, uint64 id, IDatanetRegistry.Contribution memory c) =
            _find(idSeed, IDatanetRegistry.ContributionStatus.Pending, false);
        if (!found) return;
        uint256 d = c.datanetId == datanetIds[0] ? 0 : 1;
        for (uint256 k; k < CURATORS; ++k) {
            uint256 j = (curatorSeed % CURATORS + k) % CURATORS;
            if (!ghostIsCurator[d][j]) continue;
            if (block.timestamp >= c.unlockAt) {
                // Past its window only the contributor may act on it.
                vm.expectRevert(
                    abi.encodeWithSelector(IDatanetRegistry.ReviewWindowClosed.selector, id, c.unlockAt)
                );
                vm.prank(curators[j]);
                registry.review(id, accept);
                return;
            }
            vm.prank(curators[j]);
            registry.review(id, accept);
            ghostPendingStakes -= c.stake;
            if (accept) ghostLockedStakes += c.stake;
            else ghostSlashed += c.stake;
            return;
        }
    }

    function withdrawStake(uint256 idSeed) external {
        (bool found, uint64 id, IDatanetRegistry.Contribution memory c) =
            _find(idSeed, IDatanetRegistry.ContributionStatus.Accepted, true);
        if (!found) return;
        if (block.timestamp < c.unlockAt) vm.warp(c.unlockAt);
        vm.prank(c.contributor);
        registry.withdrawStake(id);
        ghostLockedStakes -= c.stake;
        ghostReturned += c.stake;
    }

    /// @dev Before the window closes it checks the revert half of the time and warps to the close otherwise.
    function withdrawContribution(uint256 idSeed, bool waitForWindow) external {
        (bool found, uint64 id, IDatanetRegistry.Contribution memory c) =
            _find(idSeed, IDatanetRegistry.ContributionStatus.Pending, false);
        if (!found) return;
        if (block.timestamp < c.unlockAt) {
            if (!waitForWindow) {
                vm.expectRevert(
                    abi.encodeWithSelector(IDatanetRegistry.ReviewWindowOpen.selector, id, c.unlockAt)
                );
                vm.prank(c.contributor);
                registry.withdrawContribution(id);
                return;
            }
            vm.warp(c.unlockAt);
        }
        vm.prank(c.contributor);
        registry.withdrawContribution(id);
        ghostPendingStakes -= c.stake;
        ghostWithdrawn += c.stake;
        ++ghostWithdrawals;
    }

    function setCurator(uint256 datanetIndex, uint256 curatorIndex, bool enabled) external {
        uint256 d = datanetIndex % DATANETS;
        uint256 k = curatorIndex % CURATORS;
        registry.setCurator(datanetIds[d], curators[k], enabled);
        _noteCurator(d, k, enabled);
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 1, 4 days));
    }

    // ---------------------------------------------------------------- helpers

    function _noteCurator(uint256 d, uint256 k, bool enabled) internal {
        if (ghostIsCurator[d][k] == enabled) return;
        ghostIsCurator[d][k] = enabled;
        if (enabled) ++ghostCuratorCount[d];
        else --ghostCuratorCount[d];
    }

    /// @dev The first contribution from a pseudo-random start with `status` (and, for Accepted, a stake
    ///      not yet returned when `unreturned`).
    function _find(uint256 seed, IDatanetRegistry.ContributionStatus status, bool unreturned)
        internal
        view
        returns (bool found, uint64 id, IDatanetRegistry.Contribution memory c)
    {
        uint256 n = ids.length;
        for (uint256 k; k < n; ++k) {
            id = ids[(seed % n + k) % n];
            c = registry.getContribution(id);
            if (c.status == status && !(unreturned && c.stakeReturned)) return (true, id, c);
        }
    }
}
