//! The `BigInt` scalar: a token amount (a `uint256` in base units) as a decimal string, the form the
//! store keeps amounts in. JSON numbers cannot hold 256-bit integers exactly, so amounts travel as text;
//! so do token counts and their sums, which the store keeps as integers but which can exceed the 32 bits
//! of GraphQL's `Int`.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};

/// A token amount in base units, a decimal string without leading zeros.
#[derive(Debug, Clone, PartialEq, Eq, Default, sqlx::Type)]
#[sqlx(transparent)]
pub(crate) struct BigInt(pub(crate) String);

impl BigInt {
    /// Zero.
    pub(crate) fn zero() -> Self {
        Self("0".to_owned())
    }

    /// Whether `text` is written as an amount is: 1 to 78 decimal digits (a `uint256` has 78).
    pub(crate) fn is_decimal(text: &str) -> bool {
        !text.is_empty() && text.len() <= 78 && text.bytes().all(|b| b.is_ascii_digit())
    }
}

/// An unsigned integer of up to 256 bits written in decimal, such as a token amount in base units.
#[Scalar(name = "BigInt")]
impl ScalarType for BigInt {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) if Self::is_decimal(s) => {
                Ok(Self(s.trim_start_matches('0').to_owned()).normalised())
            }
            Value::Number(n) if n.is_u64() => Ok(Self(n.to_string())),
            _ => Err(InputValueError::custom(format!(
                "expected a decimal amount such as \"1000\", got {value}"
            ))),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

impl From<i64> for BigInt {
    /// A count the store keeps as an integer (never negative).
    fn from(count: i64) -> Self {
        Self(count.to_string())
    }
}

impl BigInt {
    fn normalised(self) -> Self {
        if self.0.is_empty() {
            Self::zero()
        } else {
            self
        }
    }
}
