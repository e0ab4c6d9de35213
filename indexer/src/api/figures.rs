//! Node figures kept apart from the graph's shape in the response cache.
//!
//! An `attributionGraph` answer is mostly shape (which nodes, which edges, weights and amounts, all of
//! them facts that never change once indexed) and a few running totals sizing its nodes (a datanet's
//! revenue, a contribution's earnings, an account's credited balance). On a live chain almost every
//! block moves some total that most graphs show: a settlement credits one datanet, and every
//! contributor with a contribution in it has that datanet in their graph. Cached whole, each such
//! answer would be retired at every block and walked again.
//!
//! So a request that may be cached runs with [`Holes`] in its data: the graph writes a mark instead of
//! each node's figure and does not read the figures at all. The cache keeps the answer as a
//! [`Template`] (its bytes and where each mark is), retired only when the shape's rows change; every
//! answer handed out is the template filled with the figures right now ([`Figures::fill`]), each kept
//! here until a write changes its row, as the cache retires answers, and read by key when missing.
//! The marks carry a per-process random number, so no stored text can pass for one.

use std::ops::Range;
use std::sync::Mutex;

use axum::body::Bytes;
use lru::LruCache;

use crate::api::amount::BigInt;
use crate::api::db::{Db, Val};
use crate::api::error::ApiResult;
use crate::api::graph;
use crate::api::ids::{NodeId, NodeKind};
use crate::api::marks::Marks;
use crate::store::changes::key_hash;
use crate::store::{CaughtUp, ChangeLog};

/// Figures kept; past this the least recently used leave (one per account, contribution, datanet,
/// release or model that a cached graph shows).
const KEPT: usize = 1 << 18;

/// What a request whose answer may be cached carries: the marks it writes in place of node figures,
/// and the figures it read on its way, to keep (a graph walk reads most of those it leaves as holes
/// along with the shape: the root's, each contribution's earnings).
#[derive(Debug)]
pub(crate) struct Holes {
    marks: Marks,
    seen: Mutex<Vec<(NodeId, String)>>,
}

impl Holes {
    /// Whether a node of `kind` is sized by a running total (a hole), rather than by a settled
    /// receipt's fee, which never changes.
    pub(crate) fn fills(kind: NodeKind) -> bool {
        kind != NodeKind::Inference
    }

    /// The mark standing for `id`'s figure, a string that JSON writes as
    /// `"\u0001<nonce>:<id>\u0001"`; `figure`, when read on the way, is kept for it.
    pub(crate) fn mark(&self, id: &NodeId, figure: Option<BigInt>) -> BigInt {
        if let Some(BigInt(figure)) = figure {
            // A push: a panic cannot leave the list half-changed.
            self.seen
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((id.clone(), figure));
        }
        BigInt(self.marks.mark(id))
    }
}

/// The tag of the marks standing for node figures.
const HOLE: char = '\u{1}';

/// An answer with the places its node figures go.
#[derive(Debug)]
pub(crate) struct Template {
    body: Bytes,
    /// Each hole's byte range in `body` (the whole JSON string of its mark) and its node.
    holes: Vec<(Range<usize>, NodeId)>,
    /// The answer as last filled and the store version its figures were right at: handed out again
    /// as it is while no write has landed since (between two blocks, every request for it).
    last: Mutex<Option<(u64, Bytes)>>,
}

impl Template {
    /// Finds `marks` in `body`.
    fn parse(marks: &Marks, body: Bytes) -> Self {
        let holes = marks
            .find(&body)
            .filter_map(|(range, id)| Some((range, NodeId::parse(id).ok()?)))
            .collect();
        Self {
            body,
            holes,
            last: Mutex::default(),
        }
    }

    /// An answer without holes (run without [`Holes`]).
    pub(crate) fn plain(body: Bytes) -> Self {
        Self {
            body,
            holes: Vec::new(),
            last: Mutex::default(),
        }
    }

    /// The answer as kept, marks included.
    #[cfg(test)]
    pub(crate) fn body(&self) -> &Bytes {
        &self.body
    }

    /// Bytes counted against the cache's budget (the last filled answer included, about the
    /// template's size).
    pub(crate) fn weight(&self) -> usize {
        let filled = if self.holes.is_empty() {
            0
        } else {
            self.body.len()
        };
        self.body.len() + filled + self.holes.len() * std::mem::size_of::<(Range<usize>, NodeId)>()
    }

    /// The answer as last filled, if its figures are right at store version `version`.
    fn filled_at(&self, version: u64) -> Option<Bytes> {
        match &*self.last() {
            Some((at, body)) if *at == version => Some(body.clone()),
            _ => None,
        }
    }

    /// Keeps `body`, this template filled with figures right at store version `version`.
    fn remember(&self, version: u64, body: &Bytes) {
        *self.last() = Some((version, body.clone()));
    }

