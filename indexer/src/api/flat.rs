//! Long lists of small objects written straight to JSON: the graph's nodes and edges.
//!
//! async-graphql resolves a list item by item and an object field by field, each a future of its own,
//! and builds its value tree (a map per object, a string per field), which is then serialized and
//! freed. A depth-2 `attributionGraph` has about 1,000 objects of four or five fields. Resolved a list
//! at a time into that tree, building, serializing and freeing it still took about 40 % of an uncached
//! graph request. A [`Flat`] list reads its selection once (response keys, through fragments, as
//! async-graphql's own [`SelectionField`] walks them) and writes each item's fields as JSON text, which
//! the handler splices into the serialized answer ([`Splices`]).
//!
//! Only for objects whose fields are plain values with no arguments (scalars and enums): nothing
//! per field to resolve, no error to raise. The schema does not change: a `Flat<T>` has the type of a
//! `[T!]!`, and `@skip`/`@include` are taken out of the query before any resolver runs. Executed
//! without [`Splices`] (a query over the WebSocket), the text is read back into a value.
//!
//! [`SelectionField`]: async_graphql::SelectionField

use std::borrow::Cow;

use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::{
    Context, ContextSelectionSet, EnumType, OutputType, Positioned, ServerError, ServerResult,
    Value,
};

use crate::api::splice::Splices;

/// An object type whose fields are plain values, written a list at a time by [`Flat`].
pub(crate) trait FlatObject: OutputType {
    /// A field of the type.
    type Field: Copy;

    /// The field the schema names `name`; `None` when the type has no such field.
    fn field(name: &str) -> Option<Self::Field>;

    /// Writes this object's value of `field`, as async-graphql would serialize it.
    fn write(&self, field: Self::Field, json: &mut Json);
}

/// JSON text being written.
#[derive(Debug, Default)]
pub(crate) struct Json(Vec<u8>);

impl Json {
    /// A JSON string. Text with nothing to escape (the graph's ids, labels and amounts) is copied
    /// between quotes: serde_json's escaping looks bytes up one at a time, and was about half of
    /// writing an uncached graph's lists.
    pub(crate) fn string(&mut self, text: &str) {
        if needs_no_escape(text.as_bytes()) {
            self.0.reserve(text.len() + 2);
            self.0.push(b'"');
            self.0.extend_from_slice(text.as_bytes());
            self.0.push(b'"');
        } else {
            serde_json::to_writer(&mut self.0, text).expect("writing JSON into memory cannot fail");
        }
    }

    /// A JSON number, or null when `number` is not finite (as async-graphql writes an `f64`).
    pub(crate) fn float(&mut self, number: f64) {
        serde_json::to_writer(&mut self.0, &number).expect("writing JSON into memory cannot fail");
    }

    /// `null`.
    pub(crate) fn null(&mut self) {
        self.0.extend_from_slice(b"null");
    }

    /// An enum value, by the name the schema gives it.
    pub(crate) fn enumeration<E: EnumType + PartialEq>(&mut self, item: &E) {
        match E::items().iter().find(|i| i.value == *item) {
            Some(i) => self.string(i.name),
            None => self.null(),
        }
    }

    fn raw(&mut self, text: &[u8]) {
        self.0.extend_from_slice(text);
    }
}

/// Whether `text` is a JSON string's contents as it stands: no control character, quote or
/// backslash (JSON escapes nothing else). Tested 16 bytes at a time with no branch inside a block,
/// which the compiler turns into a few vector compares; the last bytes are padded with spaces to a
/// block of their own (most strings written here are shorter than two blocks).
fn needs_no_escape(text: &[u8]) -> bool {
    fn plain(block: &[u8; 16]) -> bool {
        block.iter().fold(true, |all, &b| {
            all & (b >= 0x20) & (b != b'"') & (b != b'\\')
        })
    }
    let mut blocks = text.chunks_exact(16);
    let mut last = [b' '; 16];
    blocks.all(|block| plain(block.try_into().expect("a block of 16 bytes"))) && {
        let rest = blocks.remainder();
        last[..rest.len()].copy_from_slice(rest);
        plain(&last)
    }
}

