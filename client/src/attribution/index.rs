//! The attribution index of one release: the release's documents as one token array (each document
//! followed by a separator token, documents in contribution-id order), its suffix array (libsais) and
//! the document table. Stored under `<cache>/<release root hex>/`:
//!
//! | file            | content                                                          |
//! |-----------------|------------------------------------------------------------------|
//! | `index.json`    | format version, root, vocabulary, separator, token width, counts |
//! | `tokens.bin`    | token ids, little-endian `u16` (vocabulary ≤ 65 536) else `u32`  |
//! | `suffixes.bin`  | the suffix array, little-endian, each entry in `pointer_width` bytes |
//! | `documents.bin` | per document: contribution id `u64`, first token `u64` (LE)      |
//!
//! Suffix-array entries are stored in the fewest bytes that hold a text position (as infini-gram does):
//! 3 bytes up to 16 777 216 tokens, 4 beyond. That is 2 + 3 = 5 bytes per token for `u16` vocabularies
//! up to that size (2 + 4 = 6 beyond), plus 16 bytes per document. In memory the suffix array is `i32`.
//! A directory is written under a temporary name and renamed into place, so a reader sees a whole index
//! or none.

use std::{
    fs,
    io::{Read, Write},
    path::{Path, PathBuf},
    time::{SystemTime, UNIX_EPOCH},
};

use alloy::primitives::B256;
use indicatif::{ProgressBar, ProgressStyle};
use libsais::{SuffixArrayConstruction, ThreadCount};

use super::AttributionError;

const FORMAT_VERSION: u32 = 2;
const META_FILE: &str = "index.json";
const TOKENS_FILE: &str = "tokens.bin";
const SUFFIXES_FILE: &str = "suffixes.bin";
const DOCUMENTS_FILE: &str = "documents.bin";

/// A document as token ids of the model's tokenizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenizedDocument {
    /// The contribution it belongs to.
    pub contribution_id: u64,
    /// Its token ids.
    pub tokens: Vec<u32>,
}

/// The tokenizer facts an index depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Vocabulary {
    /// Tokens in the vocabulary: ids are below this.
    pub size: u32,
    /// The token id placed after every document (the model's end-of-sequence token); documents must not
    /// contain it, and outputs are split at it.
    pub separator: u32,
    /// Identifies the tokenizer (SHA-256 over its token pieces, see
    /// [`crate::model::ModelInfo::tokenizer_fingerprint`]): an index cached for the same release by a model
    /// with another tokenizer is rebuilt.
    pub fingerprint: B256,
}

/// Where a document's tokens lie in the index text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentEntry {
    /// The contribution.
    pub contribution_id: u64,
    /// Index of its first token in the text.
    pub start: u64,
}