    fn last(&self) -> std::sync::MutexGuard<'_, Option<(u64, Bytes)>> {
        // A replacement of the whole value: a panic cannot leave it half-written.
        self.last.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The answer with `figures` (one per hole, in order) written in.
    fn filled(&self, figures: &[String]) -> Bytes {
        if self.holes.is_empty() {
            return self.body.clone();
        }
        let mut out = Vec::with_capacity(self.body.len());
        let mut at = 0;
        for ((range, _), figure) in self.holes.iter().zip(figures) {
            out.extend_from_slice(&self.body[at..range.start]);
            out.push(b'"');
            out.extend_from_slice(figure.as_bytes());
            out.push(b'"');
            at = range.end;
        }
        out.extend_from_slice(&self.body[at..]);
        Bytes::from(out)
    }
}

/// The figures of the nodes cached answers show, right at the version they were caught up to.
#[derive(Debug)]
pub(crate) struct Figures {
    /// This cache's marks (their random number).
    marks: Marks,
    kept: Mutex<Kept>,
    /// Taken to read missing figures: after a block, the requests that find the same figures missing
    /// read them once, in turn, instead of all at once.
    reading: tokio::sync::Mutex<()>,
}

#[derive(Debug)]
struct Kept {
    version: u64,
    /// Each node's figure with the hash of its row's key, as the change log records keys.
    figures: LruCache<NodeId, (u64, String)>,
}

/// Where a node's figure is read: the table and key column of its row.
fn row_of(kind: NodeKind) -> (&'static str, &'static str) {
    match kind {
        NodeKind::Account => ("accounts", "address"),
        NodeKind::Datanet => ("datanets", "datanet_id"),
        NodeKind::Release => ("releases", "release_id"),
        NodeKind::Model => ("models", "model_id"),
        NodeKind::Contribution => ("contributions", "contribution_id"),
        NodeKind::Inference => ("receipts", "digest"),
    }
}

fn key_of(id: &NodeId) -> Val {
    match id {
        NodeId::Account(key) | NodeId::Inference(key) => Val::Text(key.clone()),
        NodeId::Datanet(n) | NodeId::Release(n) | NodeId::Model(n) | NodeId::Contribution(n) => {
            Val::Int(*n)
        }
    }
}

impl Kept {
    /// Keeps `figure` for `id`, with the hash of its row's key.
    fn put(&mut self, id: NodeId, figure: String) {
        let hash = key_hash(&key_of(&id).key_text());
        self.figures.put(id, (hash, figure));
    }

