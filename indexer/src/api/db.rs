//! The API's read-only view of the store: its own connection pool over the same database (so slow
//! readers never hold the indexer's write connections), with a statement timeout on both (PostgreSQL's
//! `statement_timeout`; on SQLite, `query_only` connections whose progress handler interrupts a
//! statement past its deadline), and a small SQL builder that numbers `$n` placeholders.
//!
//! On SQLite the pool is sqlx's typed one, not `Any`: the progress handler is set through the
//! connection's raw handle, which `Any` hides. Without it a statement ran on after its request had
//! given up, until it yielded its next row (sqlx's worker stops there once nobody reads the rows).
//!
//! A list of keys (`WHERE key IN …`) is bound as one JSON array parameter and unpacked by the database
//! (`json_each` on SQLite, `json_array_elements_text` on PostgreSQL), so a statement's text is the same
//! whatever the number of keys: each connection prepares it once and reuses it, instead of parsing a new
//! statement with one placeholder per key on every request.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions, SqliteRow};
use sqlx::{AnyPool, Database, Executor, FromRow, Sqlite, SqlitePool};

use crate::api::error::ApiError;
use crate::api::reader::{BUSY_TIMEOUT, MAPPED_BYTES, STEPS_PER_CHECK, SqliteReader};
use crate::api::rows::Found;
use crate::store::{Backend, Store};

/// A value bound into a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Val {
    /// A `BIGINT`.
    Int(i64),
    /// A `TEXT`.
    Text(String),
}

/// A SQL statement under construction with its bound values.
#[derive(Debug, Default, Clone)]
pub(crate) struct Sql {
    text: String,
    binds: Vec<Val>,
}

impl Sql {
    /// Starts a statement.
    pub(crate) fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            binds: Vec::new(),
        }
    }

    /// Appends SQL text.
    pub(crate) fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a `$n` placeholder bound to `value`.
    pub(crate) fn bind(&mut self, value: impl Into<Val>) -> &mut Self {
        self.binds.push(value.into());
        self.text.push('$');
        self.text.push_str(&self.binds.len().to_string());
        self
    }

    /// Appends a subquery yielding `values`, for `key IN …`: one `$n` bound to the values as a JSON
    /// array, unpacked the `backend`'s way and typed like the values (`BIGINT` or `TEXT`). An empty
    /// list is `(NULL)`, which matches nothing whatever the key's type.
    pub(crate) fn bind_list<V: Into<Val>>(
        &mut self,
        backend: Backend,
        values: impl IntoIterator<Item = V>,
    ) -> &mut Self {
        let values: Vec<Val> = values.into_iter().map(Into::into).collect();
        if values.is_empty() {
            return self.push("(NULL)");
        }
        let ints = matches!(values.first(), Some(Val::Int(_)));
        let json = serde_json::Value::Array(
            values
                .into_iter()
                .map(|v| match v {
                    Val::Int(i) => i.into(),
                    Val::Text(t) => t.into(),
                })
                .collect(),
        );
        let (open, close) = match (backend, ints) {
            (Backend::Sqlite, _) => ("(SELECT value FROM json_each(", "))"),
            (Backend::Postgres, true) => (
                "(SELECT CAST(value AS BIGINT) FROM json_array_elements_text(CAST(",
                " AS JSON)))",
            ),
            (Backend::Postgres, false) => (
                "(SELECT value FROM json_array_elements_text(CAST(",
                " AS JSON)))",
            ),
        };
        self.push(open).bind(json.to_string()).push(close)
    }

    /// The SQL text.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// The bound values, in placeholder order.
    pub(crate) fn binds(&self) -> &[Val] {
        &self.binds
    }
}

impl Val {
    /// The value as a key in a [`crate::api::reads::ReadSet`]: the text the store's change log names
    /// the same key by ([`crate::store::changes::key_text`]).
    pub(crate) fn key_text(&self) -> String {
        match self {
            Self::Int(v) => v.to_string(),
            Self::Text(v) => v.clone(),
        }
    }
}

impl From<i64> for Val {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}

impl From<String> for Val {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}

impl From<&str> for Val {
    fn from(v: &str) -> Self {
        Self::Text(v.to_owned())
    }
}

/// A row type the API reads, from either backend's rows.
pub(crate) trait Row:
    for<'r> FromRow<'r, AnyRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin
{
}

