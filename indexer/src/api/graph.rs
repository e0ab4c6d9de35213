//! `attributionGraph`: the neighbourhood of any node (an account, a datanet, a release, a model, a
//! contribution or an inference) as nodes and weighted edges, ready to draw.
//!
//! The graph is explored breadth first, one level per step; each level costs a fixed number of batched
//! `WHERE key IN (…)` statements on indexed columns (one per kind of neighbour), never one per node, and
//! stops adding nodes at `limit` (then `truncated` is true). Each statement's text is fixed (the keys are
//! one bound list); a level's statements go to the database as one batch (a [`Step`]), and their rows
//! come back read straight from SQLite, or folded into one JSON array each by PostgreSQL ([`Found`]).
//! Node values and edge amounts come from the indexer's running totals and stored edge amounts.
//!
//! [`Found`]: crate::api::rows::Found

use std::fmt;
use std::sync::Arc;

use alloy::primitives::U256;
use async_graphql::{Context, Enum, Object, SimpleObject};
use serde::de::DeserializeOwned;

use crate::api::amount::BigInt;
use crate::api::db::{Db, Sql, Val};
use crate::api::error::{ApiError, ApiResult, gql};
use crate::api::figures::Holes;
use crate::api::flat::{Flat, FlatObject, Json};
use crate::api::ids::{NodeId, NodeKind};
use crate::api::reads::{Reads, reads};
use crate::api::rows::Found;
use crate::api::{ApiConfig, db};

/// The walk's maps, keyed by node ids and indexes it made itself (no key chosen by a client).
type HashMap<K, V> = foldhash::HashMap<K, V>;
type IndexSet<K> = indexmap::IndexSet<K, foldhash::fast::RandomState>;
use crate::store::Backend;

/// How two nodes are related.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum EdgeKind {
    /// inference → contribution: the receipt's attribution named it (weight and amount set).
    Attributed,
    /// account → contribution: the account contributed it.
    Contributed,
    /// contribution → datanet: it was contributed to the datanet.
    InDatanet,
    /// datanet → release: the datanet published the release.
    Released,
    /// model → release: the model was trained on the release (its receipts are attributed over it).
    TrainedOn,
    /// model → model: the adapter applies to the base model (and pays its owner a derivative share).
    Adapts,
    /// model → release: the adapter was fine-tuned on the release's documents, as its training
    /// manifest records.
    FineTunedOn,
    /// account → model or datanet: the account owns it.
    Owns,
    /// inference → model: the inference ran the model (amount: the fee).
    Used,
    /// account → inference: the account paid for it (amount: the fee).
    Paid,
    /// account → inference: the account ran it as the node (amount: the node share).
    Served,
}

// Resolved a list at a time ([`Flat`]).
/// A node of the attribution graph.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct GraphNode {
    /// `kind:key`, usable as `root` of another `attributionGraph` query.
    id: Arc<str>,
    /// What the node is.
    kind: NodeKind,
    /// A short human label.
    label: String,
    /// A figure to size the node by: credited balance (account), revenue (datanet, model), earnings
    /// (contribution), pool accrued (release) or fee (inference).
    value: BigInt,
}

// Resolved a list at a time ([`Flat`]).
/// An edge of the attribution graph.
#[derive(Debug, Clone, SimpleObject)]
pub(crate) struct GraphEdge {
    /// Source node id.
    source: Arc<str>,
    /// Target node id.
    target: Arc<str>,
    /// How the nodes are related.
    kind: EdgeKind,
    /// Attribution weight as a fraction of the whole for `ATTRIBUTED` edges, 0 for the others.
    weight: f64,
    /// Amount paid along the edge, where one was (`ATTRIBUTED`, `USED`, `PAID`, `SERVED`).
    amount: Option<BigInt>,
}

/// The graph around `root`.
#[derive(Debug, Clone)]
pub(crate) struct AttributionGraph {
    root: String,
    nodes: Vec<GraphNode>,
    edges: Vec<GraphEdge>,
    truncated: bool,
}

/// The graph around `root`.
#[Object]
impl AttributionGraph {
    /// The root's id, normalised.
    async fn root(&self) -> &str {
        &self.root
    }

