//! Measured attribution quality on a smaller planted-source set (`benches/quality/mod.rs`: 200 release
//! documents of real prose, 50 cases per category — the fewest for which "recall ≥ 0.98" allows one miss
//! rather than none), against issue 25's targets: verbatim, reflowed and
//! 3-word-edited spans found (recall ≥ 0.98, precision ≥ 0.95, ≤ 1 % of ppm on wrong documents), both
//! sources of a two-source output named, and unrelated or common-phrase text credited in at most 1 case
//! in 20, never above 1 % (10 000 ppm) of the data share. The full set is `cargo bench --bench
//! attribution_quality`.

#[path = "../../benches/quality/mod.rs"]
mod planted;

use alloy::primitives::B256;
use soil_client::attribution::{Document, Index};

use self::planted::Category;

const SEED: u64 = 0x5011_a77e;

/// The attribution under test: `documents` as one release, attributed under the client's protocol
/// version.
fn attributor(documents: &[Document]) -> impl FnMut(&[u8]) -> Vec<(u64, u32)> {
    let index =
        Index::build(B256::repeat_byte(0x9a), documents.to_vec()).expect("the index builds");
    move |output| index.attribute(output).weights
}

#[test]
fn attribution_meets_the_quality_targets_on_planted_sources() {
    let corpus = planted::generate(SEED, 200, 50);
    assert_eq!(
        corpus.documents.len(),
        200,
        "200 prose documents on the machine"
    );
    let report = planted::evaluate(&corpus, attributor(&corpus.documents));
    let table = report.markdown();
    println!("{table}");

    let mut misses = Vec::new();
    for category in [Category::Verbatim, Category::Reflowed, Category::Edited] {
        let row = report.row(category);
        let name = category.name();
        let recall = row.recall().unwrap_or(0.0);
        let precision = row.precision().unwrap_or(0.0);
        let wrong = row.wrong_share().unwrap_or(1.0);
        if recall < 0.98 {
            misses.push(format!("{name}: recall {recall:.3} < 0.98"));
        }
        if precision < 0.95 {
            misses.push(format!("{name}: precision {precision:.3} < 0.95"));
        }
        if wrong > 0.01 {
            misses.push(format!(
                "{name}: {:.1} % of ppm on wrong documents > 1 %",
                wrong * 100.0
            ));
        }
    }
    let named = report.row(Category::TwoSource).named_rate().unwrap_or(0.0);
    if named < 1.0 {
        misses.push(format!(
            "two sources: both named in {:.0} % of cases",
            named * 100.0
        ));
    }
    for category in [Category::Unrelated, Category::CommonPhrase] {
        let row = report.row(category);
        let (credited, cases) = row.false_credits();
        if credited * 20 > cases {
            misses.push(format!(
                "{}: {credited} of {cases} cases credited anyone (at most 1 in 20)",
                category.name()
            ));
        }
        if row.largest_false_ppm() > 10_000 {
            misses.push(format!(
                "{}: up to {} ppm credited (at most 10 000)",
                category.name(),
                row.largest_false_ppm()
            ));
        }
    }
    assert!(
        misses.is_empty(),
        "targets missed:\n{}\n\n{table}",
        misses.join("\n")
    );
}