impl<T> Row for T where
    T: for<'r> FromRow<'r, AnyRow> + for<'r> FromRow<'r, SqliteRow> + Send + Unpin
{
}

/// The read connections of one backend.
#[derive(Debug, Clone)]
enum Pool {
    Sqlite {
        /// Where rows are read ([`Db::all`], [`Db::one`]).
        rows: SqlitePool,
        /// Where batches of statements run ([`Db::batch`]).
        batches: Arc<SqliteReader>,
    },
    Postgres(AnyPool),
}

/// The API's database handle (cheap to clone).
#[derive(Debug, Clone)]
pub(crate) struct Db {
    pool: Pool,
    statement_timeout: Duration,
}

impl Db {
    /// A lazily connecting read pool of `connections` over the store's database. Every statement is
    /// cut off after `statement_timeout`: by the server on PostgreSQL, by the progress handler on
    /// SQLite, whose connections are also `query_only`.
    pub(crate) fn new(store: &Store, connections: u32, statement_timeout: Duration) -> Self {
        let pool = match store.sqlite_file() {
            Some(file) => Pool::Sqlite {
                rows: SqlitePoolOptions::new()
                    .max_connections(connections)
                    .acquire_timeout(statement_timeout)
                    // A connection is a file handle in this process: pinging it before each
                    // statement (sqlx's default) costs a round trip to its worker thread.
                    .test_before_acquire(false)
                    .connect_lazy_with(
                        SqliteConnectOptions::new()
                            .filename(file)
                            .create_if_missing(false)
                            .pragma("query_only", "ON")
                            .pragma("mmap_size", MAPPED_BYTES.to_string())
                            .busy_timeout(BUSY_TIMEOUT),
                    ),
                batches: Arc::new(SqliteReader::new(
                    file,
                    connections as usize,
                    statement_timeout,
                )),
            },
            None => {
                let timeout_ms = statement_timeout.as_millis();
                Pool::Postgres(
                    AnyPoolOptions::new()
                        .max_connections(connections)
                        .acquire_timeout(statement_timeout)
                        .after_connect(move |conn, _| {
                            Box::pin(async move {
                                conn.execute(
                                    format!(
                                        "SET statement_timeout = {timeout_ms}; \
                                         SET default_transaction_read_only = on;"
                                    )
                                    .as_str(),
                                )
                                .await?;
                                Ok(())
                            })
                        })
                        .connect_lazy_with((*store.pool().connect_options()).clone()),
                )
            }
        };
        Self {
            pool,
            statement_timeout,
        }
    }