    /// Drops the figures whose rows the writes since changed (all of them when the log no longer
    /// holds those writes).
    fn catch_up(&mut self, log: &ChangeLog) {
        let writes = match log.catch_up(&mut self.version) {
            CaughtUp::Current => return,
            CaughtUp::Forgotten => {
                self.figures.clear();
                return;
            }
            CaughtUp::Changed(writes) => writes,
        };
        let stale: Vec<NodeId> = self
            .figures
            .iter()
            .filter(|(id, (hash, _))| {
                let (table, key) = row_of(id.kind());
                writes.iter().any(|c| {
                    c.touches_table(table)
                        && c.values(table, key)
                            .is_none_or(|changed| changed.contains(hash))
                })
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in stale {
            self.figures.pop(&id);
        }
    }
}

impl Figures {
    pub(crate) fn new() -> Self {
        Self {
            marks: Marks::random(HOLE),
            kept: Mutex::new(Kept {
                version: 0,
                figures: LruCache::new(KEPT.try_into().expect("KEPT is not zero")),
            }),
            reading: tokio::sync::Mutex::new(()),
        }
    }

    /// What a request answered for this cache carries.
    pub(crate) fn holes(&self) -> Holes {
        Holes {
            marks: self.marks.clone(),
            seen: Mutex::default(),
        }
    }

    /// `answer` as a template: where the marks of this cache's [`Holes`] are in it.
    pub(crate) fn template(&self, answer: Bytes) -> Template {
        Template::parse(&self.marks, answer)
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        // Each change is one insert or removal: a panic cannot leave the map half-changed.
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `template` filled with its nodes' figures at the store's current version (`log`): the kept
    /// ones, and the missing ones read from `db` in one batch (kept if no write landed meanwhile).
    pub(crate) async fn fill(
        &self,
        db: &Db,
        log: &ChangeLog,
        template: &Template,
    ) -> ApiResult<Bytes> {
        if template.holes.is_empty() {
            return Ok(template.body.clone());
        }
        if let Some(body) = template.filled_at(log.version()) {
            return Ok(body);
        }
        let mut figures = vec![String::new(); template.holes.len()];
        let (mut missing, mut version) = self.look_up(log, template, &mut figures);
        let mut right_at = Some(version);
        if !missing.is_empty() {
            let _turn = self.reading.lock().await;
            // What the requests before this one read meanwhile is kept now.
            (missing, version) = self.look_up(log, template, &mut figures);
            right_at = Some(version);
            if !missing.is_empty() {
                let ids: Vec<NodeId> = missing
                    .iter()
                    .map(|&i| template.holes[i].1.clone())
                    .collect();
                let read = graph::figures(db, &ids).await?;
                let mut kept = self.kept();
                kept.catch_up(log);
                let keep = kept.version == version;
                // Read while a write landed: right now, but at no one version to remember.
                right_at = keep.then_some(version);
                for (&i, (id, BigInt(figure))) in missing.iter().zip(ids.into_iter().zip(read)) {
                    if keep {
                        kept.put(id, figure.clone());
                    }
                    figures[i] = figure;
                }
            }
        }
        let body = template.filled(&figures);
        if let Some(version) = right_at {
            template.remember(version, &body);
        }
        Ok(body)
    }

    /// Keeps the figures a request that started at store version `version` read, when no write
    /// landed since (else some may be older than the rows are now).
    pub(crate) fn keep(&self, log: &ChangeLog, version: u64, holes: &Holes) {
        let read = std::mem::take(&mut *holes.seen.lock().unwrap_or_else(|p| p.into_inner()));
        let mut kept = self.kept();
        kept.catch_up(log);
        if kept.version != version {
            return;
        }
        for (id, figure) in read {
            kept.put(id, figure);
        }
    }

    /// Writes the kept figures of `template`'s holes into `figures`; returns the holes missing and
    /// the version the kept figures are right at.
    fn look_up(
        &self,
        log: &ChangeLog,
        template: &Template,
        figures: &mut [String],
    ) -> (Vec<usize>, u64) {
        let mut kept = self.kept();
        kept.catch_up(log);
        let mut missing = Vec::new();
        for (i, (_, id)) in template.holes.iter().enumerate() {
            match kept.figures.get(id) {
                Some((_, figure)) => figures[i].clone_from(figure),
                None => missing.push(i),
            }
        }
        (missing, kept.version)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::store::{Changes, Store};

    #[test]
    fn a_template_finds_its_own_marks_and_fills_them_in() {
        let figures = Figures::new();
        let holes = figures.holes();
        let mark = |id: &NodeId| serde_json::to_string(&holes.mark(id, None).0).unwrap();
        let (datanet, account) = (
            NodeId::Datanet(3),
            NodeId::Account(format!("0x{}", "ab".repeat(20))),
        );
        let foreign = Holes {
            marks: Marks::random(HOLE),
            seen: Mutex::default(),
        };
        let foreign = serde_json::to_string(&foreign.mark(&datanet, None).0).unwrap();
        let body = format!(
            r#"{{"nodes":[{{"value":{}}},{{"value":{}}},{{"value":"7"}},{{"label":{foreign}}}]}}"#,
            mark(&datanet),
            mark(&account)
        );
        let template = figures.template(Bytes::from(body));
        let ids: Vec<&NodeId> = template.holes.iter().map(|(_, id)| id).collect();
        assert_eq!(ids, [&datanet, &account], "another nonce's mark is text");
        let filled = template.filled(&["120".to_owned(), "5".to_owned()]);
        assert_eq!(
            std::str::from_utf8(&filled).unwrap(),
            format!(
                r#"{{"nodes":[{{"value":"120"}},{{"value":"5"}},{{"value":"7"}},{{"label":{foreign}}}]}}"#
            )
        );
    }

    #[tokio::test]
    async fn a_filled_answer_is_handed_out_again_until_a_write_lands() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("figures.db").display());
        let store = Store::open(&url).await.expect("a migrated store");
        let db = Db::new(&store, 1, Duration::from_secs(5));
        let log = store.changes();
        let figures = Figures::new();
        let holes = figures.holes();
        let datanet = NodeId::Datanet(3);
        let mark = holes.mark(&datanet, Some(BigInt("120".into())));
        figures.keep(log, log.version(), &holes);
        let mark = serde_json::to_string(&mark.0).unwrap();
        let template = figures.template(Bytes::from(format!(r#"{{"value":{mark}}}"#)));

        let first = figures.fill(&db, log, &template).await.expect("kept");
        assert_eq!(first, r#"{"value":"120"}"#);
        let again = figures.fill(&db, log, &template).await.expect("kept");
        assert_eq!(
            again.as_ptr(),
            first.as_ptr(),
            "the same bytes, not filled again"
        );

        log.record(Changes::written("datanets", "datanet_id", &["3"]));
        let after = figures.fill(&db, log, &template).await.expect("read");
        assert_eq!(
            after, r#"{"value":"0"}"#,
            "read again: the store has no datanet 3"
        );
    }

    #[test]
    fn a_write_drops_only_the_figures_of_the_rows_it_changed() {
        let log = ChangeLog::default();
        let mut kept = Kept {
            version: 0,
            figures: LruCache::new(16.try_into().unwrap()),
        };
        for id in [
            NodeId::Datanet(1),
            NodeId::Datanet(2),
            NodeId::Contribution(1),
        ] {
            kept.put(id, "1".to_owned());
        }
        log.record(Changes::written("datanets", "datanet_id", &["2"]));
        kept.catch_up(&log);
        assert!(kept.figures.contains(&NodeId::Datanet(1)));
        assert!(
            !kept.figures.contains(&NodeId::Datanet(2)),
            "datanet 2 changed"
        );
        assert!(
            kept.figures.contains(&NodeId::Contribution(1)),
            "no contribution was written"
        );
        log.record(Changes::everything());
        kept.catch_up(&log);
        assert_eq!(kept.figures.len(), 0, "a revert drops every figure");
    }
}
