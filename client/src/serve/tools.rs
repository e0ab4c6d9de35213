//! Tool calls (OpenAI's `tools`, `tool_choice`, `parallel_tool_calls`) for models whose chat template has
//! no tool format of its own, as llama.cpp's server does for them: the tools are described to the model in
//! a system message, and its answer is constrained by a grammar (built from a JSON schema by llama.cpp) to
//! one JSON object, `{"tool_calls": [{"name", "arguments"}, …]}` or `{"response": "<text>"}`. That JSON is
//! the output the receipt signs and attribution reads; the API answers with OpenAI's `tool_calls` or
//! `content` read back from it.

use alloy::primitives::B256;
use serde_json::{Map, Value, json};

use super::error::RequestError;
use crate::model::{ChatMessage, Role};

/// How a request with tools is generated: the instructions given to the model and the grammar its
/// answer follows.
#[derive(Debug)]
pub(crate) struct ToolUse {
    instructions: String,
    /// GBNF of the answer.
    pub(crate) grammar: String,
}

/// One call the model made.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ToolCall {
    /// The tool's name.
    pub(crate) name: String,
    /// Its arguments, as the JSON text OpenAI sends.
    pub(crate) arguments: String,
}

/// A tool-constrained answer read back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Answer {
    /// The model answered in text.
    Text(String),
    /// The model called tools.
    Calls(Vec<ToolCall>),
}

/// The tool use `tools`, `tool_choice` and `parallel_tool_calls` ask for (`None`: plain generation, for
/// no tools or `tool_choice: "none"`).
pub(crate) fn tool_use(
    tools: Option<&Value>,
    choice: Option<&Value>,
    parallel: Option<bool>,
) -> Result<Option<ToolUse>, RequestError> {
    let Some(tools) = tools else {
        return match choice {
            Some(_) => Err(invalid("tool_choice", "given only with `tools`")),
            None => Ok(None),
        };
    };
    let tools = parse_tools(tools)?;
    let forced = match choice {
        None => Forced::No,
        Some(Value::String(mode)) => match mode.as_str() {
            "none" => return Ok(None),
            "auto" => Forced::No,
            "required" => Forced::AnyTool,
            _ => return Err(invalid("tool_choice", CHOICE)),
        },
        Some(Value::Object(named)) => {
            let name = named
                .get("function")
                .and_then(|f| f.get("name"))
                .and_then(Value::as_str)
                .filter(|_| named.get("type") == Some(&json!("function")))
                .ok_or_else(|| invalid("tool_choice", CHOICE))?;
            if !tools.iter().any(|tool| tool.name == name) {
                return Err(invalid(
                    "tool_choice.function.name",
                    "the name of one of `tools`",
                ));
            }
            Forced::Tool(name.to_owned())
        }
        Some(_) => return Err(invalid("tool_choice", CHOICE)),
    };
    let schema = answer_schema(&tools, &forced, parallel.unwrap_or(true));
    let grammar = llama_cpp_2::json_schema_to_grammar(&schema.to_string()).map_err(|error| {
        RequestError::InvalidSchema {
            param: "tools".to_owned(),
            reason: error.to_string(),
        }
    })?;
    Ok(Some(ToolUse {
        instructions: instructions(&tools, &forced),
        grammar,
    }))
}

const CHOICE: &str =
    "`none`, `auto`, `required` or `{\"type\": \"function\", \"function\": {\"name\": …}}`";

fn invalid(param: &str, expected: &'static str) -> RequestError {
    RequestError::Invalid {
        param: param.to_owned(),
        expected,
    }
}

/// A function the model may call.
struct Tool {
    name: String,
    description: Option<String>,
    /// The arguments' JSON schema (any object when left out).
    parameters: Value,
}

/// Which calls the answer must make.
enum Forced {
    /// A call or a text answer (`auto`).
    No,
    /// At least one call (`required`).
    AnyTool,
    /// A call of this tool.
    Tool(String),
}

fn parse_tools(tools: &Value) -> Result<Vec<Tool>, RequestError> {
    let Some(list) = tools.as_array().filter(|list| !list.is_empty()) else {
        return Err(invalid("tools", "a non-empty array of function tools"));
    };
    let mut parsed: Vec<Tool> = Vec::with_capacity(list.len());
    for (i, tool) in list.iter().enumerate() {
        let at = |field: &str| format!("tools[{i}]{field}");
        let Some(tool) = tool.as_object() else {
            return Err(RequestError::Invalid {
                param: at(""),
                expected: "an object `{\"type\": \"function\", \"function\": {…}}`",
            });
        };
        known_fields(tool, &["type", "function"], &at(""))?;
        if tool.get("type") != Some(&json!("function")) {
            return Err(RequestError::Invalid {
                param: at(".type"),
                expected: "`function`",
            });
        }
        let Some(function) = tool.get("function").and_then(Value::as_object) else {
            return Err(RequestError::Invalid {
                param: at(".function"),
                expected: "an object with a `name`",
            });
        };
        let at = |field: &str| format!("tools[{i}].function{field}");
        known_fields(
            function,
            &["name", "description", "parameters", "strict"],
            &at(""),
        )?;
        let name = function.get("name").and_then(Value::as_str).unwrap_or("");
        let name_ok = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !name_ok || parsed.iter().any(|tool| tool.name == name) {
            return Err(RequestError::Invalid {
                param: at(".name"),
                expected: "a name unique among the tools, 1 to 64 characters among a-z, A-Z, 0-9, `_`, `-`",
            });
        }
        let description = match function.get("description") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(text.clone()),
            Some(_) => {
                return Err(RequestError::Invalid {
                    param: at(".description"),
                    expected: "a string",
                });
            }
        };
        let parameters = match function.get("parameters") {
            None | Some(Value::Null) => json!({ "type": "object" }),
            Some(schema @ Value::Object(_)) => schema.clone(),
            Some(_) => {
                return Err(RequestError::Invalid {
                    param: at(".parameters"),
                    expected: "a JSON Schema object",
                });
            }
        };
        if !function.get("strict").is_none_or(Value::is_boolean) {
            return Err(RequestError::Invalid {
                param: at(".strict"),
                expected: "a boolean",
            });
        }
        parsed.push(Tool {
            name: name.to_owned(),
            description,
            parameters,
        });
    }
    Ok(parsed)
}

