//! The query depth limit, counted as async-graphql's `limit_depth` counts it (one level per field,
//! through fragments) except that `ofType` adds no level.
//!
//! Introspection nests `ofType` once per type wrapper: graphql-js's `getIntrospectionQuery`, which
//! GraphiQL, Apollo's tools and codegens send, nests it eight deep under
//! `__schema { types { fields { args { type … } } } }`, and `limit_depth` refused it, leaving those
//! tools without a schema. `ofType` returns at most one type and is null past the named type, so a
//! chain of them costs a few objects at most: it is free here, while every other field (the lists of
//! introspection among them) counts as before.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{
    ExecutableDocument, FragmentDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, Positioned, ServerError, ServerResult, Variables};

/// Refuses a query nested deeper than its limit, `ofType` not counted (the schema's extension).
pub(crate) struct DepthLimit(pub(crate) usize);

impl ExtensionFactory for DepthLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(DepthLimit(self.0))
    }
}

#[async_trait::async_trait]
impl Extension for DepthLimit {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        if depth(&document) > self.0 {
            // async-graphql's own message.
            return Err(ServerError::new("Query is nested too deep.", None));
        }
        Ok(document)
    }
}

/// The depth of the document's deepest operation.
fn depth(document: &ExecutableDocument) -> usize {
    let mut walk = Walk {
        fragments: &document.fragments,
        known: HashMap::new(),
        open: Vec::new(),
    };
    document
        .operations
        .iter()
        .map(|(_, operation)| walk.selections(&operation.node.selection_set.node))
        .max()
        .unwrap_or(0)
}

/// Measures selection sets, each fragment once.
struct Walk<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    /// Depths of the fragments measured so far.
    known: HashMap<&'a Name, usize>,
    /// The fragments being measured: spreading one of them again is a cycle, which validation
    /// refuses after this check; it counts nothing here.
    open: Vec<&'a Name>,
}

impl<'a> Walk<'a> {
    fn selections(&mut self, set: &'a SelectionSet) -> usize {
        let mut deepest = 0;
        for selection in &set.items {
            let depth = match &selection.node {
                Selection::Field(field) => {
                    let below = self.selections(&field.node.selection_set.node);
                    if field.node.name.node == "ofType" {
                        below
                    } else {
                        below + 1
                    }
                }
                Selection::InlineFragment(inline) => {
                    self.selections(&inline.node.selection_set.node)
                }
                Selection::FragmentSpread(spread) => self.fragment(&spread.node.fragment_name.node),
            };
            deepest = deepest.max(depth);
        }
        deepest
    }

    fn fragment(&mut self, name: &'a Name) -> usize {
        if let Some(depth) = self.known.get(name) {
            return *depth;
        }
        let Some(definition) = self.fragments.get(name) else {
            return 0; // validation reports the unknown fragment
        };
        if self.open.contains(&name) {
            return 0;
        }
        self.open.push(name);
        let depth = self.selections(&definition.node.selection_set.node);
        self.open.pop();
        self.known.insert(name, depth);
        depth
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::depth;

    fn of(query: &str) -> usize {
        depth(&parse_query(query).expect("a valid query"))
    }

    #[test]
    fn fields_count_through_fragments_and_of_type_does_not() {
        assert_eq!(of("{ a }"), 1);
        assert_eq!(of("{ a { b { c } } d }"), 3);
        assert_eq!(of("{ a { ...F } } fragment F on T { b { c } }"), 3);
        assert_eq!(of("{ a { ... on T { b } } }"), 2);
        assert_eq!(
            of(
                "{ __schema { types { fields { type { ofType { ofType { ofType { name } } } } } } } }"
            ),
            5
        );
        // A cycle (refused by validation later) ends the walk.
        assert_eq!(of("{ a { ...F } } fragment F on T { b { ...F } }"), 2);
    }
}