    /// Nodes, the root first.
    async fn nodes(&self, ctx: &Context<'_>) -> Flat<'_, GraphNode> {
        Flat::new(ctx, &self.nodes)
    }

    /// Edges between those nodes.
    async fn edges(&self, ctx: &Context<'_>) -> Flat<'_, GraphEdge> {
        Flat::new(ctx, &self.edges)
    }

    /// Whether nodes were left out because of `limit`.
    async fn truncated(&self) -> bool {
        self.truncated
    }
}

/// A field of [`GraphNode`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum NodeField {
    Id,
    Kind,
    Label,
    Value,
}

impl FlatObject for GraphNode {
    type Field = NodeField;

    fn field(name: &str) -> Option<NodeField> {
        Some(match name {
            "id" => NodeField::Id,
            "kind" => NodeField::Kind,
            "label" => NodeField::Label,
            "value" => NodeField::Value,
            _ => return None,
        })
    }

    fn write(&self, field: NodeField, json: &mut Json) {
        match field {
            NodeField::Id => json.string(&self.id),
            NodeField::Kind => json.enumeration(&self.kind),
            NodeField::Label => json.string(&self.label),
            NodeField::Value => json.string(&self.value.0),
        }
    }
}

/// A field of [`GraphEdge`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum EdgeField {
    Source,
    Target,
    Kind,
    Weight,
    Amount,
}

impl FlatObject for GraphEdge {
    type Field = EdgeField;

    fn field(name: &str) -> Option<EdgeField> {
        Some(match name {
            "source" => EdgeField::Source,
            "target" => EdgeField::Target,
            "kind" => EdgeField::Kind,
            "weight" => EdgeField::Weight,
            "amount" => EdgeField::Amount,
            _ => return None,
        })
    }

    fn write(&self, field: EdgeField, json: &mut Json) {
        match field {
            EdgeField::Source => json.string(&self.source),
            EdgeField::Target => json.string(&self.target),
            EdgeField::Kind => json.enumeration(&self.kind),
            EdgeField::Weight => json.float(self.weight),
            EdgeField::Amount => match &self.amount {
                Some(amount) => json.string(&amount.0),
                None => json.null(),
            },
        }
    }
}

struct Edge {
    source: usize,
    target: usize,
    kind: EdgeKind,
    weight_ppm: i64,
    amount: Option<BigInt>,
}

/// The graph under construction.
struct Builder {
    limit: usize,
    /// The nodes, each once; a node's number is its place here.
    nodes: IndexSet<NodeId>,
    /// Each node's figure, once read.
    values: Vec<Option<BigInt>>,
    edges: Vec<Edge>,
    edge_index: HashMap<(usize, usize, EdgeKind), usize>,
    truncated: bool,
    frontier: Vec<usize>,
}

/// Where an edge's ends are in the graph: `None` for an end left out because of the limit.
type Ends = (Option<usize>, Option<usize>);

impl Builder {
    fn node(&mut self, id: NodeId) -> Option<usize> {
        if let Some(i) = self.nodes.get_index_of(&id) {
            return Some(i);
        }
        if self.nodes.len() >= self.limit {
            self.truncated = true;
            return None;
        }
        let (i, _) = self.nodes.insert_full(id);
        self.values.push(None);
        self.frontier.push(i);
        Some(i)
    }

    fn value(&mut self, id: &NodeId, value: BigInt) {
        self.figure(self.nodes.get_index_of(id), value);
    }

    /// Sets the figure of node `at`, when it is in the graph.
    fn figure(&mut self, at: Option<usize>, value: BigInt) {
        if let Some(i) = at {
            self.values[i] = Some(value);
        }
    }

    /// Adds `source → target` (and whichever end is new, within the limit); returns where its ends
    /// are, to give them their figures.
    fn edge(
        &mut self,
        source: NodeId,
        target: NodeId,
        kind: EdgeKind,
        weight_ppm: i64,
        amount: Option<String>,
    ) -> ApiResult<Ends> {
        let amount = amount.map(stored_amount).transpose()?;
        let ends = (self.node(source), self.node(target));
        let (Some(s), Some(t)) = ends else {
            return Ok(ends);
        };
        match self.edge_index.get(&(s, t, kind)) {
            Some(&e) => {
                // A receipt may name one contribution twice: weights and amounts add up.
                let edge = &mut self.edges[e];
                edge.weight_ppm += weight_ppm;
                edge.amount = match (edge.amount.take(), amount) {
                    (Some(a), Some(b)) => Some(sum(&a, &b)?),
                    (a, b) => a.or(b),
                };
            }
            None => {
                self.edge_index.insert((s, t, kind), self.edges.len());
                self.edges.push(Edge {
                    source: s,
                    target: t,
                    kind,
                    weight_ppm,
                    amount,
                });
            }
        }
        Ok(ends)
    }

