"""The official `openai` Python SDK against `soil serve`: python openai_sdk.py BASE_URL MODEL [--unfunded]

Run by client/tests/it/sdk.rs (with the SDK `make setup-openai-sdk` installs into .venv) against a server
with --ctx-size 512 and --max-queue 9. Prints one line per check; exits non-zero if any fails. Every
generation read to its end is short (at most 16 tokens) so the whole run takes seconds. With --unfunded
it checks only the 402 of a server whose payer is withdrawing its whole deposit.
"""

import json
import sys
import traceback
from concurrent.futures import ThreadPoolExecutor

import openai
from openai import OpenAI

BASE, MODEL = sys.argv[1], sys.argv[2]
# No retries: a 5xx or a dropped connection must fail the check, not be hidden by a second try.
client = OpenAI(base_url=BASE.rstrip("/") + "/v1", api_key="unused", max_retries=0, timeout=120)

QUESTION = "What do bees make?"
failures = []


def check(name):
    """Runs the decorated function as the check `name`, printing PASS or FAIL with the reason."""

    def run(function):
        try:
            function()
            print(f"PASS {name}", flush=True)
        except Exception as error:  # an assert, or the SDK raising on a response it did not expect
            failures.append(name)
            detail = "".join(traceback.format_exception_only(type(error), error)).strip()
            print(f"FAIL {name}: {detail}", flush=True)
        return function

    return run


def valid(value):
    """`value` (a response the SDK built without validating it), validated against the SDK's own types."""
    if isinstance(value, list):
        return [valid(v) for v in value]
    return type(value).model_validate(value.model_dump(mode="json", warnings=False))


def chat(content=QUESTION, **fields):
    fields.setdefault("temperature", 0)
    fields.setdefault("max_tokens", 16)
    answer = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": content}], **fields
    )
    return answer if fields.get("stream") else valid(answer)


def refused(param, code=None, **fields):
    """Asserts the chat request with `fields` is a 400 the SDK raises as BadRequestError naming `param`."""
    try:
        answer = chat(**fields)
    except openai.BadRequestError as error:
        assert error.status_code == 400, error.status_code
        assert error.param == param, f"param {error.param!r}, expected {param!r}: {error.body}"
        assert error.type == "invalid_request_error", f"type {error.type!r}: {error.body}"
        assert error.code is not None and error.message, error.body
        if code is not None:
            assert error.code == code, f"code {error.code!r}, expected {code!r}: {error.body}"
        return
    raise AssertionError(f"{fields} was accepted: {answer}")


if sys.argv[3:] == ["--unfunded"]:
    # Run against a server whose payer has asked to withdraw its whole deposit: the one check.
    @check("a request the deposit cannot pay for is a 402 insufficient_deposit naming the shortfall")
    def _():
        try:
            chat(max_tokens=4)
        except openai.APIStatusError as error:
            assert error.status_code == 402, error.status_code
            assert error.type == "insufficient_deposit", error.body
            assert "pending withdrawal" in error.message, error.message
            return
        raise AssertionError("served without a deposit to pay with")

    sys.exit(1 if failures else 0)

state = {}


@check("models.list names the served model")
def _():
    ids = [valid(m).id for m in client.models.list()]
    assert MODEL in ids, f"{MODEL!r} not in {ids}"


@check("models.retrieve: the served model, NotFoundError model_not_found for another")
def _():
    assert valid(client.models.retrieve(MODEL)).id == MODEL
    try:
        client.models.retrieve("gpt-4o")
    except openai.NotFoundError as error:
        assert error.code == "model_not_found", error.body
        return
    raise AssertionError("gpt-4o was found")


@check("chat.completions.create: an answer with usage")
def _():
    answer = chat()
    assert answer.object == "chat.completion", answer.object
    assert answer.model == MODEL, answer.model
    assert len(answer.choices) == 1, answer.choices
    choice = answer.choices[0]
    assert choice.index == 0 and choice.message.role == "assistant", choice
    assert isinstance(choice.message.content, str) and choice.message.content, choice.message
    assert choice.finish_reason in ("stop", "length"), choice.finish_reason
    assert choice.logprobs is None, choice.logprobs
    usage = answer.usage
    assert 0 < usage.completion_tokens <= 16, usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens, usage
    state["full"] = choice.message.content


@check("chat content as a list of text parts reads as the same string")
def _():
    answer = chat([{"type": "text", "text": QUESTION}])
    assert answer.choices[0].message.content == state["full"], answer.choices[0].message.content


