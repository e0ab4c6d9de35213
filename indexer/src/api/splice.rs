//! Parts of an answer written as JSON text by their resolvers ([`Flat`] lists), spliced into the
//! serialized answer.
//!
//! async-graphql's value tree has no place for JSON that is already written. So a resolver that
//! writes its own hands the text to the request's [`Splices`] and puts a mark (a string) in the tree
//! in its place; once the answer is serialized, [`Splices::splice`] puts each part where its mark
//! is. The marks carry a per-request random number, so no stored text can pass for one, and only the
//! answer as serialized is searched for them, never the parts spliced in.
//!
//! [`Flat`]: crate::api::flat::Flat

use std::sync::Mutex;

use async_graphql::Value;

use crate::api::marks::Marks;

/// The parts one request's resolvers wrote (see the module's doc).
#[derive(Debug)]
pub(crate) struct Splices {
    marks: Marks,
    parts: Mutex<Vec<Vec<u8>>>,
}

/// The tag of the marks standing for spliced parts.
const PART: char = '\u{2}';

impl Splices {
    pub(crate) fn new() -> Self {
        Self {
            marks: Marks::random(PART),
            parts: Mutex::default(),
        }
    }

    /// Keeps `json` (one JSON value) and returns the mark that stands for it until the answer is
    /// serialized: a string that JSON writes as `"\u0002<nonce>:<part>\u0002"`.
    pub(crate) fn mark(&self, json: Vec<u8>) -> Value {
        let mut parts = self.parts();
        parts.push(json);
        Value::String(self.marks.mark(parts.len() - 1))
    }

    /// `answer` (a serialized answer holding this request's marks) with each part in place of its
    /// mark.
    pub(crate) fn splice(&self, answer: Vec<u8>) -> Vec<u8> {
        let mut parts = std::mem::take(&mut *self.parts());
        if parts.is_empty() {
            return answer;
        }
        // The search is over the answer alone, a few hundred bytes when the parts are the bulk of it.
        let mut out = Vec::with_capacity(answer.len() + parts.iter().map(Vec::len).sum::<usize>());
        let mut at = 0;
        for (mark, part) in self.marks.find(&answer) {
            if let Some(part) = part.parse::<usize>().ok().and_then(|i| parts.get_mut(i)) {
                out.extend_from_slice(&answer[at..mark.start]);
                out.append(part);
                at = mark.end;
            }
        }
        out.extend_from_slice(&answer[at..]);
        out
    }

    fn parts(&self) -> std::sync::MutexGuard<'_, Vec<Vec<u8>>> {
        // A push or a take: a panic cannot leave the list half-changed.
        self.parts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serialized(value: &serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(value).expect("a JSON value serializes")
    }

    #[test]
    fn each_part_takes_the_place_of_its_mark() {
        let splices = Splices::new();
        let nodes = splices.mark(br#"[{"id":"a"},{"id":"b"}]"#.to_vec());
        let edges = splices.mark(b"[]".to_vec());
        let answer = serde_json::json!({
            "data": { "graph": { "nodes": nodes, "edges": edges, "note": "\u{2}1:0\u{2}" } }
        });
        let spliced = splices.splice(serialized(&answer));
        let read: serde_json::Value = serde_json::from_slice(&spliced).expect("spliced JSON");
        assert_eq!(
            read,
            serde_json::json!({
                "data": { "graph": {
                    "nodes": [{ "id": "a" }, { "id": "b" }],
                    "edges": [],
                    "note": "\u{2}1:0\u{2}",
                } }
            })
        );
    }

    #[test]
    fn another_requests_marks_and_unknown_parts_are_left_as_they_are() {
        let mine = Splices::new();
        let theirs = Splices::new();
        let their_mark = theirs.mark(b"[1]".to_vec());
        let my_mark = mine.mark(b"[2]".to_vec());
        let unknown = match &my_mark {
            Value::String(mark) => mark.replace(":0\u{2}", ":7\u{2}"),
            other => panic!("a mark is a string, not {other}"),
        };
        let answer = serde_json::json!({ "a": their_mark, "b": my_mark, "c": unknown });
        let spliced = splices_text(&mine, &answer);
        let read: serde_json::Value = serde_json::from_str(&spliced).expect("spliced JSON");
        assert_eq!(read["b"], serde_json::json!([2]));
        assert_eq!(
            read["a"],
            serde_json::to_value(&their_mark).expect("a mark")
        );
        assert_eq!(read["c"], serde_json::Value::String(unknown));
    }

    fn splices_text(splices: &Splices, answer: &serde_json::Value) -> String {
        String::from_utf8(splices.splice(serialized(answer))).expect("UTF-8")
    }
}
