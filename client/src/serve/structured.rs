//! Structured output: OpenAI's `response_format` turned into a llama.cpp grammar, so that every answer is
//! JSON (`json_object`) or JSON matching the request's schema (`json_schema`) by construction — tokens
//! that would leave the grammar are never drawn. The schema is compiled by llama.cpp's own
//! `json_schema_to_grammar`, the converter its server uses.

use serde_json::{Map, Value};

use super::error::RequestError;

/// The schema `json_object` stands for: any JSON object.
const ANY_OBJECT: &str = r#"{"type": "object"}"#;

/// The grammar `response_format` asks for (`None` for text).
pub(crate) fn grammar(response_format: &Value) -> Result<Option<String>, RequestError> {
    let invalid = |param: &str, expected: &'static str| RequestError::Invalid {
        param: format!("response_format{param}"),
        expected,
    };
    let Value::Object(format) = response_format else {
        return Err(invalid("", "an object with a `type`"));
    };
    let kind = format.get("type").and_then(Value::as_str);
    let allowed: &[&str] = match kind {
        Some("text" | "json_object") => &["type"],
        Some("json_schema") => &["type", "json_schema"],
        _ => {
            return Err(invalid(
                ".type",
                "one of `text`, `json_object`, `json_schema`",
            ));
        }
    };
    refuse_unknown("response_format", format, allowed)?;
    match kind {
        Some("json_object") => compile(ANY_OBJECT, "response_format").map(Some),
        Some("json_schema") => {
            let Some(Value::Object(spec)) = format.get("json_schema") else {
                return Err(invalid(
                    ".json_schema",
                    "an object with a `name` and a `schema`",
                ));
            };
            json_schema(spec).map(Some)
        }
        _ => Ok(None),
    }
}

/// `response_format.json_schema`: `name` (required), `description`, `schema` (any JSON when left out)
/// and `strict`. The grammar enforces the schema whether `strict` is true or false: a looser answer is
/// never needed.
fn json_schema(spec: &Map<String, Value>) -> Result<String, RequestError> {
    const PARAM: &str = "response_format.json_schema";
    refuse_unknown(PARAM, spec, &["name", "description", "schema", "strict"])?;
    let name_ok = spec
        .get("name")
        .and_then(Value::as_str)
        .is_some_and(|name| {
            (1..=64).contains(&name.len())
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        });
    if !name_ok {
        return Err(RequestError::Invalid {
            param: format!("{PARAM}.name"),
            expected: "1 to 64 characters among a-z, A-Z, 0-9, `_` and `-`",
        });
    }
    for (field, ok) in [
        (
            "description",
            spec.get("description").is_none_or(Value::is_string),
        ),
        ("strict", spec.get("strict").is_none_or(Value::is_boolean)),
    ] {
        if !ok {
            return Err(RequestError::Invalid {
                param: format!("{PARAM}.{field}"),
                expected: if field == "strict" {
                    "a boolean"
                } else {
                    "a string"
                },
            });
        }
    }
    match spec.get("schema") {
        None | Some(Value::Null) => compile("{}", PARAM),
        Some(schema @ Value::Object(_)) => compile(&schema.to_string(), &format!("{PARAM}.schema")),
        Some(_) => Err(RequestError::Invalid {
            param: format!("{PARAM}.schema"),
            expected: "a JSON Schema object",
        }),
    }
}

/// llama.cpp's grammar for `schema`; a schema it cannot express is refused naming `param`.
fn compile(schema: &str, param: &str) -> Result<String, RequestError> {
    llama_cpp_2::json_schema_to_grammar(schema).map_err(|error| RequestError::InvalidSchema {
        param: param.to_owned(),
        reason: error.to_string(),
    })
}

fn refuse_unknown(
    prefix: &str,
    object: &Map<String, Value>,
    allowed: &[&str],
) -> Result<(), RequestError> {
    match object.keys().find(|key| !allowed.contains(&key.as_str())) {
        Some(key) => Err(RequestError::UnknownField {
            param: format!("{prefix}.{key}"),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn text_is_free_and_json_formats_compile() {
        assert_eq!(grammar(&json!({ "type": "text" })).unwrap(), None);
        assert!(
            grammar(&json!({ "type": "json_object" }))
                .unwrap()
                .is_some()
        );
        let schema = json!({ "type": "json_schema", "json_schema": { "name": "person", "strict": true,
            "schema": { "type": "object", "properties": { "age": { "type": "integer" } },
                        "required": ["age"], "additionalProperties": false } } });
        let rules = grammar(&schema).unwrap().unwrap();
        assert!(rules.contains("root"), "{rules}");
    }

    #[test]
    fn malformed_formats_name_the_field() {
        let param = |value: Value| grammar(&value).unwrap_err().param().unwrap();
        assert_eq!(param(json!("json")), "response_format");
        assert_eq!(param(json!({ "type": "xml" })), "response_format.type");
        assert_eq!(
            param(json!({ "type": "text", "x": 1 })),
            "response_format.x"
        );
        assert_eq!(
            param(json!({ "type": "json_schema" })),
            "response_format.json_schema"
        );
        assert_eq!(
            param(json!({ "type": "json_schema", "json_schema": { "name": "a b" } })),
            "response_format.json_schema.name"
        );
        assert_eq!(
            param(json!({ "type": "json_schema", "json_schema": { "name": "a", "schema": 3 } })),
            "response_format.json_schema.schema"
        );
        assert_eq!(
            param(json!({ "type": "json_schema", "json_schema": { "name": "a", "extra": 1 } })),
            "response_format.json_schema.extra"
        );
    }
}
