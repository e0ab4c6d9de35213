//! Generating a [`Corpus`]: the release and the unrelated pool read from the machine, and the cases planted
//! in them.

use std::{
    collections::{HashMap, HashSet, hash_map::DefaultHasher},
    hash::{Hash, Hasher},
    path::{Path, PathBuf},
};

use soil_client::attribution::Document;

use super::{Case, Category, Corpus};

/// The shortest and longest planted span, in words.
const SPAN_WORDS: (usize, usize) = (30, 80);
/// A window of unrelated text sharing a sequence of this many words with the release is not used.
const SHINGLE_WORDS: usize = 8;

/// English phrases common in any text: a case made of them alone should credit nobody.
const COMMON_PHRASES: [&str; 60] = [
    "on the other hand",
    "at the end of the day",
    "in order to",
    "as a matter of fact",
    "in other words",
    "for example",
    "for the most part",
    "as far as I know",
    "in the meantime",
    "at the same time",
    "as a result",
    "in addition to",
    "on the contrary",
    "in the long run",
    "by the way",
    "in spite of",
    "as well as",
    "in case of",
    "at least",
    "at first glance",
    "in fact",
    "in general",
    "more or less",
    "sooner or later",
    "all in all",
    "first of all",
    "last but not least",
    "to be honest",
    "in my opinion",
    "it goes without saying",
    "as soon as possible",
    "from time to time",
    "once in a while",
    "each and every one",
    "on a regular basis",
    "in the near future",
    "with respect to",
    "in terms of",
    "due to the fact that",
    "it is important to note that",
    "as mentioned above",
    "as you can see",
    "there is no doubt that",
    "one of the most",
    "a lot of",
    "the rest of the",
    "at the moment",
    "in the first place",
    "on the one hand",
    "as long as",
    "even though",
    "so far so good",
    "in a nutshell",
    "to a certain extent",
    "for what it is worth",
    "by and large",
    "when all is said and done",
    "needless to say",
    "at any rate",
    "in the same way",
];

/// Function words the paraphrase rewrites, with what it writes instead.
const REWRITES: [(&str, &str); 14] = [
    ("and", "plus"),
    ("but", "yet"),
    ("because", "since"),
    ("which", "that"),
    ("can", "may"),
    ("will", "shall"),
    ("also", "too"),
    ("very", "really"),
    ("many", "numerous"),
    ("use", "employ"),
    ("using", "employing"),
    ("however", "still"),
    ("if", "when"),
    ("so", "thus"),
];

/// splitmix64: a small deterministic generator.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// Uniform in `low..=high`.
    fn range(&mut self, low: usize, high: usize) -> usize {
        low + self.below(high - low + 1)
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// A text split into whitespace-separated words.
#[derive(Debug)]
struct Text {
    text: String,
    /// Byte ranges of the words.
    words: Vec<(usize, usize)>,
}

impl Text {
    fn new(text: String) -> Self {
        let mut words = Vec::new();
        let mut start = None;
        for (i, c) in text.char_indices() {
            match (c.is_whitespace(), start) {
                (true, Some(s)) => {
                    words.push((s, i));
                    start = None;
                }
                (false, None) => start = Some(i),
                _ => {}
            }
        }
        if let Some(s) = start {
            words.push((s, text.len()));
        }
        Self { text, words }
    }

    fn word(&self, i: usize) -> &str {
        &self.text[self.words[i].0..self.words[i].1]
    }

    fn words(&self, from: usize, to: usize) -> Vec<String> {
        (from..to).map(|i| self.word(i).to_string()).collect()
    }

    /// The original text of words `from..to`, whitespace included.
    fn slice(&self, from: usize, to: usize) -> &str {
        &self.text[self.words[from].0..self.words[to - 1].1]
    }
}

/// Words lowercased and joined by single spaces, with a space at each end, so that `contains` on two
/// normalized texts is a match of whole words.
fn normalize<'a>(words: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::from(" ");
    for word in words {
        out.push_str(&word.to_lowercase());
        out.push(' ');
    }
    out
}

/// The words of `text` for overlap checks: lowercased runs of letters and digits (punctuation and spacing
/// ignored, so text shared with other punctuation still counts as shared).
fn plain_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn shingle_hash(words: &[String]) -> u64 {
    let mut hasher = DefaultHasher::new();
    words.hash(&mut hasher);
    hasher.finish()
}

