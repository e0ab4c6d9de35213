//! `soil audit`.

use std::{collections::BTreeMap, time::Duration};

use alloy::primitives::B256;
use soil_client::audit::{
    AuditConfig, Auditor, ReceiptAudit,
    channel::{PeriodAudit, Selection},
    find_settled,
};

use super::{
    Global,
    output::{self, outln},
};

/// Audits settled receipts: fetches each output from the URI its receipt signs, checks it against the
/// signed output hash, recomputes its attribution over the model's releases and compares it with the
/// signed attribution hash and the settled attribution. A settled channel voucher is audited through its
/// period's receipts log: fetched from the URI the node named, checked against the voucher (channel,
/// period, root, every receipt the channel's, the totals paid), then each chosen receipt is proved into
/// the root and audited as above. Prints a verdict per receipt and period naming what differs; exits
/// non-zero when any fails.
#[derive(Debug, clap::Args)]
pub(crate) struct Audit {
    /// A settled receipt's or channel voucher's digest, or a settlement transaction's hash (everything it
    /// settled).
    #[arg(value_name = "DIGEST|TX")]
    id: B256,
    /// Seconds one fetch (the output, a receipts log, a release document) may take.
    #[arg(long, default_value_t = 60)]
    fetch_timeout: u64,
    /// Of a channel period's log, audit only this many receipts, spread evenly over it (the log itself is
    /// always checked whole).
    #[arg(long, value_name = "N", conflicts_with = "receipt")]
    sample: Option<usize>,
    /// Of a channel period's log, audit the receipt with this number in the channel (repeatable).
    #[arg(long, value_name = "NUMBER")]
    receipt: Vec<u64>,
}

impl Audit {
    pub(crate) async fn run(self, global: &Global) -> anyhow::Result<()> {
        // Reads only: no wallet is needed, so none is opened (a throwaway key stands in).
        let chain = global.reader().await?;
        let settled = find_settled(&chain, self.id).await?;
        let mut auditor = Auditor::new(
            &chain,
            AuditConfig {
                cache_dir: global.cache_dir(),
                fetch_timeout: Duration::from_secs(self.fetch_timeout.max(1)),
            },
        )?;
        let selection = match (self.sample, self.receipt.is_empty()) {
            (Some(n), _) => Selection::Sample(n),
            (None, false) => Selection::Numbers(self.receipt),
            (None, true) => Selection::All,
        };
        let mut audits = Vec::with_capacity(settled.receipts.len());
        for receipt in &settled.receipts {
            audits.push(auditor.audit(receipt).await?);
        }
        let mut periods = Vec::with_capacity(settled.vouchers.len());
        for voucher in &settled.vouchers {
            periods.push(auditor.audit_period(voucher, &selection).await?);
        }
        let failed = audits.iter().filter(|a| !a.passed).count();
        let failed_periods = periods.iter().filter(|p| !p.passed).count();
        if global.json {
            output::json(&serde_json::json!({
                "passed": failed == 0 && failed_periods == 0,
                "receipts": audits,
                "periods": periods,
            }))?;
        } else {
            for audit in &audits {
                print_audit(audit)?;
            }
            for period in &periods {
                print_period(period)?;
            }
        }
        if failed > 0 {
            anyhow::bail!(
                "{failed} of {} settled receipt(s) failed the audit",
                audits.len()
            );
        }
        if failed_periods > 0 {
            anyhow::bail!(
                "{failed_periods} of {} settled channel period(s) failed the audit",
                periods.len()
            );
        }
        Ok(())
    }
}

fn print_period(period: &PeriodAudit) -> std::io::Result<()> {
    outln!(
        "channel {} period {} (voucher {})",
        period.channel_id,
        period.period,
        period.digest
    )?;
    outln!(
        "  {:<12} block {}, tx {}",
        "settled",
        period.block,
        period.tx
    )?;
    outln!(
        "  {:<12} {} inferences, fee {}",
        "paid",
        period.inferences,
        period.fee
    )?;
    outln!(
        "  {:<12} {} (root {})",
        "log",
        printable(&period.log_uri),
        period.log_root
    )?;
    for finding in &period.findings {
        outln!("    - {}", printable(&finding.to_string()))?;
    }
    outln!()?;
    for receipt in &period.receipts {
        outln!(
            "receipt number {} of channel {} (leaf {}, {} proof step(s)): {}",
            receipt.number,
            period.channel_id,
            receipt.leaf,
            receipt.proof.len(),
            if receipt.proved {
                "in the settled log"
            } else {
                "NOT in the settled log"
            }
        )?;
        print_audit(&receipt.audit)?;
    }
    let verdict = if period.passed {
        "PASS: the log is the settled voucher's, adds up to what it paid, and every receipt audited passed"
    } else {
        "FAIL"
    };
    outln!("  period verdict {verdict}")?;
    outln!()
}

/// `text` with control characters escaped: what the chain says is printed, never interpreted.
fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

fn print_audit(audit: &ReceiptAudit) -> std::io::Result<()> {
    outln!("receipt {}", audit.digest)?;
    let rows = [
        ("settled", format!("block {}, tx {}", audit.block, audit.tx)),
        ("model", audit.model_id.to_string()),
        (
            "output",
            if audit.output_uri.is_empty() {
                "(no URI)".to_owned()
            } else {
                printable(&audit.output_uri)
            },
        ),
        ("output hash", audit.output_hash.to_string()),
        (
            "attribution",
            format!(
                "version {}, hash {}",
                audit.attribution_version, audit.attribution_hash
            ),
        ),
    ];
    for (key, value) in rows {
        outln!("  {key:<12} {value}")?;
    }
    if audit.passed {
        outln!(
            "  verdict      PASS: the output matches its hash and recomputes to the signed attribution"
        )?;
        return outln!();
    }
    outln!("  verdict      FAIL")?;
    for finding in &audit.findings {
        outln!("    - {}", printable(&finding.to_string()))?;
    }
    if let Some(recomputed) = &audit.recomputed_attribution
        && recomputed.as_slice() != audit.settled_attribution.as_slice()
    {
        let mut table: BTreeMap<u64, (Option<u32>, Option<u32>)> = BTreeMap::new();
        for w in &audit.settled_attribution {
            table.entry(w.contribution_id).or_default().0 = Some(w.weight_ppm);
        }
        for w in recomputed {
            table.entry(w.contribution_id).or_default().1 = Some(w.weight_ppm);
        }
        let cell = |ppm: Option<u32>| ppm.map_or_else(|| "-".to_owned(), |p| p.to_string());
        let rows: Vec<Vec<String>> = table
            .into_iter()
            .map(|(id, (signed, recomputed))| {
                vec![
                    format!("    {id}"),
                    cell(signed),
                    cell(recomputed),
                    if signed == recomputed { "" } else { "differs" }.to_owned(),
                ]
            })
            .collect();
        output::table(
            &["    CONTRIBUTION", "SIGNED (PPM)", "RECOMPUTED (PPM)", ""],
            &rows,
        )?;
    }
    outln!()
}
