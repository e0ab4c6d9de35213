//! PostgreSQL's bulk path: a batch's rows go in by `COPY … FROM STDIN` (text format) on a typed
//! connection, since sqlx's `Any` driver has no COPY. An insert-only set is copied straight into its
//! table; an upsert (entities, the block window) into a temporary twin of its table (made once per
//! connection, `prepare`), then moved with one `INSERT … SELECT … ON CONFLICT … DO UPDATE`.

use sqlx::PgConnection;
use sqlx::postgres::PgCopyIn;

use crate::error::{IndexerError, Result};
use crate::store::revert::ENTITY_TABLES;
use crate::store::rows::RowSet;
use crate::store::value::Val;

/// The tables written by upsert: each gets a stage.
const UPSERTED: &[&str] = &["block_hashes"];

fn stage(table: &str) -> String {
    format!("soil_stage_{table}")
}

/// Readies a new connection of the COPY pool (after the migrations): its commits do not wait for
/// their WAL to reach the disk, and it has a stage for every upserted table (a temporary table like
/// it, emptied at every commit).
///
/// Why a batch need not be durable at its commit: its rows and the checkpoint they move to are one
/// transaction, and PostgreSQL keeps a commit atomic and in order with `synchronous_commit = off`; a
/// crash loses at most the last few hundred milliseconds of batches, whole. The indexer then resumes
/// from the checkpoint that did reach the disk (the syncer reads it back after any failure, and each
/// batch checks it follows the stored checkpoint, `store::Follows`) and fetches those blocks again from
/// the chain, which still has them: no gap, no duplicate, only work done twice. Every other write
/// (reverts, rebuilds, the migrations) stays synchronous.
pub(crate) async fn prepare(conn: &mut PgConnection) -> sqlx::Result<()> {
    sqlx::query("SET synchronous_commit = off")
        .execute(&mut *conn)
        .await?;
    for table in ENTITY_TABLES.iter().chain(UPSERTED) {
        sqlx::query(&format!(
            "CREATE TEMP TABLE {} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
            stage(table)
        ))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Rows are sent in pieces of about this many bytes.
const PIECE: usize = 1 << 20;

fn copy_error(source: sqlx::Error) -> IndexerError {
    IndexerError::Database {
        context: "copying a batch of rows",
        source,
    }
}

/// Appends `value` in COPY's text format: `\N` for NULL, and backslash, tab, newline and carriage
/// return escaped in text.
fn push_value(out: &mut Vec<u8>, value: &Val) {
    match value {
        Val::Int(v) => out.extend_from_slice(v.to_string().as_bytes()),
        Val::NullInt | Val::NullText => out.extend_from_slice(b"\\N"),
        Val::Text(text) => {
            for &byte in text.as_bytes() {
                match byte {
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b'\t' => out.extend_from_slice(b"\\t"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    b'\r' => out.extend_from_slice(b"\\r"),
                    _ => out.push(byte),
                }
            }
        }
    }
}

/// Appends one row: values separated by tabs, ended by a newline.
fn push_row(out: &mut Vec<u8>, row: &[Val]) {
    for (i, value) in row.iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        push_value(out, value);
    }
    out.push(b'\n');
}

impl RowSet {
    /// Writes the rows through `conn` (inside the caller's transaction) by COPY.
    pub async fn copy(self, conn: &mut PgConnection) -> Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let columns = self.columns.join(", ");
        let Some(key) = self.upsert_key else {
            return self.send(conn, self.table).await;
        };
        let stage = stage(self.table);
        let move_rows = format!(
            "INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage}{conflict}",
            table = self.table,
            conflict = RowSet::conflict_clause(&self.columns, key),
        );
        self.send(conn, &stage).await?;
        sqlx::query(&move_rows)
            .execute(&mut *conn)
            .await
            .map_err(copy_error)?;
        sqlx::query(&format!("TRUNCATE {stage}"))
            .execute(&mut *conn)
            .await
            .map_err(copy_error)?;
        Ok(())
    }

    /// COPYs the rows into `table` (the set's own, or its stage).
    async fn send(&self, conn: &mut PgConnection, table: &str) -> Result<()> {
        let statement = format!(
            "COPY {table} ({}) FROM STDIN WITH (FORMAT text)",
            self.columns.join(", ")
        );
        let mut copy: PgCopyIn<&mut PgConnection> =
            conn.copy_in_raw(&statement).await.map_err(copy_error)?;
        let mut piece = Vec::with_capacity(PIECE + 4096);
        for row in &self.rows {
            push_row(&mut piece, row);
            if piece.len() >= PIECE {
                copy.send(std::mem::take(&mut piece))
                    .await
                    .map_err(copy_error)?;
                piece.reserve(PIECE + 4096);
            }
        }
        if !piece.is_empty() {
            copy.send(piece).await.map_err(copy_error)?;
        }
        copy.finish().await.map_err(copy_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_format_escapes_what_copy_reads_as_syntax() {
        let mut out = Vec::new();
        push_row(
            &mut out,
            &[
                Val::Int(-7),
                Val::Text("a\tb\\c\nd\re".to_owned()),
                Val::NullText,
                Val::NullInt,
            ],
        );
        assert_eq!(out, b"-7\ta\\tb\\\\c\\nd\\re\t\\N\t\\N\n");
    }
}
