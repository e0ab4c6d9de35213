//! The API's read-only view of the store: its own connection pool over the same database (so slow
//! readers never hold the indexer's write connections), with a statement timeout on PostgreSQL and
//! `query_only` on SQLite, and a small SQL builder that numbers `$n` placeholders.
//!
//! A list of keys (`WHERE key IN …`) is bound as one JSON array parameter and unpacked by the database
//! (`json_each` on SQLite, `json_array_elements_text` on PostgreSQL), so a statement's text is the same
//! whatever the number of keys: each connection prepares it once and reuses it, instead of parsing a new
//! statement with one placeholder per key on every request.

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, FromRow};

use crate::api::error::ApiError;
use crate::api::reader::SqliteReader;
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

/// The API's database handle (cheap to clone).
#[derive(Debug, Clone)]
pub(crate) struct Db {
    pool: AnyPool,
    backend: Backend,
    /// SQLite: the connections batches of one-value statements run on ([`Db::texts`]).
    reader: Option<Arc<SqliteReader>>,
}

impl Db {
    /// A lazily connecting read pool of `connections` over the store's database. On PostgreSQL every
    /// statement is cut off after `statement_timeout`; on SQLite connections are `query_only`.
    pub(crate) fn new(store: &Store, connections: u32, statement_timeout: Duration) -> Self {
        let options = (*store.pool().connect_options()).clone();
        let backend = store.backend();
        let timeout_ms = statement_timeout.as_millis();
        let pool = AnyPoolOptions::new()
            .max_connections(connections)
            .acquire_timeout(statement_timeout)
            // A SQLite connection is a file handle in this process: pinging it before each statement
            // (sqlx's default) costs a round trip to its worker thread and finds nothing.
            .test_before_acquire(backend == Backend::Postgres)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    let setup = match backend {
                        Backend::Sqlite => {
                            "PRAGMA query_only = ON; PRAGMA busy_timeout = 5000;".to_owned()
                        }
                        Backend::Postgres => format!(
                            "SET statement_timeout = {timeout_ms}; \
                             SET default_transaction_read_only = on;"
                        ),
                    };
                    conn.execute(setup.as_str()).await?;
                    Ok(())
                })
            })
            .connect_lazy_with(options);
        let reader = store.sqlite_file().map(|file| {
            Arc::new(SqliteReader::new(
                file,
                connections as usize,
                statement_timeout,
            ))
        });
        Self {
            pool,
            backend,
            reader,
        }
    }

    /// Which database the pool reads.
    pub(crate) fn backend(&self) -> Backend {
        self.backend
    }

    fn query<'q, T>(
        sql: &'q Sql,
    ) -> sqlx::query::QueryAs<'q, sqlx::Any, T, sqlx::any::AnyArguments<'q>>
    where
        T: for<'r> FromRow<'r, AnyRow>,
    {
        let mut query = sqlx::query_as::<_, T>(&sql.text);
        for value in &sql.binds {
            query = match value {
                Val::Int(v) => query.bind(*v),
                Val::Text(v) => query.bind(v.as_str()),
            };
        }
        query
    }

    /// Runs `sql` and decodes every row.
    pub(crate) async fn all<T>(&self, sql: &Sql) -> Result<Vec<T>, ApiError>
    where
        T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
    {
        Ok(Self::query(sql).fetch_all(&self.pool).await?)
    }

    /// Runs `statements`, each yielding one text value, and returns each one's (`None` when it found
    /// no row or a `NULL`): on SQLite in one read transaction on the API's own connections
    /// ([`SqliteReader`]), on PostgreSQL one after the other on one pooled connection.
    pub(crate) async fn texts(
        &self,
        statements: Vec<Sql>,
    ) -> Result<Vec<Option<String>>, ApiError> {
        if statements.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(reader) = &self.reader {
            return reader.texts(statements).await;
        }
        let mut conn = self.pool.acquire().await?;
        let mut found = Vec::with_capacity(statements.len());
        for sql in &statements {
            let row: Option<(Option<String>,)> =
                Self::query(sql).fetch_optional(&mut *conn).await?;
            found.push(row.and_then(|(text,)| text));
        }
        Ok(found)
    }

    /// Runs `sql` and decodes its first row, if any.
    pub(crate) async fn one<T>(&self, sql: &Sql) -> Result<Option<T>, ApiError>
    where
        T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
    {
        Ok(Self::query(sql).fetch_optional(&self.pool).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
