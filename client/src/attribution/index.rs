//! The attribution index of a release (or of several merged): the documents' words (docs/PROTOCOL.md,
//! "Words") as one array of word ids, each document followed by the end-of-document id 0, documents in
//! contribution-id order; its suffix array (libsais); the document table; the dictionary. Stored under
//! `<cache>/<key hex>/`:
//!
//! | file            | content                                                               |
//! |-----------------|-----------------------------------------------------------------------|
//! | `index.json`    | format version, key, counts, byte widths                              |
//! | `words.txt`     | the dictionary: distinct words in UTF-8 byte order, one per line; word *i* (from 0) has id *i* + 1 |
//! | `tokens.bin`    | word ids, little-endian, each in `token_width` bytes (2, 3 or 4)       |
//! | `suffixes.bin`  | the suffix array, little-endian, each entry in `pointer_width` bytes (3 or 4) |
//! | `documents.bin` | per document: contribution id `u64`, first token `u64` (LE)           |
//!
//! Ids and suffixes are stored in the fewest bytes that hold them (as infini-gram does): 3 + 3 = 6 bytes
//! per word up to 16 777 216 words and distinct words, plus the dictionary and 16 bytes per document. In
//! memory the text is `u16` when the dictionary allows, else `u32`, and the suffix array `i32`. A
//! directory is written under a temporary name and renamed into place, so a reader sees a whole index or
//! none. Word ids are an implementation detail: the attribution depends only on the words.

use std::{
    collections::HashMap,
    fs,
    io::{Read, Write},
    path::{Path, PathBuf},
    time::{SystemTime, UNIX_EPOCH},
};

use alloy::primitives::B256;
use indicatif::{ProgressBar, ProgressStyle};
use libsais::{SuffixArrayConstruction, ThreadCount};

use super::{AttributionError, Document, words::for_each_word};

const FORMAT_VERSION: u32 = 3;
const META_FILE: &str = "index.json";
const WORDS_FILE: &str = "words.txt";
const TOKENS_FILE: &str = "tokens.bin";
const SUFFIXES_FILE: &str = "suffixes.bin";
const DOCUMENTS_FILE: &str = "documents.bin";

/// The id that ends every document in the index text (word ids start at 1).
pub(crate) const END_OF_DOCUMENT: u32 = 0;

/// Where a document's words lie in the index text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentEntry {
    /// The contribution.
    pub contribution_id: u64,
    /// Index of its first word in the text.
    pub start: u64,
}

/// The index text: `u16` ids when the dictionary fits, else `u32`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Text {
    Narrow(Vec<u16>),
    Wide(Vec<u32>),
}

impl Text {
    fn len(&self) -> usize {
        match self {
            Self::Narrow(tokens) => tokens.len(),
            Self::Wide(tokens) => tokens.len(),
        }
    }