/// Whether words read as prose: most are plain words, and at least 5 distinct ones have 5 letters or more
/// (not a run of boilerplate such as table rules, code or short function words).
fn is_prose(words: &[String]) -> bool {
    let plain: Vec<&str> = words
        .iter()
        .map(|w| {
            w.trim_start_matches(['(', '"', '\'', '`', '*', '_'])
                .trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '"', '\'', '`', '*', '_'])
        })
        .filter(|w| !w.is_empty() && w.chars().all(|c| c.is_alphabetic() || c == '-'))
        .collect();
    let long: HashSet<String> = plain
        .iter()
        .filter(|w| w.chars().count() >= 5)
        .map(|w| w.to_lowercase())
        .collect();
    plain.len() * 10 >= words.len() * 8 && long.len() >= 5
}

/// Regular files under `dir` (symbolic links not followed) whose name `wanted` accepts.
fn collect(dir: &Path, wanted: &dyn Fn(&str) -> bool, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if kind.is_dir() {
            collect(&path, wanted, out);
        } else if kind.is_file() && wanted(&entry.file_name().to_string_lossy()) {
            out.push(path);
        }
    }
}

/// The release's candidate files: UTF-8 text of 2–40 KB, deduplicated by content, in path order.
fn release_candidates() -> Vec<String> {
    let node_modules = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../node_modules");
    let mut paths = Vec::new();
    collect(
        &node_modules,
        &|name| name.to_lowercase().ends_with(".md"),
        &mut paths,
    );
    collect(
        Path::new("/usr/share/doc"),
        &|name| {
            [".md", ".txt", ".rst"].iter().any(|e| name.ends_with(e))
                || (["README", "NEWS", "TODO", "FAQ"]
                    .iter()
                    .any(|p| name.starts_with(p))
                    && !name.ends_with(".gz")
                    && !name.ends_with(".html"))
        },
        &mut paths,
    );
    paths.sort();
    let mut seen = HashSet::new();
    paths
        .into_iter()
        .filter(|path| std::fs::metadata(path).is_ok_and(|m| (2_000..=40_000).contains(&m.len())))
        .filter_map(|path| {
            let text = String::from_utf8(std::fs::read(&path).ok()?).ok()?;
            seen.insert(text.clone()).then_some(text)
        })
        .collect()
}

/// The unrelated pool: two texts, the fortunes (without their `%` separator lines) and the licenses, so
/// that a window is as likely to be either.
fn unrelated_pool() -> Vec<Text> {
    let fortunes: Vec<PathBuf> = ["fortunes", "literature", "riddles"]
        .iter()
        .map(|name| Path::new("/usr/share/games/fortunes").join(name))
        .collect();
    let mut licenses = Vec::new();
    collect(
        Path::new("/usr/share/common-licenses"),
        &|_| true,
        &mut licenses,
    );
    licenses.sort();
    let pool: Vec<Text> = [fortunes, licenses]
        .iter()
        .map(|paths| {
            let mut lines = Vec::new();
            for text in paths
                .iter()
                .filter_map(|path| std::fs::read_to_string(path).ok())
            {
                lines.extend(
                    text.lines()
                        .filter(|line| line.trim() != "%")
                        .map(str::to_string),
                );
            }
            Text::new(lines.join("\n"))
        })
        .filter(|text| text.words.len() > SPAN_WORDS.1 * 10)
        .collect();
    assert!(
        pool.len() == 2,
        "unrelated text is needed: /usr/share/games/fortunes (fortunes-min, `make setup`) and \
         /usr/share/common-licenses"
    );
    pool
}

/// Generates the case set: up to `documents` release documents and `cases_per_category` cases of each
/// category, deterministically from `seed` and the files on the machine.
pub(crate) fn generate(seed: u64, documents: usize, cases_per_category: usize) -> Corpus {
    let candidates = release_candidates();
    let count = documents.min(candidates.len());
    assert!(
        count > 1,
        "prose is needed: node_modules (`make setup`) and /usr/share/doc"
    );
    let release: Vec<Text> = (0..count)
        .map(|i| Text::new(candidates[i * candidates.len() / count].clone()))
        .collect();
    let mut planter = Planter::new(seed, release);
    let cases = Category::ALL
        .iter()
        .flat_map(|&category| (0..cases_per_category).map(move |_| category))
        .map(|category| planter.case(category))
        .collect();
    let documents = planter
        .release
        .into_iter()
        .zip(1..)
        .map(|(text, contribution_id)| Document {
            contribution_id,
            bytes: text.text.into_bytes(),
        })
        .collect();
    Corpus { documents, cases }
}

/// Builds cases over a release.
#[derive(Debug)]
struct Planter {
    rng: Rng,
    release: Vec<Text>,
    /// Each release document normalized (see [`normalize`]).
    normalized: Vec<String>,
    /// For every 8-word sequence of the release ([`plain_words`]), how many documents hold it.
    shingles: HashMap<u64, usize>,
    pool: Vec<Text>,
    /// Plain lowercase words of the pool, for edits.
    replacements: Vec<String>,
}

