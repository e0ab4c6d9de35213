//! Relay-style cursor pagination over keyset queries.
//!
//! Every list is ordered by an indexed key (an id, or `(block_number, log_index)`); a cursor is that key,
//! opaque to clients. `first`/`after` reads forward from a cursor and `last`/`before` backward, both with
//! `WHERE key > cursor ORDER BY key LIMIT n + 1` (or `<` and descending), so a page costs one index range
//! scan whatever its offset. Page sizes are capped.

use async_graphql::connection::{Connection, CursorType, Edge};
use async_graphql::{Context, Enum, OutputType};

use crate::api::ApiConfig;

use crate::api::db::{Sql, Val};
use crate::api::error::{ApiError, ApiResult, gql};

/// One component of a list's ordering key.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub(crate) enum Key {
    /// A `BIGINT` column (ids, block numbers, log indices).
    Int(i64),
    /// A `TEXT` column (digests).
    Text(String),
}

impl From<Key> for Val {
    fn from(key: Key) -> Self {
        match key {
            Key::Int(v) => Val::Int(v),
            Key::Text(v) => Val::Text(v),
        }
    }
}

/// A list position: the values of the list's ordering key for one row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cursor(pub(crate) Vec<Key>);

impl Cursor {
    /// A cursor over an integer key.
    pub(crate) fn ints(parts: &[i64]) -> Self {
        Self(parts.iter().copied().map(Key::Int).collect())
    }

    fn matches(&self, shape: &[KeyKind]) -> bool {
        self.0.len() == shape.len()
            && self.0.iter().zip(shape).all(|(key, kind)| {
                matches!(
                    (key, kind),
                    (Key::Int(_), KeyKind::Int) | (Key::Text(_), KeyKind::Text)
                )
            })
    }
}

/// The type of one component of a list's key, to check cursors against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    /// An integer component.
    Int,
    /// A text component.
    Text,
}

impl CursorType for Cursor {
    type Error = ApiError;

    fn decode_cursor(s: &str) -> Result<Self, Self::Error> {
        let invalid = || ApiError::InvalidCursor(s.to_owned());
        let bytes = hex::decode(s).map_err(|_| invalid())?;
        let parts: Vec<Key> = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        if parts.is_empty() {
            return Err(invalid());
        }
        Ok(Self(parts))
    }

    fn encode_cursor(&self) -> String {
        hex::encode(serde_json::to_vec(&self.0).unwrap_or_default())
    }
}

/// Sort direction of a list over its key.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Order {
    /// Oldest (smallest key) first.
    #[default]
    Asc,
    /// Newest (largest key) first.
    Desc,
}

/// A validated page request: which side of which cursor, how many rows, in which key order.
#[derive(Debug, Clone)]
pub(crate) struct PageRequest {
    /// Rows must be strictly past this key (in scan order).
    pub(crate) from: Option<Cursor>,
    /// Rows must be strictly before this key (in scan order).
    pub(crate) until: Option<Cursor>,
    /// Rows wanted (the query asks for one more to learn whether a further page exists).
    pub(crate) limit: usize,
    /// Whether the SQL scan runs in ascending key order.
    pub(crate) ascending: bool,
    /// `true` when reading backwards (`last`/`before`): rows are reversed after the scan.
    pub(crate) backward: bool,
    /// Whether a cursor was given on the side the client came from.
    pub(crate) came_from_cursor: bool,
}

impl PageRequest {
    /// Validates Relay arguments against the page-size cap; `default` rows when neither `first` nor
    /// `last` is given.
    pub(crate) fn new(
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        order: Order,
        shape: &[KeyKind],
        limits: (usize, usize),
    ) -> ApiResult<Self> {
        let (max, default) = limits;
        let check = |argument: &'static str, given: i32| -> ApiResult<usize> {
            usize::try_from(given)
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| {
                    gql(ApiError::PageSize {
                        argument,
                        given,
                        max,
                    })
                })
        };
        let decode = |c: Option<String>| -> ApiResult<Option<Cursor>> {
            let Some(s) = c else { return Ok(None) };
            match Cursor::decode_cursor(&s) {
                Ok(cursor) if cursor.matches(shape) => Ok(Some(cursor)),
                _ => Err(gql(ApiError::InvalidCursor(s))),
            }
        };
        let (after, before) = (decode(after)?, decode(before)?);
        let (limit, backward) = match (first, last) {
            (Some(_), Some(_)) => return Err(gql(ApiError::BothDirections)),
            (Some(n), None) => (check("first", n)?, false),
            (None, Some(n)) => (check("last", n)?, true),
            (None, None) => (default.min(max), before.is_some() && after.is_none()),
        };
        let ascending = (order == Order::Asc) != backward;
        let (from, until) = if backward {
            (before, after)
        } else {
            (after, before)
        };
        Ok(Self {
            came_from_cursor: from.is_some(),
            from,
            until,
            limit,
            ascending,
            backward,
        })
    }

    /// Appends the keyset range (`AND (cols) > (cursor)` …), then `ORDER BY cols` and `LIMIT n + 1` to
    /// a query whose `WHERE` clause is already open.
    pub(crate) fn append(&self, sql: &mut Sql, cols: &[&str]) {
        let tuple = format!("({})", cols.join(", "));
        let (past, before, direction) = if self.ascending {
            (">", "<", "ASC")
        } else {
            ("<", ">", "DESC")
        };
        for (cursor, op) in [(&self.from, past), (&self.until, before)] {
            if let Some(cursor) = cursor {
                sql.push(&format!(" AND {tuple} {op} ("));
                for (i, key) in cursor.0.iter().enumerate() {
                    if i > 0 {
                        sql.push(", ");
                    }
                    sql.bind(Val::from(key.clone()));
                }
                sql.push(")");
            }
        }
        let order: Vec<String> = cols.iter().map(|c| format!("{c} {direction}")).collect();
        sql.push(&format!(" ORDER BY {} LIMIT ", order.join(", ")));
        sql.bind(Val::Int(
            i64::try_from(self.limit)
                .unwrap_or(i64::MAX)
                .saturating_add(1),
        ));
    }

    /// Turns the scanned rows (at most [`Self::fetch`], in scan order) into a connection.
    pub(crate) fn connection<T: OutputType>(
        &self,
        mut rows: Vec<T>,
        key: impl Fn(&T) -> Cursor,
    ) -> Connection<Cursor, T> {
        let more = rows.len() > self.limit;
        rows.truncate(self.limit);
        if self.backward {
            rows.reverse();
        }
        let (has_previous, has_next) = if self.backward {
            (more, self.came_from_cursor)
        } else {
            (self.came_from_cursor, more)
        };
        let mut connection = Connection::new(has_previous, has_next);
        connection
            .edges
            .extend(rows.into_iter().map(|row| Edge::new(key(&row), row)));
        connection
    }
}

