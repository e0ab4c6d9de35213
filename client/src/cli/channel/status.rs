//! `soil channel status`.

use soil_client::outbox::PeriodState;

use crate::cli::{Global, output};

/// Channel ID on chain (payer, node, model, signer, deposit, settled fee, period, close time) and, when
/// the outbox keeps it, its periods not yet settled: their inferences and the fee their latest vouchers
/// promise.
#[derive(Debug, clap::Args)]
pub(crate) struct Status {
    /// The channel.
    id: u64,
}

impl Status {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let chain = global.reader().await?;
        let outbox = global.outbox().await?;
        let channel = chain.channel(self.id).await?;
        let kept = outbox.channel(self.id).await?;
        let periods = if kept.is_some() {
            outbox.periods(self.id).await?
        } else {
            Vec::new()
        };
        // A period the chain moved past is settled, whether or not this outbox has learnt it yet (a node
        // settling from the payer's server is seen at the server's next reconciliation).
        let unsettled: Vec<_> = periods
            .iter()
            .filter(|p| {
                p.state != PeriodState::Settled && p.period >= channel.period && p.voucher.is_some()
            })
            .collect();
        let unsettled_fee = unsettled
            .iter()
            .map(|p| p.unsettled())
            .fold(alloy::primitives::U256::ZERO, |a, b| a + b);
        let unsettled_inferences: u32 = unsettled
            .iter()
            .filter_map(|p| p.voucher.as_ref().map(|(v, _)| v.inferences))
            .sum();
        let latest = periods.iter().rev().find_map(|p| p.voucher.as_ref());
        let json = serde_json::json!({
            "channelId": self.id,
            "payer": channel.payer,
            "node": channel.node,
            "modelId": channel.modelId,
            "signer": channel.signer,
            "deposit": channel.deposit.to_string(),
            "settledFee": channel.settledFee.to_string(),
            "period": channel.period,
            "closesAt": channel.closesAt,
            "open": channel.open,
            "local": kept.as_ref().map(|kept| serde_json::json!({
                "inferences": kept.inferences,
                "unsettledInferences": unsettled_inferences,
                "unsettledFee": unsettled_fee.to_string(),
                "promisedFee": latest.map(|(v, _)| v.fee.to_string()),
                "latestLogRoot": latest.map(|(v, _)| v.logRoot),
                "periods": periods.iter().map(|p| serde_json::json!({
                    "period": p.period,
                    "state": p.state,
                    "startFee": p.start_fee.to_string(),
                    "fee": p.promised().to_string(),
                    "inferences": p.voucher.as_ref().map_or(0, |(v, _)| v.inferences),
                    "logRoot": p.voucher.as_ref().map(|(v, _)| v.logRoot),
                    "tx": p.tx_hash,
                })).collect::<Vec<_>>(),
            })),
        });
        let state = if !channel.open {
            "closed".to_owned()
        } else if channel.closesAt != 0 {
            format!("closing (the payer may close from {})", channel.closesAt)
        } else {
            "open".to_owned()
        };
        let mut rows = vec![
            ("channel", self.id.to_string()),
            ("state", state),
            ("payer", channel.payer.to_string()),
            ("node", channel.node.to_string()),
            ("model", channel.modelId.to_string()),
            ("signer", channel.signer.to_string()),
            ("deposit", channel.deposit.to_string()),
            ("settled fee", channel.settledFee.to_string()),
            ("period", channel.period.to_string()),
        ];
        if let Some(kept) = &kept {
            rows.push(("inferences signed", kept.inferences.to_string()));
            rows.push((
                "unsettled",
                format!("{unsettled_inferences} inference(s), fee {unsettled_fee}"),
            ));
        }
        output::record(global.json, &json, &rows)
    }
}
