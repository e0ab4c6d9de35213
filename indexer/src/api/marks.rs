//! Marks: strings a request puts in its answer's value tree to find those places again once the
//! answer is serialized. The response cache marks node figures (`figures::Holes`) and flat lists mark
//! the JSON they wrote themselves (`splice::Splices`).
//!
//! A mark is `<tag><nonce>:<payload><tag>`, the tag a control character (so JSON writes it escaped,
//! `\u0001`) and the nonce a random number, so no stored text can pass for one.

use std::hash::{BuildHasher, Hasher};
use std::ops::Range;

use memchr::memmem;

/// The marks of one tag and nonce.
#[derive(Debug, Clone)]
pub(crate) struct Marks {
    tag: char,
    nonce: u64,
}

impl Marks {
    /// Marks of `tag` (a control character) with a fresh random nonce.
    pub(crate) fn random(tag: char) -> Self {
        let nonce = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        Self::new(tag, nonce)
    }

    pub(crate) fn new(tag: char, nonce: u64) -> Self {
        debug_assert!(tag.is_ascii_control(), "JSON must escape a mark's tag");
        Self { tag, nonce }
    }

    /// The mark standing for `payload`.
    pub(crate) fn mark(&self, payload: impl std::fmt::Display) -> String {
        let tag = self.tag;
        format!("{tag}{:016x}:{payload}{tag}", self.nonce)
    }

    /// Each of these marks in `json` (serialized JSON), in order: the byte range of its whole JSON
    /// string (quotes included) and its payload. A mark whose payload is not UTF-8 is not one.
    pub(crate) fn find<'a>(
        &self,
        json: &'a [u8],
    ) -> impl Iterator<Item = (Range<usize>, &'a str)> + 'a {
        let escaped = format!("\\u{:04x}", u32::from(self.tag));
        let opening = memmem::Finder::new(&format!("\"{escaped}{:016x}:", self.nonce)).into_owned();
        let closing = memmem::Finder::new(&format!("{escaped}\"")).into_owned();
        let mut from = 0;
        std::iter::from_fn(move || {
            loop {
                let start = from + opening.find(&json[from..])?;
                let payload_start = start + opening.needle().len();
                let payload_end = payload_start + closing.find(&json[payload_start..])?;
                from = payload_end + closing.needle().len();
                if let Ok(payload) = std::str::from_utf8(&json[payload_start..payload_end]) {
                    return Some((start..from, payload));
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_is_found_in_serialized_json_and_another_nonces_or_tags_is_not() {
        let marks = Marks::new('\u{1}', 7);
        let other_nonce = Marks::new('\u{1}', 8);
        let other_tag = Marks::new('\u{2}', 7);
        let json = serde_json::to_vec(&serde_json::json!([
            marks.mark("datanet:3"),
            other_nonce.mark("datanet:4"),
            other_tag.mark("datanet:5"),
            "text",
            marks.mark(12),
        ]))
        .expect("JSON");
        let found: Vec<(Range<usize>, &str)> = marks.find(&json).collect();
        assert_eq!(found.len(), 2, "{}", String::from_utf8_lossy(&json));
        assert_eq!(found[0].1, "datanet:3");
        assert_eq!(found[1].1, "12");
        let whole = serde_json::to_string(&marks.mark(12)).expect("JSON");
        assert_eq!(&json[found[1].0.clone()], whole.as_bytes());
    }
}
