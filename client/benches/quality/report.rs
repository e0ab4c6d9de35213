//! Scoring an attribution method over a [`Corpus`] at the contribution level, and the table of the
//! figures.

use std::{collections::HashSet, fmt::Write as _};

use super::{Case, Category, Corpus};

/// The figures of one category (or of all cases together).
#[derive(Debug, Clone, Default)]
pub(crate) struct Row {
    cases: usize,
    /// Distinct contributions credited, summed over cases.
    credited: usize,
    /// Of those, the expected ones.
    credited_expected: usize,
    /// Expected contributions, summed over cases.
    expected: usize,
    /// Cases with sources where every planted span had one of its sources credited.
    named: usize,
    /// Cases with sources.
    planted: usize,
    ppm: u64,
    wrong_ppm: u64,
    /// Cases without sources that credited anyone.
    false_credits: usize,
    /// Cases without sources.
    unplanted: usize,
    largest_false_ppm: u64,
}

fn ratio(part: usize, whole: usize) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

impl Row {
    fn add(&mut self, case: &Case, weights: &[(u64, u32)]) {
        let credited: HashSet<u64> = weights
            .iter()
            .filter(|&&(_, ppm)| ppm > 0)
            .map(|&(id, _)| id)
            .collect();
        let expected: HashSet<u64> = case.sources.iter().flatten().copied().collect();
        let total: u64 = weights.iter().map(|&(_, ppm)| u64::from(ppm)).sum();
        self.cases += 1;
        self.credited += credited.len();
        self.credited_expected += credited.intersection(&expected).count();
        self.expected += expected.len();
        self.ppm += total;
        self.wrong_ppm += weights
            .iter()
            .filter(|(id, _)| !expected.contains(id))
            .map(|&(_, ppm)| u64::from(ppm))
            .sum::<u64>();
        if case.sources.is_empty() {
            self.unplanted += 1;
            self.false_credits += usize::from(!credited.is_empty());
            self.largest_false_ppm = self.largest_false_ppm.max(total);
        } else {
            self.planted += 1;
            self.named += usize::from(
                case.sources
                    .iter()
                    .all(|group| group.iter().any(|id| credited.contains(id))),
            );
        }
    }

    /// Cases evaluated.
    pub(crate) fn cases(&self) -> usize {
        self.cases
    }

    /// Credited contributions that are expected / credited contributions (`None`: nothing credited).
    pub(crate) fn precision(&self) -> Option<f64> {
        ratio(self.credited_expected, self.credited)
    }

    /// Expected contributions credited / expected contributions (`None`: nothing expected).
    pub(crate) fn recall(&self) -> Option<f64> {
        ratio(self.credited_expected, self.expected)
    }

    /// The harmonic mean of precision and recall (0 where either is missing).
    pub(crate) fn f1(&self) -> Option<f64> {
        let (p, r) = (self.precision().unwrap_or(0.0), self.recall()?);
        Some(if p + r > 0.0 {
            2.0 * p * r / (p + r)
        } else {
            0.0
        })
    }

    /// Σ ppm on unexpected contributions / Σ ppm credited (`None`: nothing credited).
    pub(crate) fn wrong_share(&self) -> Option<f64> {
        (self.ppm > 0).then(|| self.wrong_ppm as f64 / self.ppm as f64)
    }

    /// The share of cases with sources where every planted span had a source credited.
    pub(crate) fn named_rate(&self) -> Option<f64> {
        ratio(self.named, self.planted)
    }

    /// Cases without sources that credited anyone, and cases without sources.
    pub(crate) fn false_credits(&self) -> (usize, usize) {
        (self.false_credits, self.unplanted)
    }

    /// The largest total ppm credited by a case without sources.
    pub(crate) fn largest_false_ppm(&self) -> u64 {
        self.largest_false_ppm
    }

    /// The mean total ppm credited per case.
    fn mean_ppm(&self) -> f64 {
        self.ppm as f64 / self.cases.max(1) as f64
    }
}

/// The evaluation of one attribution method over a [`Corpus`].
#[derive(Debug, Clone)]
pub(crate) struct Report {
    /// One row per category, [`Category::ALL`] order.
    rows: Vec<Row>,
    overall: Row,
}

/// Attributes every case of `corpus` with `attribute` (output bytes → (contribution id, ppm)) and scores
/// the result at the contribution level.
pub(crate) fn evaluate(
    corpus: &Corpus,
    mut attribute: impl FnMut(&[u8]) -> Vec<(u64, u32)>,
) -> Report {
    let mut rows = vec![Row::default(); Category::ALL.len()];
    let mut overall = Row::default();
    for case in &corpus.cases {
        let weights = attribute(case.text.as_bytes());
        let at = Category::ALL
            .iter()
            .position(|&c| c == case.category)
            .expect("a listed category");
        rows[at].add(case, &weights);
        overall.add(case, &weights);
    }
    Report { rows, overall }
}

impl Report {
    /// The figures of `category`.
    pub(crate) fn row(&self, category: Category) -> &Row {
        let at = Category::ALL
            .iter()
            .position(|&c| c == category)
            .expect("a listed category");
        &self.rows[at]
    }

    /// The table for docs/BENCHMARKS.md: one line per category, then all cases together.
    pub(crate) fn markdown(&self) -> String {
        let figure = |value: Option<f64>| value.map_or("–".to_string(), |v| format!("{v:.3}"));
        let percent =
            |value: Option<f64>| value.map_or("–".to_string(), |v| format!("{:.1} %", v * 100.0));
        let mut out = String::from(
            "| category | cases | precision | recall | F1 | ppm on wrong documents | all sources named | \
             mean ppm credited | no-source cases credited | largest no-source ppm |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        let lines = Category::ALL
            .iter()
            .map(|&c| (c.name(), self.row(c)))
            .chain([("**all**", &self.overall)]);
        for (name, row) in lines {
            let (false_credits, unplanted) = row.false_credits();
            let (credited, largest) = if unplanted > 0 {
                (
                    format!("{false_credits} of {unplanted}"),
                    row.largest_false_ppm().to_string(),
                )
            } else {
                ("–".to_string(), "–".to_string())
            };
            writeln!(
                out,
                "| {name} | {} | {} | {} | {} | {} | {} | {:.0} | {credited} | {largest} |",
                row.cases(),
                figure(row.precision()),
                figure(row.recall()),
                figure(row.f1()),
                percent(row.wrong_share()),
                percent(row.named_rate()),
                row.mean_ppm(),
            )
            .expect("writing to a String");
        }
        out
    }
}
