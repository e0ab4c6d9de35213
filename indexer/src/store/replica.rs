//! Serving a PostgreSQL store that another process writes (`soil-indexer serve`).
//!
//! [`Store::open_replica`] opens it without migrating it (a schema older than the binary's is refused
//! by name) on connections that refuse writes. A [`Follower`] keeps the handle's change log up with
//! the writer: it `LISTEN`s on the channel the writer announces each new store version on
//! ([`version`]) and records what each write changed, the tables its notification names, so the
//! API's response cache retires answers read from them as the writer's own cache would.
//!
//! A connection that is lost may have missed notifications: the follower connects again (backing
//! off), listens, reads the stored version on that connection and, if it moved while it was away,
//! records that anything may have changed. A connection the network dropped without a word (no reset
//! ever arrives) would otherwise wait for ever: after [`QUIET`] without a notification the follower
//! asks the connection for `SELECT 1`, and takes it for lost when no answer comes within [`PROBE`].

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use sqlx::AnyPool;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};

use crate::error::{IndexerError, Result};
use crate::store::version::{self, CHANNEL};
use crate::store::{Backend, Bulk, Changes, Store, connect};

impl Store {
    /// Opens the PostgreSQL store at `url`, which another process writes, to serve it: no
    /// migrations (refused if its schema is older than this binary's), no writes.
    pub async fn open_replica(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        if Backend::from_url(url)? == Backend::Sqlite {
            return Err(IndexerError::ReplicaNeedsPostgres(url.to_owned()));
        }
        let pool = connect(url, Backend::Postgres, true).await?;
        check_schema(&pool).await?;
        Ok(Self {
            pool,
            backend: Backend::Postgres,
            changes: Arc::default(),
            bulk: Bulk::Replica,
            file: None,
        })
    }
}

/// Refuses a schema older than this binary's migrations; a newer one (the writer upgraded first) is
/// served with a warning.
async fn check_schema(pool: &AnyPool) -> Result<()> {
    let expected = sqlx::migrate!("./migrations/postgres")
        .migrations
        .iter()
        .map(|m| m.version)
        .max()
        .unwrap_or_default();
    let read = || IndexerError::db("reading the applied migrations");
    let migrated: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(pool)
        .await
        .map_err(read())?;
    let found: Option<i64> = if migrated {
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(pool)
            .await
            .map_err(read())?
    } else {
        None
    };
    match found {
        Some(found) if found >= expected => {
            if found > expected {
                tracing::warn!(
                    found,
                    expected,
                    "the database's schema is newer than this soil-indexer's; upgrade it"
                );
            }
            Ok(())
        }
        found => Err(IndexerError::SchemaBehind { found, expected }),
    }
}

/// What a [`Follower`] knows, shared with its task.
#[derive(Debug, Default)]
struct Following {
    listening: AtomicBool,
    version: AtomicI64,
}

impl Following {
    /// Records the last version heard of.
    fn seen(&self, version: i64) {
        self.version.store(version, Ordering::Release);
        metrics::gauge!("soil_indexer_replica_store_version").set(version as f64);
    }
}

/// Keeps a replica's change log up with the process that writes its store (see the module's
/// documentation); stops when dropped.
#[derive(Debug)]
pub struct Follower {
    task: tokio::task::JoinHandle<()>,
    state: Arc<Following>,
}

impl Follower {
    /// Starts following the writer of `store`, a replica's handle on the database at `url`; returns
    /// once it listens, so an answer read from then on is retired by the next write.
    pub async fn start(store: &Store, url: &str) -> Result<Self> {
        let (listener, version) = listen(url).await?;
        let state = Arc::new(Following::default());
        state.seen(version);
        state.listening.store(true, Ordering::Release);
        let task = tokio::spawn(follow(
            store.clone(),
            url.to_owned(),
            listener,
            state.clone(),
        ));
        Ok(Self { task, state })
    }

    /// Whether it is listening: false while it reconnects, when answers may be as old as the
    /// outage.
    pub fn listening(&self) -> bool {
        self.state.listening.load(Ordering::Acquire)
    }