@check("chat stop: the text ends before the stop string, finish_reason stop")
def _():
    full = state["full"]
    assert len(full) >= 8, f"too short to cut: {full!r}"
    stop = full[len(full) // 2 :][:3]
    expected = full[: full.find(stop)]
    answer = chat(stop=[stop, "never in this text ~~~"])
    choice = answer.choices[0]
    assert choice.message.content == expected, f"stop {stop!r}: {choice.message.content!r} != {expected!r}"
    assert choice.finish_reason == "stop", choice.finish_reason


@check("chat max_completion_tokens=5: finish_reason length, at most 5 tokens")
def _():
    answer = valid(client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": QUESTION}],
        temperature=0,
        max_completion_tokens=5,
    ))
    assert answer.choices[0].finish_reason == "length", answer.choices[0].finish_reason
    assert answer.usage.completion_tokens <= 5, answer.usage


@check("chat n=2: two choices, indexed 0 and 1")
def _():
    answer = chat(n=2, temperature=0.8, seed=1, max_tokens=4)
    assert [c.index for c in answer.choices] == [0, 1], answer.choices
    assert all(c.message.content is not None for c in answer.choices), answer.choices


@check("chat seed: the same seed gives the same text at temperature 0.8")
def _():
    first = chat(seed=42, temperature=0.8, max_tokens=12).choices[0].message.content
    again = chat(seed=42, temperature=0.8, max_tokens=12).choices[0].message.content
    assert first == again, f"{first!r} != {again!r}"


@check("chat logprobs=True, top_logprobs=2: every token with two alternatives")
def _():
    answer = chat(logprobs=True, top_logprobs=2, max_tokens=4)
    choice = answer.choices[0]
    tokens = choice.logprobs.content
    assert tokens and len(tokens) == answer.usage.completion_tokens, (tokens, answer.usage)
    assert "".join(t.token for t in tokens) == choice.message.content, (tokens, choice.message.content)
    for t in tokens:
        assert t.logprob <= 0, t
        assert len(t.top_logprobs) == 2, t
        assert t.top_logprobs[0].token == t.token and t.top_logprobs[0].logprob == t.logprob, t
        assert t.top_logprobs[1].logprob <= t.top_logprobs[0].logprob, t


@check("chat streaming with include_usage: deltas then a last chunk with usage")
def _():
    chunks = valid(list(chat(stream=True, stream_options={"include_usage": True}, max_tokens=6)))
    assert all(c.object == "chat.completion.chunk" and c.model == MODEL for c in chunks), chunks
    *rest, last = chunks
    assert last.choices == [] and last.usage is not None, last
    assert last.usage.completion_tokens == 6, last.usage
    assert all(c.usage is None for c in rest), rest
    assert rest[-1].choices[0].finish_reason == "length", rest[-1]
    text = "".join(c.choices[0].delta.content or "" for c in rest)
    assert text and state["full"].startswith(text), f"{text!r} is not how {state['full']!r} begins"


@check("chat tool-result turn after an assistant message with content None")
def _():
    answer = valid(client.chat.completions.create(
        model=MODEL,
        temperature=0,
        max_tokens=4,
        messages=[
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "What is 2 + 2?"},
            {"role": "assistant", "content": None},
            {"role": "tool", "tool_call_id": "call_1", "content": "4"},
        ],
    ))
    assert answer.choices[0].message.role == "assistant", answer


