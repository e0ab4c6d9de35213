//! What one statement of a read batch found ([`Db::batch`]), decoded into rows of any
//! `Deserialize` type (the graph walk's tuples) the same way from either backend.
//!
//! On SQLite the API's own connections read the rows straight into a [`Table`]. On PostgreSQL the
//! statement folds its rows into one JSON array (one value handed back through sqlx instead of a
//! row per neighbour). Having SQLite fold them too cost it more than reading them: building the JSON
//! text (quoting every value) and parsing it again took about a third of the graph walk's time in
//! SQL, for no gain on a connection in the same process.
//!
//! [`Db::batch`]: crate::api::db::Db::batch

use serde::de::value::{Error as DecodeError, SeqDeserializer};
use serde::de::{DeserializeOwned, Deserializer, IntoDeserializer, Visitor};

/// What one statement found.
#[derive(Debug)]
pub(crate) enum Found {
    /// Its rows, read from SQLite.
    Table(Table),
    /// Its rows folded into one JSON array by PostgreSQL (`None`: no rows).
    Json(Option<String>),
}

impl Found {
    /// Each row as a `T` (a tuple of the statement's columns, in order); the error names what did
    /// not decode.
    pub(crate) fn decode<T: DeserializeOwned>(self) -> Result<Vec<T>, String> {
        match self {
            Self::Table(table) => table.decode().map_err(|e| e.to_string()),
            Self::Json(None) => Ok(Vec::new()),
            Self::Json(Some(json)) => serde_json::from_str(&json).map_err(|e| e.to_string()),
        }
    }
}

/// Rows read from SQLite: `width` cells each, one row after the other.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Table {
    width: usize,
    cells: Vec<Cell>,
}

impl Table {
    /// An empty table of rows `width` cells wide.
    pub(crate) fn new(width: usize) -> Self {
        Self {
            width,
            cells: Vec::new(),
        }
    }

    /// Adds a cell to the row being read; a row is complete after `width` cells.
    pub(crate) fn push(&mut self, cell: Cell) {
        self.cells.push(cell);
    }

    /// The number of complete rows.
    fn len(&self) -> usize {
        self.cells.len().checked_div(self.width).unwrap_or(0)
    }

    fn decode<T: DeserializeOwned>(self) -> Result<Vec<T>, DecodeError> {
        let rows = self.len();
        let mut cells = self.cells.into_iter();
        (0..rows)
            .map(|_| T::deserialize(SeqDeserializer::new(cells.by_ref().take(self.width))))
            .collect()
    }
}

/// One value of a row: the column types the API reads.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Null,
    Int(i64),
    Text(String),
}

impl<'de> IntoDeserializer<'de, DecodeError> for Cell {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> Deserializer<'de> for Cell {
    type Error = DecodeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self {
            Self::Null => visitor.visit_unit(),
            Self::Int(n) => visitor.visit_i64(n),
            Self::Text(text) => visitor.visit_string(text),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DecodeError> {
        match self {
            Self::Null => visitor.visit_none(),
            cell => visitor.visit_some(cell),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(width: usize, cells: Vec<Cell>) -> Found {
        let mut table = Table::new(width);
        cells.into_iter().for_each(|cell| table.push(cell));
        Found::Table(table)
    }

    #[test]
    fn sqlite_rows_and_postgres_json_decode_to_the_same_tuples() {
        let sqlite = table(
            3,
            vec![
                Cell::Int(1),
                Cell::Text("0xaa".into()),
                Cell::Text("10".into()),
                Cell::Int(2),
                Cell::Text("0xbb".into()),
                Cell::Null,
            ],
        );
        let postgres = Found::Json(Some(r#"[[1,"0xaa","10"],[2,"0xbb",null]]"#.into()));
        let expected = vec![
            (1, "0xaa".to_owned(), Some("10".to_owned())),
            (2, "0xbb".to_owned(), None),
        ];
        assert_eq!(
            sqlite.decode::<(i64, String, Option<String>)>(),
            Ok(expected.clone())
        );
        assert_eq!(
            postgres.decode::<(i64, String, Option<String>)>(),
            Ok(expected)
        );
        assert_eq!(Found::Json(None).decode::<(i64,)>(), Ok(Vec::new()));
        assert_eq!(table(2, Vec::new()).decode::<(i64, i64)>(), Ok(Vec::new()));
    }

    #[test]
    fn a_cell_of_another_type_or_a_row_of_another_width_is_an_error() {
        let text_for_number = table(1, vec![Cell::Text("seven".into())]).decode::<(i64,)>();
        assert!(
            text_for_number.as_ref().is_err_and(|e| e.contains("seven")),
            "{text_for_number:?}"
        );
        let too_wide =
            table(3, vec![Cell::Int(1), Cell::Int(2), Cell::Int(3)]).decode::<(i64, i64)>();
        assert!(too_wide.is_err(), "{too_wide:?}");
        let null_for_text = table(1, vec![Cell::Null]).decode::<(String,)>();
        assert!(null_for_text.is_err(), "{null_for_text:?}");
    }
}