    /// Gives zero to each of `nodes` whose value was read and not found (no row).
    fn zero_unread(&mut self, nodes: Vec<usize>) {
        for i in nodes {
            self.values[i].get_or_insert_with(BigInt::zero);
        }
    }

    /// A builder for at most `limit` nodes.
    fn new(limit: usize) -> Self {
        Self {
            limit,
            nodes: IndexSet::default(),
            values: Vec::new(),
            edges: Vec::new(),
            edge_index: HashMap::default(),
            truncated: false,
            frontier: Vec::new(),
        }
    }

    /// The graph, with `holes`' marks in place of the nodes' running totals when given (the totals
    /// read on the way are kept for them).
    fn finish(self, holes: Option<&Holes>) -> AttributionGraph {
        let ids: Vec<Arc<str>> = self.nodes.iter().map(id_text).collect();
        let nodes = self
            .nodes
            .iter()
            .zip(self.values)
            .zip(&ids)
            .map(|((id, value), text)| GraphNode {
                id: Arc::clone(text),
                kind: id.kind(),
                label: label(id),
                value: match holes {
                    Some(holes) if Holes::fills(id.kind()) => holes.mark(id, value),
                    _ => value.unwrap_or_else(BigInt::zero),
                },
            })
            .collect();
        let edges = self
            .edges
            .into_iter()
            .map(|e| GraphEdge {
                source: Arc::clone(&ids[e.source]),
                target: Arc::clone(&ids[e.target]),
                kind: e.kind,
                weight: e.weight_ppm as f64 / 1_000_000.0,
                amount: e.amount,
            })
            .collect();
        AttributionGraph {
            root: ids[0].to_string(),
            nodes,
            edges,
            truncated: self.truncated,
        }
    }
}

/// A stored amount, checked to be written as one ([`BigInt::is_decimal`]).
fn stored_amount(amount: String) -> ApiResult<BigInt> {
    if !BigInt::is_decimal(&amount) {
        return Err(stored("edge amount", &amount));
    }
    Ok(BigInt(amount))
}

/// `a + b`, saturating at the largest `uint256`.
fn sum(a: &BigInt, b: &BigInt) -> ApiResult<BigInt> {
    let parse = |n: &BigInt| n.0.parse::<U256>().map_err(|_| stored("edge amount", &n.0));
    Ok(BigInt(parse(a)?.saturating_add(parse(b)?).to_string()))
}

fn stored(column: &'static str, value: &str) -> async_graphql::Error {
    gql(ApiError::Stored {
        column,
        value: value.to_owned(),
    })
}

/// A long hex string (an address, a digest) as a label shows it: its first six characters and its
/// last four.
struct Short<'a>(&'a str);

impl fmt::Display for Short<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.0;
        match (hex.get(..6), hex.get(hex.len().saturating_sub(4)..)) {
            (Some(head), Some(tail)) if hex.len() > 12 => write!(f, "{head}…{tail}"),
            _ => f.write_str(hex),
        }
    }
}

/// `shown` written into a string of `capacity` bytes (enough for it: no reallocation).
fn text(capacity: usize, shown: impl fmt::Display) -> String {
    use fmt::Write;
    let mut text = String::with_capacity(capacity);
    write!(text, "{shown}").expect("writing into a String cannot fail");
    text
}

/// A node's id as text (`kind:key`).
fn id_text(id: &NodeId) -> Arc<str> {
    text(16 + 66, id).into()
}

fn label(id: &NodeId) -> String {
    match id {
        NodeId::Account(a) => text(16, Short(a)),
        NodeId::Inference(d) => text(32, format_args!("inference {}", Short(d))),
        NodeId::Datanet(n) => text(32, format_args!("datanet {n}")),
        NodeId::Release(n) => text(32, format_args!("release {n}")),
        NodeId::Model(n) => text(32, format_args!("model {n}")),
        NodeId::Contribution(n) => text(32, format_args!("contribution {n}")),
    }
}