    /// Which database the pool reads.
    pub(crate) fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite { .. } => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    fn query<'q, DB, T>(
        sql: &'q Sql,
    ) -> sqlx::query::QueryAs<'q, DB, T, <DB as Database>::Arguments<'q>>
    where
        DB: Database,
        T: for<'r> FromRow<'r, DB::Row>,
        i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
        &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    {
        let mut query = sqlx::query_as::<DB, T>(&sql.text);
        for value in &sql.binds {
            query = match value {
                Val::Int(v) => query.bind(*v),
                Val::Text(v) => query.bind(v.as_str()),
            };
        }
        query
    }

    /// A SQLite connection whose statements are interrupted once `statement_timeout` has passed from
    /// now (the handler replaces the one its last user set).
    async fn sqlite(&self, pool: &SqlitePool) -> Result<PoolConnection<Sqlite>, ApiError> {
        let mut conn = pool.acquire().await?;
        let deadline = Instant::now() + self.statement_timeout;
        conn.lock_handle()
            .await?
            .set_progress_handler(STEPS_PER_CHECK, move || Instant::now() <= deadline);
        Ok(conn)
    }

    /// What a failed SQLite statement is to the request: its time limit when it was interrupted.
    fn sqlite_error(&self, e: sqlx::Error) -> ApiError {
        let interrupted = e
            .as_database_error()
            .and_then(|e| e.code())
            .is_some_and(|code| code == rusqlite::ffi::SQLITE_INTERRUPT.to_string());
        if interrupted {
            ApiError::Timeout(self.statement_timeout)
        } else {
            ApiError::Database(e)
        }
    }

    /// Runs `sql` and decodes every row.
    pub(crate) async fn all<T: Row>(&self, sql: &Sql) -> Result<Vec<T>, ApiError> {
        match &self.pool {
            Pool::Sqlite { rows, .. } => {
                let mut conn = self.sqlite(rows).await?;
                Self::query(sql)
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(|e| self.sqlite_error(e))
            }
            Pool::Postgres(pool) => Ok(Self::query(sql).fetch_all(pool).await?),
        }
    }

    /// Runs `statements` and returns what each one found: on SQLite their rows, read in one read
    /// transaction on the API's own connections ([`SqliteReader`]); on PostgreSQL, one after the
    /// other on one pooled connection, the one JSON text each folds its rows into.
    pub(crate) async fn batch(&self, statements: Vec<Sql>) -> Result<Vec<Found>, ApiError> {
        if statements.is_empty() {
            return Ok(Vec::new());
        }
        let pool = match &self.pool {
            Pool::Sqlite { batches, .. } => {
                let tables = batches.batch(statements).await?;
                return Ok(tables.into_iter().map(Found::Table).collect());
            }
            Pool::Postgres(pool) => pool,
        };
        let mut conn = pool.acquire().await?;
        let mut found = Vec::with_capacity(statements.len());
        for sql in &statements {
            let row: Option<(Option<String>,)> =
                Self::query(sql).fetch_optional(&mut *conn).await?;
            found.push(Found::Json(row.and_then(|(text,)| text)));
        }
        Ok(found)
    }

    /// Runs `sql` and decodes its first row, if any.
    pub(crate) async fn one<T: Row>(&self, sql: &Sql) -> Result<Option<T>, ApiError> {
        match &self.pool {
            Pool::Sqlite { rows, .. } => {
                let mut conn = self.sqlite(rows).await?;
                Self::query(sql)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(|e| self.sqlite_error(e))
            }
            Pool::Postgres(pool) => Ok(Self::query(sql).fetch_optional(pool).await?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sqlite_row_read_past_its_time_limit_stops_with_a_timeout_and_the_pool_serves_on() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("rows.db").display());
        let store = Store::open(&url).await.expect("a migrated store");
        let db = Db::new(&store, 1, Duration::from_millis(50));
        // A count over an endless series: no row comes out before it ends, so only the progress
        // handler can stop it.
        let endless = Sql::new(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT COUNT(*) FROM n",
        );
        let started = Instant::now();
        let error = db
            .all::<(i64,)>(&endless)
            .await
            .expect_err("an endless statement cannot finish");
        assert!(matches!(error, ApiError::Timeout(_)), "{error}");
        assert!(started.elapsed() < Duration::from_secs(5));
        // The one connection, with a deadline of its own this time.
        let mut one = Sql::new("SELECT ");
        one.bind(7);
        assert_eq!(db.one::<(i64,)>(&one).await.expect("served on"), Some((7,)));
    }

    #[test]
    fn placeholders_are_numbered_in_bind_order() {
        let mut sql = Sql::new("SELECT 1 FROM t WHERE a = ");
        sql.bind(7)
            .push(" AND b IN ")
            .bind_list(Backend::Sqlite, ["x", "y\""]);
        assert_eq!(
            sql.text(),
            "SELECT 1 FROM t WHERE a = $1 AND b IN (SELECT value FROM json_each($2))"
        );
        assert_eq!(
            sql.binds,
            vec![Val::Int(7), Val::Text(r#"["x","y\""]"#.into())]
        );
    }

    #[test]
    fn key_lists_keep_one_statement_text_whatever_their_length() {
        let text = |keys: &[i64]| {
            let mut sql = Sql::new("SELECT 1 FROM t WHERE k IN ");
            sql.bind_list(Backend::Postgres, keys.iter().copied());
            (sql.text().to_owned(), sql.binds)
        };
        let (one, one_binds) = text(&[1]);
        let (three, three_binds) = text(&[1, 2, 3]);
        assert_eq!(one, three);
        assert_eq!(
            one,
            "SELECT 1 FROM t WHERE k IN \
             (SELECT CAST(value AS BIGINT) FROM json_array_elements_text(CAST($1 AS JSON)))"
        );
        assert_eq!(one_binds, vec![Val::Text("[1]".into())]);
        assert_eq!(three_binds, vec![Val::Text("[1,2,3]".into())]);
        let (none, none_binds) = text(&[]);
        assert_eq!(none, "SELECT 1 FROM t WHERE k IN (NULL)");
        assert!(none_binds.is_empty());
    }
}