impl Planter {
    fn new(seed: u64, release: Vec<Text>) -> Self {
        let normalized: Vec<String> = release
            .iter()
            .map(|t| normalize((0..t.words.len()).map(|i| t.word(i))))
            .collect();
        let mut shingles = HashMap::new();
        for text in &release {
            let held: HashSet<u64> = plain_words(&text.text)
                .windows(SHINGLE_WORDS)
                .map(shingle_hash)
                .collect();
            for shingle in held {
                *shingles.entry(shingle).or_insert(0) += 1;
            }
        }
        let pool = unrelated_pool();
        let mut replacements: Vec<String> = pool
            .iter()
            .flat_map(|t| (0..t.words.len()).map(|i| t.word(i).to_string()))
            .filter(|w| (4..=10).contains(&w.len()) && w.chars().all(|c| c.is_ascii_lowercase()))
            .collect();
        replacements.sort();
        replacements.dedup();
        Self {
            rng: Rng(seed),
            release,
            normalized,
            shingles,
            pool,
            replacements,
        }
    }

    fn case(&mut self, category: Category) -> Case {
        let (text, sources) = match category {
            Category::Verbatim => {
                let (doc, from, to) = self.span(None);
                (
                    self.release[doc].slice(from, to).to_string(),
                    vec![self.sources(doc, from, to)],
                )
            }
            Category::Reflowed => {
                let (doc, from, to) = self.span(None);
                let words = self.release[doc].words(from, to);
                (self.reflow(&words), vec![self.sources(doc, from, to)])
            }
            Category::Edited => {
                let (doc, from, to) = self.span(None);
                let mut words = self.release[doc].words(from, to);
                let mut edited = HashSet::new();
                while edited.len() < 3 {
                    let at = self.rng.below(words.len());
                    let word = self.replacements[self.rng.below(self.replacements.len())].clone();
                    if word != words[at].to_lowercase() && edited.insert(at) {
                        words[at] = word;
                    }
                }
                (
                    self.with_whitespace_of(doc, from, &words),
                    vec![self.sources(doc, from, to)],
                )
            }
            Category::TwoSource => {
                let (first, from1, to1) = self.span(None);
                let (second, from2, to2) = self.span(Some(first));
                let filler = self.unrelated(8, 15);
                let text = format!(
                    "{}\n{}\n{}",
                    self.release[first].slice(from1, to1),
                    filler,
                    self.release[second].slice(from2, to2)
                );
                let sources = vec![
                    self.sources(first, from1, to1),
                    self.sources(second, from2, to2),
                ];
                (text, sources)
            }
            Category::Paraphrase => {
                let (doc, from, to) = self.span(None);
                let words = self.release[doc].words(from, to);
                (self.paraphrase(&words), vec![self.sources(doc, from, to)])
            }
            Category::Unrelated => (self.unrelated(SPAN_WORDS.0, SPAN_WORDS.1), Vec::new()),
            Category::CommonPhrase => (self.common_phrases(), Vec::new()),
        };
        Case {
            category,
            text,
            sources,
        }
    }

    /// A prose span of 30–80 words of a release document (not `avoid`): (document, first word, end word).
    /// The span is unambiguous: no document outside its sources (those holding all of it) shares an
    /// 8-word sequence with it, so crediting any other document is an error, not a matter of opinion.
    fn span(&mut self, avoid: Option<usize>) -> (usize, usize, usize) {
        for _ in 0..100_000 {
            let doc = self.rng.below(self.release.len());
            let text = &self.release[doc];
            let len = self.rng.range(SPAN_WORDS.0, SPAN_WORDS.1);
            if Some(doc) == avoid || text.words.len() <= len {
                continue;
            }
            let from = self.rng.below(text.words.len() - len + 1);
            if is_prose(&text.words(from, from + len)) && self.unambiguous(doc, from, from + len) {
                return (doc, from, from + len);
            }
        }
        panic!("no prose span found in the release");
    }

    /// Whether every 8-word sequence of words `from..to` of `doc` is held only by the span's sources.
    fn unambiguous(&self, doc: usize, from: usize, to: usize) -> bool {
        let sources = self.sources(doc, from, to).len();
        plain_words(self.release[doc].slice(from, to))
            .windows(SHINGLE_WORDS)
            .all(|window| self.shingles.get(&shingle_hash(window)) == Some(&sources))
    }