/// What one response key of a list's selection holds.
#[derive(Debug, Clone, Copy)]
enum Column<F> {
    /// The type's name (`__typename`).
    Typename,
    Field(F),
}

/// The fields a list's selection asks each item for.
#[derive(Debug)]
struct Selection<F> {
    /// Each response key (alias or name) once, in the order the query first names it, written as
    /// `"key":`, with what it holds.
    columns: Vec<(Vec<u8>, Column<F>)>,
}

impl<F: Copy> Selection<F> {
    /// The subfields selected on the list field `ctx` resolves (fragments unfolded), or why one of
    /// them is not a field of `T`.
    fn of<T: FlatObject<Field = F>>(ctx: &Context<'_>) -> Result<Self, String> {
        let mut keys: Vec<&str> = Vec::new();
        let mut columns = Vec::new();
        for field in ctx.field().selection_set() {
            let key = field.alias().unwrap_or(field.name());
            if keys.contains(&key) {
                continue;
            }
            keys.push(key);
            let column = match field.name() {
                "__typename" => Column::Typename,
                name => Column::Field(T::field(name).ok_or_else(|| {
                    format!(
                        "Cannot query field \"{name}\" on type \"{}\".",
                        T::type_name()
                    )
                })?),
            };
            let mut written = Json::default();
            written.string(key);
            written.raw(b":");
            columns.push((written.0, column));
        }
        Ok(Self { columns })
    }

    /// `items` as a JSON array of objects holding the selected fields.
    fn write<T: FlatObject<Field = F>>(&self, items: &[T]) -> Vec<u8> {
        let mut json = Json(Vec::with_capacity(
            items.len() * 32 * (self.columns.len() + 1),
        ));
        json.raw(b"[");
        for (i, item) in items.iter().enumerate() {
            json.raw(if i == 0 { b"{" } else { b",{" });
            for (j, (key, column)) in self.columns.iter().enumerate() {
                if j > 0 {
                    json.raw(b",");
                }
                json.raw(key);
                match *column {
                    Column::Typename => json.string(&T::type_name()),
                    Column::Field(field) => item.write(field, &mut json),
                }
            }
            json.raw(b"}");
        }
        json.raw(b"]");
        json.0
    }
}

/// A list written in one pass over its selection (see the module's doc).
#[derive(Debug)]
pub(crate) struct Flat<'a, T: FlatObject> {
    items: &'a [T],
    selection: Result<Selection<T::Field>, String>,
}

impl<'a, T: FlatObject> Flat<'a, T> {
    /// `items` as the value of the list field `ctx` resolves.
    pub(crate) fn new(ctx: &Context<'_>, items: &'a [T]) -> Self {
        Self {
            items,
            selection: Selection::of::<T>(ctx),
        }
    }
}

impl<T: FlatObject + Sync> OutputType for Flat<'_, T>
where
    T::Field: Send + Sync,
{
    fn type_name() -> Cow<'static, str> {
        <Vec<T> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<T> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<T> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let error = |message: String| ServerError::new(message, Some(field.pos));
        let json = self
            .selection
            .as_ref()
            .map_err(|m| error(m.clone()))?
            .write(self.items);
        match ctx.data_opt::<std::sync::Arc<Splices>>() {
            Some(splices) => Ok(splices.mark(json)),
            None => serde_json::from_slice(&json).map_err(|e| error(e.to_string())),
        }
    }
}

