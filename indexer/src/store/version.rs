//! The store's version as other processes see it: `store_version.version`, raised by one in the
//! transaction of every write that changes the projections (a batch with events, a revert, a
//! rebuild). On PostgreSQL the same transaction announces it on the channel [`CHANNEL`]
//! (`pg_notify`, delivered when the transaction commits, in commit order), so the processes serving
//! the API from the same database (`soil-indexer serve`, [`replica`](crate::store::replica)) retire
//! what the write may have changed within a round trip of the commit.
//!
//! A notification's payload is the new version and the tables the write changed, comma-separated
//! (`42 accounts,receipts`), or `*` when anything may have changed (`43 *`: a revert, a rebuild). The
//! tables and not the values of their rows (which the writer's own log keeps, [`Changes`]): a block's
//! values can pass PostgreSQL's 8,000-byte payload limit, and their hashes are only comparable within
//! one build of the binary, while a replica may run another.

use sqlx::{AnyConnection, AnyPool, PgConnection};

use crate::error::{IndexerError, Result};
use crate::store::{Backend, Changes};

/// The channel the writer announces each new version on.
pub const CHANNEL: &str = "soil_store";

/// Raises the version (SQLite, on the batch writer's connection too).
pub(crate) const RAISE: &str = "UPDATE store_version SET version = version + 1 WHERE id = 1";

/// Raises the version and announces it with the tables `$1` (PostgreSQL).
const RAISE_AND_NOTIFY: &str = "WITH raised AS \
     (UPDATE store_version SET version = version + 1 WHERE id = 1 RETURNING version) \
     SELECT raised.version FROM raised, pg_notify('soil_store', raised.version || ' ' || $1::text) AS notified";

/// The payload's part after the version: the tables `changes` names, or `*`.
fn tables(changes: &Changes) -> String {
    changes
        .tables()
        .map_or_else(|| "*".to_owned(), |tables| tables.join(","))
}

/// Raises the version through `conn`, inside the transaction of a write that changed `changes`
/// (nothing when it changed nothing), and announces it on PostgreSQL. For reverts and rebuilds,
/// which write through sqlx's `Any` driver.
pub(crate) async fn publish(
    conn: &mut AnyConnection,
    backend: Backend,
    changes: &Changes,
) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let query = match backend {
        Backend::Sqlite => sqlx::query(RAISE),
        Backend::Postgres => sqlx::query(RAISE_AND_NOTIFY).bind(tables(changes)),
    };
    query
        .execute(conn)
        .await
        .map_err(IndexerError::db("publishing the store version"))?;
    Ok(())
}

/// [`publish`] on the PostgreSQL connection batches are committed on (by COPY).
pub(crate) async fn publish_copied(conn: &mut PgConnection, changes: &Changes) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    sqlx::query(RAISE_AND_NOTIFY)
        .bind(tables(changes))
        .execute(conn)
        .await
        .map_err(IndexerError::db("publishing the store version"))?;
    Ok(())
}

/// A notification's payload read back: the version it announces and what the write changed; `None`
/// when it is not a payload [`publish`] writes.
pub(crate) fn parse(payload: &str) -> Option<(i64, Changes)> {
    let (version, tables) = payload.split_once(' ')?;
    let version = version.parse().ok()?;
    let changes = match tables {
        "*" => Changes::everything(),
        "" => return None,
        tables => Changes::of_tables(tables.split(',')),
    };
    Some((version, changes))
}

/// The stored version, read through `pool`.
pub async fn read(pool: &AnyPool) -> Result<i64> {
    sqlx::query_scalar("SELECT version FROM store_version WHERE id = 1")
        .fetch_one(pool)
        .await
        .map_err(IndexerError::db("reading the store version"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_reads_back_as_the_version_and_the_tables_written() {
        let written = Changes::of_tables(["receipts", "accounts"]);
        let payload = format!("42 {}", tables(&written));
        assert_eq!(payload, "42 accounts,receipts");
        let (version, changes) = parse(&payload).expect("a payload");
        assert_eq!((version, changes.tables()), (42, written.tables()));
        let (version, changes) = parse("43 *").expect("a payload");
        assert_eq!((version, changes.tables()), (43, None));
        assert_eq!(tables(&Changes::everything()), "*");
        for bad in ["", "42", "42 ", "x receipts"] {
            assert!(parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn the_notification_goes_out_on_the_channel_replicas_listen_on() {
        assert!(RAISE_AND_NOTIFY.contains(&format!("pg_notify('{CHANNEL}'")));
    }
}