@check("a tool-call loop: a forced call, its result given back, then a text answer")
def _():
    tools = [{
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city now",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "maxLength": 30}},
                "required": ["city"],
                "additionalProperties": False,
            },
        },
    }]
    messages = [{"role": "user", "content": "What is the weather in Oslo?"}]
    called = valid(client.chat.completions.create(
        model=MODEL, temperature=0, max_tokens=48, messages=messages, tools=tools, tool_choice="required",
        parallel_tool_calls=False,
    ))
    choice = called.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather", call
    assert isinstance(json.loads(call.function.arguments)["city"], str), call
    messages += [choice.message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": call.id, "content": "Sunny, 21 C"}]
    answer = valid(client.chat.completions.create(
        model=MODEL, temperature=0, max_tokens=16, messages=messages, tools=tools, tool_choice="none",
    ))
    assert answer.choices[0].message.content, answer


@check("embeddings.create: one unit vector per input, equal for equal texts")
def _():
    answer = client.embeddings.create(model=MODEL, input=["Honey bees.", "Honey bees.", "Stock markets."])
    vectors = [d.embedding for d in answer.data]
    assert len(vectors) == 3 and len(vectors[0]) > 0, answer
    assert abs(sum(x * x for x in vectors[0]) - 1) < 1e-3
    assert vectors[0] == vectors[1] and vectors[0] != vectors[2]
    assert answer.usage.prompt_tokens > 0, answer.usage


@check("responses.create: output_text, whole and streamed to response.completed")
def _():
    fields = dict(model=MODEL, input="Name one colour.", instructions="Answer briefly.",
                  max_output_tokens=16, temperature=0)
    whole = client.responses.create(**fields)
    assert whole.output_text, whole
    assert whole.usage.output_tokens > 0, whole.usage
    deltas, last = [], None
    for event in client.responses.create(stream=True, **fields):
        if event.type == "response.output_text.delta":
            deltas.append(event.delta)
        last = event
    assert last is not None and last.type in ("response.completed", "response.incomplete"), last
    assert "".join(deltas) == last.response.output_text == whole.output_text, (deltas, whole.output_text)


@check("completions.create with stop, streamed: the text ends before the stop string")
def _():
    fields = dict(model=MODEL, prompt="Honey bees are", max_tokens=16, temperature=0)
    plain = valid(client.completions.create(**fields))
    assert plain.object == "text_completion", plain.object
    full = plain.choices[0].text
    assert len(full) >= 8, f"too short to cut: {full!r}"
    stop = full[len(full) // 2 :][:3]
    expected = full[: full.find(stop)]
    answer = valid(client.completions.create(stop=stop, **fields))
    assert answer.choices[0].text == expected, f"stop {stop!r}: {answer.choices[0].text!r} != {expected!r}"
    assert answer.choices[0].finish_reason == "stop", answer.choices[0].finish_reason
    chunks = list(client.completions.create(stop=stop, stream=True, **fields))
    # The SDK types a streamed completion's chunks as `Completion`, whose finish_reason is not optional,
    # though OpenAI's own stream sends null until the last chunk: only that one can be validated.
    valid(chunks[-1])
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text == expected, f"streamed {text!r} != {expected!r}"
    assert chunks[-1].choices[0].finish_reason == "stop", chunks[-1]


@check("an unknown field (extra_body bogus) is a BadRequestError naming it")
def _():
    refused("bogus", "unknown_parameter", extra_body={"bogus": 1})


@check("temperature 3 is a BadRequestError naming temperature")
def _():
    refused("temperature", "invalid_value", temperature=3)


@check("n=9 is a BadRequestError naming n")
def _():
    refused("n", "invalid_value", n=9)


@check("response_format json_object: the answer is a JSON object")
def _():
    answer = chat(response_format={"type": "json_object"}, max_tokens=64)
    choice = answer.choices[0]
    assert choice.finish_reason == "stop", choice
    assert isinstance(json.loads(choice.message.content), dict), choice.message.content


@check("response_format json_schema (strict): the answer parses and matches the schema")
def _():
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 30}, "population": {"type": "integer"}},
        "required": ["city", "population"],
        "additionalProperties": False,
    }
    answer = chat(
        response_format={"type": "json_schema", "json_schema": {"name": "city", "strict": True, "schema": schema}},
        max_tokens=64,
    )
    choice = answer.choices[0]
    assert choice.finish_reason == "stop", choice
    value = json.loads(choice.message.content)
    assert sorted(value) == ["city", "population"], value
    assert isinstance(value["city"], str) and isinstance(value["population"], int), value


@check("an unknown response_format type is a BadRequestError naming response_format.type")
def _():
    refused("response_format.type", "invalid_value", response_format={"type": "xml"})


@check("a prompt longer than the context is a BadRequestError context_length_exceeded")
def _():
    refused("messages", "context_length_exceeded", content="bees " * 600)


@check("an unknown route is a NotFoundError")
def _():
    try:
        client.get("/no-such-route", cast_to=object)
    except openai.NotFoundError as error:
        assert error.type == "invalid_request_error", error.body
        return
    raise AssertionError("/v1/no-such-route answered")


@check("8 concurrent streams give the texts each gave alone")
def _():
    colours = ["red", "yellow", "green", "orange", "purple", "blue", "brown", "pink"]
    questions = [f"Name a fruit that is {colour}." for colour in colours]

    def streamed(question):
        chunks = chat(content=question, stream=True, max_tokens=12)
        return "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)

    alone = [streamed(question) for question in questions]
    with ThreadPoolExecutor(len(questions)) as pool:
        together = list(pool.map(streamed, questions))
    assert together == alone, f"together {together}, alone {alone}"


@check("a request past --max-queue is a RateLimitError (429, rate_limit_exceeded, Retry-After: 1)")
def _():
    # The server runs with --max-queue 9: nine long streams hold every place while the tenth arrives.
    held = [chat(content="Count from one to a hundred.", stream=True, max_tokens=400) for _ in range(9)]
    try:
        chat(max_tokens=4)
    except openai.RateLimitError as error:
        assert error.status_code == 429, error.status_code
        assert error.code == "rate_limit_exceeded", error.body
        assert error.response.headers.get("retry-after") == "1", error.response.headers
        return
    finally:
        for stream in held:
            stream.close()
    raise AssertionError("a tenth request was served past --max-queue 9")


verdict = f"{len(failures)} check(s) failed: {', '.join(failures)}" if failures else "all checks passed"
print(f"openai {openai.__version__}: {verdict}")
sys.exit(1 if failures else 0)
