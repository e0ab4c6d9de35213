//! The receipt digest computed in Rust equals the one `UsageEscrow.hashReceipt` computes on chain, and a
//! receipt signed in Rust recovers to its payer under the contract's domain (EIP-5267).

use alloy::{
    primitives::{Address, U256, keccak256},
    providers::ProviderBuilder,
};
use soil_bindings::{
    Attribution, ReceiptDomain,
    contracts::IUsageEscrow,
    receipt::{DOMAIN_NAME, DOMAIN_VERSION, UsageReceipt},
    testnet::LocalChain,
};

#[tokio::test]
async fn rust_digest_equals_contract_digest() {
    let chain = LocalChain::start().await.expect("local chain");
    let provider = ProviderBuilder::new().connect_http(chain.anvil.endpoint_url());
    let escrow = IUsageEscrow::new(chain.deployment.usage_escrow, provider);

    let attribution = Attribution::new(vec![(7, 600_000), (3, 250_000)]).unwrap();
    assert_eq!(
        escrow
            .hashAttribution(attribution.to_sol())
            .call()
            .await
            .unwrap(),
        attribution.hash(),
        "attribution hash"
    );

    let receipt = UsageReceipt {
        payer: chain.signers[1].address(),
        modelId: 42,
        node: Address::repeat_byte(0xAB),
        promptHash: keccak256("What is soil made of?"),
        outputHash: keccak256("Minerals, organic matter, water and air."),
        outputURI: "https://outputs.example/0x5a5a/ünïcødé".to_owned(),
        inputTokens: 17,
        outputTokens: 256,
        fee: U256::from(273_000_000_000_000u64),
        nonce: U256::from_be_bytes([0x5a; 32]),
        deadline: 1_900_000_000,
        attributionVersion: 7,
        attributionHash: attribution.hash(),
    };
    let domain = ReceiptDomain {
        chain_id: chain.anvil.chain_id(),
        escrow: chain.deployment.usage_escrow,
    };
    let on_chain = escrow.hashReceipt(receipt.clone()).call().await.unwrap();
    assert_eq!(domain.digest(&receipt), on_chain, "EIP-712 digest");

    let eip5267 = escrow.eip712Domain().call().await.unwrap();
    assert_eq!(eip5267.name, DOMAIN_NAME);
    assert_eq!(eip5267.version, DOMAIN_VERSION);
    assert_eq!(eip5267.chainId, U256::from(domain.chain_id));
    assert_eq!(eip5267.verifyingContract, domain.escrow);
}

#[tokio::test]
async fn rust_voucher_digest_equals_contract_digest() {
    use soil_bindings::channel::{self, ChannelDomain, Voucher};
    let chain = LocalChain::start().await.expect("local chain");
    let provider = ProviderBuilder::new().connect_http(chain.anvil.endpoint_url());
    let channels =
        soil_bindings::contracts::IUsageChannels::new(chain.deployment.usage_channels, provider);
    let voucher = Voucher {
        channelId: u64::MAX,
        period: 3,
        inferences: 1000,
        startFee: U256::from(7u64),
        fee: U256::MAX,
        ownerShare: U256::from(1u64),
        baseShare: U256::from(2u64),
        nodeShare: U256::from(3u64),
        dataShare: U256::from(4u64),
        contributionIds: vec![1, 9, u64::MAX],
        contributionAmounts: vec![U256::from(5u64), U256::ZERO, U256::MAX],
        logRoot: keccak256("log"),
    };
    let domain = ChannelDomain {
        chain_id: chain.anvil.chain_id(),
        channels: chain.deployment.usage_channels,
    };
    let on_chain = channels.hashVoucher(voucher.clone()).call().await.unwrap();
    assert_eq!(domain.digest(&voucher), on_chain, "EIP-712 voucher digest");
    let eip5267 = channels.eip712Domain().call().await.unwrap();
    assert_eq!(eip5267.name, channel::DOMAIN_NAME);
    assert_eq!(eip5267.verifyingContract, domain.channels);
}
