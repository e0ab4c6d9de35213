//! SQLite's read path for batches of statements (the graph walk's): a batch runs on one connection,
//! in one read transaction (so its statements see one snapshot of the file), and each statement's rows
//! come back as a [`Table`].
//!
//! Through sqlx each statement is its own round trip: the pool's acquire and release, a command sent
//! to the connection's worker thread and the row sent back (both threads woken each way), and the
//! `Any` driver's copy of the row. Measured over the bench's database, that came to about 130 µs a
//! statement under one client, against about 30 µs of SQL. Here a whole batch costs one hand-over to
//! a blocking thread, and each connection keeps its prepared statements.
//!
//! A batch first runs on the calling task's own thread, within [`INLINE_BUDGET`] and without waiting
//! on a lock: almost every batch of the graph walk (about 0.2 ms of SQL) finishes there. One that does
//! not is run again on tokio's blocking pool, where it may take the request's whole time limit. The
//! hand-over to a blocking thread and back costs two thread wake-ups, which came to about 15 % of an
//! uncached graph request's CPU when every batch took it.
//!
//! A batch past its deadline is interrupted by SQLite's progress handler, so a slow read stops
//! instead of running on after its request gave up (sqlx's SQLite pool has no statement timeout).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode, OpenFlags};
use tokio::sync::Semaphore;

use crate::api::db::{Sql, Val};
use crate::api::error::ApiError;
use crate::api::rows::{Cell, Table};

/// Virtual-machine steps between two looks at the deadline (a few microseconds of work).
pub(crate) const STEPS_PER_CHECK: i32 = 1_000;

/// Statements each connection keeps prepared (the walk has about twenty).
const PREPARED: usize = 64;

/// How much of the database file a read connection maps into memory instead of reading pages into
/// its own page cache: every read connection then shares the operating system's copy of the file,
/// where each used to copy the pages it touched (`pread`) into a cache of its own. Pages still in the
/// write-ahead log are read as before.
pub(crate) const MAPPED_BYTES: u64 = 1 << 30;

/// How long a batch may hold the calling task's thread before it is moved to the blocking pool.
const INLINE_BUDGET: Duration = Duration::from_millis(2);

/// How long a read on the blocking pool (or on the sqlx pool, [`crate::api::db`]) waits for a lock on
/// the file (a writer recovering the WAL).
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Read-only connections to one SQLite file, opened on first use and kept.
#[derive(Debug)]
pub(crate) struct SqliteReader {
    file: PathBuf,
    /// One permit per connection: at most that many batches run at once.
    permits: Semaphore,
    idle: Mutex<Vec<Connection>>,
    timeout: Duration,
}

impl SqliteReader {
    /// Readers of `file`, at most `connections` at once, each batch cut off after `timeout`.
    pub(crate) fn new(file: &Path, connections: usize, timeout: Duration) -> Self {
        Self {
            file: file.to_owned(),
            permits: Semaphore::new(connections.max(1)),
            idle: Mutex::new(Vec::new()),
            timeout,
        }
    }

    /// Runs `statements` in one read transaction and returns each one's rows: on this thread when
    /// the batch fits in [`INLINE_BUDGET`], else on the blocking pool.
    pub(crate) async fn batch(
        self: &Arc<Self>,
        statements: Vec<Sql>,
    ) -> Result<Vec<Table>, ApiError> {
        let _permit = self.permits.acquire().await.map_err(|_| ApiError::Closed)?;
        let deadline = Instant::now() + self.timeout;
        let inline = Attempt {
            deadline: (Instant::now() + INLINE_BUDGET).min(deadline),
            busy_timeout: Duration::ZERO,
        };
        match self.run(&statements, inline) {
            Err(e) if deadline > inline.deadline && gave_way(&e) => {}
            found => return found.map_err(|e| self.error(e)),
        }
        let reader = Arc::clone(self);
        let blocking = Attempt {
            deadline,
            busy_timeout: BUSY_TIMEOUT,
        };
        match tokio::task::spawn_blocking(move || {
            reader
                .run(&statements, blocking)
                .map_err(|e| reader.error(e))
        })
        .await
        {
            Ok(found) => found,
            // A panic in the read is a bug: it goes on as a panic of this request, not as a
            // shutdown.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(ApiError::Closed),
        }
    }

