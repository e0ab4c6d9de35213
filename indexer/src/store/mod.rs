//! The database: one schema on SQLite (embedded default) or PostgreSQL, reached through sqlx's `Any`
//! driver so the same SQL runs on both (placeholders are written `$1, $2, …`); on PostgreSQL a batch is
//! committed by COPY on a typed connection of its own ([`copy`]).
//!
//! The tables are described in `SCHEMA.md` next to this file. The indexer is their only writer: a
//! block's rows, their effect on the aggregates and the checkpoint are committed in one transaction
//! ([`batch`]), and a reorg reverts to a parent block in one transaction ([`revert`]). Each such
//! write raises the stored version ([`version`]); processes that serve the API from a PostgreSQL store
//! another process writes follow it ([`replica`]).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyPool, Executor};

use crate::error::{IndexerError, Result};
use writer::SqliteWriter;

pub mod batch;
pub mod changes;
pub mod copy;
pub mod entity;
pub mod fact;
pub mod indexes;
pub mod numbering;
pub mod replica;
pub mod revert;
pub mod rows;
pub mod value;
pub mod version;
mod writer;

pub use batch::{Batch, BlockRef, Checkpoint, Follows};
pub use changes::{CaughtUp, ChangeLog, Changes};

/// The two supported databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One file, WAL mode.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Backend {
    /// The backend a `--database-url` names.
    pub fn from_url(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err(IndexerError::UnsupportedDatabaseUrl(url.to_owned()))
        }
    }
}

/// Applies the migrations of `backend` through `pool`, first moving a store made before the two trees
/// were numbered alike onto the shared numbering ([`numbering`]).
async fn migrate(pool: &AnyPool, backend: Backend) -> Result<()> {
    if let numbering::Numbering::Renumbered(moves) = numbering::renumber(pool, backend).await? {
        tracing::info!(
            ?moves,
            "renumbered the applied migrations (old version, new version)"
        );
    }
    numbering::migrator(backend).run(pool).await?;
    Ok(())
}

/// The pool every read, revert and rebuild goes through, connected to `url`: at most 4 connections
/// on SQLite (set up for the indexer's writes: WAL, 16 KiB pages on a new file), 8 on PostgreSQL;
/// `read_only` PostgreSQL sessions refuse every write (a replica's, [`replica`]).
async fn connect(url: &str, backend: Backend, read_only: bool) -> Result<AnyPool> {
    let options =
        AnyConnectOptions::from_str(url).map_err(IndexerError::db("parsing the database URL"))?;
    let pool = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(30));
    let pool = match backend {
        // `page_size` takes effect only on a new file (before its first table): 16 KiB pages make a
        // backfill's B-tree inserts about a third cheaper than the default 4 KiB.
        Backend::Sqlite => pool.max_connections(4).after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute(
                    "PRAGMA page_size = 16384; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; \
                     PRAGMA foreign_keys = OFF; PRAGMA cache_size = -65536;",
                )
                .await?;
                Ok(())
            })
        }),
        Backend::Postgres if read_only => pool.max_connections(8).after_connect(|conn, _| {
            Box::pin(async move {
                conn.execute("SET default_transaction_read_only = on").await?;
                Ok(())
            })
        }),
        Backend::Postgres => pool.max_connections(8),
    };
    pool.connect_with(options)
        .await
        .map_err(IndexerError::db("connecting to the database"))
}

/// The PostgreSQL connection batches are committed on, connected lazily: its first connection makes
/// the stages, which need the migrated tables.
fn copy_pool(url: &str) -> Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _| Box::pin(copy::prepare(conn)))
        .connect_lazy(url)
        .map_err(IndexerError::db("parsing the database URL"))
}

/// A handle on the indexer's database (cheap to clone). Readers use [`Store::pool`].
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The version and the recent writes' changes: see [`Store::version`].
    changes: Arc<ChangeLog>,
    /// Where batches are committed.
    bulk: Bulk,
    /// SQLite: the database file.
    file: Option<PathBuf>,
}

/// How a batch's commit reaches the database: sqlx's `Any` driver, which every read uses, has
/// neither COPY nor SQLite's bind-once statements.
#[derive(Debug, Clone)]
pub(crate) enum Bulk {
    /// SQLite: the batch writer thread ([`writer`]).
    Writer(Arc<SqliteWriter>),
    /// PostgreSQL: the connection batches are committed on, by COPY ([`copy`]).
    Copy(PgPool),
    /// A replica's handle ([`Store::open_replica`]): another process writes the store.
    Replica,
}

impl Store {
    /// Opens the database at `url` (creating a SQLite file if missing) and applies the migrations.
    pub async fn open(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        if backend == Backend::Sqlite && (url.contains(":memory:") || url.contains("mode=memory")) {
            return Err(IndexerError::InMemoryDatabase(url.to_owned()));
        }
        let url = match backend {
            Backend::Sqlite if !url.contains("mode=") => {
                format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
            }
            _ => url.to_owned(),
        };
        let pool = connect(&url, backend, false).await?;
        migrate(&pool, backend).await?;
        let file = match backend {
            Backend::Sqlite => Some(
                SqliteConnectOptions::from_str(&url)
                    .map_err(IndexerError::db("parsing the database URL"))?
                    .get_filename()
                    .to_owned(),
            ),
            Backend::Postgres => None,
        };
        let bulk = match &file {
            // After the migrations: the writer's connection opens an existing file.
            Some(file) => Bulk::Writer(Arc::new(SqliteWriter::start(file)?)),
            None => Bulk::Copy(copy_pool(&url)?),
        };
        Ok(Self {
            pool,
            backend,
            changes: Arc::default(),
            bulk,
            file,
        })
    }

    /// The connection pool, for read-only queries.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Where batches are committed.
    pub(crate) fn bulk(&self) -> &Bulk {
        &self.bulk
    }

    /// SQLite: the database file, for connections of a component's own (the batch writer's, the
    /// API's readers').
    pub(crate) fn sqlite_file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// `sqlite` or `postgres`, for logs.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// A number that changes after every committed write that changes the projections (a batch with
    /// events, a revert, a rebuild) made through this handle or its clones, and only then: answers read
    /// from the projections at one version stay right until the next. A batch of eventless blocks moves
    /// only the checkpoint (`sync_state`) and leaves the version as it was. The indexer is the
    /// database's only writer, so within its process this tracks every change (the API's response cache
    /// keys on it, and asks [`Store::changes`] what each write changed); on a replica's handle a
    /// [`Follower`](replica::Follower) records the writer's writes as it announces them. This count is
    /// the process's own; the stored one, which other processes read, is [`version::read`].
    pub fn version(&self) -> u64 {
        self.changes.version()
    }

    /// The version and what the recent writes changed.
    pub fn changes(&self) -> &ChangeLog {
        &self.changes
    }

    /// Records a committed write that changed `changes` (after the commit, so a reader that sees the
    /// new version also sees the new rows).
    pub(crate) fn changed(&self, changes: Changes) {
        self.changes.record(changes);
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        if let Bulk::Copy(pool) = &self.bulk {
            pool.close().await;
        }
        self.pool.close().await;
    }
}