    /// The last store version it has seen.
    pub fn version(&self) -> i64 {
        self.state.version.load(Ordering::Acquire)
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The `application_name` of a replica's listening connection, as `pg_stat_activity` shows it.
pub const LISTENER_NAME: &str = "soil-indexer serve: store versions";

/// A connection listening on [`CHANNEL`], and the stored version read on it after it listened (so
/// every later write is announced on it).
async fn listen(url: &str) -> Result<(PgListener, i64)> {
    let options = PgConnectOptions::from_str(url)
        .map_err(IndexerError::db("parsing the database URL"))?
        .application_name(LISTENER_NAME);
    // A pool of one that never retires its connection: only a lost one is replaced (by `follow`).
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_with(options)
        .await
        .map_err(IndexerError::db("connecting for the store's notifications"))?;
    let mut listener = PgListener::connect_with(&pool)
        .await
        .map_err(IndexerError::db("connecting for the store's notifications"))?;
    listener.ignore_pool_close_event(true);
    // A lost connection is replaced by `follow`, which then reads the version again.
    listener.eager_reconnect(false);
    listener
        .listen(CHANNEL)
        .await
        .map_err(IndexerError::db("listening for the store's versions"))?;
    let version = sqlx::query_scalar("SELECT version FROM store_version WHERE id = 1")
        .fetch_one(&mut listener)
        .await
        .map_err(IndexerError::db("reading the store version"))?;
    Ok((listener, version))
}

/// How long the follower waits for a notification before it checks that its connection answers.
const QUIET: Duration = Duration::from_secs(5);

/// How long that check may take before the connection counts as lost.
const PROBE: Duration = Duration::from_secs(3);

/// Records each announced write into `store`'s change log; on a lost connection, listens again.
async fn follow(store: Store, url: String, mut listener: PgListener, state: Arc<Following>) {
    let mut seen = state.version.load(Ordering::Acquire);
    loop {
        // `try_recv` may be cancelled: it takes a message off the socket only once it has all of it.
        let lost = match tokio::time::timeout(QUIET, listener.try_recv()).await {
            Ok(Ok(Some(notification))) => {
                seen = record(&store, seen, notification.payload());
                state.seen(seen);
                continue;
            }
            Ok(Ok(None)) => "the connection was closed".to_owned(),
            Ok(Err(error)) => error.to_string(),
            Err(_quiet) => {
                let probe = sqlx::query("SELECT 1").execute(&mut listener);
                match tokio::time::timeout(PROBE, probe).await {
                    Ok(Ok(_)) => continue,
                    Ok(Err(error)) => error.to_string(),
                    Err(_) => format!("the connection did not answer within {PROBE:?}"),
                }
            }
        };
        state.listening.store(false, Ordering::Release);
        metrics::counter!("soil_indexer_replica_listens_lost_total").increment(1);
        tracing::warn!(error = lost, "lost the store's notifications; reconnecting");
        let mut failures = 0u32;
        let version = loop {
            match listen(&url).await {
                Ok((again, version)) => {
                    listener = again;
                    break version;
                }
                Err(error) => {
                    failures += 1;
                    let delay = backoff(failures);
                    tracing::warn!(%error, ?delay, "cannot listen for the store's versions yet");
                    tokio::time::sleep(delay).await;
                }
            }
        };
        if version != seen {
            // Writes went unannounced meanwhile.
            store.changed(Changes::everything());
        }
        seen = version;
        state.seen(seen);
        state.listening.store(true, Ordering::Release);
        tracing::info!(version, "listening for the store's versions again");
    }
}

/// Records the write announced by `payload` into `store`'s change log after version `seen`, and
/// returns the version it brings the replica to. Anything may have changed when it is not the next
/// version (a version missed, or the store restored from a backup) or cannot be read.
fn record(store: &Store, seen: i64, payload: &str) -> i64 {
    match version::parse(payload) {
        Some((version, changes)) if version == seen + 1 => {
            store.changed(changes);
            version
        }
        Some((version, _)) => {
            store.changed(Changes::everything());
            version
        }
        None => {
            tracing::warn!(payload, "an unreadable store version notification");
            store.changed(Changes::everything());
            seen
        }
    }
}

/// The wait before the `failures`-th attempt to listen again: 100 ms, doubling, at most 5 s.
fn backoff(failures: u32) -> Duration {
    Duration::from_millis(100u64 << failures.saturating_sub(1).min(6)).min(Duration::from_secs(5))
}