/// The keys of one kind in a level's frontier.
#[derive(Default)]
struct Frontier {
    accounts: Vec<String>,
    datanets: Vec<i64>,
    releases: Vec<i64>,
    models: Vec<i64>,
    contributions: Vec<i64>,
    inferences: Vec<String>,
}

impl Frontier {
    fn of(ids: impl IntoIterator<Item = NodeId>) -> Self {
        let mut f = Self::default();
        for id in ids {
            match id {
                NodeId::Account(a) => f.accounts.push(a),
                NodeId::Datanet(n) => f.datanets.push(n),
                NodeId::Release(n) => f.releases.push(n),
                NodeId::Model(n) => f.models.push(n),
                NodeId::Contribution(n) => f.contributions.push(n),
                NodeId::Inference(d) => f.inferences.push(d),
            }
        }
        f
    }
}

/// `SELECT columns FROM table WHERE key IN (keys…) LIMIT n`.
#[derive(Clone, Copy)]
struct Select {
    columns: &'static str,
    table: &'static str,
    key: &'static str,
}

/// The rows of `columns` in `table` whose `key` is one of a list.
fn select(columns: &'static str, table: &'static str, key: &'static str) -> Select {
    Select {
        columns,
        table,
        key,
    }
}

/// Where the walk reads: the read pool, and the request's reads to record them in.
struct Source<'a> {
    db: &'a Db,
    reads: Option<&'a Reads>,
}

impl Select {
    /// The statement for `keys`, at most `limit` rows. PostgreSQL folds the rows into one JSON array
    /// (one value handed back through sqlx instead of a row per neighbour).
    fn sql<V: Into<Val> + Clone>(self, db: &Db, keys: &[V], limit: usize) -> Sql {
        let Select {
            columns,
            table,
            key,
        } = self;
        let folded = db.backend() == Backend::Postgres;
        let mut sql = Sql::new("");
        if folded {
            sql.push("SELECT CAST(COALESCE(json_agg(json_build_array(")
                .push(columns)
                .push(")), '[]') AS TEXT) FROM (");
        }
        sql.push("SELECT ").push(columns).push(" FROM ").push(table);
        sql.push(" WHERE ").push(key).push(" IN ");
        sql.bind_list(db.backend(), keys.iter().cloned())
            .push(" LIMIT ");
        sql.bind(i64::try_from(limit).unwrap_or(i64::MAX));
        if folded {
            sql.push(") AS found");
        }
        sql
    }
}

/// One step of the walk: statements that depend only on what the graph held when the step began,
/// run as one batch ([`Db::batch`]: one snapshot, one hand-over to the database), then each one's rows
/// handed, in order, to what adds them to the graph.
///
/// [`Db::batch`]: crate::api::db::Db::batch
struct Step<'a> {
    src: &'a Source<'a>,
    statements: Vec<Sql>,
    adds: Vec<Add>,
}

/// Adds what one statement found to the graph.
type Add = Box<dyn FnOnce(&mut Builder, Found) -> ApiResult<()> + Send>;

impl<'a> Step<'a> {
    fn new(src: &'a Source<'a>) -> Self {
        Self {
            src,
            statements: Vec::new(),
            adds: Vec::new(),
        }
    }

    /// Reads `select` for `keys` (at most `limit` rows) and hands each row to `add`; nothing at all
    /// when `keys` is empty.
    fn read<K, T, R>(
        &mut self,
        select: Select,
        keys: &[K],
        limit: usize,
        mut add: impl FnMut(&mut Builder, T) -> ApiResult<R> + Send + 'static,
    ) where
        K: Into<Val> + Clone,
        T: DeserializeOwned,
    {
        if keys.is_empty() {
            return;
        }
        if let Some(reads) = self.src.reads {
            let values = keys.iter().map(|key| key.clone().into().key_text());
            reads.values(select.table, select.key, values);
        }
        self.statements.push(select.sql(self.src.db, keys, limit));
        self.adds.push(Box::new(move |g, found| {
            let rows: Vec<T> = found.decode().map_err(|value| {
                gql(ApiError::Stored {
                    column: select.table,
                    value,
                })
            })?;
            rows.into_iter().try_for_each(|row| add(g, row).map(drop))
        }));
    }

