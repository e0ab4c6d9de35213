//! The `U64` scalar: every 64-bit quantity the API serves or takes (ids, block numbers, log indexes,
//! timestamps, counts that nothing bounds), as graph-node's and Ponder's `BigInt` serve theirs.
//!
//! GraphQL's `Int` is a signed 32-bit integer: strict clients reject an `Int` above 2³¹ − 1, and a
//! JSON number above 2⁵³ loses digits in JavaScript. So a `U64` is written as a decimal string
//! (`"4294967296"`); in input it is read from a decimal string or, for convenience, from a
//! non-negative integer literal or JSON number. `Int` is left to what is small by construction:
//! page sizes, graph depth and limit, positions within a receipt, ppm and basis points, decimals.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Type};

/// An unsigned 64-bit integer, written as a decimal string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub(crate) struct U64(pub(crate) u64);

impl U64 {
    /// The value.
    pub(crate) fn get(self) -> u64 {
        self.0
    }

    /// The value as the store holds it (a non-negative `BIGINT`). One the store cannot hold (above
    /// `i64::MAX`: only a client can write one) is -1, which no stored id, block or count is, so a
    /// lookup or filter with it finds nothing, as it should.
    pub(crate) fn stored(self) -> i64 {
        i64::try_from(self.0).unwrap_or(-1)
    }
}

/// An unsigned 64-bit integer (ids, block numbers, log indexes, unix timestamps, counts), written as
/// a decimal string such as "4294967296" so that no client loses precision; in input, a decimal
/// string or a non-negative integer.
#[Scalar(name = "U64")]
impl ScalarType for U64 {
    fn parse(value: Value) -> InputValueResult<Self> {
        let parsed = match &value {
            Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                s.parse::<u64>().ok()
            }
            Value::Number(n) => n.as_u64(),
            _ => None,
        };
        parsed.map(Self).ok_or_else(|| {
            InputValueError::custom(format!(
                "expected an unsigned 64-bit integer as a decimal string such as \"4294967296\" \
                 (0 to 18446744073709551615), got {value}"
            ))
        })
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

impl From<u64> for U64 {
    fn from(value: u64) -> Self {
        Self(value)
    }
}

impl TryFrom<i64> for U64 {
    type Error = std::num::TryFromIntError;

    /// A value the store holds (never negative).
    fn try_from(stored: i64) -> Result<Self, Self::Error> {
        u64::try_from(stored).map(Self)
    }
}

/// Read from a `BIGINT` column as an `i64` is (a negative one is an error: the store never holds one).
impl<DB: Database> Type<DB> for U64
where
    i64: Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <i64 as Type<DB>>::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        <i64 as Type<DB>>::compatible(ty)
    }
}