fn known_fields(object: &Map<String, Value>, known: &[&str], at: &str) -> Result<(), RequestError> {
    match object.keys().find(|key| !known.contains(&key.as_str())) {
        Some(key) => Err(RequestError::UnknownField {
            param: format!("{at}.{key}"),
        }),
        None => Ok(()),
    }
}

/// The JSON schema of an answer: calls of the allowed tools (each its name and its arguments' schema),
/// at most one unless calls may be parallel, or — unless a call is forced — a text response.
fn answer_schema(tools: &[Tool], forced: &Forced, parallel: bool) -> Value {
    let calls: Vec<Value> = tools
        .iter()
        .filter(|tool| !matches!(forced, Forced::Tool(name) if *name != tool.name))
        .map(|tool| {
            json!({
                "type": "object",
                "properties": { "name": { "const": tool.name }, "arguments": tool.parameters },
                "required": ["name", "arguments"],
                "additionalProperties": false,
            })
        })
        .collect();
    let mut list = json!({ "type": "array", "items": { "oneOf": calls }, "minItems": 1 });
    if !parallel {
        list["maxItems"] = json!(1);
    }
    let call = json!({
        "type": "object", "properties": { "tool_calls": list },
        "required": ["tool_calls"], "additionalProperties": false,
    });
    match forced {
        Forced::No => json!({ "oneOf": [call, {
            "type": "object", "properties": { "response": { "type": "string" } },
            "required": ["response"], "additionalProperties": false,
        }] }),
        Forced::AnyTool | Forced::Tool(_) => call,
    }
}

/// What the model is told: the tools and the shape of its answer.
fn instructions(tools: &[Tool], forced: &Forced) -> String {
    let listed: Vec<Value> = tools
        .iter()
        .map(|tool| {
            json!({ "name": tool.name, "description": tool.description, "parameters": tool.parameters })
        })
        .collect();
    let answer = match forced {
        Forced::No => {
            "Answer with one JSON object: {\"tool_calls\": [{\"name\": <tool name>, \"arguments\": \
             <arguments>}]} to call tools, or {\"response\": <your answer>} to answer directly."
                .to_owned()
        }
        Forced::AnyTool => "Answer with one JSON object {\"tool_calls\": [{\"name\": <tool name>, \
                            \"arguments\": <arguments>}]}: call at least one tool."
            .to_owned(),
        Forced::Tool(name) => format!(
            "Answer with one JSON object {{\"tool_calls\": [{{\"name\": \"{name}\", \"arguments\": \
             <arguments>}}]}}: call the tool {name}."
        ),
    };
    format!(
        "You can call these tools:\n{}\n{answer}",
        Value::Array(listed)
    )
}

impl ToolUse {
    /// The conversation with the tool instructions: appended to a leading system message, or given as
    /// one.
    pub(crate) fn instruct(&self, messages: &mut Vec<ChatMessage>) {
        match messages.first_mut() {
            Some(first) if first.role == Role::System => {
                first.content = format!("{}\n\n{}", first.content, self.instructions);
            }
            _ => messages.insert(0, ChatMessage::new(Role::System, self.instructions.clone())),
        }
    }
}

