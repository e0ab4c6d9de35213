//! A planted-source evaluation of proof of attribution, shared by `benches/attribution_quality.rs` (a
//! large set, the table in docs/BENCHMARKS.md) and `tests/it/quality.rs` (a small set, the targets).
//!
//! Everything is real text on the machine after `make setup`, chosen deterministically from a seed:
//! - **the release**: prose documents of 2–40 KB, deduplicated by content and sorted by path — the
//!   repository's `node_modules/**/*.md`, then `/usr/share/doc`'s `*.md`, `*.txt`, `*.rst`, `README*`,
//!   `NEWS*`, `TODO*` and `FAQ*` — spread evenly over that list down to the requested count, as
//!   contributions 1, 2, …;
//! - **the unrelated pool**: the fortunes (`/usr/share/games/fortunes`, Debian's `fortunes-min`) and the
//!   licenses in `/usr/share/common-licenses`, each half of the time, never in the release: a window
//!   sharing any 8-word sequence with a release document is not used;
//! - **common phrases**: a built-in list of English phrases.
//!
//! A planted case names, for each planted span, *every* document whose word sequence contains that span
//! (words compared after whitespace and case normalization), so text duplicated in the corpus never counts
//! against attribution.

mod generate;
mod report;

use soil_client::attribution::Document;

pub(crate) use self::{generate::generate, report::evaluate};

/// What a case is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Category {
    /// A span of one document, as it is.
    Verbatim,
    /// The same kind of span with its whitespace and line breaks changed.
    Reflowed,
    /// A span with 3 of its words replaced by other words.
    Edited,
    /// Spans of two documents joined with a sentence of unrelated text.
    TwoSource,
    /// A rule-based rewrite of a span (clauses reordered, neighbours swapped, function words dropped or
    /// replaced): reported, without target.
    Paraphrase,
    /// Text from the unrelated pool: no source.
    Unrelated,
    /// Common phrases joined with commas and periods: no source.
    CommonPhrase,
}

impl Category {
    /// Every category, in report order.
    pub(crate) const ALL: [Self; 7] = [
        Self::Verbatim,
        Self::Reflowed,
        Self::Edited,
        Self::TwoSource,
        Self::Paraphrase,
        Self::Unrelated,
        Self::CommonPhrase,
    ];

    /// The name in the report.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Verbatim => "verbatim",
            Self::Reflowed => "reflowed",
            Self::Edited => "3 words edited",
            Self::TwoSource => "two sources + filler",
            Self::Paraphrase => "paraphrase",
            Self::Unrelated => "unrelated",
            Self::CommonPhrase => "common phrases",
        }
    }
}

/// One output to attribute and what attribution should find.
#[derive(Debug, Clone)]
pub(crate) struct Case {
    /// How the text was made.
    pub(crate) category: Category,
    /// The output text.
    pub(crate) text: String,
    /// One group per planted span: every contribution holding that span (empty: no source).
    pub(crate) sources: Vec<Vec<u64>>,
}

/// A release and the cases planted in it.
#[derive(Debug, Clone)]
pub(crate) struct Corpus {
    /// The release's documents, contributions 1, 2, … in path order.
    pub(crate) documents: Vec<Document>,
    /// The cases, `cases_per_category` of each category in [`Category::ALL`] order.
    pub(crate) cases: Vec<Case>,
}