impl<'r, DB: Database> Decode<'r, DB> for U64
where
    i64: Decode<'r, DB>,
{
    fn decode(value: DB::ValueRef<'r>) -> Result<Self, BoxDynError> {
        let stored = <i64 as Decode<'r, DB>>::decode(value)?;
        Ok(Self::try_from(stored)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: Value) -> Result<U64, String> {
        <U64 as ScalarType>::parse(value)
            .map_err(|e| e.into_server_error(Default::default()).message)
    }

    #[test]
    fn serializes_as_a_decimal_string_past_32_and_53_bits() {
        for n in [
            0,
            1,
            2_147_483_647,
            2_147_483_648,
            1 << 53,
            (1 << 53) + 1,
            u64::MAX,
        ] {
            assert_eq!(U64(n).to_value(), Value::String(n.to_string()));
        }
        assert_eq!(
            serde_json::to_string(&U64(4_294_967_296).to_value()).unwrap(),
            "\"4294967296\""
        );
    }

    #[test]
    fn parses_decimal_strings_and_non_negative_integers() {
        assert_eq!(parse(Value::from("0")), Ok(U64(0)));
        assert_eq!(parse(Value::from("2147483648")), Ok(U64(2_147_483_648)));
        assert_eq!(parse(Value::from("007")), Ok(U64(7)));
        assert_eq!(
            parse(Value::from("18446744073709551615")),
            Ok(U64(u64::MAX))
        );
        assert_eq!(parse(Value::from(5)), Ok(U64(5)));
        assert_eq!(
            parse(Value::from(4_294_967_296_u64)),
            Ok(U64(4_294_967_296))
        );
        assert_eq!(parse(Value::from(u64::MAX)), Ok(U64(u64::MAX)));
    }

    #[test]
    fn rejects_what_is_not_an_unsigned_64_bit_integer_naming_it() {
        for bad in [
            Value::from("18446744073709551616"),
            Value::from("-1"),
            Value::from(""),
            Value::from("1e3"),
            Value::from(" 1"),
            Value::from("0x10"),
            Value::from(-1),
            Value::from(1.5),
            Value::Boolean(true),
            Value::Null,
        ] {
            let err = parse(bad.clone()).unwrap_err();
            assert!(err.contains(&bad.to_string()), "{err}");
        }
    }

    #[test]
    fn what_the_store_cannot_hold_finds_nothing() {
        assert_eq!(U64(42).stored(), 42);
        assert_eq!(U64(i64::MAX as u64).stored(), i64::MAX);
        assert_eq!(U64(i64::MAX as u64 + 1).stored(), -1);
        assert_eq!(U64::try_from(-1_i64).ok(), None);
        assert_eq!(U64::try_from(7_i64).ok(), Some(U64(7)));
    }

    /// The `Int` fields the schema may have: values small by construction. Anything else numeric
    /// (ids, blocks, log indexes, timestamps, counts) must be `U64` (or `BigInt`, for amounts).
    const SMALL_FIELDS: &[(&str, &str, &str)] = &[
        (
            "AttributionEdge",
            "position",
            "index in a receipt's attribution (at most 16)",
        ),
        ("AttributionEdge", "weightPpm", "parts per million"),
        (
            "Datanet",
            "curatorCount",
            "at most the registry's MAX_CURATORS (32)",
        ),
        ("Inference", "attributionVersion", "a uint16 in the receipt"),
        ("Model", "derivativeShareBps", "basis points"),
        ("Model", "baseShareBps", "basis points"),
        ("Split", "ownerBps", "basis points"),
        ("Split", "dataBps", "basis points"),
        ("Split", "nodeBps", "basis points"),
        ("Split", "treasuryBps", "basis points"),
        ("Token", "decimals", "an ERC-20's uint8"),
    ];

    /// The `Int` arguments the schema may have: page sizes and the graph's depth and node limit.
    const SMALL_ARGUMENTS: &[&str] = &["first", "last", "depth", "limit"];

    #[test]
    fn no_int_field_or_argument_names_a_64_bit_quantity() {
        use async_graphql::parser::types::{BaseType, Type, TypeKind, TypeSystemDefinition};

        fn named(ty: &Type) -> &str {
            match &ty.base {
                BaseType::Named(name) => name.as_str(),
                BaseType::List(inner) => named(inner),
            }
        }

        let schema = async_graphql::parser::parse_schema(crate::api::sdl()).unwrap();
        let (mut int_fields, mut bad_arguments, mut u64_uses) = (Vec::new(), Vec::new(), 0);
        for definition in &schema.definitions {
            let TypeSystemDefinition::Type(ty) = definition else {
                continue;
            };
            let type_name = ty.node.name.node.as_str();
            let TypeKind::Object(object) = &ty.node.kind else {
                continue;
            };
            for field in &object.fields {
                let field = &field.node;
                let field_name = field.name.node.as_str();
                match named(&field.ty.node) {
                    "Int" => int_fields.push((type_name.to_owned(), field_name.to_owned())),
                    "U64" => u64_uses += 1,
                    _ => {}
                }
                for argument in &field.arguments {
                    let argument = &argument.node;
                    let name = argument.name.node.as_str();
                    match named(&argument.ty.node) {
                        "Int" if !SMALL_ARGUMENTS.contains(&name) => {
                            bad_arguments.push(format!("{type_name}.{field_name}({name})"));
                        }
                        "U64" => u64_uses += 1,
                        _ => {}
                    }
                }
            }
        }
        let unexpected: Vec<String> = int_fields
            .iter()
            .filter(|(t, f)| !SMALL_FIELDS.iter().any(|(st, sf, _)| st == t && sf == f))
            .map(|(t, f)| format!("{t}.{f}"))
            .collect();
        assert!(
            unexpected.is_empty() && bad_arguments.is_empty(),
            "Int (32-bit) used for what may be a 64-bit quantity: make these U64 (or add them to \
             the allow-list with the reason they are small): {unexpected:?} {bad_arguments:?}"
        );
        // The allow-list names fields that exist (a stale entry would let a new field through).
        for (t, f, _) in SMALL_FIELDS {
            assert!(
                int_fields.iter().any(|(it, if_)| it == t && if_ == f),
                "{t}.{f} is allowed an Int but is no Int field"
            );
        }
        // Ids, blocks, log indexes, timestamps and counts: dozens of them.
        assert!(u64_uses > 50, "{u64_uses} U64 fields and arguments");
    }
}