/// The answer in `output`, generated under a tool grammar. An output that does not parse (cut by
/// `max_tokens`) is returned as text.
pub(crate) fn read_answer(output: &str) -> Answer {
    let Ok(Value::Object(answer)) = serde_json::from_str::<Value>(output) else {
        return Answer::Text(output.to_owned());
    };
    if let Some(Value::String(text)) = answer.get("response") {
        return Answer::Text(text.clone());
    }
    let calls = answer
        .get("tool_calls")
        .and_then(Value::as_array)
        .map(|calls| {
            calls
                .iter()
                .filter_map(|call| {
                    Some(ToolCall {
                        name: call.get("name")?.as_str()?.to_owned(),
                        arguments: call.get("arguments")?.to_string(),
                    })
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    if calls.is_empty() {
        Answer::Text(output.to_owned())
    } else {
        Answer::Calls(calls)
    }
}

/// OpenAI's `tool_calls` of an answer whose receipt digest is `digest`: each call's id is derived from
/// the digest and its index, so ids are unique and a receipt names the calls it paid for.
pub(crate) fn tool_calls_json(calls: &[ToolCall], digest: B256, with_index: bool) -> Value {
    let calls: Vec<Value> = calls
        .iter()
        .enumerate()
        .map(|(index, call)| {
            let id =
                alloy::primitives::keccak256([digest.as_slice(), &index.to_be_bytes()].concat());
            let mut value = json!({
                "id": format!("call_{}", &hex::encode(id)[..24]),
                "type": "function",
                "function": { "name": call.name, "arguments": call.arguments },
            });
            if with_index {
                value["index"] = json!(index);
            }
            value
        })
        .collect();
    Value::Array(calls)
}

/// An assistant message's `tool_calls`, as the model wrote them: the same JSON its answers take.
pub(crate) fn calls_as_text(calls: &Value, param: &str) -> Result<String, RequestError> {
    let expected =
        "an array of `{\"id\", \"type\": \"function\", \"function\": {\"name\", \"arguments\"}}`";
    let invalid = || RequestError::Invalid {
        param: param.to_owned(),
        expected,
    };
    let calls = calls.as_array().ok_or_else(invalid)?;
    let written = calls
        .iter()
        .map(|call| {
            let function = call.get("function").ok_or_else(invalid)?;
            let name = function
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(invalid)?;
            let arguments = function
                .get("arguments")
                .and_then(Value::as_str)
                .ok_or_else(invalid)?;
            // Arguments are JSON text; anything else is kept as the string it is.
            let arguments = serde_json::from_str(arguments).unwrap_or_else(|_| json!(arguments));
            Ok(json!({ "name": name, "arguments": arguments }))
        })
        .collect::<Result<Vec<_>, RequestError>>()?;
    Ok(json!({ "tool_calls": written }).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weather() -> Value {
        json!([{ "type": "function", "function": { "name": "get_weather", "description": "Weather now",
            "parameters": { "type": "object", "properties": { "city": { "type": "string" } },
                            "required": ["city"] } } }])
    }

    #[test]
    fn answers_read_back_as_calls_or_text() {
        let calls = read_answer(
            r#"{"tool_calls": [{"name": "get_weather", "arguments": {"city": "Oslo"}}]}"#,
        );
        assert_eq!(
            calls,
            Answer::Calls(vec![ToolCall {
                name: "get_weather".into(),
                arguments: r#"{"city":"Oslo"}"#.into()
            }])
        );
        assert_eq!(
            read_answer(r#"{"response": "hi"}"#),
            Answer::Text("hi".into())
        );
        assert_eq!(
            read_answer(r#"{"tool_calls": [{"na"#),
            Answer::Text(r#"{"tool_calls": [{"na"#.into())
        );
    }

    #[test]
    fn choices_compile_and_bad_ones_name_the_field() {
        for choice in [
            None,
            Some(json!("auto")),
            Some(json!("required")),
            Some(json!({ "type": "function", "function": { "name": "get_weather" } })),
        ] {
            assert!(
                tool_use(Some(&weather()), choice.as_ref(), Some(false))
                    .unwrap()
                    .is_some()
            );
        }
        assert!(
            tool_use(Some(&weather()), Some(&json!("none")), None)
                .unwrap()
                .is_none()
        );
        let param = |tools: Option<Value>, choice: Option<Value>| {
            tool_use(tools.as_ref(), choice.as_ref(), None)
                .unwrap_err()
                .param()
                .unwrap()
        };
        assert_eq!(param(None, Some(json!("auto"))), "tool_choice");
        assert_eq!(param(Some(json!([])), None), "tools");
        assert_eq!(param(Some(weather()), Some(json!("always"))), "tool_choice");
        assert_eq!(
            param(
                Some(weather()),
                Some(json!({ "type": "function", "function": { "name": "nope" } }))
            ),
            "tool_choice.function.name"
        );
        let mut unknown = weather();
        unknown[0]["function"]["returns"] = json!("x");
        assert_eq!(param(Some(unknown), None), "tools[0].function.returns");
        let mut twice = weather();
        twice.as_array_mut().unwrap().push(weather()[0].clone());
        assert_eq!(param(Some(twice), None), "tools[1].function.name");
    }

    #[test]
    fn instructions_join_a_leading_system_message() {
        let tools = tool_use(Some(&weather()), None, None).unwrap().unwrap();
        let mut messages = vec![ChatMessage::new(Role::User, "Weather in Oslo?")];
        tools.instruct(&mut messages);
        assert_eq!(messages[0].role, Role::System);
        assert!(messages[0].content.contains("get_weather"));
        let mut messages = vec![
            ChatMessage::new(Role::System, "Be brief."),
            ChatMessage::new(Role::User, "?"),
        ];
        tools.instruct(&mut messages);
        assert_eq!(messages.len(), 2);
        assert!(messages[0].content.starts_with("Be brief.\n\nYou can call"));
    }
}