/// The index text: `u16` ids when the vocabulary fits, else `u32`.
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

    fn width(&self) -> usize {
        match self {
            Self::Narrow(_) => 2,
            Self::Wide(_) => 4,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Meta {
    format: u32,
    root: B256,
    vocabulary: Vocabulary,
    token_width: usize,
    pointer_width: usize,
    tokens: u64,
    documents: u64,
}

/// A release's attribution index, in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    pub(crate) root: B256,
    pub(crate) vocabulary: Vocabulary,
    pub(crate) text: Text,
    pub(crate) suffixes: Vec<i32>,
    pub(crate) documents: Vec<DocumentEntry>,
}

fn progress(total: u64) -> ProgressBar {
    // indicatif's stderr target draws nothing when stderr is not a terminal.
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{msg:>18} [{bar:30}] {human_pos}/{human_len} tokens")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

impl Index {
    /// Builds the index of a release in memory: documents sorted by contribution id, concatenated with the
    /// separator after each, then the suffix array (libsais, all cores). Checks that ids are unique and
    /// that every token is in the vocabulary and is not the separator.
    pub fn build(
        root: B256,
        vocabulary: Vocabulary,
        mut documents: Vec<TokenizedDocument>,
    ) -> Result<Self, AttributionError> {
        if documents.is_empty() {
            return Err(AttributionError::EmptyRelease);
        }
        if vocabulary.separator >= vocabulary.size {
            return Err(AttributionError::InvalidSeparator {
                separator: vocabulary.separator,
                vocab_size: vocabulary.size,
            });
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
        let total: usize = documents
            .iter()
            .map(|document| document.tokens.len() + 1)
            .sum();
        if total > libsais::LIBSAIS_I32_OUTPUT_MAXIMUM_SIZE {
            return Err(AttributionError::TooLarge(total));
        }

        let bar = progress(total as u64);
        bar.set_message("joining documents");
        let mut entries = Vec::with_capacity(documents.len());
        let text = if vocabulary.size <= 1 << 16 {
            Text::Narrow(concatenate(
                &documents,
                vocabulary,
                &mut entries,
                &bar,
                |token| token as u16,
            )?)
        } else {
            Text::Wide(concatenate(
                &documents,
                vocabulary,
                &mut entries,
                &bar,
                |token| token,
            )?)
        };
        drop(documents);

        bar.set_message("sorting suffixes");
        let suffixes = suffix_array(&text)?;
        bar.finish_and_clear();
        Ok(Self {
            root,
            vocabulary,
            text,
            suffixes,
            documents: entries,
        })
    }

    /// The release root the index was built for.
    pub fn root(&self) -> B256 {
        self.root
    }

    /// The tokenizer facts the index was built with.
    pub fn vocabulary(&self) -> Vocabulary {
        self.vocabulary
    }

    /// Tokens in the index text (documents and separators).
    pub fn token_count(&self) -> usize {
        self.text.len()
    }

    /// The documents, in contribution-id order.
    pub fn documents(&self) -> &[DocumentEntry] {
        &self.documents
    }

    /// Bytes the index takes on disk, the small `index.json` aside.
    pub fn size_bytes(&self) -> u64 {
        (self.text.len() * self.text.width()
            + self.suffixes.len() * pointer_width(self.text.len())
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
            vocabulary: self.vocabulary,
            token_width: self.text.width(),
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
        fs::write(&meta_path, json).map_err(|source| AttributionError::Io {
            path: meta_path,
            source,
        })?;
        match &self.text {
            Text::Narrow(tokens) => {
                write_le(&directory.join(TOKENS_FILE), tokens, |t| t.to_le_bytes())?
            }
            Text::Wide(tokens) => {
                write_le(&directory.join(TOKENS_FILE), tokens, |t| t.to_le_bytes())?
            }
        }
        write_pointers(
            &directory.join(SUFFIXES_FILE),
            &self.suffixes,
            pointer_width(self.text.len()),
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
        let text = match meta.token_width {
            2 => Text::Narrow(read_le(
                &directory.join(TOKENS_FILE),
                tokens,
                u16::from_le_bytes,
            )?),
            4 => Text::Wide(read_le(
                &directory.join(TOKENS_FILE),
                tokens,
                u32::from_le_bytes,
            )?),
            width => return Err(corrupt(format!("token width {width}"))),
        };
        if meta.pointer_width != pointer_width(tokens) {
            return Err(corrupt(format!(
                "pointer width {} for {tokens} tokens (expected {})",
                meta.pointer_width,
                pointer_width(tokens)
            )));
        }
        let suffixes = read_pointers(&directory.join(SUFFIXES_FILE), tokens, meta.pointer_width)?;
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
            vocabulary: meta.vocabulary,
            text,
            suffixes,
            documents,
        })
    }
}

/// Concatenates the documents, a separator after each, recording where each starts.
fn concatenate<T: Copy>(
    documents: &[TokenizedDocument],
    vocabulary: Vocabulary,
    entries: &mut Vec<DocumentEntry>,
    bar: &ProgressBar,
    narrow: impl Fn(u32) -> T,
) -> Result<Vec<T>, AttributionError> {
    let total = documents
        .iter()
        .map(|document| document.tokens.len() + 1)
        .sum();
    let mut text = Vec::with_capacity(total);
    for document in documents {
        if let Some(&token) = document
            .tokens
            .iter()
            .find(|&&token| token >= vocabulary.size || token == vocabulary.separator)
        {
            return Err(AttributionError::InvalidToken {
                contribution_id: document.contribution_id,
                token,
                vocab_size: vocabulary.size,
            });
        }
        entries.push(DocumentEntry {
            contribution_id: document.contribution_id,
            start: text.len() as u64,
        });
        text.extend(document.tokens.iter().map(|&token| narrow(token)));
        text.push(narrow(vocabulary.separator));
        bar.inc(document.tokens.len() as u64 + 1);
    }
    Ok(text)
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

/// Bytes a suffix-array entry takes on disk for a text of `tokens` tokens: the fewest that hold every
/// position, at least 3 (so the width changes only past 16 777 216 tokens).
fn pointer_width(tokens: usize) -> usize {
    if tokens <= 1 << 24 { 3 } else { 4 }
}

/// Writes the suffix array, each entry as its low `width` bytes (3 or 4) little-endian.
fn write_pointers(path: &Path, suffixes: &[i32], width: usize) -> Result<(), AttributionError> {
    match width {
        3 => write_le(path, suffixes, |suffix| {
            let [a, b, c, _] = suffix.to_le_bytes();
            [a, b, c]
        }),
        _ => write_le(path, suffixes, |suffix| suffix.to_le_bytes()),
    }
}

/// Reads a suffix array of `count` entries of `width` bytes written by [`write_pointers`].
fn read_pointers(path: &Path, count: usize, width: usize) -> Result<Vec<i32>, AttributionError> {
    match width {
        3 => read_le(path, count, |[a, b, c]: [u8; 3]| {
            i32::from_le_bytes([a, b, c, 0])
        }),
        _ => read_le(path, count, i32::from_le_bytes),
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
        vocabulary: Vocabulary,
        build: impl FnOnce() -> Result<Vec<TokenizedDocument>, AttributionError>,
    ) -> Result<Index, AttributionError> {
        match self.load(root) {
            Ok(Some(index)) if index.vocabulary == vocabulary => return Ok(index),
            Ok(Some(_)) => {
                tracing::warn!(%root, "cached index was built with another tokenizer; rebuilding")
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%root, %error, "cached index is unusable; rebuilding"),
        }
        let index = Index::build(root, vocabulary, build()?)?;
        let path = self.path_for(root);
        if path.exists()
            && self
                .load(root)
                .ok()
                .flatten()
                .is_none_or(|cached| cached.vocabulary != vocabulary)
        {
            fs::remove_dir_all(&path).map_err(|source| AttributionError::Io {
                path: path.clone(),
                source,
            })?;
        }
        self.store(&index)?;
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_pointers_round_trip_in_both_widths() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join(SUFFIXES_FILE);
        let suffixes = [0, 1, 0x00ab_cdef, (1 << 24) - 1, 7];
        write_pointers(&path, &suffixes, 3).unwrap();
        assert_eq!(fs::metadata(&path).unwrap().len(), 15);
        assert_eq!(read_pointers(&path, 5, 3).unwrap(), suffixes);

        let wide = [0, 1 << 24, i32::MAX, 9];
        write_pointers(&path, &wide, 4).unwrap();
        assert_eq!(read_pointers(&path, 4, 4).unwrap(), wide);
        assert!(read_pointers(&path, 5, 4).is_err());
    }

    #[test]
    fn pointers_widen_only_past_2_pow_24_tokens() {
        assert_eq!(pointer_width(1), 3);
        assert_eq!(pointer_width(1 << 24), 3);
        assert_eq!(pointer_width((1 << 24) + 1), 4);
    }
}