    /// Every contribution whose text contains words `from..to` of document `doc`.
    fn sources(&self, doc: usize, from: usize, to: usize) -> Vec<u64> {
        let text = &self.release[doc];
        let span = normalize((from..to).map(|i| text.word(i)));
        let ids: Vec<u64> = (1..)
            .zip(&self.normalized)
            .filter(|(_, normalized)| normalized.contains(&span))
            .map(|(id, _)| id)
            .collect();
        assert!(ids.contains(&(doc as u64 + 1)));
        ids
    }

    /// `words` with new whitespace: one line, or wrapped at a random width, with some doubled spaces.
    fn reflow(&mut self, words: &[String]) -> String {
        let width = if self.rng.chance(33) {
            usize::MAX
        } else {
            self.rng.range(25, 100)
        };
        let doubled = self.rng.range(5, 30);
        let mut out = String::new();
        let mut line = 0;
        for (i, word) in words.iter().enumerate() {
            if i > 0 {
                if line + word.len() >= width {
                    out.push('\n');
                    line = 0;
                } else {
                    let gap = if self.rng.chance(doubled) { "  " } else { " " };
                    out.push_str(gap);
                    line += gap.len();
                }
            }
            out.push_str(word);
            line += word.len();
        }
        out
    }

    /// `words` (the words `from..` of document `doc`, some changed) with the document's own whitespace.
    fn with_whitespace_of(&self, doc: usize, from: usize, words: &[String]) -> String {
        let text = &self.release[doc];
        let mut out = String::new();
        for (i, word) in words.iter().enumerate() {
            if i > 0 {
                out.push_str(&text.text[text.words[from + i - 1].1..text.words[from + i].0]);
            }
            out.push_str(word);
        }
        out
    }

    /// A rule-based paraphrase: in each sentence the first clause moves to the end, articles are dropped
    /// half the time, some function words are replaced, and every 4–8 words two neighbours swap.
    fn paraphrase(&mut self, words: &[String]) -> String {
        let mut sentences: Vec<Vec<String>> = vec![Vec::new()];
        for word in words {
            sentences
                .last_mut()
                .expect("one sentence at least")
                .push(word.clone());
            if word.ends_with(['.', '!', '?']) {
                sentences.push(Vec::new());
            }
        }
        let mut out: Vec<String> = Vec::new();
        for sentence in sentences {
            let cut = sentence.iter().position(|w| w.ends_with(','));
            let (head, tail) = match cut {
                Some(i) if i + 1 < sentence.len() => sentence.split_at(i + 1),
                _ => (&sentence[..0], &sentence[..]),
            };
            for word in tail.iter().chain(head) {
                let lower = word.to_lowercase();
                if ["the", "a", "an"].contains(&lower.as_str()) && self.rng.chance(50) {
                    continue;
                }
                match REWRITES.iter().find(|(from, _)| *from == lower) {
                    Some((_, to)) => out.push((*to).to_string()),
                    None => out.push(word.clone()),
                }
            }
        }
        let mut i = self.rng.range(2, 6);
        while i + 1 < out.len() {
            out.swap(i, i + 1);
            i += self.rng.range(4, 8);
        }
        out.join(" ")
    }

    /// A window of `min..=max` words of the unrelated pool sharing no 8-word sequence with the release.
    fn unrelated(&mut self, min: usize, max: usize) -> String {
        for _ in 0..100_000 {
            let text = &self.pool[self.rng.below(self.pool.len())];
            let len = self.rng.range(min, max);
            let from = self.rng.below(text.words.len() - len + 1);
            let words = text.words(from, from + len);
            let shared = plain_words(text.slice(from, from + len))
                .windows(SHINGLE_WORDS)
                .any(|window| self.shingles.contains_key(&shingle_hash(window)));
            if !shared && (len < SPAN_WORDS.0 || is_prose(&words)) {
                return text.slice(from, from + len).to_string();
            }
        }
        panic!("no unrelated text found outside the release");
    }

    /// 6–14 common phrases joined with commas and periods.
    fn common_phrases(&mut self) -> String {
        let mut out = String::new();
        let mut capital = true;
        for _ in 0..self.rng.range(6, 14) {
            let phrase = COMMON_PHRASES[self.rng.below(COMMON_PHRASES.len())];
            if !out.is_empty() {
                out.push_str(if capital { ". " } else { ", " });
            }
            if capital {
                let mut chars = phrase.chars();
                out.extend(chars.next().map(|c| c.to_ascii_uppercase()));
                out.push_str(chars.as_str());
            } else {
                out.push_str(phrase);
            }
            capital = self.rng.chance(40);
        }
        out.push('.');
        out
    }
}
