//! The indexer's error type.
//!
//! Library code returns [`IndexerError`]; the binary turns it into an `anyhow` report at its edge. Each
//! variant says what went wrong in words an operator can act on.

use std::path::PathBuf;

use alloy::primitives::{Address, B256};

/// Everything that can stop the indexer.
#[derive(Debug, thiserror::Error)]
pub enum IndexerError {
    /// The `--database-url` is neither `sqlite://…` nor `postgres://…`.
    #[error(
        "unsupported database URL `{0}`: expected sqlite://<path> or postgres://<user>@<host>/<db>"
    )]
    UnsupportedDatabaseUrl(String),

    /// A database operation failed.
    #[error("database error while {context}: {source}")]
    Database {
        /// What the indexer was doing.
        context: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },

    /// Committing a batch into SQLite on the batch writer's connection failed.
    #[error("database error while {context}: {source}")]
    SqliteWrite {
        /// What the writer was doing.
        context: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },

    /// The SQLite batch writer thread is gone (it panicked, or the store was dropped).
    #[error("the SQLite batch writer thread has stopped")]
    WriterStopped,

    /// The database URL names an in-memory SQLite database, which a second connection cannot share.
    #[error("`{0}` is an in-memory SQLite database: the indexer needs a file, sqlite://<path>")]
    InMemoryDatabase(String),

    /// A batch was to be committed through a replica's handle, which another process writes.
    #[error("this store is served as a replica: another process (`soil-indexer run`) writes it")]
    ReadOnlyStore,

    /// `soil-indexer serve` was pointed at a SQLite file.
    #[error(
        "`soil-indexer serve` needs a PostgreSQL store, not `{0}`: a SQLite file is on one machine's disk, where the process that writes it (`soil-indexer run`) serves it"
    )]
    ReplicaNeedsPostgres(String),

    /// The database's schema is older than this binary's, which a replica does not migrate.
    #[error(
        "the database's schema is {found} but this soil-indexer needs migration {expected}: run this version's `soil-indexer run` on it first (it migrates), then `serve`",
        found = match .found { Some(version) => format!("at migration {version}"), None => "missing".to_owned() }
    )]
    SchemaBehind {
        /// The last migration applied to the database, if any.
        found: Option<i64>,
        /// The binary's last migration.
        expected: i64,
    },

    /// A store on an older migration numbering could not be moved onto the current one.
    #[error("could not renumber the database's applied migrations: {0}")]
    MigrationNumbering(#[from] crate::store::numbering::NumberingError),

    /// The schema migrations could not be applied.
    #[error("could not apply the database migrations: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),

    /// A stored row could not be read back (the database was edited by hand or by another program).
    #[error("corrupt row in table `{table}`: {reason}")]
    CorruptRow {
        /// The table.
        table: &'static str,
        /// What is wrong with it.
        reason: String,
    },

    /// The deployment file could not be read.
    #[error(transparent)]
    Deployment(#[from] soil_bindings::BindingsError),

    /// The RPC endpoint serves another chain than the deployment is for.
    #[error(
        "the deployment file {path} is for chain {expected}, but the RPC endpoint serves chain {found}"
    )]
    WrongChain {
        /// The deployment file.
        path: PathBuf,
        /// The deployment's chain id.
        expected: u64,
        /// The RPC's chain id.
        found: u64,
    },

    /// The database was filled from another chain.
    #[error(
        "the database holds chain {stored}, but the RPC endpoint serves chain {found}; use another --database-url"
    )]
    DatabaseChainMismatch {
        /// The chain id in `sync_state`.
        stored: u64,
        /// The RPC's chain id.
        found: u64,
    },

    /// A batch was to commit on top of a checkpoint other than the one the store holds: the database
    /// lost commits it had acknowledged (a PostgreSQL crash; batches commit without waiting for their
    /// WAL flush), or another indexer writes to it. Transient: the syncer reads the stored checkpoint
    /// back and resumes from there, so nothing is skipped.
    #[error(
        "the database's checkpoint is {stored}, but this batch follows block {expected}: it lost acknowledged commits (a crash) or another indexer writes to it; resuming from the stored checkpoint",
        stored = match .found { Some(block) => format!("block {block}"), None => "missing".to_owned() }
    )]
    CheckpointMoved {
        /// The block the batch follows.
        expected: u64,
        /// The block in `sync_state`, if any.
        found: Option<u64>,
    },

    /// There is no contract code at a deployment address.
    #[error(
        "no contract code at {address} ({contract}) on chain {chain_id}: wrong deployment file or RPC endpoint?"
    )]
    MissingContract {
        /// Which contract.
        contract: &'static str,
        /// The address from the deployment file.
        address: Address,
        /// The chain asked.
        chain_id: u64,
    },

    /// An RPC call failed in a way retrying cannot fix, or kept failing past the retry budget.
    #[error("RPC call {method} failed: {message}")]
    Rpc {
        /// The JSON-RPC method.
        method: &'static str,
        /// The last error.
        message: String,
    },

    /// A log from one of the contracts has a known event signature but does not decode.
    #[error("cannot decode {contract} log {log_index} in block {block_number}: {reason}")]
    Decode {
        /// Which contract emitted it.
        contract: &'static str,
        /// The block.
        block_number: u64,
        /// The log's index in the block.
        log_index: u64,
        /// The decoder's message.
        reason: String,
    },

    /// A log came without the block/transaction fields a mined log has.
    #[error("log without {0} (pending logs are not indexed)")]
    IncompleteLog(&'static str),

    /// A stored raw event's JSON does not parse (during `rebuild`).
    #[error("raw event at block {block_number} log {log_index} has unreadable data: {source}")]
    RawEvent {
        /// The block.
        block_number: u64,
        /// The log index.
        log_index: u64,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },

    /// An event refers to an entity the indexer never saw created (logs are missing or out of order).
    #[error("{event} at block {block_number} refers to unknown {entity} {id}")]
    UnknownEntity {
        /// The event name.
        event: &'static str,
        /// The block.
        block_number: u64,
        /// The kind of entity.
        entity: &'static str,
        /// Its id.
        id: String,
    },

    /// An amount went negative or overflowed: the projection disagrees with the contracts.
    #[error("amount arithmetic out of range in {0}")]
    AmountOutOfRange(&'static str),

    /// A number does not fit the database's signed 64-bit integers.
    #[error("{what} = {value} does not fit a 64-bit database integer")]
    IntegerOutOfRange {
        /// What the number is.
        what: &'static str,
        /// Its value.
        value: String,
    },

    /// The chain reorganised deeper than the finality depth: the stored state cannot be trusted.
    #[error(
        "reorg deeper than the finality depth: block {block_number} (hash {stored_hash}) is no longer on the chain \
         and no common ancestor was found within {finality_depth} blocks; re-index from scratch or raise --finality-depth"
    )]
    DeepReorg {
        /// The stored block that is orphaned.
        block_number: u64,
        /// Its stored hash.
        stored_hash: B256,
        /// The configured finality depth.
        finality_depth: u64,
    },

    /// A thread of the indexer's own could not be started.
    #[error("cannot start the {name} thread: {source}")]
    Thread {
        /// Which thread.
        name: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// The HTTP server could not start.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// The task committing a batch was cancelled (the runtime is shutting down).
    #[error("the batch being committed was abandoned (the runtime is shutting down)")]
    CommitAborted,

    /// The metrics recorder could not be installed.
    #[error("cannot install the metrics recorder: {0}")]
    Metrics(String),
}