/// The fields of `T`'s schema type that `T` does not write (each flat type's tests expect none).
#[cfg(test)]
pub(crate) fn unwritten_fields<T: FlatObject>() -> Vec<String> {
    let mut registry = Registry::default();
    T::create_type_info(&mut registry);
    registry.types[T::type_name().as_ref()]
        .fields()
        .into_iter()
        .flatten()
        .map(|(field, _)| field)
        .filter(|field| !field.starts_with("__") && T::field(field).is_none())
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_graphql::{
        EmptyMutation, EmptySubscription, Enum, Object, Request, Schema, SimpleObject,
    };

    use super::*;

    #[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
    enum Shade {
        Light,
        Dark,
    }

    #[derive(SimpleObject, Debug, Clone)]
    struct Tile {
        id: String,
        shade: Shade,
        weight: f64,
        note: Option<String>,
    }

    #[derive(Debug, Clone, Copy)]
    enum TileField {
        Id,
        Shade,
        Weight,
        Note,
    }

    impl FlatObject for Tile {
        type Field = TileField;

        fn field(name: &str) -> Option<TileField> {
            Some(match name {
                "id" => TileField::Id,
                "shade" => TileField::Shade,
                "weight" => TileField::Weight,
                "note" => TileField::Note,
                _ => return None,
            })
        }

        fn write(&self, field: TileField, json: &mut Json) {
            match field {
                TileField::Id => json.string(&self.id),
                TileField::Shade => json.enumeration(&self.shade),
                TileField::Weight => json.float(self.weight),
                TileField::Note => match &self.note {
                    Some(note) => json.string(note),
                    None => json.null(),
                },
            }
        }
    }

    struct Query(Vec<Tile>);

    #[Object]
    impl Query {
        async fn flat(&self, ctx: &Context<'_>) -> Flat<'_, Tile> {
            Flat::new(ctx, &self.0)
        }

        async fn plain(&self) -> &[Tile] {
            &self.0
        }
    }

    #[tokio::test]
    async fn a_flat_list_answers_exactly_as_async_graphql_resolves_the_same_list_spliced_or_not() {
        let tiles = vec![
            Tile {
                id: "t1".into(),
                shade: Shade::Light,
                weight: 0.25,
                note: None,
            },
            Tile {
                id: "t2".into(),
                shade: Shade::Dark,
                weight: 1.0,
                note: Some("an \"edge\"\n\u{1}".into()),
            },
        ];
        let schema = Schema::new(Query(tiles), EmptyMutation, EmptySubscription);
        assert!(schema.sdl().contains("flat: [Tile!]!"));
        for (selection, fragments) in [
            ("{ id }", ""),
            ("{ a: id id shade __typename weight }", ""),
            (
                "{ ...T note ... on Tile { b: shade id } }",
                "fragment T on Tile { id weight }",
            ),
            (
                "{ id @skip(if: true) note @include(if: false) weight ... @skip(if: true) { shade } }",
                "",
            ),
            ("{ t: __typename ... { note } }", ""),
        ] {
            let ask = |field: &str| format!("{{ list: {field} {selection} }} {fragments}");
            let plain = schema.execute(ask("plain")).await;
            assert!(plain.errors.is_empty(), "{selection}: {:?}", plain.errors);
            let plain = serde_json::to_string(&plain).unwrap();
            let read_back = schema.execute(ask("flat")).await;
            assert!(
                read_back.errors.is_empty(),
                "{selection}: {:?}",
                read_back.errors
            );
            assert_eq!(
                serde_json::to_string(&read_back).unwrap(),
                plain,
                "{selection}"
            );
            let splices = Arc::new(Splices::new());
            let flat = schema
                .execute(Request::new(ask("flat")).data(Arc::clone(&splices)))
                .await;
            assert!(flat.errors.is_empty(), "{selection}: {:?}", flat.errors);
            let spliced = splices.splice(serde_json::to_vec(&flat).unwrap());
            assert_eq!(String::from_utf8(spliced).unwrap(), plain, "{selection}");
        }
    }

    #[test]
    fn a_string_is_written_as_serde_json_writes_it_escaped_or_not() {
        let long = "account:0x".to_owned() + &"ab".repeat(20);
        for text in [
            "",
            "model 7",
            "0x1234…cdef",
            long.as_str(),
            &(long.clone() + "\""),
            &format!("{long}\\{long}"),
            "tab\there",
            "\u{1}",
            "line\nbreak",
            "\u{7f} is not escaped",
        ] {
            let mut json = Json::default();
            json.string(text);
            assert_eq!(
                String::from_utf8(json.0).unwrap(),
                serde_json::to_string(text).unwrap(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn every_field_of_the_schema_type_is_written() {
        assert_eq!(unwritten_fields::<Tile>(), Vec::<String>::new());
    }
}
