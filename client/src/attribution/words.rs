//! The words attribution works on: a tokenizer-independent normalization of text (docs/PROTOCOL.md,
//! "Words"). Any model's output and any document reduce to the same kind of sequence, so one release
//! index serves every model and an auditor needs no model file.
//!
//! 1. The bytes are decoded as UTF-8; each ill-formed sequence becomes U+FFFD (maximal subparts, as
//!    [`String::from_utf8_lossy`] and Python's `errors="replace"` do).
//! 2. A *word character* is a code point whose Unicode general category is a letter (L*), a mark (M*) or
//!    a number (N*); every other code point (spaces, punctuation, symbols, controls, U+FFFD) separates
//!    words.
//! 3. Word characters of the scripts written without spaces (Han, Hiragana, Katakana, Thai, Lao, Khmer,
//!    Myanmar; see [`stands_alone`]) are words of their own; the others form words as maximal runs.
//! 4. Each word is lowercased code point by code point with the full lowercase mapping and no context
//!    (Rust's `char::to_lowercase`, Python's `str.lower` on one character).

use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

/// Whether `c` is part of a word: a letter, a mark or a number.
fn is_word_character(c: char) -> bool {
    matches!(
        c.general_category_group(),
        GeneralCategoryGroup::Letter | GeneralCategoryGroup::Mark | GeneralCategoryGroup::Number
    )
}

/// Whether a word character is a word by itself: the scripts written without spaces between words.
pub(crate) fn stands_alone(c: char) -> bool {
    matches!(
        u32::from(c),
        0x0E00..=0x0EFF     // Thai, Lao
        | 0x1000..=0x109F   // Myanmar
        | 0x1780..=0x17FF   // Khmer
        | 0x3040..=0x30FF   // Hiragana, Katakana
        | 0x31F0..=0x31FF   // Katakana phonetic extensions
        | 0x3400..=0x4DBF   // CJK unified ideographs extension A
        | 0x4E00..=0x9FFF   // CJK unified ideographs
        | 0xF900..=0xFAFF   // CJK compatibility ideographs
        | 0x20000..=0x3FFFF // CJK ideographs of planes 2 and 3
    )
}

/// Calls `on_word` with each normalized word of `text`, in order. The `&str` lives until the next call.
pub fn for_each_word(text: &[u8], mut on_word: impl FnMut(&str)) {
    let text = String::from_utf8_lossy(text);
    let mut word = String::new();
    for c in text.chars() {
        // ASCII first (most text): letters and digits are the only ASCII word characters.
        if c.is_ascii() {
            if c.is_ascii_alphanumeric() {
                word.push(c.to_ascii_lowercase());
            } else {
                emit(&mut word, &mut on_word);
            }
        } else if !is_word_character(c) {
            emit(&mut word, &mut on_word);
        } else if stands_alone(c) {
            emit(&mut word, &mut on_word);
            word.extend(c.to_lowercase());
            emit(&mut word, &mut on_word);
        } else {
            word.extend(c.to_lowercase());
        }
    }
    emit(&mut word, &mut on_word);
}

fn emit(word: &mut String, on_word: &mut impl FnMut(&str)) {
    if !word.is_empty() {
        on_word(word);
        word.clear();
    }
}

/// The normalized words of `text`.
pub fn words(text: &[u8]) -> Vec<String> {
    let mut words = Vec::new();
    for_each_word(text, |word| words.push(word.to_owned()));
    words
}

/// How many words `text` holds: a contribution's token count.
pub fn word_count(text: &[u8]) -> usize {
    let mut count = 0;
    for_each_word(text, |_| count += 1);
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ascii_fast_path_agrees_with_the_general_categories() {
        for c in (0u8..128).map(char::from) {
            assert_eq!(is_word_character(c), c.is_ascii_alphanumeric(), "{c:?}");
            assert_eq!(
                c.to_lowercase().collect::<String>(),
                c.to_ascii_lowercase().to_string()
            );
        }
    }

    #[test]
    fn splits_at_punctuation_and_space_and_lowercases() {
        assert_eq!(
            words(b"Hello,  World!\n\tIt's 2026 -- isn't it?"),
            ["hello", "world", "it", "s", "2026", "isn", "t", "it"]
        );
        assert!(words(b"").is_empty());
        assert!(words(b" \n.,;!? -- \xe2\x80\x94").is_empty());
    }

    #[test]
    fn keeps_marks_and_letters_of_every_script_in_words() {
        // "café" decomposed (e + U+0301) stays one word; Cyrillic and Greek lowercase.
        assert_eq!(
            words("cafe\u{301} ПРИВЕТ Σοφία".as_bytes()),
            ["cafe\u{301}", "привет", "σοφία"]
        );
        // The full lowercase mapping: İ (U+0130) becomes i + U+0307.
        assert_eq!(words("İSTANBUL".as_bytes()), ["i\u{307}stanbul"]);
    }

    #[test]
    fn scripts_without_spaces_give_one_word_per_character() {
        assert_eq!(
            words("東京は晴れ、ok".as_bytes()),
            ["東", "京", "は", "晴", "れ", "ok"]
        );
    }

    #[test]
    fn ill_formed_utf8_separates_words() {
        assert_eq!(words(b"ab\xffcd\xe2\x82ef"), ["ab", "cd", "ef"]);
        assert_eq!(word_count(b"ab\xffcd\xe2\x82ef"), 3);
    }
}