    /// Runs the step's statements and adds their rows to `g`.
    async fn run(self, g: &mut Builder) -> ApiResult<()> {
        let found = self.src.db.batch(self.statements).await.map_err(gql)?;
        for (add, found) in self.adds.into_iter().zip(found) {
            add(g, found)?;
        }
        Ok(())
    }
}

/// Reads the neighbours of one level of `g` in `step`: one query per kind of neighbour of each kind
/// of node in the level.
fn expand(step: &mut Step<'_>, g: &Builder, level: &Frontier) {
    use EdgeKind::*;
    use NodeId::{Account, Contribution, Datanet, Inference, Model, Release};
    // Each query may at most fill the remaining room (plus one, to learn that something was left out).
    let room = g.limit.saturating_sub(g.nodes.len()) + 1;
    let f = level;

    // Accounts: what they contributed, own, paid for and served.
    step.read(
        select(
            "contribution_id, contributor, earnings",
            "contributions",
            "contributor",
        ),
        &f.accounts,
        room,
        |g, (id, contributor, earnings): (i64, String, String)| {
            let (_, contribution) =
                g.edge(Account(contributor), Contribution(id), Contributed, 0, None)?;
            g.figure(contribution, BigInt(earnings));
            Ok(())
        },
    );
    step.read(
        select("model_id, owner, revenue", "models", "owner"),
        &f.accounts,
        room,
        |g, (id, owner, revenue): (i64, String, String)| {
            let (_, model) = g.edge(Account(owner), Model(id), Owns, 0, None)?;
            g.figure(model, BigInt(revenue));
            Ok(())
        },
    );
    step.read(
        select("datanet_id, owner, revenue", "datanets", "owner"),
        &f.accounts,
        room,
        |g, (id, owner, revenue): (i64, String, String)| {
            let (_, datanet) = g.edge(Account(owner), Datanet(id), Owns, 0, None)?;
            g.figure(datanet, BigInt(revenue));
            Ok(())
        },
    );
    step.read(
        select("digest, payer, fee", "receipts", "payer"),
        &f.accounts,
        room,
        |g, (digest, payer, fee): (String, String, String)| {
            let (_, inference) = g.edge(
                Account(payer),
                Inference(digest),
                Paid,
                0,
                Some(fee.clone()),
            )?;
            g.figure(inference, BigInt(fee));
            Ok(())
        },
    );
    step.read(
        select("digest, node, node_amount, fee", "receipts", "node"),
        &f.accounts,
        room,
        |g, (digest, node, amount, fee): (String, String, String, String)| {
            let (_, inference) =
                g.edge(Account(node), Inference(digest), Served, 0, Some(amount))?;
            g.figure(inference, BigInt(fee));
            Ok(())
        },
    );

    // Contributions: their contributor and datanet, and the inferences attributed to them.
    step.read(
        select(
            "contribution_id, contributor, datanet_id",
            "contributions",
            "contribution_id",
        ),
        &f.contributions,
        f.contributions.len(),
        |g, (id, contributor, datanet): (i64, String, i64)| {
            g.edge(Account(contributor), Contribution(id), Contributed, 0, None)?;
            g.edge(Contribution(id), Datanet(datanet), InDatanet, 0, None)
        },
    );
    attributed(step, "contribution_id", &f.contributions, room);

    // Inferences: their model, payer and node, and the contributions they were attributed to.
    step.read(
        select(
            "digest, payer, node, model_id, fee, node_amount",
            "receipts",
            "digest",
        ),
        &f.inferences,
        f.inferences.len(),
        |g,
         (digest, payer, node, model, fee, node_amount): (
            String,
            String,
            String,
            i64,
            String,
            String,
        )| {
            g.edge(
                Inference(digest.clone()),
                Model(model),
                Used,
                0,
                Some(fee.clone()),
            )?;
            g.edge(
                Account(payer),
                Inference(digest.clone()),
                Paid,
                0,
                Some(fee),
            )?;
            g.edge(
                Account(node),
                Inference(digest),
                Served,
                0,
                Some(node_amount),
            )
        },
    );
    attributed(step, "digest", &f.inferences, room);

    // Models: their owner, base, adapters, the releases they were trained and fine-tuned on and the
    // inferences that used them.
    step.read(
        select("model_id, owner, base_model_id", "models", "model_id"),
        &f.models,
        f.models.len(),
        |g, (id, owner, base): (i64, String, Option<i64>)| {
            g.edge(Account(owner), Model(id), Owns, 0, None)?;
            match base {
                Some(base) => g.edge(Model(id), Model(base), Adapts, 0, None),
                None => Ok((None, None)),
            }
        },
    );
    step.read(
        select(
            "model_id, base_model_id, revenue",
            "models",
            "base_model_id",
        ),
        &f.models,
        room,
        |g, (id, base, revenue): (i64, i64, String)| {
            let (adapter, _) = g.edge(Model(id), Model(base), Adapts, 0, None)?;
            g.figure(adapter, BigInt(revenue));
            Ok(())
        },
    );
    step.read(
        select("model_id, release_id", "model_trained_on", "model_id"),
        &f.models,
        room,
        |g, (model, release): (i64, i64)| {
            g.edge(Model(model), Release(release), FineTunedOn, 0, None)
        },
    );
    step.read(
        select("model_id, release_id", "model_releases", "model_id"),
        &f.models,
        room,
        |g, (model, release): (i64, i64)| {
            g.edge(Model(model), Release(release), TrainedOn, 0, None)
        },
    );
    step.read(
        select("digest, model_id, fee", "receipts", "model_id"),
        &f.models,
        room,
        |g, (digest, model, fee): (String, i64, String)| {
            let (inference, _) =
                g.edge(Inference(digest), Model(model), Used, 0, Some(fee.clone()))?;
            g.figure(inference, BigInt(fee));
            Ok(())
        },
    );

    // Releases: their datanet and the models trained on them.
    step.read(
        select("release_id, datanet_id", "releases", "release_id"),
        &f.releases,
        f.releases.len(),
        |g, (id, datanet): (i64, i64)| g.edge(Datanet(datanet), Release(id), Released, 0, None),
    );
    step.read(
        select("model_id, release_id", "model_releases", "release_id"),
        &f.releases,
        room,
        |g, (model, release): (i64, i64)| {
            g.edge(Model(model), Release(release), TrainedOn, 0, None)
        },
    );
    step.read(
        select("model_id, release_id", "model_trained_on", "release_id"),
        &f.releases,
        room,
        |g, (model, release): (i64, i64)| {
            g.edge(Model(model), Release(release), FineTunedOn, 0, None)
        },
    );

    // Datanets: their owner, releases and contributions.
    step.read(
        select("datanet_id, owner", "datanets", "datanet_id"),
        &f.datanets,
        f.datanets.len(),
        |g, (id, owner): (i64, String)| g.edge(Account(owner), Datanet(id), Owns, 0, None),
    );
    step.read(
        select(
            "release_id, datanet_id, pool_accrued",
            "releases",
            "datanet_id",
        ),
        &f.datanets,
        room,
        |g, (id, datanet, pool): (i64, i64, String)| {
            let (_, release) = g.edge(Datanet(datanet), Release(id), Released, 0, None)?;
            g.figure(release, BigInt(pool));
            Ok(())
        },
    );
    step.read(
        select(
            "contribution_id, datanet_id, earnings",
            "contributions",
            "datanet_id",
        ),
        &f.datanets,
        room,
        |g, (id, datanet, earnings): (i64, i64, String)| {
            let (contribution, _) =
                g.edge(Contribution(id), Datanet(datanet), InDatanet, 0, None)?;
            g.figure(contribution, BigInt(earnings));
            Ok(())
        },
    );
}