    fn ids(&self) -> Box<dyn Iterator<Item = u32> + '_> {
        match self {
            Self::Narrow(tokens) => Box::new(tokens.iter().map(|&id| u32::from(id))),
            Self::Wide(tokens) => Box::new(tokens.iter().copied()),
        }
    }

    fn from_ids(ids: Vec<u32>, dictionary: usize) -> Self {
        if dictionary < 1 << 16 {
            Self::Narrow(ids.into_iter().map(|id| id as u16).collect())
        } else {
            Self::Wide(ids)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Meta {
    format: u32,
    root: B256,
    words: u64,
    token_width: usize,
    pointer_width: usize,
    tokens: u64,
    documents: u64,
}

/// A release's attribution index, in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    pub(crate) root: B256,
    /// The distinct words in byte order; word `i` has id `i + 1`.
    pub(crate) dictionary: Vec<Box<str>>,
    pub(crate) text: Text,
    pub(crate) suffixes: Vec<i32>,
    pub(crate) documents: Vec<DocumentEntry>,
}

fn progress(total: u64) -> ProgressBar {
    // indicatif's stderr target draws nothing when stderr is not a terminal.
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{msg:>16} [{bar:30}] {human_pos}/{human_len} documents")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// A release's documents split into words and numbered: the input of the suffix sort. Word ids are in
/// dictionary order, so the index bytes depend only on the documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseWords {
    ids: Vec<u32>,
    dictionary: Vec<Box<str>>,
    documents: Vec<DocumentEntry>,
}

impl ReleaseWords {
    /// Sorts the documents by contribution id (which must be unique), splits each into words and numbers
    /// them: first in order of appearance, then renumbered in dictionary order.
    pub fn split(mut documents: Vec<Document>) -> Result<Self, AttributionError> {
        if documents.is_empty() {
            return Err(AttributionError::EmptyRelease);
        }
        documents.sort_unstable_by_key(|document| document.contribution_id);
        if let Some(pair) = documents
            .windows(2)
            .find(|pair| pair[0].contribution_id == pair[1].contribution_id)
        {
            return Err(AttributionError::DuplicateContribution(
                pair[0].contribution_id,
            ));
        }
        let bar = progress(documents.len() as u64);
        bar.set_message("splitting words");
        let mut seen: HashMap<Box<str>, u32> = HashMap::new();
        let mut ids = Vec::new();
        let mut entries = Vec::with_capacity(documents.len());
        for document in &documents {
            entries.push(DocumentEntry {
                contribution_id: document.contribution_id,
                start: ids.len() as u64,
            });
            for_each_word(&document.bytes, |word| {
                let next = seen.len() as u32 + 1;
                let id = match seen.get(word) {
                    Some(&id) => id,
                    None => *seen.entry(word.into()).or_insert(next),
                };
                ids.push(id);
            });
            ids.push(END_OF_DOCUMENT);
            bar.inc(1);
        }
        bar.finish_and_clear();
        let mut dictionary: Vec<(Box<str>, u32)> = seen.into_iter().collect();
        dictionary.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut renumber = vec![END_OF_DOCUMENT; dictionary.len() + 1];
        for (sorted, (_, first_seen)) in dictionary.iter().enumerate() {
            renumber[*first_seen as usize] = sorted as u32 + 1;
        }
        for id in &mut ids {
            *id = renumber[*id as usize];
        }
        Ok(Self {
            ids,
            dictionary: dictionary.into_iter().map(|(word, _)| word).collect(),
            documents: entries,
        })
    }

    /// The text the suffix array sorts: word ids, 0 after each document.
    pub fn ids(&self) -> &[u32] {
        &self.ids
    }

    /// Distinct words.
    pub fn dictionary_len(&self) -> usize {
        self.dictionary.len()
    }
}

impl Index {
    /// Builds the index of a release (or of several merged: their documents together) in memory:
    /// [`ReleaseWords::split`], then [`Index::from_words`].
    pub fn build(root: B256, documents: Vec<Document>) -> Result<Self, AttributionError> {
        Self::from_words(root, ReleaseWords::split(documents)?)
    }

    /// The suffix array (libsais, all cores) of split and numbered documents.
    pub fn from_words(root: B256, words: ReleaseWords) -> Result<Self, AttributionError> {
        if words.ids.len() > libsais::LIBSAIS_I32_OUTPUT_MAXIMUM_SIZE {
            return Err(AttributionError::TooLarge(words.ids.len()));
        }
        let text = Text::from_ids(words.ids, words.dictionary.len());
        let suffixes = suffix_array(&text)?;
        Ok(Self {
            root,
            dictionary: words.dictionary,
            text,
            suffixes,
            documents: words.documents,
        })
    }

    /// The key the index was built for (a release root, or the key of several merged).
    pub fn root(&self) -> B256 {
        self.root
    }

    /// Positions in the index text: words plus one end-of-document id per document.
    pub fn token_count(&self) -> usize {
        self.text.len()
    }

    /// Words in the indexed documents (`N` of the scoring).
    pub fn word_count(&self) -> usize {
        self.text.len() - self.documents.len()
    }

    /// The id of `word` (already normalized), or [`END_OF_DOCUMENT`] when no document holds it.
    pub(crate) fn id_of(&self, word: &str) -> u32 {
        self.dictionary
            .binary_search_by(|probe| probe.as_ref().cmp(word))
            .map_or(END_OF_DOCUMENT, |position| position as u32 + 1)
    }

    /// The documents, in contribution-id order.
    pub fn documents(&self) -> &[DocumentEntry] {
        &self.documents
    }

    /// Bytes the index takes on disk, the small `index.json` aside.
    pub fn size_bytes(&self) -> u64 {
        let dictionary: usize = self.dictionary.iter().map(|word| word.len() + 1).sum();
        (self.text.len() * (token_width(self.dictionary.len()) + pointer_width(self.text.len()))
            + dictionary
            + self.documents.len() * 16) as u64
    }

    /// The index of the document holding text position `position`.
    pub(crate) fn document_at(&self, position: usize) -> usize {
        self.documents
            .partition_point(|entry| entry.start as usize <= position)
            .saturating_sub(1)
    }

    /// Writes the index into `directory` (which must exist and be empty).
    fn write_to(&self, directory: &Path) -> Result<(), AttributionError> {
        let meta = Meta {
            format: FORMAT_VERSION,
            root: self.root,
            words: self.dictionary.len() as u64,
            token_width: token_width(self.dictionary.len()),
            pointer_width: pointer_width(self.text.len()),
            tokens: self.text.len() as u64,
            documents: self.documents.len() as u64,
        };
        let meta_path = directory.join(META_FILE);
        let json =
            serde_json::to_vec_pretty(&meta).map_err(|error| AttributionError::CorruptIndex {
                path: meta_path.clone(),
                reason: error.to_string(),
            })?;
        write_file(&meta_path, &json)?;
        let mut dictionary = Vec::new();
        for word in &self.dictionary {
            dictionary.extend_from_slice(word.as_bytes());
            dictionary.push(b'\n');
        }
        write_file(&directory.join(WORDS_FILE), &dictionary)?;
        write_ints(
            &directory.join(TOKENS_FILE),
            self.text.ids(),
            meta.token_width,
        )?;
        write_ints(
            &directory.join(SUFFIXES_FILE),
            self.suffixes.iter().map(|&suffix| suffix as u32),
            meta.pointer_width,
        )?;
        write_le(&directory.join(DOCUMENTS_FILE), &self.documents, |entry| {
            let mut bytes = [0u8; 16];
            bytes[..8].copy_from_slice(&entry.contribution_id.to_le_bytes());
            bytes[8..].copy_from_slice(&entry.start.to_le_bytes());
            bytes
        })
    }

    /// Reads and checks an index directory written by [`IndexCache::store`].
    fn read_from(directory: &Path) -> Result<Self, AttributionError> {
        let corrupt = |reason: String| AttributionError::CorruptIndex {
            path: directory.to_path_buf(),
            reason,
        };
        let meta_path = directory.join(META_FILE);
        let json = fs::read(&meta_path).map_err(|source| AttributionError::Io {
            path: meta_path,
            source,
        })?;
        let meta: Meta = serde_json::from_slice(&json)
            .map_err(|error| corrupt(format!("{META_FILE}: {error}")))?;
        if meta.format != FORMAT_VERSION {
            return Err(corrupt(format!(
                "format {} (this client reads {FORMAT_VERSION})",
                meta.format
            )));
        }
        let tokens =
            usize::try_from(meta.tokens).map_err(|_| corrupt("token count too large".into()))?;
        let dictionary = read_dictionary(&directory.join(WORDS_FILE))?;
        if dictionary.len() as u64 != meta.words
            || meta.token_width != token_width(dictionary.len())
            || meta.pointer_width != pointer_width(tokens)
        {
            return Err(corrupt(format!(
                "{} words in {WORDS_FILE} for {} declared, widths {}/{} for {tokens} tokens",
                dictionary.len(),
                meta.words,
                meta.token_width,
                meta.pointer_width
            )));
        }
        if !dictionary.windows(2).all(|pair| pair[0] < pair[1]) {
            return Err(corrupt(format!("{WORDS_FILE} is not in byte order")));
        }
        let ids = read_ints(&directory.join(TOKENS_FILE), tokens, meta.token_width)?;
        if ids.iter().any(|&id| id as usize > dictionary.len()) {
            return Err(corrupt("a word id is outside the dictionary".into()));
        }
        let text = Text::from_ids(ids, dictionary.len());
        let suffixes: Vec<i32> =
            read_ints(&directory.join(SUFFIXES_FILE), tokens, meta.pointer_width)?
                .into_iter()
                .map(|suffix| suffix as i32)
                .collect();
        let count = usize::try_from(meta.documents)
            .map_err(|_| corrupt("document count too large".into()))?;
        let documents = read_le(&directory.join(DOCUMENTS_FILE), count, |bytes: [u8; 16]| {
            let (id, start) = bytes.split_at(8);
            DocumentEntry {
                contribution_id: u64::from_le_bytes(id.try_into().unwrap_or_default()),
                start: u64::from_le_bytes(start.try_into().unwrap_or_default()),
            }
        })?;
        let ordered = documents.first().is_some_and(|first| first.start == 0)
            && documents.windows(2).all(|pair| {
                pair[0].contribution_id < pair[1].contribution_id && pair[0].start < pair[1].start
            })
            && documents
                .last()
                .is_some_and(|last| last.start < meta.tokens);
        if !ordered {
            return Err(corrupt("the document table is not in order".into()));
        }
        if suffixes
            .iter()
            .any(|&suffix| suffix < 0 || suffix as u64 >= meta.tokens)
        {
            return Err(corrupt("the suffix array points outside the text".into()));
        }
        Ok(Self {
            root: meta.root,
            dictionary,
            text,
            suffixes,
            documents,
        })
    }
}

fn suffix_array(text: &Text) -> Result<Vec<i32>, AttributionError> {
    let failed = |error: libsais::LibsaisError| AttributionError::SuffixArray(format!("{error:?}"));
    match text {
        Text::Narrow(tokens) => Ok(SuffixArrayConstruction::for_text(tokens.as_slice())
            .in_owned_buffer32()
            .multi_threaded(ThreadCount::openmp_default())
            .run()
            .map_err(failed)?
            .into_vec()),
        Text::Wide(tokens) => {
            // libsais sorts large alphabets as non-negative i32 symbols.
            let mut symbols: Vec<i32> = tokens.iter().map(|&token| token as i32).collect();
            Ok(SuffixArrayConstruction::for_text_mut(&mut symbols)
                .in_owned_buffer()
                .multi_threaded(ThreadCount::openmp_default())
                .run()
                .map_err(failed)?
                .into_vec())
        }
    }
}

/// Bytes a word id takes on disk for a dictionary of `words` words (ids up to `words`): 2, 3 or 4.
fn token_width(words: usize) -> usize {
    if words < 1 << 16 {
        2
    } else if words < 1 << 24 {
        3
    } else {
        4
    }
}

/// Bytes a suffix-array entry takes on disk for a text of `tokens` tokens: the fewest that hold every
/// position, at least 3 (so the width changes only past 16 777 216 tokens).
fn pointer_width(tokens: usize) -> usize {
    if tokens <= 1 << 24 { 3 } else { 4 }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), AttributionError> {
    fs::write(path, bytes).map_err(|source| AttributionError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads the dictionary: one word per line.
fn read_dictionary(path: &Path) -> Result<Vec<Box<str>>, AttributionError> {
    let bytes = fs::read(path).map_err(|source| AttributionError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|error| AttributionError::CorruptIndex {
        path: path.to_path_buf(),
        reason: error.to_string(),
    })?;
    Ok(text.lines().map(Box::from).collect())
}

/// Writes unsigned integers, each as its low `width` bytes (2, 3 or 4) little-endian.
fn write_ints(
    path: &Path,
    values: impl Iterator<Item = u32>,
    width: usize,
) -> Result<(), AttributionError> {
    let io = |source| AttributionError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::io::BufWriter::with_capacity(1 << 20, fs::File::create(path).map_err(io)?);
    for value in values {
        file.write_all(&value.to_le_bytes()[..width]).map_err(io)?;
    }
    file.flush().map_err(io)
}

/// Reads `count` integers of `width` bytes written by [`write_ints`]; a file of another length is
/// corrupt.
fn read_ints(path: &Path, count: usize, width: usize) -> Result<Vec<u32>, AttributionError> {
    match width {
        2 => read_le(path, count, |[a, b]: [u8; 2]| {
            u32::from_le_bytes([a, b, 0, 0])
        }),
        3 => read_le(path, count, |[a, b, c]: [u8; 3]| {
            u32::from_le_bytes([a, b, c, 0])
        }),
        _ => read_le(path, count, u32::from_le_bytes),
    }
}

/// Writes `items` little-endian, converting them in 1 MiB chunks.
fn write_le<T: Copy, const N: usize>(
    path: &Path,
    items: &[T],
    to_bytes: impl Fn(&T) -> [u8; N],
) -> Result<(), AttributionError> {
    let io = |source| AttributionError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = fs::File::create(path).map_err(io)?;
    let mut buffer = Vec::with_capacity(1 << 20);
    for chunk in items.chunks((1 << 20) / N) {
        buffer.clear();
        for item in chunk {
            buffer.extend_from_slice(&to_bytes(item));
        }
        file.write_all(&buffer).map_err(io)?;
    }
    file.flush().map_err(io)
}

/// Reads exactly `count` little-endian items of `N` bytes; a file of another length is corrupt.
fn read_le<T, const N: usize>(
    path: &Path,
    count: usize,
    from_bytes: impl Fn([u8; N]) -> T,
) -> Result<Vec<T>, AttributionError> {
    let io = |source| AttributionError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = fs::File::open(path).map_err(io)?;
    let expected = count as u64 * N as u64;
    let actual = file.metadata().map_err(io)?.len();
    if actual != expected {
        return Err(AttributionError::CorruptIndex {
            path: path.to_path_buf(),
            reason: format!("{actual} bytes, expected {expected}"),
        });
    }
    let mut items = Vec::with_capacity(count);
    let mut buffer = vec![0u8; (1 << 20) / N * N];
    let mut left = expected as usize;
    while left > 0 {
        let chunk = &mut buffer[..left.min((1 << 20) / N * N)];
        file.read_exact(chunk).map_err(io)?;
        items.extend(
            chunk
                .chunks_exact(N)
                .map(|bytes| from_bytes(bytes.try_into().unwrap_or([0; N]))),
        );
        left -= chunk.len();
    }
    Ok(items)
}

/// Attribution indexes on disk, one directory per release root.
#[derive(Debug, Clone)]
pub struct IndexCache {
    directory: PathBuf,
}

impl IndexCache {
    /// A cache rooted at `directory` (created on first store).
    pub fn new(directory: impl Into<PathBuf>) -> Self {
        Self {
            directory: directory.into(),
        }
    }

    /// Where the index of release `root` lives.
    pub fn path_for(&self, root: B256) -> PathBuf {
        self.directory.join(hex::encode(root))
    }

    /// The cached index of release `root`, if one is stored; a damaged one is an error.
    pub fn load(&self, root: B256) -> Result<Option<Index>, AttributionError> {
        let path = self.path_for(root);
        if !path.join(META_FILE).exists() {
            return Ok(None);
        }
        let index = Index::read_from(&path)?;
        if index.root != root {
            return Err(AttributionError::CorruptIndex {
                path,
                reason: format!("it was built for release root {}", index.root),
            });
        }
        Ok(Some(index))
    }

    /// Writes `index` under its root: into a temporary directory, then renamed into place. If another
    /// process stored the same release meanwhile, its copy is kept (indexes are deterministic).
    pub fn store(&self, index: &Index) -> Result<PathBuf, AttributionError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| AttributionError::Io { path, source }
        };
        fs::create_dir_all(&self.directory).map_err(io(&self.directory))?;
        let target = self.path_for(index.root);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        let temporary = self.directory.join(format!(
            ".tmp-{}-{}-{nanos}",
            hex::encode(index.root),
            std::process::id()
        ));
        fs::create_dir(&temporary).map_err(io(&temporary))?;
        let written = index.write_to(&temporary).and_then(|()| {
            if target.exists() {
                // A damaged leftover (no readable meta) is replaced; a complete one is kept.
                if Index::read_from(&target).is_ok() {
                    return Ok(());
                }
                fs::remove_dir_all(&target).map_err(io(&target))?;
            }
            fs::rename(&temporary, &target).map_err(io(&target))
        });
        if temporary.exists() {
            let _ = fs::remove_dir_all(&temporary);
        }
        written.map(|()| target)
    }

    /// The cached index of release `root`, or `build`'s documents indexed and stored. A damaged cached
    /// index is rebuilt.
    pub fn load_or_build(
        &self,
        root: B256,
        build: impl FnOnce() -> Result<Vec<Document>, AttributionError>,
    ) -> Result<Index, AttributionError> {
        match self.load(root) {
            Ok(Some(index)) => return Ok(index),
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(%root, %error, "cached index is unusable; rebuilding");
                let path = self.path_for(root);
                fs::remove_dir_all(&path)
                    .map_err(|source| AttributionError::Io { path, source })?;
            }
        }
        let index = Index::build(root, build()?)?;
        self.store(&index)?;
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_trip_in_every_width() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join(SUFFIXES_FILE);
        let values = [0, 1, 0x00ab_cdef, (1 << 24) - 1, 7];
        write_ints(&path, values.into_iter(), 3).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().len(), 15);
        assert_eq!(read_ints(&path, 5, 3).unwrap(), values);

        let narrow = [0, 1, 0xffff];
        write_ints(&path, narrow.into_iter(), 2).unwrap();
        assert_eq!(read_ints(&path, 3, 2).unwrap(), narrow);

        let wide = [0, 1 << 24, u32::MAX, 9];
        write_ints(&path, wide.into_iter(), 4).unwrap();
        assert_eq!(read_ints(&path, 4, 4).unwrap(), wide);
        assert!(read_ints(&path, 5, 4).is_err());
    }

    #[test]
    fn ids_are_numbered_in_dictionary_order() {
        let documents = vec![
            Document {
                contribution_id: 2,
                bytes: b"mango".to_vec(),
            },
            Document {
                contribution_id: 1,
                bytes: b"Zebra apple zebra".to_vec(),
            },
        ];
        let words = ReleaseWords::split(documents).unwrap();
        assert_eq!(
            words.dictionary,
            ["apple".into(), "mango".into(), "zebra".into()]
        );
        assert_eq!(words.ids, [3, 1, 3, END_OF_DOCUMENT, 2, END_OF_DOCUMENT]);
        assert_eq!(words.documents[1].start, 4);
    }

    #[test]
    fn pointers_widen_only_past_2_pow_24_tokens() {
        assert_eq!(pointer_width(1), 3);
        assert_eq!(pointer_width(1 << 24), 3);
        assert_eq!(pointer_width((1 << 24) + 1), 4);
    }
}