/// Complexity of a connection field: its page size times the cost of one node (for
/// `limit_complexity`).
pub(crate) fn cost(first: Option<i32>, last: Option<i32>, child: usize) -> usize {
    let rows = first
        .or(last)
        .map_or(DEFAULT_PAGE_SIZE, |n| usize::try_from(n).unwrap_or(0));
    rows.max(1).saturating_mul(child).saturating_add(1)
}

/// Rows on a page when neither `first` nor `last` is given.
pub(crate) const DEFAULT_PAGE_SIZE: usize = 20;

/// Validates a list's page arguments against the configured cap.
pub(crate) fn page(
    ctx: &Context<'_>,
    (first, after, last, before): (Option<i32>, Option<String>, Option<i32>, Option<String>),
    order: Order,
    shape: &[KeyKind],
) -> ApiResult<PageRequest> {
    let max = ctx.data_unchecked::<ApiConfig>().max_page_size;
    PageRequest::new(
        first,
        after,
        last,
        before,
        order,
        shape,
        (max, DEFAULT_PAGE_SIZE.min(max)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const INT: &[KeyKind] = &[KeyKind::Int];

    #[test]
    fn cursor_round_trips_and_rejects_foreign_strings() {
        let cursor = Cursor(vec![Key::Int(12), Key::Text("0xab".into()), Key::Int(-3)]);
        assert_eq!(
            Cursor::decode_cursor(&cursor.encode_cursor()).unwrap(),
            cursor
        );
        for bad in [
            "",
            "zz",
            &hex::encode("[]"),
            &hex::encode("{\"a\":1}"),
            &hex::encode("[1.5]"),
        ] {
            assert!(Cursor::decode_cursor(bad).is_err(), "{bad:?} decoded");
        }
    }

    #[test]
    fn page_request_caps_and_directions() {
        let over =
            PageRequest::new(Some(101), None, None, None, Order::Asc, INT, (100, 20)).unwrap_err();
        assert_eq!(over.message, "`first` must be between 0 and 100, got 101");
        assert!(PageRequest::new(Some(-1), None, None, None, Order::Asc, INT, (100, 20)).is_err());
        assert!(
            PageRequest::new(Some(1), None, Some(1), None, Order::Asc, INT, (100, 20)).is_err()
        );
        let back = PageRequest::new(None, None, Some(5), None, Order::Asc, INT, (100, 20)).unwrap();
        assert!(back.backward && !back.ascending && back.limit == 5);
        let desc =
            PageRequest::new(Some(5), None, None, None, Order::Desc, INT, (100, 20)).unwrap();
        assert!(!desc.backward && !desc.ascending);
        let default = PageRequest::new(None, None, None, None, Order::Asc, INT, (100, 20)).unwrap();
        assert_eq!(default.limit, 20);
    }

    #[test]
    fn connection_reports_further_pages() {
        let req = PageRequest::new(Some(2), None, None, None, Order::Asc, INT, (100, 20)).unwrap();
        let c = req.connection(vec![1_i64, 2, 3], |n| Cursor::ints(&[*n]));
        assert_eq!(c.edges.len(), 2);
        assert!(c.has_next_page && !c.has_previous_page);
        let back = PageRequest::new(
            None,
            None,
            Some(2),
            Some(Cursor::ints(&[9]).encode_cursor()),
            Order::Asc,
            INT,
            (100, 20),
        )
        .unwrap();
        let c = back.connection(vec![8_i64, 7], |n| Cursor::ints(&[*n]));
        let nodes: Vec<i64> = c.edges.iter().map(|e| e.node).collect();
        assert_eq!(nodes, vec![7, 8]);
        assert!(!c.has_previous_page && c.has_next_page);
    }
}
