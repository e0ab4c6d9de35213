//! Moves a store made before the two migration trees were numbered alike onto the shared numbering.
//!
//! Until then the trees in `indexer/migrations/{sqlite,postgres}/` numbered their migrations apart from
//! 0006 on: SQLite had no `text_in_byte_order` (a PostgreSQL collation change), so its `reorgs` was 0006
//! where PostgreSQL's was 0007, and PostgreSQL had no `event_tables_in_chain_order` (SQLite's 0009), so
//! both met again at 0010 (`contracts_v2_events`). Now each number names the same migration in both
//! trees: a migration of one store only has a file of the same number and name in the other tree that
//! does nothing (SQLite's `0006_text_in_byte_order`, PostgreSQL's `0010_event_tables_in_chain_order`),
//! and every migration from `contracts_v2_events` on is one number higher than it was.
//!
//! sqlx keeps what it applied in `_sqlx_migrations` (version, description, checksum of the SQL) and
//! refuses a database whose applied versions are not the files' (a version it does not know, or a
//! checksum that differs at the same version). So before the migrator runs, [`renumber`] reads those
//! rows and:
//! - leaves a store alone whose rows all name migrations at their current numbers (a fresh database,
//!   a store made since, or an old one that never got past the migrations both numberings share);
//! - renumbers, in one transaction, the rows of a store on the old numbering of its backend
//!   ([`OLD_SQLITE`], [`OLD_POSTGRES`]) to the current numbers of the same migrations, found by their
//!   descriptions. The files were renamed, not edited, so each row's checksum stays the file's. The
//!   do-nothing migrations are then applied by sqlx like any pending one (it applies every version it
//!   has no row of, below the last applied or not), which records them;
//! - refuses anything else, naming the rows that fit neither numbering ([`NumberingError`]).
//!
//! Running it again finds the current numbering and does nothing. A binary from before the renumbering
//! refuses a renumbered store (sqlx: a version it does not know), as it refuses any newer schema.

use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Row};

use super::Backend;

/// The SQLite tree's numbering before the trees were numbered alike: (version, description).
pub const OLD_SQLITE: &[(i64, &str)] = &[
    (1, "schema"),
    (2, "edge paging indexes"),
    (3, "drop raw events by event"),
    (4, "deferred indexes"),
    (5, "edge fee"),
    (6, "reorgs"),
    (7, "model releases by release"),
    (8, "raw events in chain order"),
    (9, "event tables in chain order"),
    (10, "contracts v2 events"),
    (11, "adapters"),
    (12, "string bytes"),
    (13, "store version"),
];

/// The PostgreSQL tree's numbering before the trees were numbered alike: (version, description).
pub const OLD_POSTGRES: &[(i64, &str)] = &[
    (1, "schema"),
    (2, "edge paging indexes"),
    (3, "drop raw events by event"),
    (4, "deferred indexes"),
    (5, "edge fee"),
    (6, "text in byte order"),
    (7, "reorgs"),
    (8, "model releases by release"),
    (9, "raw events in chain order"),
    (10, "contracts v2 events"),
    (11, "adapters"),
    (12, "string bytes"),
    (13, "store version"),
];

/// Why [`renumber`] did not bring a store onto the current numbering.
#[derive(Debug, thiserror::Error)]
pub enum NumberingError {
    /// Reading or rewriting `_sqlx_migrations` failed (nothing was changed: one transaction).
    #[error("database error while {context}: {source}")]
    Database {
        /// What was being done.
        context: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },

    /// The applied migrations follow neither this binary's numbering nor the old one of the backend.
    #[error(
        "the {backend} store's applied migrations follow neither this soil-indexer's numbering nor the numbering \
         before the SQLite and PostgreSQL trees were numbered alike: {unknown} (in _sqlx_migrations); \
         refusing to migrate it"
    )]
    UnknownLayout {
        /// `SQLite` or `PostgreSQL`.
        backend: &'static str,
        /// The rows that fit neither, as `version 6 "description"`, comma-separated.
        unknown: String,
    },

    /// A migration of the old numbering has no file of the same description in this binary.
    #[error(
        "the {backend} migration \"{description}\" (old number {old}) is not among this soil-indexer's migrations"
    )]
    MissingMigration {
        /// `SQLite` or `PostgreSQL`.
        backend: &'static str,
        /// The migration's description.
        description: &'static str,
        /// Its old version.
        old: i64,
    },
}

/// What [`renumber`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Numbering {
    /// No migration applied yet (no `_sqlx_migrations`, or no row in it).
    Fresh,
    /// Every applied row already names its migration at the current number: nothing changed.
    Current,
    /// The old numbering: these rows were renumbered, (old version, new version), in one transaction.
    Renumbered(Vec<(i64, i64)>),
}