/// `ATTRIBUTED` edges whose `column` (`digest` or `contribution_id`) is in `keys`, with their
/// inference's fee (each edge carries it): from a contribution, one index range holds every column read.
fn attributed<V: Into<Val> + Clone>(
    step: &mut Step<'_>,
    column: &'static str,
    keys: &[V],
    room: usize,
) {
    // An inference names at most 16 contributions: take all of a frontier's edges, whatever the room.
    let limit = if column == "digest" {
        keys.len() * 16
    } else {
        room
    };
    step.read(
        select(
            "digest, contribution_id, weight_ppm, amount, fee",
            "attribution_edges",
            column,
        ),
        keys,
        limit,
        |g, (digest, contribution, weight, amount, fee): (String, i64, i64, String, String)| {
            let (inference, _) = g.edge(
                NodeId::Inference(digest),
                NodeId::Contribution(contribution),
                EdgeKind::Attributed,
                weight,
                Some(amount),
            )?;
            g.figure(inference, BigInt(fee));
            Ok(())
        },
    );
}

/// Reads in `step` the value of every node of `g` that has none yet (nodes reached through a foreign
/// key), or with `fees_only` of the inferences alone (the others are holes). Returns those nodes, to
/// give zero to the ones without a row once the step has run ([`Builder::zero_unread`]).
fn read_missing(step: &mut Step<'_>, g: &Builder, fees_only: bool) -> Vec<usize> {
    let missing: Vec<usize> = (0..g.nodes.len())
        .filter(|&i| g.values[i].is_none())
        .filter(|&i| !fees_only || !Holes::fills(g.nodes[i].kind()))
        .collect();
    let f = Frontier::of(
        missing
            .iter()
            .map(|&i| g.nodes[i].clone())
            .collect::<Vec<_>>(),
    );
    values(
        step,
        select("address, credited", "accounts", "address"),
        &f.accounts,
        NodeId::Account,
    );
    values(
        step,
        select("digest, fee", "receipts", "digest"),
        &f.inferences,
        NodeId::Inference,
    );
    values(
        step,
        select("datanet_id, revenue", "datanets", "datanet_id"),
        &f.datanets,
        NodeId::Datanet,
    );
    values(
        step,
        select("release_id, pool_accrued", "releases", "release_id"),
        &f.releases,
        NodeId::Release,
    );
    values(
        step,
        select("model_id, revenue", "models", "model_id"),
        &f.models,
        NodeId::Model,
    );
    values(
        step,
        select(
            "contribution_id, earnings",
            "contributions",
            "contribution_id",
        ),
        &f.contributions,
        NodeId::Contribution,
    );
    missing
}