    fn run(&self, statements: &[Sql], attempt: Attempt) -> rusqlite::Result<Vec<Table>> {
        let conn = match self.lock().pop() {
            Some(conn) => conn,
            None => open(&self.file)?,
        };
        let found = conn
            .busy_timeout(attempt.busy_timeout)
            .and_then(|()| read(&conn, statements, attempt.deadline));
        // A failed batch rolled its transaction back; a connection left inside one is dropped.
        if conn.is_autocommit() {
            self.lock().push(conn);
        }
        found
    }

    /// What a failed read is to the request: its time limit when SQLite was interrupted.
    fn error(&self, e: rusqlite::Error) -> ApiError {
        match e.sqlite_error_code() {
            Some(ErrorCode::OperationInterrupted) => ApiError::Timeout(self.timeout),
            _ => ApiError::Read(e),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        // A push or a pop: a panic cannot leave the list half-changed.
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One try at a batch: when it is cut off, and how long it waits for a lock on the file.
#[derive(Clone, Copy)]
struct Attempt {
    deadline: Instant,
    busy_timeout: Duration,
}

/// Whether a read on the calling thread stopped only to go on elsewhere: out of its budget, or
/// finding the file locked (which it does not wait for there).
fn gave_way(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::OperationInterrupted | ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
    )
}

fn open(file: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        file,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.execute_batch(&format!(
        "PRAGMA query_only = ON; PRAGMA cache_size = -16384; PRAGMA mmap_size = {MAPPED_BYTES};"
    ))?;
    conn.set_prepared_statement_cache_capacity(PREPARED);
    Ok(conn)
}

fn read(conn: &Connection, statements: &[Sql], deadline: Instant) -> rusqlite::Result<Vec<Table>> {
    conn.progress_handler(STEPS_PER_CHECK, Some(move || Instant::now() > deadline));
    let found = (|| {
        let snapshot = conn.unchecked_transaction()?;
        let found = statements
            .iter()
            .map(|sql| {
                let mut statement = conn.prepare_cached(sql.text())?;
                for (i, value) in sql.binds().iter().enumerate() {
                    match value {
                        Val::Int(v) => statement.raw_bind_parameter(i + 1, v)?,
                        Val::Text(v) => statement.raw_bind_parameter(i + 1, v.as_str())?,
                    }
                }
                let width = statement.column_count();
                let mut table = Table::new(width);
                let mut rows = statement.raw_query();
                while let Some(row) = rows.next()? {
                    for column in 0..width {
                        table.push(cell(row, column)?);
                    }
                }
                Ok(table)
            })
            .collect::<rusqlite::Result<Vec<_>>>()?;
        snapshot.commit()?;
        Ok(found)
    })();
    conn.progress_handler(0, None::<fn() -> bool>);
    found
}

/// The value in `column` of `row`: an integer, a text or `NULL`, the types the API's statements
/// read.
fn cell(row: &rusqlite::Row<'_>, column: usize) -> rusqlite::Result<Cell> {
    Ok(match row.get_ref(column)? {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(n) => Cell::Int(n),
        ValueRef::Text(text) => Cell::Text(
            std::str::from_utf8(text)
                .map_err(rusqlite::Error::Utf8Error)?
                .to_owned(),
        ),
        other => {
            return Err(rusqlite::Error::InvalidColumnType(
                column,
                row.as_ref().column_name(column)?.to_owned(),
                other.data_type(),
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database file holding `t (k, v)` with rows (1, 'one') and (2, 'two').
    fn database() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let conn = Connection::open(dir.path().join("reads.db")).expect("a new database");
        conn.execute_batch(
            "CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT); \
             INSERT INTO t VALUES (1, 'one'), (2, 'two');",
        )
        .expect("the table");
        dir
    }

    /// A reader of [`database`]'s file with `connections` connections and a `timeout` per batch.
    fn reader(dir: &tempfile::TempDir, connections: usize, timeout: Duration) -> Arc<SqliteReader> {
        Arc::new(SqliteReader::new(
            &dir.path().join("reads.db"),
            connections,
            timeout,
        ))
    }

    fn value_at(k: i64) -> Sql {
        let mut sql = Sql::new("SELECT v FROM t WHERE k = ");
        sql.bind(k);
        sql
    }

    /// A table of `width` columns holding `cells`, row after row.
    fn table(width: usize, cells: impl IntoIterator<Item = Cell>) -> Table {
        let mut table = Table::new(width);
        cells.into_iter().for_each(|cell| table.push(cell));
        table
    }

    /// A one-column table of texts.
    fn texts(values: &[&str]) -> Table {
        table(1, values.iter().map(|v| Cell::Text((*v).to_owned())))
    }

    #[tokio::test]
    async fn a_batch_answers_each_statements_rows_in_order() {
        let dir = database();
        let reader = reader(&dir, 2, Duration::from_secs(5));
        let found = reader
            .batch(vec![
                value_at(2),
                value_at(3),
                Sql::new("SELECT k, v, NULL FROM t ORDER BY k"),
            ])
            .await
            .expect("the batch runs");
        let both = table(
            3,
            [
                Cell::Int(1),
                Cell::Text("one".into()),
                Cell::Null,
                Cell::Int(2),
                Cell::Text("two".into()),
                Cell::Null,
            ],
        );
        assert_eq!(found, vec![texts(&["two"]), texts(&[]), both]);
    }

    #[tokio::test]
    async fn read_connections_map_the_file_and_cannot_write() {
        let dir = database();
        let reader = reader(&dir, 1, Duration::from_secs(5));
        let found = reader
            .batch(vec![Sql::new("PRAGMA mmap_size")])
            .await
            .expect("a pragma reads");
        let mapped = i64::try_from(MAPPED_BYTES).expect("a gibibyte");
        assert_eq!(found, vec![table(1, [Cell::Int(mapped)])]);
        let write = reader
            .batch(vec![Sql::new("DELETE FROM t")])
            .await
            .expect_err("query_only");
        assert!(matches!(write, ApiError::Read(_)), "{write}");
    }

    #[tokio::test]
    async fn a_column_of_a_type_the_api_does_not_read_is_an_error_naming_it() {
        let dir = database();
        let reader = reader(&dir, 1, Duration::from_secs(5));
        let error = reader
            .batch(vec![Sql::new("SELECT x'00' AS raw")])
            .await
            .expect_err("a blob is not read");
        assert!(matches!(error, ApiError::Read(_)), "{error}");
        assert!(error.to_string().contains("raw"), "{error}");
    }

    #[tokio::test]
    async fn a_batch_longer_than_the_inline_budget_goes_on_to_finish_on_the_blocking_pool() {
        let dir = database();
        let reader = reader(&dir, 1, Duration::from_secs(5));
        // Some tens of milliseconds of SQL: far past the inline budget, well within the limit.
        let long = Sql::new(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000) \
             SELECT CAST(max(i) AS TEXT) FROM n",
        );
        let started = Instant::now();
        let found = reader
            .batch(vec![value_at(1), long])
            .await
            .expect("the batch runs");
        assert!(started.elapsed() > INLINE_BUDGET, "{:?}", started.elapsed());
        assert_eq!(found, vec![texts(&["one"]), texts(&["300000"])]);
    }

    #[tokio::test]
    async fn a_batch_past_its_time_limit_stops_with_a_timeout_and_the_connection_serves_on() {
        let dir = database();
        let reader = reader(&dir, 1, Duration::from_millis(50));
        let endless = Sql::new(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT max(i) FROM n",
        );
        let started = Instant::now();
        let error = reader
            .batch(vec![value_at(1), endless])
            .await
            .expect_err("an endless statement cannot finish");
        assert!(matches!(error, ApiError::Timeout(_)), "{error}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let found = reader.batch(vec![value_at(1)]).await.expect("served on");
        assert_eq!(found, vec![texts(&["one"])]);
    }
}
