//! Long lists of small objects resolved a whole list at a time: the graph's nodes and edges.
//!
//! async-graphql resolves a list item by item and an object field by field, each a future of its own
//! (pushed into a `FuturesOrdered`, boxed, polled), and looks each field up by name. A depth-2
//! `attributionGraph` has about 400 objects of four or five fields, and that machinery took about
//! 30 % of the server's CPU on an uncached graph request. A [`Flat`] list reads its selection once
//! (response keys, through fragments, as async-graphql's own [`SelectionField`] walks them) and then
//! writes each item's fields straight into the answer.
//!
//! Only for objects whose fields are plain values with no arguments (scalars and enums): nothing
//! per field to resolve, no error to raise. The schema does not change: a `Flat<T>` has the type of a
//! `[T!]!`, and `@skip`/`@include` are taken out of the query before any resolver runs.
//!
//! [`SelectionField`]: async_graphql::SelectionField

use std::borrow::Cow;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::{
    Context, ContextSelectionSet, Name, OutputType, Positioned, ServerError, ServerResult, Value,
};

/// An object type whose fields are plain values, resolved a list at a time by [`Flat`].
pub(crate) trait FlatObject: OutputType {
    /// The value of the field `name`, as async-graphql would write it; `None` when the type has no
    /// such field.
    fn value_of(&self, name: &str) -> Option<Value>;
}

/// The fields a list's selection asks each item for.
#[derive(Debug)]
struct Selection {
    /// Each response key (alias or name) once, in the order the query first names it, with the field.
    fields: Vec<(Name, String)>,
}

impl Selection {
    /// The subfields selected on the list field `ctx` resolves (fragments unfolded).
    fn of(ctx: &Context<'_>) -> Self {
        let mut fields: Vec<(Name, String)> = Vec::new();
        for field in ctx.field().selection_set() {
            let key = field.alias().unwrap_or(field.name());
            if !fields.iter().any(|(k, _)| k.as_str() == key) {
                fields.push((Name::new(key), field.name().to_owned()));
            }
        }
        Self { fields }
    }
}

/// A list whose items are resolved in one pass over the selection (see the module's doc).
#[derive(Debug)]
pub(crate) struct Flat<'a, T> {
    items: &'a [T],
    selection: Selection,
}

impl<'a, T: FlatObject> Flat<'a, T> {
    /// `items` as the value of the list field `ctx` resolves.
    pub(crate) fn new(ctx: &Context<'_>, items: &'a [T]) -> Self {
        Self {
            items,
            selection: Selection::of(ctx),
        }
    }

    fn value(&self, item: &T) -> Result<Value, String> {
        let mut object = IndexMap::with_capacity(self.selection.fields.len());
        for (key, name) in &self.selection.fields {
            let value = match name.as_str() {
                "__typename" => Value::String(T::type_name().into_owned()),
                name => item.value_of(name).ok_or_else(|| {
                    format!(
                        "Cannot query field \"{name}\" on type \"{}\".",
                        T::type_name()
                    )
                })?,
            };
            object.insert(key.clone(), value);
        }
        Ok(Value::Object(object))
    }
}

impl<T: FlatObject + Sync> OutputType for Flat<'_, T> {
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
        _ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        self.items
            .iter()
            .map(|item| self.value(item))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::List)
            .map_err(|message| ServerError::new(message, Some(field.pos)))
    }
}

/// The value of an enum item, as async-graphql writes it.
pub(crate) fn enum_value<E: async_graphql::EnumType + PartialEq>(item: &E) -> Value {
    E::items()
        .iter()
        .find(|i| i.value == *item)
        .map(|i| Value::Enum(Name::new(i.name)))
        .unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use async_graphql::{
        EmptyMutation, EmptySubscription, Enum, Object, ScalarType, Schema, SimpleObject,
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

    impl FlatObject for Tile {
        fn value_of(&self, name: &str) -> Option<Value> {
            Some(match name {
                "id" => Value::String(self.id.clone()),
                "shade" => enum_value(&self.shade),
                "weight" => self.weight.to_value(),
                "note" => self.note.as_ref().map_or(Value::Null, ScalarType::to_value),
                _ => return None,
            })
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
    async fn a_flat_list_answers_exactly_as_async_graphql_resolves_the_same_list() {
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
                note: Some("edge".into()),
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
            let flat = schema.execute(ask("flat")).await;
            let plain = schema.execute(ask("plain")).await;
            assert!(flat.errors.is_empty(), "{selection}: {:?}", flat.errors);
            assert!(plain.errors.is_empty(), "{selection}: {:?}", plain.errors);
            assert_eq!(
                serde_json::to_string(&flat.data).unwrap(),
                serde_json::to_string(&plain.data).unwrap(),
                "{selection}"
            );
        }
    }
}
