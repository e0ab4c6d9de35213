//! `sol!` bindings over the contracts' exported ABI (`contracts/bindings/abi/*.json`).

#![allow(
    missing_docs,
    unreachable_pub,
    missing_debug_implementations,
    clippy::too_many_arguments
)]

use alloy::sol;

sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    IDatanetRegistry,
    "abi/IDatanetRegistry.json"
);

sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    IModelRegistry,
    "abi/IModelRegistry.json"
);

pub use escrow::IUsageEscrow;

/// `IUsageEscrow`'s ABI names `IUsageChannels.Voucher` (in `settleChannel`), for which `sol!` generates a
/// module `IUsageChannels` holding only that struct: it stays in here, apart from the whole interface below.
mod escrow {
    use alloy::sol;

    sol!(
        #[sol(rpc)]
        #[derive(Debug, PartialEq, Eq)]
        IUsageEscrow,
        "abi/IUsageEscrow.json"
    );
}

sol!(
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    IUsageChannels,
    "abi/IUsageChannels.json"
);

sol! {
    /// The payment token: ERC-20 with EIP-2612 permit. `SoilToken` (local chains) adds `mint`.
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    interface IPaymentToken {
        event Transfer(address indexed from, address indexed to, uint256 value);
        event Approval(address indexed owner, address indexed spender, uint256 value);

        function name() external view returns (string memory);
        function symbol() external view returns (string memory);
        function decimals() external view returns (uint8);
        function totalSupply() external view returns (uint256);
        function balanceOf(address account) external view returns (uint256);
        function allowance(address owner, address spender) external view returns (uint256);
        function approve(address spender, uint256 value) external returns (bool);
        function transfer(address to, uint256 value) external returns (bool);
        function transferFrom(address from, address to, uint256 value) external returns (bool);
        function nonces(address owner) external view returns (uint256);
        function DOMAIN_SEPARATOR() external view returns (bytes32);
        function permit(address owner, address spender, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external;
        function mint(address to, uint256 amount) external;
    }
}