/// The migrations this binary embeds for `backend`, at their current numbers.
pub fn migrator(backend: Backend) -> Migrator {
    match backend {
        Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
        Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
    }
}

/// The numbering `backend`'s tree had before the trees were numbered alike.
pub fn old_numbering(backend: Backend) -> &'static [(i64, &'static str)] {
    match backend {
        Backend::Sqlite => OLD_SQLITE,
        Backend::Postgres => OLD_POSTGRES,
    }
}

fn name(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    }
}

/// (old version, current version) of each migration of the old numbering, from this binary's files.
pub fn old_to_current(backend: Backend) -> Result<Vec<(i64, i64)>, NumberingError> {
    let current = migrator(backend);
    old_numbering(backend)
        .iter()
        .map(|&(old, description)| {
            current
                .iter()
                .find(|m| m.description == description)
                .map(|m| (old, m.version))
                .ok_or(NumberingError::MissingMigration {
                    backend: name(backend),
                    description,
                    old,
                })
        })
        .collect()
}

fn db(context: &'static str) -> impl FnOnce(sqlx::Error) -> NumberingError {
    move |source| NumberingError::Database { context, source }
}

/// Brings the store behind `pool` onto the current migration numbering if it is on the old one (see the
/// module's documentation); to be run before the migrator.
pub async fn renumber(pool: &AnyPool, backend: Backend) -> Result<Numbering, NumberingError> {
    let exists = match backend {
        Backend::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'"
        }
        Backend::Postgres => "SELECT COUNT(to_regclass('_sqlx_migrations'))",
    };
    let exists: i64 = sqlx::query_scalar(exists)
        .fetch_one(pool)
        .await
        .map_err(db("looking for _sqlx_migrations"))?;
    if exists == 0 {
        return Ok(Numbering::Fresh);
    }
    let mut tx = pool
        .begin()
        .await
        .map_err(db("starting the renumbering transaction"))?;
    // Hold the table against a second process doing the same (or a migrator) from the first read on.
    let lock = match backend {
        // A write statement takes SQLite's write lock for the transaction, even one that changes nothing.
        Backend::Sqlite => "UPDATE _sqlx_migrations SET version = version WHERE version < 0",
        Backend::Postgres => "LOCK TABLE _sqlx_migrations IN SHARE ROW EXCLUSIVE MODE",
    };
    sqlx::query(lock)
        .execute(&mut *tx)
        .await
        .map_err(db("locking _sqlx_migrations"))?;
    let applied: Vec<(i64, String)> =
        sqlx::query("SELECT version, description FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut *tx)
            .await
            .map_err(db("reading _sqlx_migrations"))?
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
    if applied.is_empty() {
        return Ok(Numbering::Fresh);
    }
    let migrations = migrator(backend);
    let current: Vec<(i64, &str)> = migrations
        .iter()
        .map(|m| (m.version, &*m.description))
        .collect();
    let old = old_numbering(backend);
    let fits = |numbering: &[(i64, &str)]| {
        applied
            .iter()
            .all(|(version, description)| numbering.contains(&(*version, description.as_str())))
    };
    if fits(&current) {
        return Ok(Numbering::Current);
    }
    if !fits(old) {
        let unknown = applied
            .iter()
            .filter(|(version, description)| {
                let row = (*version, description.as_str());
                !current.contains(&row) && !old.contains(&row)
            })
            .map(|(version, description)| format!("version {version} \"{description}\""))
            .collect::<Vec<_>>();
        // Every row is known to one numbering or the other, but not all to the same one: a mixture.
        let unknown = if unknown.is_empty() {
            format!(
                "a mixture of both numberings ({})",
                applied
                    .iter()
                    .map(|(version, description)| format!("version {version} \"{description}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            unknown.join(", ")
        };
        return Err(NumberingError::UnknownLayout {
            backend: name(backend),
            unknown,
        });
    }
    let mut moves: Vec<(i64, i64)> = old_to_current(backend)?
        .into_iter()
        .filter(|(old, new)| old != new && applied.iter().any(|(version, _)| version == old))
        .collect();
    // Highest first: every move is upwards, so each target number is free when its row moves there.
    moves.sort_by_key(|&(old, _)| std::cmp::Reverse(old));
    for &(old, new) in &moves {
        sqlx::query("UPDATE _sqlx_migrations SET version = $1 WHERE version = $2")
            .bind(new)
            .bind(old)
            .execute(&mut *tx)
            .await
            .map_err(db("renumbering _sqlx_migrations"))?;
    }
    tx.commit()
        .await
        .map_err(db("committing the renumbered _sqlx_migrations"))?;
    moves.reverse();
    Ok(Numbering::Renumbered(moves))
}
