//! `soil audit`.

use std::{collections::BTreeMap, time::Duration};

use alloy::primitives::B256;
use soil_client::audit::{AuditConfig, Auditor, ReceiptAudit, find_settled};

use super::{
    Global,
    output::{self, outln},
};

/// Audits settled receipts: fetches each output from the URI its receipt signs, checks it against the
/// signed output hash, recomputes its attribution over the model's releases and compares it with the
/// signed attribution hash and the settled attribution. Prints a verdict per receipt naming what differs;
/// exits non-zero when any receipt fails.
#[derive(Debug, clap::Args)]
pub(crate) struct Audit {
    /// A settled receipt's digest, or a settlement transaction's hash (every receipt it settled).
    #[arg(value_name = "DIGEST|TX")]
    id: B256,
    /// Seconds one fetch (the output, a release document) may take.
    #[arg(long, default_value_t = 60)]
    fetch_timeout: u64,
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
        let mut audits = Vec::with_capacity(settled.len());
        for receipt in &settled {
            audits.push(auditor.audit(receipt).await?);
        }
        let failed = audits.iter().filter(|a| !a.passed).count();
        if global.json {
            output::json(&serde_json::json!({ "passed": failed == 0, "receipts": audits }))?;
        } else {
            for audit in &audits {
                print_audit(audit)?;
            }
        }
        if failed > 0 {
            anyhow::bail!(
                "{failed} of {} settled receipt(s) failed the audit",
                audits.len()
            );
        }
        Ok(())
    }
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