fn values<K>(step: &mut Step<'_>, select: Select, keys: &[K], id: fn(K) -> NodeId)
where
    K: Into<Val> + Clone + DeserializeOwned + Send + 'static,
{
    step.read(
        select,
        keys,
        keys.len(),
        move |g, (key, value): (K, String)| {
            g.value(&id(key), BigInt(value));
            Ok(())
        },
    );
}

/// Builds the graph around `root` to `depth` levels and at most `limit` nodes.
pub(crate) async fn attribution_graph(
    ctx: &Context<'_>,
    root: &str,
    depth: i32,
    limit: i32,
) -> ApiResult<AttributionGraph> {
    let config = ctx.data_unchecked::<ApiConfig>();
    let range = |argument: &'static str, given: i32, max: usize| {
        usize::try_from(given)
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                gql(ApiError::OutOfRange {
                    argument,
                    given: given.into(),
                    min: 1,
                    max: i64::try_from(max).unwrap_or(i64::MAX),
                })
            })
    };
    let depth = range("depth", depth, config.max_graph_depth)?;
    let limit = range("limit", limit, config.max_graph_nodes)?;
    let root = NodeId::parse(root).map_err(gql)?;
    let src = Source {
        db: db(ctx, &[]),
        reads: reads(ctx),
    };
    let holes = ctx.data_opt::<Arc<Holes>>().map(Arc::as_ref);
    let mut g = Builder::new(limit);
    g.node(root.clone());
    // Each step reads the values the previous one left missing with the next level's neighbours:
    // both depend only on what the graph holds when the step begins.
    let mut step = Step::new(&src);
    let mut unread = read_missing(&mut step, &g, false);
    for level in 0..depth {
        let frontier = std::mem::take(&mut g.frontier);
        if frontier.is_empty() {
            break;
        }
        let frontier = Frontier::of(
            frontier
                .iter()
                .map(|&i| g.nodes[i].clone())
                .collect::<Vec<_>>(),
        );
        expand(&mut step, &g, &frontier);
        std::mem::replace(&mut step, Step::new(&src))
            .run(&mut g)
            .await?;
        if level == 0 && g.values[0].is_none() {
            return Err(gql(ApiError::NotFound(root.to_string())));
        }
        g.zero_unread(unread);
        unread = read_missing(&mut step, &g, holes.is_some());
    }
    step.run(&mut g).await?;
    g.zero_unread(unread);
    Ok(g.finish(holes))
}

