//! `soil channel settle`.

use soil_client::channel::{CollectReport, SettleRound, collect, settle_channel};

use crate::cli::{Global, output, settle::SettleOptions};

/// Settles channel ID's vouchers now; the wallet must be the channel's node.
///
/// Without --from, from this wallet's own outbox (a node that is its own payer, as `soil serve` without
/// --node): the open period is cut (its latest voucher chosen, the next period opened at its fee) and
/// every cut voucher sent, after reconciling the outbox with the chain (a voucher that already settled is
/// never sent again).
///
/// With --from URL, from the payer's `soil serve` at URL (the payer's wallet signs the vouchers, this
/// wallet is the --node it serves for): the server is asked to cut (`POST URL/v1/channels/ID/cut`) and
/// hands over every period cut and not yet settled. Each voucher is checked before it is sent: signed by
/// the channel's signer, the period and start fee the chain settles next, within the deposit, and its
/// receipts log, fetched from the URI the server names, with the voucher's root and adding up to its
/// totals with the model's split. The periods are settled in order; those the chain already moved past
/// are skipped; a period that fails a check is refused by name and neither it nor any later period is
/// sent (the command then fails). Running it again is safe.
#[derive(Debug, clap::Args)]
pub(crate) struct Settle {
    /// The channel.
    id: u64,
    /// The payer's `soil serve` base URL (e.g. http://payer:8080) to take the vouchers from, instead of
    /// this wallet's outbox.
    #[arg(long, value_name = "URL")]
    from: Option<String>,
    #[command(flatten)]
    options: SettleOptions,
}

fn joined<T: ToString>(list: impl IntoIterator<Item = T>) -> String {
    list.into_iter()
        .map(|item| item.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

impl Settle {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        let chain = global.chain().await?;
        let config = self.options.config(chain.deployment().chain_id);
        if let Some(server) = &self.from {
            let report = collect(&chain, server, self.id, config.confirmations).await?;
            return print_collected(global, &report);
        }
        let outbox = global.outbox().await?;
        if outbox.channel(self.id).await?.is_none() {
            anyhow::bail!(
                "the outbox {} holds no vouchers of channel {} (is the payer's server the one holding them? \
                 then use --from <its URL>)",
                outbox.path().display(),
                self.id
            );
        }
        let round = SettleRound {
            cut: true,
            confirmations: config.confirmations,
            fail_point: config.fail_point,
        };
        let report = settle_channel(&chain, &outbox, self.id, round).await?;
        output::record(
            global.json,
            &report,
            &[
                ("settled periods", joined(&report.settled)),
                ("already settled", joined(&report.already_settled)),
                ("settled fee", report.settled_fee.clone()),
                ("transactions", joined(&report.transactions)),
            ],
        )
    }
}

/// Prints what a collection settled (period, fee, transaction), then fails naming a refused period.
fn print_collected(global: &Global, report: &CollectReport) -> anyhow::Result<()> {
    let mut rows = vec![("from", report.server.clone())];
    for settled in &report.settled {
        rows.push((
            "settled",
            format!(
                "period {}: fee {} ({} inferences), tx {}",
                settled.period, settled.fee, settled.inferences, settled.tx
            ),
        ));
    }
    rows.push(("already settled", joined(&report.already_settled)));
    rows.push(("settled fee", report.settled_fee.clone()));
    output::record(global.json, report, &rows)?;
    if let Some(refused) = &report.refused {
        anyhow::bail!(
            "period {} of channel {} refused, not sent: {}",
            refused.period,
            report.channel_id,
            refused.reason
        );
    }
    Ok(())
}
