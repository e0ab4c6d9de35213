//! How Rust values map to the schema's column types (see `SCHEMA.md`): integers as `BIGINT`, amounts as
//! decimal `TEXT`, addresses and hashes as lowercase `0x` hex `TEXT`, flags as 0/1.

use alloy::primitives::{Address, B256, Bytes, U256};
use sqlx::Row;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;

use crate::error::{IndexerError, Result};

/// A value bound into a statement. Nulls carry their column's type (PostgreSQL checks it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Val {
    /// A `BIGINT`.
    Int(i64),
    /// A `TEXT`.
    Text(String),
    /// A `BIGINT` NULL.
    NullInt,
    /// A `TEXT` NULL.
    NullText,
}

impl Val {
    /// Binds the value as the next parameter of `query`.
    pub fn bind<'q>(
        self,
        query: Query<'q, sqlx::Any, AnyArguments<'q>>,
    ) -> Query<'q, sqlx::Any, AnyArguments<'q>> {
        match self {
            Self::Int(v) => query.bind(v),
            Self::Text(v) => query.bind(v),
            Self::NullInt => query.bind(None::<i64>),
            Self::NullText => query.bind(None::<String>),
        }
    }
}

/// `0x` + lowercase hex of `bytes`.
pub fn hex0x(bytes: &[u8]) -> String {
    alloy::primitives::hex::encode_prefixed(bytes)
}

/// A string from the chain as stored in a `TEXT` column: every NUL (U+0000) becomes U+FFFD, since
/// PostgreSQL's text cannot hold it; both stores hold the same text. Any other character is kept.
pub fn stored_text(text: &str) -> String {
    text.replace('\0', "\u{FFFD}")
}

/// A `string` from the chain as stored: the text of [`stored_text`], and the bytes the chain holds
/// (0x hex) when that text is not exactly them (they were not UTF-8, or held a NUL); `None` when it is.
/// `decoded` is the string as the ABI decoder read it (U+FFFD for each invalid UTF-8 sequence), `raw`
/// its bytes where the decoder read them apart (it does where they are not `decoded`'s UTF-8).
pub fn chain_string(decoded: &str, raw: Option<&Bytes>) -> (String, Option<String>) {
    let text = stored_text(decoded);
    let raw = raw.map_or(decoded.as_bytes(), |raw| raw.as_ref());
    let bytes = (raw != text.as_bytes()).then(|| hex0x(raw));
    (text, bytes)
}

/// A `u64` from the chain as a database integer.
pub fn int(what: &'static str, value: u64) -> Result<i64> {
    i64::try_from(value).map_err(|_| IndexerError::IntegerOutOfRange {
        what,
        value: value.to_string(),
    })
}

/// A Rust type stored in one column.
pub trait Column: Sized {
    /// The value to bind.
    fn to_val(&self) -> Val;
    /// Reads the column `name` of `row` (of `table`, for the error message).
    fn decode(row: &AnyRow, name: &str, table: &'static str) -> Result<Self>;
}

fn corrupt(table: &'static str, name: &str, reason: impl std::fmt::Display) -> IndexerError {
    IndexerError::CorruptRow {
        table,
        reason: format!("column {name}: {reason}"),
    }
}

fn text(row: &AnyRow, name: &str, table: &'static str) -> Result<String> {
    row.try_get::<String, _>(name)
        .map_err(|e| corrupt(table, name, e))
}

impl Column for i64 {
    fn to_val(&self) -> Val {
        Val::Int(*self)
    }
    fn decode(row: &AnyRow, name: &str, table: &'static str) -> Result<Self> {
        row.try_get::<i64, _>(name)
            .map_err(|e| corrupt(table, name, e))
    }
}

impl Column for Option<i64> {
    fn to_val(&self) -> Val {
        self.map_or(Val::NullInt, Val::Int)
    }
    fn decode(row: &AnyRow, name: &str, table: &'static str) -> Result<Self> {
        row.try_get::<Option<i64>, _>(name)
            .map_err(|e| corrupt(table, name, e))
    }
}

impl Column for bool {
    fn to_val(&self) -> Val {
        Val::Int(i64::from(*self))
    }
    fn decode(row: &AnyRow, name: &str, table: &'static str) -> Result<Self> {
        Ok(i64::decode(row, name, table)? != 0)
    }
}

impl Column for String {
    fn to_val(&self) -> Val {
        Val::Text(self.clone())
    }
    fn decode(row: &AnyRow, name: &str, table: &'static str) -> Result<Self> {
        text(row, name, table)
    }
}

/// Text column `name` read as `T`; `what` names what it must hold, for the error.
fn parsed<T>(text: &str, name: &str, table: &'static str, what: &str) -> Result<T>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    text.parse::<T>()
        .map_err(|e| corrupt(table, name, format!("`{text}` is not {what}: {e}")))
}

/// Text column `name` read as `T`, or `None` when it is NULL.
fn parsed_or_null<T>(row: &AnyRow, name: &str, table: &'static str, what: &str) -> Result<Option<T>>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    Option::<String>::decode(row, name, table)?
        .map(|text| parsed(&text, name, table, what))
        .transpose()
}

const AMOUNT: &str = "a decimal amount";
const ADDRESS: &str = "an address";
const HASH: &str = "a 32-byte hash";

impl Column for U256 {
    fn to_val(&self) -> Val {
        Val::Text(self.to_string())
    }
    fn decode(row: &AnyRow, name: &str, table: &'static str) -> Result<Self> {
        parsed(&text(row, name, table)?, name, table, AMOUNT)
    }
}

impl Column for Option<U256> {
    fn to_val(&self) -> Val {
        self.as_ref().map_or(Val::NullText, Column::to_val)
    }
    fn decode(row: &AnyRow, name: &str, table: &'static str) -> Result<Self> {
        parsed_or_null(row, name, table, AMOUNT)
    }
}

impl Column for Address {
    fn to_val(&self) -> Val {
        Val::Text(hex0x(self.as_slice()))
    }
    fn decode(row: &AnyRow, name: &str, table: &'static str) -> Result<Self> {
        parsed(&text(row, name, table)?, name, table, ADDRESS)
    }
}

impl Column for Option<Address> {
    fn to_val(&self) -> Val {
        self.as_ref().map_or(Val::NullText, Column::to_val)
    }
    fn decode(row: &AnyRow, name: &str, table: &'static str) -> Result<Self> {
        parsed_or_null(row, name, table, ADDRESS)
    }
}

impl Column for B256 {
    fn to_val(&self) -> Val {
        Val::Text(hex0x(self.as_slice()))
    }
    fn decode(row: &AnyRow, name: &str, table: &'static str) -> Result<Self> {
        parsed(&text(row, name, table)?, name, table, HASH)
    }
}

impl Column for Option<B256> {
    fn to_val(&self) -> Val {
        self.as_ref().map_or(Val::NullText, Column::to_val)
    }
    fn decode(row: &AnyRow, name: &str, table: &'static str) -> Result<Self> {
        parsed_or_null(row, name, table, HASH)
    }
}

impl Column for Option<String> {
    fn to_val(&self) -> Val {
        self.as_ref().map_or(Val::NullText, Column::to_val)
    }
    fn decode(row: &AnyRow, name: &str, table: &'static str) -> Result<Self> {
        row.try_get::<Option<String>, _>(name)
            .map_err(|e| corrupt(table, name, e))
    }
}