/// The value of each of `ids` (zero for a node without a row), read from `db` in one statement per
/// kind: the figures [`Holes`] stand for.
pub(crate) async fn figures(db: &Db, ids: &[NodeId]) -> ApiResult<Vec<BigInt>> {
    let mut g = Builder::new(ids.len());
    for id in ids {
        g.node(id.clone());
    }
    let src = Source { db, reads: None };
    let mut step = Step::new(&src);
    let unread = read_missing(&mut step, &g, false);
    step.run(&mut g).await?;
    g.zero_unread(unread);
    Ok(ids
        .iter()
        .map(|id| {
            g.nodes
                .get_index_of(id)
                .and_then(|i| g.values[i].clone())
                .unwrap_or_else(BigInt::zero)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::flat::unwritten_fields;

    #[test]
    fn a_contribution_named_twice_by_one_receipt_is_one_edge_whose_weights_and_amounts_add_up() {
        let mut g = Builder::new(10);
        let inference = || NodeId::Inference(format!("0x{}", "ab".repeat(32)));
        for (weight, amount) in [(250_000, "25"), (500_000, "50")] {
            let ends = g
                .edge(
                    inference(),
                    NodeId::Contribution(7),
                    EdgeKind::Attributed,
                    weight,
                    Some(amount.to_owned()),
                )
                .expect("a stored amount");
            assert_eq!(ends, (Some(0), Some(1)));
        }
        let graph = g.finish(None);
        assert_eq!(graph.nodes.len(), 2);
        assert_eq!(graph.edges.len(), 1);
        assert_eq!(graph.edges[0].weight, 0.75);
        assert_eq!(graph.edges[0].amount, Some(BigInt("75".into())));
        assert_eq!(&*graph.edges[0].source, inference().to_string());
    }

    #[test]
    fn an_edge_past_the_limit_is_left_out_and_the_graph_says_so() {
        let mut g = Builder::new(2);
        g.node(NodeId::Model(1));
        let ends = g
            .edge(
                NodeId::Model(1),
                NodeId::Release(1),
                EdgeKind::TrainedOn,
                0,
                None,
            )
            .expect("no amount");
        assert_eq!(ends, (Some(0), Some(1)));
        let ends = g
            .edge(
                NodeId::Model(1),
                NodeId::Release(2),
                EdgeKind::TrainedOn,
                0,
                None,
            )
            .expect("no amount");
        assert_eq!(ends, (Some(0), None));
        let graph = g.finish(None);
        assert!(graph.truncated);
        assert_eq!(graph.edges.len(), 1);
    }

    #[test]
    fn a_stored_amount_that_is_not_a_number_is_an_error_naming_it() {
        let mut g = Builder::new(10);
        let error = g
            .edge(
                NodeId::Account(format!("0x{}", "01".repeat(20))),
                NodeId::Inference(format!("0x{}", "ab".repeat(32))),
                EdgeKind::Paid,
                0,
                Some("12e3".to_owned()),
            )
            .expect_err("not a decimal amount");
        assert!(error.message.contains("12e3"), "{}", error.message);
    }

    #[test]
    fn labels_shorten_addresses_and_digests() {
        let digest = format!("0x{}", "ab".repeat(31) + "cd");
        assert_eq!(label(&NodeId::Inference(digest)), "inference 0xabab…abcd");
        let address = format!("0x{}", "01".repeat(20));
        assert_eq!(label(&NodeId::Account(address)), "0x0101…0101");
        assert_eq!(label(&NodeId::Datanet(7)), "datanet 7");
        assert_eq!(&*id_text(&NodeId::Contribution(12)), "contribution:12");
    }

    #[test]
    fn nodes_and_edges_write_every_field_of_their_schema_types() {
        assert_eq!(unwritten_fields::<GraphNode>(), Vec::<String>::new());
        assert_eq!(unwritten_fields::<GraphEdge>(), Vec::<String>::new());
    }
}
