//! `UsageChannels`: opening, funding, settling and closing payer-to-node channels, and the split terms a
//! channel's vouchers are checked against (the model's `Split` and `baseShareBps`).

use alloy::{
    consensus::TxEnvelope,
    primitives::{Address, Bytes, U256},
};
use soil_bindings::{
    channel::{Channel, ChannelDomain, SplitTerms, Voucher},
    contracts::IUsageChannels::{self, IUsageChannelsInstance},
};

use super::{
    Chain, Revert,
    tx::{contract_error, event, missing_event},
};
use crate::error::{ClientError, Result};

/// A `settle` transaction signed and ready to broadcast, or the revert it would hit.
pub type VoucherSettlement = std::result::Result<TxEnvelope, Revert>;

impl Chain {
    fn channels(&self) -> IUsageChannelsInstance<&alloy::providers::DynProvider> {
        IUsageChannels::new(self.deployment.usage_channels, &self.provider)
    }

    /// The EIP-712 domain vouchers are signed in.
    pub fn channel_domain(&self) -> ChannelDomain {
        ChannelDomain {
            chain_id: self.deployment.chain_id,
            channels: self.deployment.usage_channels,
        }
    }

    /// Opens a channel from the wallet to `node` for `model_id`, its vouchers signed by `signer`, locking
    /// `deposit` (approving the channels contract first if needed); returns the channel id.
    pub async fn open_channel(
        &self,
        node: Address,
        model_id: u64,
        signer: Address,
        deposit: U256,
    ) -> Result<u64> {
        let action = "opening the channel";
        self.ensure_allowance(self.deployment.usage_channels, deposit)
            .await?;
        let tx = self
            .channels()
            .open(node, model_id, signer, deposit)
            .into_transaction_request();
        let receipt = self.send(action, tx).await?;
        event::<IUsageChannels::ChannelOpened>(&receipt)
            .map(|e| e.channelId)
            .ok_or_else(|| missing_event(action))
    }

    /// Adds `amount` to channel `channel_id`'s deposit, approving first if needed.
    pub async fn fund_channel(&self, channel_id: u64, amount: U256) -> Result<()> {
        self.ensure_allowance(self.deployment.usage_channels, amount)
            .await?;
        let tx = self
            .channels()
            .fund(channel_id, amount)
            .into_transaction_request();
        self.send(&format!("funding channel {channel_id}"), tx)
            .await
            .map(drop)
    }

    /// Channel `channel_id`'s state on chain.
    pub async fn channel(&self, channel_id: u64) -> Result<Channel> {
        let channel = self
            .channels()
            .getChannel(channel_id)
            .call()
            .await
            .map_err(|err| contract_error(&format!("reading channel {channel_id}"), &err))?;
        if channel.payer == Address::ZERO {
            return Err(ClientError::UnknownChannel(channel_id));
        }
        Ok(channel)
    }

    /// Signs (without sending) the `settle` of `voucher`, or returns the revert it would hit.
    pub async fn prepare_voucher_settlement(
        &self,
        voucher: &Voucher,
        signature: &Bytes,
        log_uri: &str,
    ) -> Result<VoucherSettlement> {
        let tx = self
            .channels()
            .settle(voucher.clone(), signature.clone(), log_uri.to_owned())
            .into_transaction_request();
        self.sign_offline(&format!("settling channel {}", voucher.channelId), tx)
            .await
    }

    /// Broadcasts a settlement signed by [`Chain::prepare_voucher_settlement`].
    pub async fn broadcast_voucher_settlement(
        &self,
        envelope: TxEnvelope,
    ) -> Result<alloy::primitives::B256> {
        self.broadcast("broadcasting a channel settlement", envelope)
            .await
    }

    /// Asks to close channel `channel_id` (its payer); returns when the payer may close it.
    pub async fn request_channel_close(&self, channel_id: u64) -> Result<u64> {
        let action = format!("asking to close channel {channel_id}");
        let tx = self
            .channels()
            .requestClose(channel_id)
            .into_transaction_request();
        let receipt = self.send(&action, tx).await?;
        event::<IUsageChannels::CloseRequested>(&receipt)
            .map(|e| e.closesAt)
            .ok_or_else(|| missing_event(&action))
    }

    /// Closes channel `channel_id`; returns what went back to the payer.
    pub async fn close_channel(&self, channel_id: u64) -> Result<U256> {
        let action = format!("closing channel {channel_id}");
        let tx = self.channels().close(channel_id).into_transaction_request();
        let receipt = self.send(&action, tx).await?;
        event::<IUsageChannels::ChannelClosed>(&receipt)
            .map(|e| e.refund)
            .ok_or_else(|| missing_event(&action))
    }

    /// What model `model_id`'s fee owes each party: its split and, for an adapter, its base share.
    pub async fn split_terms(&self, model_id: u64) -> Result<SplitTerms> {
        let model = self.model(model_id).await?;
        Ok(SplitTerms {
            owner_bps: model.split.ownerBps,
            base_share_bps: model.baseShareBps,
            node_bps: model.split.nodeBps,
            data_bps: model.split.dataBps,
        })
    }
}