impl IndexerError {
    /// Whether retrying from the checkpoint may succeed (RPC and database outages); every other
    /// error means the data or the configuration is wrong and the indexer must stop.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Rpc { .. } | Self::IncompleteLog(_) | Self::CheckpointMoved { .. } => true,
            Self::Database { source, .. } => is_outage(source),
            Self::SqliteWrite { source, .. } => is_sqlite_outage(source),
            _ => false,
        }
    }

    /// Wraps a database error with what the indexer was doing.
    pub fn db(context: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Database { context, source }
    }
}

/// Whether a database error is an outage that may pass (a lost connection, a busy or locked SQLite
/// file, a full disk, PostgreSQL restarting or rolling back a transaction) rather than a query or a row
/// that is wrong, which fails the same way on every retry and must stop the indexer.
fn is_outage(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(error) => {
            let code = error.code().unwrap_or_default();
            if error
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some()
            {
                // The SQLSTATE class: connection 08, rollback 40, resources 53, operator
                // intervention 57, system 58.
                matches!(code.get(..2), Some("08" | "40" | "53" | "57" | "58"))
            } else {
                // SQLite: the primary result code under the extended one (BUSY 5, LOCKED 6, IOERR 10,
                // FULL 13).
                code.parse::<u32>()
                    .is_ok_and(|code| matches!(code & 0xff, 5 | 6 | 10 | 13))
            }
        }
        _ => false,
    }
}

/// [`is_outage`] for an error of the SQLite batch writer's connection.
fn is_sqlite_outage(error: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::{DatabaseBusy, DatabaseLocked, DiskFull, SystemIoFailure};
    matches!(
        error.sqlite_error_code(),
        Some(DatabaseBusy | DatabaseLocked | SystemIoFailure | DiskFull)
    )
}

/// Result alias for the indexer.
pub type Result<T, E = IndexerError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    async fn sqlite_error(sql: &str) -> IndexerError {
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect("sqlite::memory:")
            .await
            .unwrap();
        let source = sqlx::query(sql).execute(&mut conn).await.unwrap_err();
        IndexerError::db("testing")(source)
    }

    #[tokio::test]
    async fn a_wrong_query_or_row_stops_the_indexer_and_an_outage_is_retried() {
        assert!(!sqlite_error("SELEC 1").await.is_transient(), "syntax");
        assert!(
            !sqlite_error("SELECT * FROM no_such_table")
                .await
                .is_transient(),
            "missing table"
        );
        let decode = IndexerError::db("testing")(sqlx::Error::ColumnNotFound("x".into()));
        assert!(!decode.is_transient());
        let outage = IndexerError::db("testing")(sqlx::Error::PoolTimedOut);
        assert!(outage.is_transient());
        let io = IndexerError::db("testing")(sqlx::Error::Io(std::io::Error::other("reset")));
        assert!(io.is_transient());
    }
}
