//! Multi-row `INSERT` (optionally `ON CONFLICT … DO UPDATE`) of many rows of one table, chunked under
//! the backends' bind-parameter limits (a batch's commit on PostgreSQL uses COPY instead, see
//! [`copy`](crate::store::copy)). The same SQL runs on SQLite and PostgreSQL but for its
//! placeholders: `$1, $2, …` on PostgreSQL, anonymous `?` on SQLite, whose parser looks every numbered
//! or named parameter up in a list (quadratic in a statement's parameters: 20 times slower at 30 000).

use sqlx::AnyConnection;

use crate::error::{IndexerError, Result};
use crate::store::Backend;
use crate::store::value::Val;

/// At most this many bind parameters per statement (SQLite allows 32 766, PostgreSQL 65 535).
const MAX_PARAMS: usize = 30_000;

/// Rows for one table.
#[derive(Debug, Clone)]
pub struct RowSet {
    /// The table.
    pub table: &'static str,
    /// All columns, in the rows' order.
    pub columns: Vec<&'static str>,
    /// `Some(n)`: the first `n` columns are the primary key and existing rows are updated (upsert).
    pub upsert_key: Option<usize>,
    /// The rows.
    pub rows: Vec<Vec<Val>>,
}

impl RowSet {
    /// An insert-only set.
    pub fn insert(table: &'static str, columns: &[&'static str]) -> Self {
        Self {
            table,
            columns: columns.to_vec(),
            upsert_key: None,
            rows: Vec::new(),
        }
    }

    /// Appends a row (its values in `columns` order).
    pub fn push(&mut self, row: Vec<Val>) {
        debug_assert_eq!(
            row.len(),
            self.columns.len(),
            "row of {} has the wrong width",
            self.table
        );
        self.rows.push(row);
    }

    pub(crate) fn statement_for(
        backend: Backend,
        table: &str,
        columns: &[&str],
        upsert_key: Option<usize>,
        rows: usize,
    ) -> String {
        let width = columns.len();
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(", "));
        for r in 0..rows {
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for c in 0..width {
                if c > 0 {
                    sql.push_str(", ");
                }
                match backend {
                    Backend::Sqlite => sql.push('?'),
                    Backend::Postgres => {
                        sql.push('$');
                        sql.push_str(&(r * width + c + 1).to_string());
                    }
                }
            }
            sql.push(')');
        }
        if let Some(key) = upsert_key {
            sql.push_str(&Self::conflict_clause(columns, key));
        }
        sql
    }

    /// ` ON CONFLICT (key columns) DO UPDATE SET` every other column: an upsert keyed by the first
    /// `key` columns.
    pub(crate) fn conflict_clause(columns: &[&str], key: usize) -> String {
        let updates: Vec<String> = columns[key..]
            .iter()
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        format!(
            " ON CONFLICT ({}) DO UPDATE SET {}",
            columns[..key].join(", "),
            updates.join(", ")
        )
    }

    /// Writes the rows through `conn`, a `backend` connection (inside the caller's transaction).
    pub async fn write(self, conn: &mut AnyConnection, backend: Backend) -> Result<()> {
        let per_statement = (MAX_PARAMS / self.columns.len()).max(1);
        let mut rows = self.rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<Vec<Val>> = rows.by_ref().take(per_statement).collect();
            let sql = Self::statement_for(
                backend,
                self.table,
                &self.columns,
                self.upsert_key,
                chunk.len(),
            );
            let mut query = sqlx::query(&sql);
            for value in chunk.into_iter().flatten() {
                query = value.bind(query);
            }
            query
                .execute(&mut *conn)
                .await
                .map_err(|source| IndexerError::Database {
                    context: "writing a batch of rows",
                    source,
                })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_numbered_multi_row_upserts() {
        let mut set = RowSet {
            table: "t",
            columns: vec!["k", "a", "b"],
            upsert_key: Some(1),
            rows: vec![],
        };
        set.push(vec![Val::Int(1), Val::Int(2), Val::NullText]);
        assert_eq!(
            RowSet::statement_for(
                Backend::Postgres,
                set.table,
                &set.columns,
                set.upsert_key,
                2
            ),
            "INSERT INTO t (k, a, b) VALUES ($1, $2, $3), ($4, $5, $6) \
             ON CONFLICT (k) DO UPDATE SET a = excluded.a, b = excluded.b"
        );
        assert_eq!(
            RowSet::statement_for(Backend::Sqlite, set.table, &set.columns, None, 2),
            "INSERT INTO t (k, a, b) VALUES (?, ?, ?), (?, ?, ?)"
        );
    }
}
