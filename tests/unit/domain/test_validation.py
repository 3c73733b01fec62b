"""Validation of Anthropic Messages bodies as Bedrock judges them: one test per rule, accepted
and rejected forms, exact message texts; real client bodies pass; arbitrary JSON never raises
anything but ValidationException."""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claude_bedrock.domain.errors import ValidationException
from claude_bedrock.domain.validation import (
    MODEL_ERRORS_PREFIX,
    KNOWN_BETAS,
    MAX_BODY_BYTES,
    TOP_LEVEL_FIELDS,
    ValidatedRequest,
    parse_json_body,
    validate_messages_request,
)


@dataclass(frozen=True)
class Limits:
    model_id: str
    max_output_tokens: int
    context_window: int = 200_000
    supports_thinking: bool = True
    supports_1m_context: bool = False
    effort_levels: tuple[str, ...] = ()


SONNET_45 = Limits("anthropic.claude-sonnet-4-5-20250929-v1:0", 64_000, supports_1m_context=True)
HAIKU_35 = Limits("anthropic.claude-3-5-haiku-20241022-v1:0", 8192, supports_thinking=False)
OPUS_45 = Limits("anthropic.claude-opus-4-5-20251101-v1:0", 64_000, effort_levels=("low", "medium", "high"))

MALFORMED = "Malformed input request: {}, please reformat your input and try again."
#: A Messages body breaking Bedrock's schema: the legacy Text Completions branch fails first.
SCHEMA = MALFORMED.format('#: subject must not be valid against schema {{"required":["messages"]}}{}')

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(24)).decode()
JPEG = base64.b64encode(b"\xff\xd8\xff\xe0" + bytes(24)).decode()
GIF = base64.b64encode(b"GIF89a" + bytes(24)).decode()
WEBP = base64.b64encode(b"RIFF\x00\x00\x00\x00WEBPVP8 " + bytes(16)).decode()
PDF = base64.b64encode(b"%PDF-1.4\n%fake\n").decode()


def make_body(**fields: Any) -> dict[str, Any]:
    """A minimal valid boto3-style body, with ``fields`` overriding or adding keys."""
    body: dict[str, Any] = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": "Hello, world"}],
    }
    body.update(fields)
    return body


def user(*blocks: Any) -> dict[str, Any]:
    return {"role": "user", "content": list(blocks)}


def assistant(*blocks: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": list(blocks)}


def text(value: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"type": "text", "text": value, **extra}


def tool_use(tool_id: str = "toolu_01", name: str = "get_weather") -> dict[str, Any]:
    return {"type": "tool_use", "id": tool_id, "name": name, "input": {"city": "Paris"}}


def tool_result(tool_id: str = "toolu_01", content: Any = "sunny") -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": tool_id, "content": content}


def image(data: str = PNG, media_type: str = "image/png", kind: str = "base64") -> dict[str, Any]:
    return {"type": "image", "source": {"type": kind, "media_type": media_type, "data": data}}


def thinking_block() -> dict[str, Any]:
    return {"type": "thinking", "thinking": "Let me think.", "signature": "sig=="}


WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
THINKING = {"type": "enabled", "budget_tokens": 1024}
EPHEMERAL = {"type": "ephemeral"}


def accepts(body: Any, model: Limits = SONNET_45, **kwargs: Any) -> ValidatedRequest:
    return validate_messages_request(body, model, **kwargs)


#: Bedrock's own layer answers these (schema, anthropic_version); everything else is the model's
#: rule, relayed bare by InvokeModel and with MODEL_ERRORS_PREFIX by Converse.
BEDROCK_LAYER = ("Malformed input request: ", "anthropic_version: ", "Invalid API version: ", "invalid beta flag")


def rejects(body: Any, model: Limits = SONNET_45, **kwargs: Any) -> str:
    """The rejection's text as InvokeModel answers it; asserted here too: Converse's is the
    same with MODEL_ERRORS_PREFIX before every model rule, none before Bedrock's layer."""
    with pytest.raises(ValidationException) as caught:
        validate_messages_request(body, model, **kwargs)
    assert caught.value.status == 400
    message = caught.value.message
    with pytest.raises(ValidationException) as converse:
        validate_messages_request(body, model, model_errors_prefix=MODEL_ERRORS_PREFIX, **kwargs)
    relayed = message if message.startswith(BEDROCK_LAYER) else MODEL_ERRORS_PREFIX + message
    assert converse.value.message == relayed
    return message


def test_invoke_model_relays_the_model_s_rejection_bare_and_converse_prefixes_it() -> None:
    """Audit: InvokeModel put "The model returned the following errors: " before every model
    rule. Real InvokeModel answers bare: 'messages: roles must alternate between "user" and
    "assistant", but found multiple "user" roles in a row' (AnthropicBedrock, body
    {'message': ...}: https://github.com/modelcontextprotocol/quickstart-resources/issues/20;
    https://github.com/anthropics/claude-code/issues/1162), "messages: text content blocks must
    be non-empty" (InvokeModelWithResponseStream:
    https://github.com/continuedev/continue/issues/10804,
    https://github.com/anomalyco/opencode/issues/22364); Converse prefixes the same rules
    (ConverseStream: https://github.com/aws-samples/bedrock-access-gateway/issues/191)."""
    body = make_body(messages=[{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])
    alternate = 'messages: roles must alternate between "user" and "assistant", but found multiple "user" roles in a row'
    with pytest.raises(ValidationException) as invoke:
        validate_messages_request(body, SONNET_45)
    assert invoke.value.message == alternate
    with pytest.raises(ValidationException) as converse:
        validate_messages_request(body, SONNET_45, model_errors_prefix=MODEL_ERRORS_PREFIX)
    assert converse.value.message == "The model returned the following errors: " + alternate
    with pytest.raises(ValidationException) as schema:
        validate_messages_request(make_body(stream=True), SONNET_45, model_errors_prefix=MODEL_ERRORS_PREFIX)
    assert schema.value.message.startswith("Malformed input request: ")


# --------------------------------------------------------------------------- parse_json_body


def test_parse_json_body_returns_the_object() -> None:
    assert parse_json_body(b'{"max_tokens": 1}') == {"max_tokens": 1}


def test_parse_json_body_rejects_malformed_json() -> None:
    with pytest.raises(ValidationException) as caught:
        parse_json_body(b'{"max_tokens": ')
    assert caught.value.message == MALFORMED.format("Expecting value at line 1 column 16")


def test_parse_json_body_rejects_an_empty_body() -> None:
    with pytest.raises(ValidationException, match="^Malformed input request: Expecting value"):
        parse_json_body(b"")


@pytest.mark.parametrize(
    ("raw", "found"), [(b"[1]", "JSONArray"), (b'"x"', "String"), (b"3", "Integer"), (b"null", "Null")]
)
def test_parse_json_body_rejects_a_non_object(raw: bytes, found: str) -> None:
    with pytest.raises(ValidationException) as caught:
        parse_json_body(raw)
    assert caught.value.message == MALFORMED.format(f"#: expected type: JSONObject, found: {found}")


def test_parse_json_body_rejects_invalid_utf8() -> None:
    with pytest.raises(ValidationException) as caught:
        parse_json_body(b'{"a": "\xff"}')
    assert caught.value.message == MALFORMED.format("invalid UTF-8 at byte 7")


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_parse_json_body_rejects_non_standard_numbers(token: str) -> None:
    with pytest.raises(ValidationException) as caught:
        parse_json_body(f'{{"temperature": {token}}}'.encode())
    assert caught.value.message == MALFORMED.format(f"Non-standard token '{token}'")


def test_parse_json_body_rejects_a_lone_surrogate_escape() -> None:
    with pytest.raises(ValidationException) as caught:
        parse_json_body(rb'{"a": "x\ud800y"}')
    assert caught.value.message == MALFORMED.format("unpaired UTF-16 surrogate in a string")


def test_parse_json_body_accepts_a_surrogate_pair_escape() -> None:
    assert parse_json_body(rb'{"a": "\ud83d\ude00", "b": "\\ud800"}') == {"a": "\U0001f600", "b": "\\ud800"}


def test_parse_json_body_rejects_nesting_too_deep_to_parse() -> None:
    with pytest.raises(ValidationException) as caught:
        parse_json_body(b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert caught.value.message == MALFORMED.format("JSON nested too deeply")


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (b'{"max_tokens": ' + b"9" * 5000 + b"}", "integer longer than 4300 digits"),
        (b'{"a": [-' + b"1" * 4301 + b"]}", "integer longer than 4300 digits"),
        (b'\xef\xbb\xbf{"max_tokens": 1}', "Unexpected UTF-8 BOM at line 1 column 1"),
        (b'{"a": "tab\there"}', "Invalid control character at line 1 column 11"),  # was "at at"
    ],
    ids=["5000 digits", "4301 digits", "BOM", "raw tab in a string"],
)
def test_parse_json_body_messages_speak_to_the_client_not_of_python(raw: bytes, detail: str) -> None:
    """Audit: the parser's own texts reached the client, "... use sys.set_int_max_str_digits() to
    increase the limit" and "(decode using utf-8-sig)": advice for the server's code that no
    caller can follow."""
    with pytest.raises(ValidationException) as caught:
        parse_json_body(raw)
    assert caught.value.message == MALFORMED.format(detail)


def test_parse_json_body_reads_an_integer_of_4300_digits() -> None:
    assert parse_json_body(b'{"a": ' + b"7" * 4300 + b"}")["a"] == int("7" * 4300)


def test_parse_json_body_rejects_a_body_over_25_mb() -> None:
    assert MAX_BODY_BYTES == 25_000_000
    raw = b'{"a": "' + b"x" * (MAX_BODY_BYTES - 8) + b'"}'
    assert len(raw) == MAX_BODY_BYTES + 1
    with pytest.raises(ValidationException) as caught:
        parse_json_body(raw)
    assert caught.value.message == ("1 validation error detected: Value at 'body' failed to satisfy constraint: "
                                    "Member must have length less than or equal to 25000000")


# --------------------------------------------------------------------------- real clients


def _captured_invoke_bodies(vectors_dir: Path) -> list[tuple[str, bytes]]:
    bodies = []
    for path in sorted((vectors_dir / "captured-requests").glob("*.json")):
        capture = json.loads(path.read_text(encoding="utf-8"))
        for request in capture.get("requests", []) if isinstance(capture, dict) else []:
            if request["path"].startswith("/model/") and "/invoke" in request["path"]:
                bodies.append((path.name, base64.b64decode(request["body_base64"])))
    return bodies


def test_validate_accepts_every_captured_client_invoke_body(vectors_dir: Path) -> None:
    bodies = _captured_invoke_bodies(vectors_dir)
    assert len(bodies) >= 15
    versions = set()
    for name, raw in bodies:
        result = validate_messages_request(parse_json_body(raw), SONNET_45, count_input_tokens=len)
        versions.add(result.anthropic_version)
        assert result.max_tokens == 256, name
    assert versions == {"bedrock-2023-05-31", "2026-10-21"}


def test_validate_reads_betas_from_the_anthropic_sdk_body(vectors_dir: Path) -> None:
    bodies = dict(_captured_invoke_bodies(vectors_dir))
    raw = bodies["anthropic-py-messages_create-extra_header_anthropic_beta.json"]
    result = accepts(parse_json_body(raw))
    assert result.betas == ("context-1m-2025-08-07", "interleaved-thinking-2025-05-14")
    assert result.context_limit == 1_000_000


def test_validate_refuses_the_npm_count_tokens_body_as_bedrock_would(vectors_dir: Path) -> None:
    capture = json.loads((vectors_dir / "captured-requests/anthropic-npm-messages_count_tokens.json").read_text())
    body = parse_json_body(base64.b64decode(capture["requests"][0]["body_base64"]))
    assert rejects(body) == SCHEMA.format(
        "#: required key [max_tokens] not found#: extraneous key [model] is not permitted"
    )


# --------------------------------------------------------------------------- result


def test_validate_returns_the_body_itself_unchanged() -> None:
    body = make_body(
        system=[text("be brief", cache_control=EPHEMERAL)],
        tools=[WEATHER_TOOL],
        messages=[user(text(), image()), assistant(tool_use()), user(tool_result())],
    )
    before = copy.deepcopy(body)
    result = accepts(body)
    assert result.body is body
    assert body == before
    assert result == ValidatedRequest(
        body=body, betas=(), anthropic_version="bedrock-2023-05-31", max_tokens=256,
        context_limit=200_000, input_tokens=None, thinking_budget=None,
    )  # fmt: skip


# --------------------------------------------------------------------------- top-level schema


@pytest.mark.parametrize("key", ["stream", "model", "prompt"])
def test_validate_rejects_an_extraneous_top_level_key(key: str) -> None:
    assert rejects(make_body(**{key: True})) == SCHEMA.format(f"#: extraneous key [{key}] is not permitted")


def test_validate_reports_every_extraneous_key_together() -> None:
    message = rejects(make_body(model="claude", stream=True))
    assert message == SCHEMA.format(
        "#: extraneous key [model] is not permitted#: extraneous key [stream] is not permitted"
    )


@pytest.mark.parametrize(
    "key", ["output_config", "output_format", "context_management", "cache_control", "container"]
)
def test_validate_accepts_newer_sdk_object_keys(key: str) -> None:
    value = {"cache_control": EPHEMERAL, "output_format": {"type": "json_schema", "schema": {}}}.get(key, {})
    # context_management is known to the API only with its beta (test_context_editing.py)
    betas = {"context_management": ["context-management-2025-06-27"]}.get(key)
    extra = {} if betas is None else {"anthropic_beta": betas}
    assert accepts(make_body(**{key: value}, **extra)).body[key] == value


@pytest.mark.parametrize(
    ("key", "value"),
    [("service_tier", "auto"), ("inference_geo", "us"), ("user_profile_id", "u1"), ("mcp_servers", [])],
)
def test_validate_accepts_newer_sdk_scalar_keys(key: str, value: Any) -> None:
    accepts(make_body(**{key: value}))


def test_validate_type_checks_newer_sdk_keys() -> None:
    assert rejects(make_body(output_config="high")) == SCHEMA.format(
        "#/output_config: expected type: JSONObject, found: String"
    )


@pytest.mark.parametrize("key", ["max_tokens", "messages"])
def test_validate_rejects_a_missing_required_key(key: str) -> None:
    body = make_body()
    del body[key]
    template = SCHEMA if "messages" in body else MALFORMED
    assert rejects(body) == template.format(f"#: required key [{key}] not found")


def test_a_messages_body_breaking_the_schema_fails_the_text_completions_branch_first() -> None:
    """Audit: the violations came alone. Bedrock's answer to a Claude 3 Sonnet InvokeModel body
    without max_tokens: "Malformed input request: #: subject must not be valid against schema
    {\"required\":[\"messages\"]}#: required key [max_tokens] not found, please reformat your input
    and try again." (https://github.com/diffbot/code-gpt-docs/issues/300); with stream and model:
    https://github.com/fumito-ito/AnthropicSwiftSDK/issues/19."""
    body = make_body()
    del body["max_tokens"]
    assert rejects(body) == (
        'Malformed input request: #: subject must not be valid against schema {"required":["messages"]}'
        "#: required key [max_tokens] not found, please reformat your input and try again.")
    assert rejects(make_body(stream=False, model="claude-3-5-sonnet-20240620")) == (
        'Malformed input request: #: subject must not be valid against schema {"required":["messages"]}'
        "#: extraneous key [stream] is not permitted#: extraneous key [model] is not permitted, please reformat "
        "your input and try again.")


@pytest.mark.parametrize(
    ("value", "found"),
    [("256", "String"), (True, "Boolean"), (256.0, "Double"), (None, "Null"), ([1], "JSONArray")],
)
def test_validate_rejects_max_tokens_of_the_wrong_type(value: Any, found: str) -> None:
    assert rejects(make_body(max_tokens=value)) == SCHEMA.format(
        f"#/max_tokens: expected type: Integer, found: {found}"
    )


def test_validate_rejects_max_tokens_below_one() -> None:
    assert rejects(make_body(max_tokens=0)) == SCHEMA.format("#/max_tokens: 0 is not greater or equal to 1")


def test_validate_names_long_integers_like_the_schema_layer() -> None:
    assert rejects(make_body(top_k=str(2**40))) == SCHEMA.format("#/top_k: expected type: Integer, found: String")
    assert rejects(make_body(temperature=2**40)) == SCHEMA.format(
        "#/temperature: 1099511627776 is not less or equal to 1"
    )


def test_validate_rejects_messages_that_are_not_an_array() -> None:
    assert rejects(make_body(messages={"role": "user"})) == SCHEMA.format(
        "#/messages: expected type: JSONArray, found: JSONObject"
    )


@pytest.mark.parametrize(("value", "detail"), [(1.5, "1.5 is not less or equal to 1"), (-0.1, "-0.1 is not greater or equal to 0")])
def test_validate_rejects_temperature_out_of_range(value: float, detail: str) -> None:
    assert rejects(make_body(temperature=value)) == SCHEMA.format(f"#/temperature: {detail}")


@pytest.mark.parametrize("value", [0, 1, 0.7, 1.0])
def test_validate_accepts_temperature_in_range(value: float) -> None:
    accepts(make_body(temperature=value))


def test_validate_rejects_temperature_as_a_string() -> None:
    assert rejects(make_body(temperature="0.5")) == SCHEMA.format(
        "#/temperature: expected type: Number, found: String"
    )


def test_validate_checks_top_p_range() -> None:
    accepts(make_body(top_p=0.9))
    assert rejects(make_body(top_p=1.2)) == SCHEMA.format("#/top_p: 1.2 is not less or equal to 1")


def test_validate_checks_top_k() -> None:
    accepts(make_body(top_k=0))
    accepts(make_body(top_k=250))
    assert rejects(make_body(top_k=-1)) == SCHEMA.format("#/top_k: -1 is not greater or equal to 0")
    assert rejects(make_body(top_k=2.5)) == SCHEMA.format("#/top_k: expected type: Integer, found: Double")


def test_validate_treats_null_optional_keys_as_absent() -> None:
    accepts(make_body(temperature=None, system=None, tools=None, thinking=None, anthropic_beta=None))


def test_validate_reports_schema_violations_together() -> None:
    body = make_body(temperature=3, stream=True)
    del body["max_tokens"]
    assert rejects(body) == SCHEMA.format(
        "#: required key [max_tokens] not found#/temperature: 3 is not less or equal to 1"
        "#: extraneous key [stream] is not permitted"
    )


@pytest.mark.parametrize(("body", "found"), [([], "JSONArray"), ("x", "String"), (None, "Null"), (1.5, "Double")])
def test_validate_rejects_a_body_that_is_not_an_object(body: Any, found: str) -> None:
    assert rejects(body) == MALFORMED.format(f"#: expected type: JSONObject, found: {found}")


def test_top_level_allow_list_is_the_documented_one() -> None:
    assert set(TOP_LEVEL_FIELDS) == {
        "anthropic_version", "anthropic_beta", "max_tokens", "messages", "system", "temperature",
        "top_p", "top_k", "stop_sequences", "tools", "tool_choice", "thinking", "metadata",
        "output_config", "output_format", "service_tier", "container", "inference_geo",
        "user_profile_id", "cache_control", "context_management", "mcp_servers",
    }  # fmt: skip
    assert "model" not in TOP_LEVEL_FIELDS and "stream" not in TOP_LEVEL_FIELDS


# --------------------------------------------------------------------------- anthropic_version


@pytest.mark.parametrize("version", ["bedrock-2023-05-31", "2026-10-21"])
def test_validate_accepts_both_client_versions(version: str) -> None:
    assert accepts(make_body(anthropic_version=version)).anthropic_version == version


def test_validate_requires_anthropic_version() -> None:
    body = make_body()
    del body["anthropic_version"]
    assert rejects(body) == "anthropic_version: Field required"


def test_validate_rejects_an_unknown_anthropic_version() -> None:
    message = rejects(make_body(anthropic_version="claude-3-sonnet-20240229-v1:0"))
    assert message == "Invalid API version: claude-3-sonnet-20240229-v1:0"
    assert rejects(make_body(anthropic_version="2023-06-01")) == "Invalid API version: 2023-06-01"


def test_validate_rejects_a_non_string_anthropic_version() -> None:
    assert rejects(make_body(anthropic_version=20230531)) == SCHEMA.format(
        "#/anthropic_version: expected type: String, found: Integer"
    )


# --------------------------------------------------------------------------- max_tokens vs model


def test_validate_accepts_max_tokens_at_the_model_limit() -> None:
    assert accepts(make_body(max_tokens=64_000)).max_tokens == 64_000
    assert accepts(make_body(max_tokens=8192), HAIKU_35).max_tokens == 8192


def test_validate_rejects_max_tokens_above_the_model_limit() -> None:
    assert rejects(make_body(max_tokens=64_001)) == (
        "max_tokens: 64001 > 64000, which is the maximum allowed number of output tokens for "
        "claude-sonnet-4-5-20250929"
    )
    assert rejects(make_body(max_tokens=10_000), HAIKU_35) == (
        "max_tokens: 10000 > 8192, which is the maximum allowed number of output tokens for "
        "claude-3-5-haiku-20241022"
    )


def test_validate_names_the_model_by_its_anthropic_name_when_it_has_one() -> None:
    @dataclass(frozen=True)
    class Named(Limits):
        anthropic_name: str = "claude-custom"

    model = Named("us.anthropic.claude-x-v2:0", 100)
    assert rejects(make_body(max_tokens=101), model).endswith("output tokens for claude-custom")


# --------------------------------------------------------------------------- betas


def test_validate_accepts_known_betas_in_order_without_duplicates() -> None:
    betas = ["token-efficient-tools-2025-02-19", "interleaved-thinking-2025-05-14", "token-efficient-tools-2025-02-19"]
    assert accepts(make_body(anthropic_beta=betas)).betas == (
        "token-efficient-tools-2025-02-19",
        "interleaved-thinking-2025-05-14",
    )


@pytest.mark.parametrize("flag", sorted(KNOWN_BETAS))
def test_validate_accepts_every_listed_beta_on_sonnet_4_5(flag: str) -> None:
    assert accepts(make_body(anthropic_beta=[flag])).betas == (flag,)


@pytest.mark.parametrize(
    "flag", ["advanced-tool-use-2025-11-20", "files-api-2025-04-14", "code-execution-2025-08-25", "", "CONTEXT-1M-2025-08-07"]
)
def test_validate_rejects_an_unknown_beta(flag: str) -> None:
    assert rejects(make_body(anthropic_beta=[flag])) == f"invalid beta flag: {flag}"


def test_validate_rejects_a_non_string_beta() -> None:
    assert rejects(make_body(anthropic_beta=[1])) == SCHEMA.format(
        "#/anthropic_beta/0: expected type: String, found: Integer"
    )
    assert rejects(make_body(anthropic_beta="context-1m-2025-08-07")) == SCHEMA.format(
        "#/anthropic_beta: expected type: JSONArray, found: String"
    )


def test_validate_allows_the_1m_beta_only_on_models_that_support_it() -> None:
    assert accepts(make_body(anthropic_beta=["context-1m-2025-08-07"])).context_limit == 1_000_000
    assert rejects(make_body(anthropic_beta=["context-1m-2025-08-07"]), OPUS_45) == \
        "invalid beta flag: context-1m-2025-08-07"
    assert rejects(make_body(anthropic_beta=["context-1m-2025-08-07"]), HAIKU_35) == \
        "invalid beta flag: context-1m-2025-08-07"


def test_validate_judges_header_betas_like_body_betas() -> None:
    result = accepts(make_body(anthropic_beta=["context-1m-2025-08-07"]), header_betas=["context-1m-2025-08-07", "effort-2025-11-24"])
    assert result.betas == ("context-1m-2025-08-07", "effort-2025-11-24")
    assert rejects(make_body(), header_betas=["nope-2020-01-01"]) == "invalid beta flag: nope-2020-01-01"
    assert rejects(make_body(), OPUS_45, header_betas=["context-1m-2025-08-07"]) == \
        "invalid beta flag: context-1m-2025-08-07"


# --------------------------------------------------------------------------- context length


def test_validate_counts_input_tokens_when_a_counter_is_given() -> None:
    assert accepts(make_body()).input_tokens is None
    assert accepts(make_body(), count_input_tokens=lambda body: 200_000).input_tokens == 200_000


def test_validate_rejects_input_above_200k_without_the_1m_beta() -> None:
    """Audit: it said "prompt is too long: 200001 tokens > 200000 maximum" (the Anthropic API's
    words). Bedrock's, on InvokeModel with Sonnet 4.5: "API Error: 400 Input is too long for
    requested model." (https://github.com/anthropics/claude-code/issues/8637, and #760);
    Converse's, prefixed (https://github.com/continuedev/continue/issues/9592, Opus 4.5)."""
    message = rejects(make_body(), count_input_tokens=lambda body: 200_001)
    assert message == "Input is too long for requested model."


def test_validate_allows_input_up_to_1m_with_the_beta() -> None:
    body = make_body(anthropic_beta=["context-1m-2025-08-07"])
    assert accepts(body, count_input_tokens=lambda b: 999_999).context_limit == 1_000_000
    assert rejects(body, count_input_tokens=lambda b: 1_000_001) == (
        "prompt is too long: 1000001 tokens > 1000000 maximum"
    )


def test_validate_counts_tokens_only_after_every_other_rule() -> None:
    calls: list[dict[str, Any]] = []

    def counter(body: dict[str, Any]) -> int:
        calls.append(body)
        return 1

    rejects(make_body(messages=[]), count_input_tokens=counter)
    assert calls == []
    body = make_body()
    accepts(body, count_input_tokens=counter)
    assert calls == [body] and calls[0] is body


# --------------------------------------------------------------------------- thinking


def test_validate_accepts_thinking_with_a_budget_below_max_tokens() -> None:
    result = accepts(make_body(max_tokens=2048, thinking=THINKING))
    assert result.thinking_budget == 1024


def test_validate_accepts_disabled_thinking_even_on_models_without_it() -> None:
    assert accepts(make_body(thinking={"type": "disabled"}), HAIKU_35).thinking_budget is None


def test_validate_rejects_a_thinking_budget_below_1024() -> None:
    message = rejects(make_body(max_tokens=4096, thinking={"type": "enabled", "budget_tokens": 1023}))
    assert message == "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"


def test_validate_requires_an_integer_thinking_budget() -> None:
    assert rejects(make_body(thinking={"type": "enabled"})) == "thinking.enabled.budget_tokens: Field required"
    assert rejects(make_body(thinking={"type": "enabled", "budget_tokens": "2000"})) == (
        "thinking.enabled.budget_tokens: Input should be a valid integer"
    )


@pytest.mark.parametrize("max_tokens", [1024, 1000])
def test_validate_rejects_a_thinking_budget_not_below_max_tokens(max_tokens: int) -> None:
    """Audit: the text ended after the rule. Bedrock's, on InvokeModel with Sonnet 4.5:
    https://github.com/anthropics/claude-code/issues/8756 ("Error: 400 `max_tokens` must be
    greater than `thinking.budget_tokens`. Please consult our documentation at ...")."""
    message = rejects(make_body(max_tokens=max_tokens, thinking=THINKING))
    assert message == (
        "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at "
        "https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size")


def test_validate_lets_interleaved_thinking_budget_exceed_max_tokens() -> None:
    body = make_body(max_tokens=1024, thinking={"type": "enabled", "budget_tokens": 4096},
                     anthropic_beta=["interleaved-thinking-2025-05-14"])  # fmt: skip
    assert accepts(body).thinking_budget == 4096


def test_validate_rejects_thinking_on_a_model_without_it() -> None:
    message = rejects(make_body(max_tokens=4096, thinking=THINKING), HAIKU_35)
    assert message == "thinking: extended thinking is not supported by claude-3-5-haiku-20241022"


@pytest.mark.parametrize(
    ("thinking", "message"),
    [
        ({"type": "adaptive"}, "thinking: Input tag 'adaptive' found using 'type' does not match any of the expected tags: 'enabled', 'disabled'"),
        ({"budget_tokens": 2000}, "thinking: Unable to extract tag using discriminator 'type'"),
    ],
)  # fmt: skip
def test_validate_rejects_an_unknown_thinking_type(thinking: dict[str, Any], message: str) -> None:
    assert rejects(make_body(thinking=thinking)) == message


@pytest.mark.parametrize(
    ("thinking", "message"),
    [
        ({"type": "disabled", "budget_tokens": 0}, "thinking.disabled.budget_tokens: Extra inputs are not permitted"),
        ({"type": "enabled", "budget_tokens": 1024, "budget": 1024}, "thinking.enabled.budget: Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_validate_rejects_keys_a_thinking_config_does_not_have(thinking: dict[str, Any], message: str) -> None:
    """``{"type": "disabled", "budget_tokens": 0}`` is refused by the API (EuroEval #1107: "they
    don't support the budget_tokens parameter when thinking is disabled"); the SDK's
    ThinkingConfigDisabledParam has ``type`` only, ThinkingConfigEnabledParam ``type``,
    ``budget_tokens`` and ``display``."""
    assert rejects(make_body(max_tokens=2048, thinking=thinking)) == message


def test_validate_accepts_the_display_member_of_enabled_thinking() -> None:
    thinking = {"type": "enabled", "budget_tokens": 1024, "display": "summarized"}
    assert accepts(make_body(max_tokens=2048, thinking=thinking)).thinking_budget == 1024


def test_validate_allows_only_temperature_1_with_thinking() -> None:
    accepts(make_body(max_tokens=2048, thinking=THINKING, temperature=1))
    assert rejects(make_body(max_tokens=2048, thinking=THINKING, temperature=0.5)) == (
        "`temperature` may only be set to 1 when thinking is enabled."
    )


def test_validate_rejects_top_k_with_thinking() -> None:
    assert rejects(make_body(max_tokens=2048, thinking=THINKING, top_k=5)) == (
        "`top_k` must be unset when thinking is enabled."
    )


def test_validate_allows_only_high_top_p_with_thinking() -> None:
    accepts(make_body(max_tokens=2048, thinking=THINKING, top_p=0.95))
    assert rejects(make_body(max_tokens=2048, thinking=THINKING, top_p=0.5)) == (
        "`top_p` must be greater than or equal to 0.95 or unset when thinking is enabled."
    )


def test_validate_rejects_a_text_prefill_with_thinking() -> None:
    body = make_body(max_tokens=2048, thinking=THINKING, messages=[user(text()), assistant(text("Sure"))])
    assert rejects(body).startswith(
        "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `text`. "
        "When `thinking` is enabled, a final `assistant` message must start with a thinking block"
    )


def test_validate_accepts_a_prefill_without_thinking() -> None:
    accepts(make_body(messages=[user(text()), {"role": "assistant", "content": "The answer is"}]))


def test_validate_requires_thinking_first_in_the_tool_turn_when_thinking() -> None:
    without = [user(text()), assistant(tool_use()), user(tool_result())]
    body = make_body(max_tokens=2048, thinking=THINKING, tools=[WEATHER_TOOL], messages=without)
    assert rejects(body).startswith("messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`.")
    body["messages"] = [user(text()), assistant(thinking_block(), tool_use()), user(tool_result())]
    assert accepts(body).thinking_budget == 1024


def test_validate_rejects_forced_tool_use_with_thinking() -> None:
    body = make_body(max_tokens=2048, thinking=THINKING, tools=[WEATHER_TOOL], tool_choice={"type": "any"})
    assert rejects(body) == "Thinking may not be enabled when tool_choice forces tool use."
    body["tool_choice"] = {"type": "auto"}
    accepts(body)


# --------------------------------------------------------------------------- messages: structure


def test_validate_rejects_an_empty_messages_list() -> None:
    assert rejects(make_body(messages=[])) == "messages: at least one message is required"


def test_validate_requires_the_first_message_from_the_user() -> None:
    message = rejects(make_body(messages=[assistant(text()), user(text())]))
    assert message == 'messages: first message must use the "user" role'


@pytest.mark.parametrize(
    ("messages", "role"),
    [
        ([user(text()), user(text())], "user"),
        ([user(text()), assistant(text()), assistant(text())], "assistant"),
    ],
)
def test_validate_requires_roles_to_alternate(messages: list[Any], role: str) -> None:
    assert rejects(make_body(messages=messages)) == (
        f'messages: roles must alternate between "user" and "assistant", but found multiple "{role}" roles in a row'
    )


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("hello", "messages.0: Input should be a valid dictionary or object to extract fields from"),
        ({"content": "x"}, "messages.0.role: Field required"),
        ({"role": "system", "content": "x"}, "messages.0.role: Input should be 'user' or 'assistant'"),
        ({"role": "user"}, "messages.0.content: Field required"),
        ({"role": "user", "content": 5}, "messages.0.content: Input should be a valid string or list"),
    ],
)
def test_validate_rejects_a_malformed_message(message: Any, expected: str) -> None:
    assert rejects(make_body(messages=[message])) == expected


@pytest.mark.parametrize("content", ["", []])
def test_validate_rejects_empty_content(content: Any) -> None:
    body = make_body(messages=[user(text()), assistant(text()), {"role": "user", "content": content}])
    assert rejects(body) == (
        "messages.2: all messages must have non-empty content except for the optional final assistant message"
    )


@pytest.mark.parametrize("content", ["", []])
def test_validate_accepts_an_empty_final_assistant_message(content: Any) -> None:
    accepts(make_body(messages=[user(text()), {"role": "assistant", "content": content}]))


def test_validate_rejects_an_empty_text_block() -> None:
    assert rejects(make_body(messages=[user(text(""))])) == "messages: text content blocks must be non-empty"


def test_validate_rejects_a_whitespace_only_text() -> None:
    expected = "messages: text content blocks must contain non-whitespace text"
    assert rejects(make_body(messages=[user(text(" \n"))])) == expected
    assert rejects(make_body(messages=[{"role": "user", "content": "  "}])) == expected


def test_validate_rejects_a_prefill_ending_in_whitespace() -> None:
    expected = "messages: final assistant content cannot end with trailing whitespace"
    assert rejects(make_body(messages=[user(text()), assistant(text("The answer is "))])) == expected
    assert rejects(make_body(messages=[user(text()), {"role": "assistant", "content": "So\n"}])) == expected
    accepts(make_body(messages=[user(text("question \n")), assistant(text("So"))]))


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ({"type": "audio"}, "messages.0.content.0: Input tag 'audio' found using 'type' does not match any of the expected tags: 'text', 'image', 'document', 'tool_result', 'tool_use', 'thinking', 'redacted_thinking', 'search_result', 'server_tool_use', 'tool_search_tool_result'"),
        ({"text": "x"}, "messages.0.content.0: Unable to extract tag using discriminator 'type'"),
        ("plain", "messages.0.content.0: Input should be a valid dictionary or object to extract fields from"),
        ({"type": "text"}, "messages.0.content.0.text.text: Field required"),
        ({"type": "text", "text": 5}, "messages.0.content.0.text.text: Input should be a valid string"),
    ],
)  # fmt: skip
def test_validate_rejects_a_malformed_content_block(block: Any, expected: str) -> None:
    assert rejects(make_body(messages=[user(block)])) == expected


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        ([user(tool_use())], "messages.0.content.0: `tool_use` blocks are only allowed in `assistant` messages"),
        ([user(thinking_block())], "messages.0.content.0: `thinking` blocks are only allowed in `assistant` messages"),
        ([user(text()), assistant(image())], "messages.1.content.0: `image` blocks are only allowed in `user` messages"),
        ([user(text()), assistant(tool_result())], "messages.1.content.0: `tool_result` blocks are only allowed in `user` messages"),
    ],
)  # fmt: skip
def test_validate_keeps_block_types_to_their_role(messages: list[Any], expected: str) -> None:
    assert rejects(make_body(messages=messages)) == expected


def test_validate_accepts_every_block_type_in_its_role() -> None:
    body = make_body(
        tools=[WEATHER_TOOL],
        messages=[
            user(text(), image(), {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": PDF}}),
            assistant(thinking_block(), {"type": "redacted_thinking", "data": "abc"}, text("calling"), tool_use()),
            user(tool_result(), text("thanks")),
        ],
    )  # fmt: skip
    accepts(body)


def test_validate_requires_thinking_block_fields() -> None:
    block = {"type": "thinking", "thinking": "hmm"}
    assert rejects(make_body(messages=[user(text()), assistant(block, text("x"))])) == (
        "messages.1.content.0.thinking.signature: Field required"
    )
    assert rejects(make_body(messages=[user(text()), assistant({"type": "redacted_thinking"})])) == (
        "messages.1.content.0.redacted_thinking.data: Field required"
    )


# --------------------------------------------------------------------------- messages: tools


def tool_loop(*follow_up: Any) -> dict[str, Any]:
    return make_body(tools=[WEATHER_TOOL], messages=[user(text()), assistant(text("checking"), tool_use()), *follow_up])


def test_validate_accepts_a_complete_tool_loop() -> None:
    accepts(tool_loop(user(tool_result(), text("and?")), assistant(text("Sunny."))))


def test_validate_requires_tool_results_after_tool_use() -> None:
    expected = (
        "messages.2: Did not find 1 `tool_result` block(s) at the beginning of this message. "
        "Messages following `tool_use` blocks must begin with a matching number of `tool_result` blocks."
    )
    assert rejects(tool_loop(user(text("what?")))) == expected
    assert rejects(tool_loop({"role": "user", "content": "what?"})) == expected
    assert rejects(tool_loop(user(text("first"), tool_result()))) == expected


def test_validate_counts_tool_results_per_tool_use() -> None:
    body = make_body(
        tools=[WEATHER_TOOL],
        messages=[user(text()), assistant(tool_use("toolu_a"), tool_use("toolu_b")), user(tool_result("toolu_a"))],
    )
    assert rejects(body).startswith("messages.2: Did not find 2 `tool_result` block(s)")
    body["messages"][2] = user(tool_result("toolu_a"), tool_result("toolu_a"))
    assert rejects(body) == (
        "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_b. "
        "Each `tool_use` block must have a corresponding `tool_result` block in the next message."
    )
    body["messages"][2] = user(tool_result("toolu_b"), tool_result("toolu_a"))
    accepts(body)


def test_validate_rejects_a_tool_result_for_an_unknown_tool_use() -> None:
    assert rejects(tool_loop(user(tool_result("toolu_99")))) == (
        "messages.2.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_99. "
        "Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
    )
    assert rejects(make_body(messages=[user(tool_result())])).startswith(
        "messages.0.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_01."
    )


def test_validate_rejects_a_tool_result_answering_an_older_turn() -> None:
    body = tool_loop(user(tool_result()), assistant(text("ok")), user(tool_result()))
    assert rejects(body).startswith("messages.4.content.0: unexpected `tool_use_id`")


def test_validate_rejects_tool_use_as_the_last_message() -> None:
    assert rejects(tool_loop()) == (
        "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_01. "
        "Each `tool_use` block must have a corresponding `tool_result` block in the next message."
    )


def test_validate_requires_unique_tool_use_ids() -> None:
    body = tool_loop(user(tool_result()), assistant(tool_use()), user(tool_result()))
    assert rejects(body) == "messages.3.content.0: `tool_use` ids must be unique"


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ({"type": "tool_use", "id": "bad id", "name": "x", "input": {}}, "messages.1.content.0.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'"),
        ({"type": "tool_use", "id": "t1\n", "name": "x", "input": {}}, "messages.1.content.0.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'"),
        ({"type": "tool_use", "id": "t1", "name": "x", "input": "{}"}, "messages.1.content.0.tool_use.input: Input should be a valid dictionary"),
        ({"type": "tool_use", "id": "t1", "input": {}}, "messages.1.content.0.tool_use.name: Field required"),
        ({"type": "tool_use", "id": "t1", "name": "", "input": {}}, "messages.1.content.0.tool_use.name: String should have at least 1 character"),
    ],
)  # fmt: skip
def test_validate_rejects_a_malformed_tool_use(block: dict[str, Any], expected: str) -> None:
    assert rejects(make_body(messages=[user(text()), assistant(block), user(tool_result("t1"))])) == expected


def test_validate_checks_tool_result_content_blocks() -> None:
    accepts(tool_loop(user(tool_result(content=[text("22C"), image()]))))
    accepts(tool_loop(user(tool_result(content=[]))))
    assert rejects(tool_loop(user(tool_result(content=[tool_use("toolu_02")])))) == (
        "messages.2.content.0.tool_result.content.0: Input tag 'tool_use' found using 'type' does not "
        "match any of the expected tags: 'text', 'image', 'document', 'search_result', 'tool_reference'"
    )
    assert rejects(tool_loop(user(tool_result(content=[text("")])))) == "messages: text content blocks must be non-empty"
    assert rejects(tool_loop(user({**tool_result(), "is_error": "yes"}))) == (
        "messages.2.content.0.tool_result.is_error: Input should be a valid boolean"
    )


# --------------------------------------------------------------------------- messages: tool search

SEARCH_TOOL = {"type": "tool_search_tool_regex_20251119", "name": "tool_search_tool_regex"}
DEFERRED_WEATHER = {**WEATHER_TOOL, "defer_loading": True}


def server_search(result: Any = None) -> list[dict[str, Any]]:
    """The blocks a tool search answer holds: the server's call and its result."""
    content = result or {"type": "tool_search_tool_search_result",
                         "tool_references": [{"type": "tool_reference", "tool_name": "get_weather"}]}
    return [{"type": "server_tool_use", "id": "srvtoolu_01", "name": "tool_search_tool_regex",
             "input": {"pattern": "weather"}},
            {"type": "tool_search_tool_result", "tool_use_id": "srvtoolu_01", "content": content}]


def search_loop(*follow_up: Any, result: Any = None) -> dict[str, Any]:
    return make_body(tools=[SEARCH_TOOL, DEFERRED_WEATHER], anthropic_beta=["tool-search-tool-2025-10-19"],
                     messages=[user(text()), assistant(text("searching"), *server_search(result), tool_use()),
                               *follow_up])


def test_validate_accepts_a_tool_search_answer_sent_back() -> None:
    accepts(search_loop(user(tool_result())))
    accepts(search_loop(user(tool_result()), result={"type": "tool_search_tool_result_error",
                                                      "error_code": "invalid_tool_input", "error_message": "bad"}))
    body = search_loop(user(tool_result()))
    body["messages"][1]["content"] = [*server_search(), text("Nothing to call.")]
    body["messages"][2] = user(text("thanks"))
    accepts(body)


def test_validate_refuses_a_tool_result_for_a_server_tool_use() -> None:
    assert rejects(search_loop(user(tool_result(), tool_result("srvtoolu_01")))) == (
        "messages.2.content.1: unexpected `tool_use_id` found in `tool_result` blocks: srvtoolu_01. "
        "Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
    )


def test_validate_refuses_a_tool_reference_to_an_unknown_tool() -> None:
    result = {"type": "tool_search_tool_search_result",
              "tool_references": [{"type": "tool_reference", "tool_name": "unknown_tool"}]}
    assert rejects(search_loop(user(tool_result()), result=result)) == (
        "Tool reference 'unknown_tool' not found in available tools"
    )


def test_validate_accepts_tool_references_from_a_custom_search_tool() -> None:
    finder = {"name": "find_tools", "input_schema": {"type": "object"}}
    reference = {"type": "tool_reference", "tool_name": "get_weather"}
    body = make_body(tools=[finder, DEFERRED_WEATHER],
                     messages=[user(text()), assistant(tool_use("toolu_01", "find_tools")),
                               user(tool_result(content=[reference]))])
    accepts(body)
    body["tools"] = [finder]
    assert rejects(body) == "Tool reference 'get_weather' not found in available tools"


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ({"type": "tool_search_tool_result_error", "error_code": "pattern_too_long"},
         "messages.1.content.2.tool_search_tool_result.content.tool_search_tool_result_error.error_code: "
         "Input should be 'invalid_tool_input', 'unavailable', 'too_many_requests' or 'execution_time_exceeded'"),
        ({"type": "tool_search_tool_search_result"},
         "messages.1.content.2.tool_search_tool_result.content.tool_search_tool_search_result.tool_references: "
         "Field required"),
        ({"type": "tool_search_tool_search_result", "tool_references": [{"type": "tool_reference"}]},
         "messages.1.content.2.tool_search_tool_result.content.tool_search_tool_search_result.tool_references.0"
         ".tool_reference.tool_name: Field required"),
        ({"type": "search_result"},
         "messages.1.content.2.tool_search_tool_result.content: Input tag 'search_result' found using 'type' does "
         "not match any of the expected tags: 'tool_search_tool_search_result', 'tool_search_tool_result_error'"),
    ],
)  # fmt: skip
def test_validate_rejects_a_malformed_tool_search_result(result: Any, expected: str) -> None:
    assert rejects(search_loop(user(tool_result()), result=result)) == expected


def test_validate_keeps_server_tool_use_blocks_in_assistant_messages() -> None:
    body = make_body(messages=[user(server_search()[0])])
    assert rejects(body) == (
        "messages.0.content.0: `server_tool_use` blocks are only allowed in `assistant` messages"
    )


# --------------------------------------------------------------------------- images


@pytest.mark.parametrize(
    ("data", "media_type"), [(PNG, "image/png"), (JPEG, "image/jpeg"), (GIF, "image/gif"), (WEBP, "image/webp")]
)
def test_validate_accepts_each_image_format(data: str, media_type: str) -> None:
    accepts(make_body(messages=[user(image(data, media_type), text("what is it?"))]))


def test_validate_rejects_an_unknown_image_media_type() -> None:
    assert rejects(make_body(messages=[user(image(PNG, "image/bmp"))])) == (
        "messages.0.content.0.image.source.base64.media_type: "
        "Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"
    )


def test_validate_rejects_an_image_url_source() -> None:
    block = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
    assert rejects(make_body(messages=[user(block)])) == (
        "messages.0.content.0.image.source: Input tag 'url' found using 'type' does not match any "
        "of the expected tags: 'base64'"
    )


@pytest.mark.parametrize("data", ["not base64!", PNG[:-2], PNG[:8] + "\n" + PNG[8:], "ï" * 8])
def test_validate_rejects_invalid_base64_image_data(data: str) -> None:
    assert rejects(make_body(messages=[user(image(data))])) == (
        "messages.0.content.0.image.source.base64.data: Input should be a valid base64 string"
    )


def test_validate_rejects_image_data_of_another_format() -> None:
    """The API's text, quoted in anthropics/claude-code #6300, #12015, #13131, #15746
    ("messages.2.content.0.image.source.base64.data: Image does not match the provided media
    type image/png"); an earlier text of ours said "... does not appear to be a valid png image"."""
    assert rejects(make_body(messages=[user(image(JPEG, "image/png"))])) == (
        "messages.0.content.0.image.source.base64.data: Image does not match the provided media type image/png"
    )


def test_validate_rejects_a_riff_file_that_is_not_webp() -> None:
    wave = base64.b64encode(b"RIFF\x00\x00\x00\x00WAVEfmt " + bytes(16)).decode()
    assert rejects(make_body(messages=[user(image(wave, "image/webp"))])) == (
        "messages.0.content.0.image.source.base64.data: Image does not match the provided media type image/webp"
    )


@pytest.mark.parametrize("extra", [1, 4])
def test_validate_rejects_an_image_over_5_mb(extra: int) -> None:
    data = PNG + "A" * (5 * 1024 * 1024 - len(PNG) + extra)
    assert rejects(make_body(messages=[user(image(data))])) == (
        f"messages.0.content.0.image.source.base64: image exceeds 5 MB maximum: {len(data)} bytes > 5242880 bytes"
    )


def test_validate_accepts_an_image_of_exactly_5_mb_of_base64() -> None:
    data = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(5 * 1024 * 1024 * 3 // 4 - 8)).decode()
    assert len(data) == 5 * 1024 * 1024
    accepts(make_body(messages=[user(image(data))]))


# --------------------------------------------------------------------------- documents


def document(source: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "document", "source": source, **extra}


@pytest.mark.parametrize(
    "source",
    [
        {"type": "base64", "media_type": "application/pdf", "data": PDF},
        {"type": "text", "media_type": "text/plain", "data": "Plain text."},
        {"type": "content", "content": "Inline."},
        {"type": "content", "content": [text("chunk one"), image()]},
    ],
)
def test_validate_accepts_each_document_source(source: dict[str, Any]) -> None:
    accepts(make_body(messages=[user(document(source, title="Doc", citations={"enabled": True}), text("summarise"))]))


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ({"type": "base64", "media_type": "text/plain", "data": PDF}, "messages.0.content.0.document.source.base64.media_type: Input should be 'application/pdf'"),
        ({"type": "base64", "media_type": "application/pdf", "data": PNG}, "messages.0.content.0.document.source.base64.data: The PDF specified was not valid."),
        ({"type": "base64", "media_type": "application/pdf", "data": "%%%"}, "messages.0.content.0.document.source.base64.data: Input should be a valid base64 string"),
        ({"type": "text", "media_type": "text/html", "data": "<p>"}, "messages.0.content.0.document.source.text.media_type: Input should be 'text/plain'"),
        ({"type": "text", "media_type": "text/plain"}, "messages.0.content.0.document.source.text.data: Field required"),
        ({"type": "url", "url": "https://example.com/a.pdf"}, "messages.0.content.0.document.source: Input tag 'url' found using 'type' does not match any of the expected tags: 'base64', 'text', 'content'"),
        ({"type": "content", "content": [tool_use()]}, "messages.0.content.0.document.source.content.content.0: Input tag 'tool_use' found using 'type' does not match any of the expected tags: 'text', 'image'"),
    ],
)  # fmt: skip
def test_validate_rejects_a_bad_document_source(source: dict[str, Any], expected: str) -> None:
    assert rejects(make_body(messages=[user(document(source))])) == expected


def test_validate_checks_document_options() -> None:
    source = {"type": "text", "media_type": "text/plain", "data": "x"}
    assert rejects(make_body(messages=[user(document(source, title=5))])) == (
        "messages.0.content.0.document.title: Input should be a valid string"
    )
    assert rejects(make_body(messages=[user(document(source, citations={"enabled": "yes"}))])) == (
        "messages.0.content.0.document.citations.enabled: Input should be a valid boolean"
    )


# --------------------------------------------------------------------------- system


def test_validate_accepts_system_as_string_or_text_blocks() -> None:
    accepts(make_body(system="You are terse."))
    accepts(make_body(system=""))
    accepts(make_body(system=[text("You are terse."), text("Answer in French.", cache_control=EPHEMERAL)]))


@pytest.mark.parametrize(
    ("system", "expected"),
    [
        (5, SCHEMA.format("#/system: expected type: one of String, JSONArray, found: Integer")),
        ([text("")], "system: text content blocks must be non-empty"),
        ([image()], "system.0.type: Input should be 'text'"),
        (["terse"], "system.0: Input should be a valid dictionary or object to extract fields from"),
        ([{"type": "text"}], "system.0.text: Field required"),
    ],
)
def test_validate_rejects_a_bad_system(system: Any, expected: str) -> None:
    assert rejects(make_body(system=system)) == expected


# --------------------------------------------------------------------------- cache_control


@pytest.mark.parametrize("cache_control", [EPHEMERAL, {"type": "ephemeral", "ttl": "5m"}, {"type": "ephemeral", "ttl": "1h"}])
def test_validate_accepts_ephemeral_cache_control(cache_control: dict[str, Any]) -> None:
    accepts(make_body(messages=[user(text(cache_control=cache_control))]))


@pytest.mark.parametrize(
    ("cache_control", "expected"),
    [
        ({"type": "ephemeral", "ttl": "10m"}, "messages.0.content.0.text.cache_control.ephemeral.ttl: Input should be '5m' or '1h'"),
        ({"type": "persistent"}, "messages.0.content.0.text.cache_control: Input tag 'persistent' found using 'type' does not match any of the expected tags: 'ephemeral'"),
        ("ephemeral", "messages.0.content.0.text.cache_control: Input should be a valid dictionary or object to extract fields from"),
        # Audit: extra keys passed; the API's text, quoted in caozhiyuan/copilot-api #145
        # ("system.1.cache_control.ephemeral.scope: Extra inputs are not permitted").
        ({"type": "ephemeral", "scope": "global"}, "messages.0.content.0.text.cache_control.ephemeral.scope: Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_validate_rejects_a_bad_cache_control(cache_control: Any, expected: str) -> None:
    assert rejects(make_body(messages=[user(text(cache_control=cache_control))])) == expected


def test_validate_allows_at_most_four_cache_breakpoints() -> None:
    tool = {**WEATHER_TOOL, "cache_control": EPHEMERAL}
    four = make_body(
        system=[text("sys", cache_control=EPHEMERAL)],
        tools=[tool],
        messages=[user(text("a", cache_control=EPHEMERAL), image() | {"cache_control": EPHEMERAL})],
    )
    accepts(four)
    five = copy.deepcopy(four)
    five["messages"][0]["content"].append(text("b", cache_control=EPHEMERAL))
    assert rejects(five) == "A maximum of 4 blocks with cache_control may be provided. Found 5."
    nested = copy.deepcopy(four)
    nested["cache_control"] = EPHEMERAL
    assert rejects(nested) == "A maximum of 4 blocks with cache_control may be provided. Found 5."


ONE_HOUR = {"type": "ephemeral", "ttl": "1h"}
FIVE_MINUTES = {"type": "ephemeral", "ttl": "5m"}
TTL_ORDER = "a ttl='1h' cache_control block must not come after a ttl='5m' cache_control block."


def test_validate_accepts_one_hour_breakpoints_before_five_minute_ones() -> None:
    # Anthropic "Prompt caching", "Mixing different TTLs": longer TTLs first.
    accepts(make_body(
        tools=[{**WEATHER_TOOL, "cache_control": ONE_HOUR}],
        system=[text("sys", cache_control=ONE_HOUR)],
        messages=[user(text("a", cache_control=EPHEMERAL), text("b", cache_control=FIVE_MINUTES))],
    ))


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (make_body(system=[text("sys", cache_control=EPHEMERAL)], messages=[user(text("a", cache_control=ONE_HOUR))]),
         "messages.0.content.0.cache_control.ttl"),
        (make_body(tools=[{**WEATHER_TOOL, "cache_control": FIVE_MINUTES}], system=[text("sys", cache_control=ONE_HOUR)]),
         "system.0.cache_control.ttl"),
        (make_body(messages=[user(text("a", cache_control=EPHEMERAL), text("b", cache_control=ONE_HOUR))]),
         "messages.0.content.1.cache_control.ttl"),
        (make_body(system=[text("sys", cache_control=EPHEMERAL)], cache_control=ONE_HOUR), "cache_control.ttl"),
    ],
)  # fmt: skip
def test_validate_rejects_a_one_hour_breakpoint_after_a_five_minute_one(body: dict[str, Any], path: str) -> None:
    # The API's text, quoted in public issue threads ("messages.0.content.0.cache_control.ttl:
    # a ttl='1h' cache_control block must not come after a ttl='5m' cache_control block.").
    assert rejects(body) == f"{path}: {TTL_ORDER}"


@pytest.mark.parametrize("block", [
    {"type": "thinking", "thinking": "Let me think.", "signature": "sig=="},
    {"type": "redacted_thinking", "data": "ZGF0YQ=="},
])
def test_validate_rejects_cache_control_on_thinking_blocks(block: dict[str, Any]) -> None:
    # Anthropic "Prompt caching": thinking blocks cannot be marked with cache_control (the
    # API's thinking block params have no such member); they are cached with the content.
    marked = {**block, "cache_control": EPHEMERAL}
    body = make_body(max_tokens=2048, thinking=THINKING,
                     messages=[user(text("q")), assistant(marked, text("a")), user(text("more"))])
    assert rejects(body) == f"messages.1.content.0.{block['type']}.cache_control: Extra inputs are not permitted"


def test_validate_counts_cache_breakpoints_inside_tool_results() -> None:
    body = tool_loop(user(tool_result(content=[text(str(i), cache_control=EPHEMERAL) for i in range(5)])))
    assert rejects(body) == "A maximum of 4 blocks with cache_control may be provided. Found 5."


# --------------------------------------------------------------------------- tools


def test_validate_accepts_custom_and_anthropic_defined_tools() -> None:
    tools = [
        WEATHER_TOOL,
        {"type": "custom", "name": "lookup-v2", "input_schema": {"type": "object"}},
        {"type": None, "name": "lookup-v3", "input_schema": {"type": "object"}},  # anthropic-py: type Optional["custom"]
        {"type": "bash_20250124", "name": "bash"},
        {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
        {"type": "computer_20250124", "name": "computer", "display_width_px": 1024, "display_height_px": 768},
    ]
    accepts(make_body(tools=tools, anthropic_beta=["computer-use-2025-01-24"]))


@pytest.mark.parametrize(
    ("tool", "expected"),
    [
        ({**WEATHER_TOOL, "name": "get weather"}, "tools.0.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'"),
        ({**WEATHER_TOOL, "name": "x" * 65}, "tools.0.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'"),
        ({**WEATHER_TOOL, "name": ""}, "tools.0.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'"),
        # `$` is the end of the text in the API's (pydantic's) patterns, not "before a final newline"
        ({**WEATHER_TOOL, "name": "get_weather\n"}, "tools.0.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'"),
        ({"input_schema": {"type": "object"}}, "tools.0.custom.name: Field required"),
        ({"name": "f"}, "tools.0.custom.input_schema: Field required"),
        ({"name": "f", "input_schema": {"type": "array"}}, "tools.0.custom.input_schema.type: Input should be 'object'"),
        ({"name": "f", "input_schema": {}}, "tools.0.custom.input_schema.type: Field required"),
        ({"name": "f", "input_schema": "object"}, "tools.0.custom.input_schema: Input should be a valid dictionary"),
        ({**WEATHER_TOOL, "description": 3}, "tools.0.custom.description: Input should be a valid string"),
        ({"type": "bash_20250124"}, "tools.0.bash_20250124.name: Field required"),
        ("get_weather", "tools.0: Input should be a valid dictionary or object to extract fields from"),
    ],
)  # fmt: skip
def test_validate_rejects_a_bad_tool(tool: Any, expected: str) -> None:
    assert rejects(make_body(tools=[tool])) == expected


@pytest.mark.parametrize(
    ("tool", "expected"),
    [
        ({"type": "bash_20250124", "name": "shell"}, "tools.0.bash_20250124.name: Input should be 'bash'"),
        ({"type": "text_editor_20250124", "name": "str_replace_based_edit_tool"},
         "tools.0.text_editor_20250124.name: Input should be 'str_replace_editor'"),
        ({"type": "text_editor_20250728", "name": "editor"},
         "tools.0.text_editor_20250728.name: Input should be 'str_replace_based_edit_tool'"),
        ({"type": "computer_20250124", "name": "screen", "display_width_px": 1024, "display_height_px": 768},
         "tools.0.computer_20250124.name: Input should be 'computer'"),
        ({"type": "memory_20250818", "name": "notes"}, "tools.0.memory_20250818.name: Input should be 'memory'"),
        ({"type": "tool_search_tool_bm25_20251119", "name": "tool_search_tool_regex"},
         "tools.0.tool_search_tool_bm25_20251119.name: Input should be 'tool_search_tool_bm25'"),
    ],
)  # fmt: skip
def test_validate_rejects_an_anthropic_tool_under_another_name(tool: Any, expected: str) -> None:
    """Audit: an Anthropic-defined tool took any name. Each version has one (anthropic-py 2.14
    ``ToolBash20250124Param.name: Literal["bash"]``, ``BetaToolTextEditor20241022Param``...)."""
    assert rejects(make_body(tools=[tool])) == expected


@pytest.mark.parametrize(
    ("tool", "expected"),
    [
        ({"type": "computer_20250124", "name": "computer", "display_width_px": 1024},
         "tools.0.computer_20250124.display_height_px: Field required"),
        ({"type": "computer_20241022", "name": "computer", "display_width_px": "1024", "display_height_px": 768},
         "tools.0.computer_20241022.display_width_px: Input should be a valid integer"),
        ({"type": "computer_20251124", "name": "computer", "display_width_px": 1024, "display_height_px": True},
         "tools.0.computer_20251124.display_height_px: Input should be a valid integer"),
    ],
)  # fmt: skip
def test_validate_requires_the_display_size_of_a_computer_tool(tool: Any, expected: str) -> None:
    """Audit: a computer tool without its display size was accepted; both are required integers
    (anthropic-py 2.14 ``BetaToolComputerUse2025*Param``: ``display_width_px: Required[int]``)."""
    assert rejects(make_body(tools=[tool])) == expected


def test_validate_rejects_an_unknown_tool_type() -> None:
    message = rejects(make_body(tools=[{"type": "web_fetch_20250910", "name": "web_fetch"}]))
    assert message.startswith(
        "tools.0: Input tag 'web_fetch_20250910' found using 'type' does not match any of the expected tags: 'custom', 'bash_20241022',"
    )


def test_validate_requires_unique_tool_names() -> None:
    assert rejects(make_body(tools=[WEATHER_TOOL, WEATHER_TOOL])) == "tools: Tool names must be unique."


def test_validate_refuses_deferring_every_tool() -> None:
    expected = "At least one tool must have defer_loading=false. All tools cannot be deferred."
    assert rejects(make_body(tools=[DEFERRED_WEATHER])) == expected
    assert rejects(make_body(tools=[{**SEARCH_TOOL, "defer_loading": True}, DEFERRED_WEATHER])) == expected
    accepts(make_body(tools=[SEARCH_TOOL, DEFERRED_WEATHER]))
    accepts(make_body(tools=[{**SEARCH_TOOL, "defer_loading": False}, DEFERRED_WEATHER]))


def test_validate_refuses_cache_control_on_a_deferred_tool() -> None:
    cached = {**DEFERRED_WEATHER, "cache_control": EPHEMERAL}
    assert rejects(make_body(tools=[SEARCH_TOOL, cached])) == (
        "Tool 'get_weather' cannot have both defer_loading=true and cache_control set. "
        "Tools with defer_loading cannot use prompt caching."
    )
    accepts(make_body(tools=[{**SEARCH_TOOL, "cache_control": EPHEMERAL}, DEFERRED_WEATHER]))


def test_validate_requires_a_boolean_defer_loading() -> None:
    assert rejects(make_body(tools=[SEARCH_TOOL, {**WEATHER_TOOL, "defer_loading": "yes"}])) == (
        "tools.1.custom.defer_loading: Input should be a valid boolean"
    )


# --------------------------------------------------------------------------- tool_choice


@pytest.mark.parametrize("choice", [{"type": "auto"}, {"type": "none"}, {"type": "auto", "disable_parallel_tool_use": True}])
def test_validate_accepts_a_non_forcing_tool_choice_without_tools(choice: dict[str, Any]) -> None:
    accepts(make_body(tool_choice=choice))


@pytest.mark.parametrize("choice", [{"type": "any"}, {"type": "tool", "name": "get_weather"}])
def test_validate_accepts_a_forcing_tool_choice_with_tools(choice: dict[str, Any]) -> None:
    accepts(make_body(tools=[WEATHER_TOOL], tool_choice=choice))


@pytest.mark.parametrize("choice", [{"type": "any"}, {"type": "tool", "name": "get_weather"}])
def test_validate_rejects_a_forcing_tool_choice_without_tools(choice: dict[str, Any]) -> None:
    assert rejects(make_body(tool_choice=choice)) == "tool_choice may only be specified while providing tools"
    assert rejects(make_body(tools=[], tool_choice=choice)) == "tool_choice may only be specified while providing tools"


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "tool", "name": "get_time"}, "tool_choice.tool.name: Tool 'get_time' not found in the provided tools"),
        ({"type": "tool"}, "tool_choice.tool.name: Field required"),
        ({"type": "required"}, "tool_choice: Input tag 'required' found using 'type' does not match any of the expected tags: 'auto', 'any', 'tool', 'none'"),
        ({"type": "any", "disable_parallel_tool_use": "no"}, "tool_choice.any.disable_parallel_tool_use: Input should be a valid boolean"),
        # Audit: keys a tool_choice type does not have passed (anthropic-py 2.14 ToolChoice*Param).
        ({"type": "none", "disable_parallel_tool_use": True}, "tool_choice.none.disable_parallel_tool_use: Extra inputs are not permitted"),
        ({"type": "auto", "name": "get_weather"}, "tool_choice.auto.name: Extra inputs are not permitted"),
        ({"type": "tool", "name": "get_weather", "strict": True}, "tool_choice.tool.strict: Extra inputs are not permitted"),
        ("auto", SCHEMA.format("#/tool_choice: expected type: JSONObject, found: String")),
    ],
)  # fmt: skip
def test_validate_rejects_a_bad_tool_choice(choice: Any, expected: str) -> None:
    assert rejects(make_body(tools=[WEATHER_TOOL], tool_choice=choice)) == expected


# --------------------------------------------------------------------------- stop_sequences, metadata


def test_validate_accepts_stop_sequences() -> None:
    accepts(make_body(stop_sequences=["\n\nHuman:", "END"]))
    accepts(make_body(stop_sequences=["x"] * 8191))


@pytest.mark.parametrize(
    ("stop_sequences", "expected"),
    [
        ([""], "stop_sequences: each stop sequence must contain non-whitespace"),
        (["ok", "  "], "stop_sequences: each stop sequence must contain non-whitespace"),
        ("END", SCHEMA.format("#/stop_sequences: expected type: JSONArray, found: String")),
        (["END", 3], SCHEMA.format("#/stop_sequences/1: expected type: String, found: Integer")),
        (["x"] * 8192, SCHEMA.format("#/stop_sequences: expected maximum item count: 8191, found: 8192")),
    ],
)
def test_validate_rejects_bad_stop_sequences(stop_sequences: Any, expected: str) -> None:
    assert rejects(make_body(stop_sequences=stop_sequences)) == expected


def test_validate_accepts_metadata_user_id() -> None:
    accepts(make_body(metadata={"user_id": "user-123"}))
    accepts(make_body(metadata={"user_id": "u" * 256}))  # "at most 256 characters"
    accepts(make_body(metadata={"user_id": None}))
    accepts(make_body(metadata={}))


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"session": "x"}, "metadata.session: Extra inputs are not permitted"),
        ({"user_id": 5}, "metadata.user_id: Input should be a valid string"),
        ({"user_id": "u" * 257}, "metadata.user_id: String should have at most 256 characters"),
        ([], SCHEMA.format("#/metadata: expected type: JSONObject, found: JSONArray")),
    ],
)
def test_validate_rejects_bad_metadata(metadata: Any, expected: str) -> None:
    assert rejects(make_body(metadata=metadata)) == expected


# --------------------------------------------------------------------------- properties

JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
BLOCK_KEYS = ["type", "text", "source", "id", "name", "input", "tool_use_id", "content", "cache_control",
              "thinking", "signature", "data", "is_error", "title", "citations"]  # fmt: skip
TOOL_IDS = st.sampled_from(["toolu_01", "toolu_02"])
NEAR_VALID_VALUES = JSON_VALUES | st.sampled_from(
    ["", " ", "text", "base64", "image/png", PNG, PDF, "toolu_01", EPHEMERAL, {"type": "ephemeral", "ttl": "2h"},
     {"type": "url"}, {"type": "base64", "media_type": "image/jpeg", "data": PNG}, [text()], [image()]]
)  # fmt: skip
USER_BLOCKS = [
    st.builds(text, st.sampled_from(["hi", "", "x ", "  "])),
    st.just(image()),
    st.just(document({"type": "base64", "media_type": "application/pdf", "data": PDF})),
    st.just(document({"type": "content", "content": [text()]})),
    st.builds(tool_result, TOOL_IDS),
]
ASSISTANT_BLOCKS = [
    st.builds(text, st.sampled_from(["ok", "x "])),
    st.builds(tool_use, TOOL_IDS),
    st.just(thinking_block()),
    st.just({"type": "redacted_thinking", "data": "abc"}),
]


def _mutated(bases: list[st.SearchStrategy[dict[str, Any]]]) -> st.SearchStrategy[dict[str, Any]]:
    """Valid blocks of a role, sometimes with one member replaced or dropped."""
    return st.builds(
        lambda base, changes, dropped: {k: v for k, v in (base | changes).items() if k not in dropped},
        st.one_of(bases),
        st.just({}) | st.dictionaries(st.sampled_from(BLOCK_KEYS), NEAR_VALID_VALUES, max_size=1),
        st.just(set()) | st.sets(st.sampled_from(BLOCK_KEYS), max_size=1),
    )


def _contents(bases: list[st.SearchStrategy[dict[str, Any]]]) -> st.SearchStrategy[Any]:
    blocks = _mutated(bases) | _mutated(USER_BLOCKS + ASSISTANT_BLOCKS) | JSON_VALUES
    return st.lists(_mutated(bases), min_size=1, max_size=3) | st.lists(blocks, max_size=3) | st.sampled_from(["", "hi", "end "])


MESSAGES = st.lists(st.tuples(_contents(USER_BLOCKS), _contents(ASSISTANT_BLOCKS)), min_size=1, max_size=3).flatmap(
    lambda turns: st.integers(min_value=len(turns) * 2 - 1, max_value=len(turns) * 2).map(
        lambda count: [
            {"role": ("user", "assistant")[i % 2], "content": turns[i // 2][i % 2]} for i in range(count)
        ]
    )
)
FIELD_VALUES = st.dictionaries(
    st.sampled_from([*TOP_LEVEL_FIELDS, "model", "stream"]),
    JSON_VALUES | st.sampled_from([["context-1m-2025-08-07"], {"type": "enabled", "budget_tokens": 2048}, {"type": "any"}]),
    max_size=6,
)
PROPERTY_SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _judge(body: Any, model: Limits = SONNET_45, counter: Callable[[dict[str, Any]], int] | None = None) -> None:
    try:
        result = validate_messages_request(body, model, count_input_tokens=counter)
    except ValidationException as exc:
        assert isinstance(exc.message, str) and exc.message
    else:
        assert result.body is body


@PROPERTY_SETTINGS
@given(JSON_VALUES)
def test_validate_raises_only_validation_errors_for_any_json_value(body: Any) -> None:
    _judge(body)


@PROPERTY_SETTINGS
@given(FIELD_VALUES, st.sampled_from([SONNET_45, HAIKU_35, OPUS_45]))
def test_validate_raises_only_validation_errors_for_any_top_level_values(fields: dict[str, Any], model: Limits) -> None:
    _judge(make_body(**fields), model, counter=lambda body: 10)


@PROPERTY_SETTINGS
@given(MESSAGES, st.sampled_from([None, THINKING]), st.sampled_from([None, [WEATHER_TOOL]]))
def test_validate_raises_only_validation_errors_for_any_conversation(
    messages: list[Any], thinking: Any, tools: Any
) -> None:
    _judge(make_body(max_tokens=4096, messages=messages, thinking=thinking, tools=tools))


@PROPERTY_SETTINGS
@given(st.binary(max_size=64) | JSON_VALUES.map(lambda value: json.dumps(value).encode()))
def test_parse_json_body_raises_only_validation_errors_for_any_bytes(raw: bytes) -> None:
    try:
        assert isinstance(parse_json_body(raw), dict)
    except ValidationException as exc:
        assert exc.message.startswith("Malformed input request: ")


# --------------------------------------------------------------------------- fast JSON path

_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(value=_JSON_VALUES)
def test_parse_json_body_reads_every_object_as_the_standard_parser_does(value):
    _same_as_the_standard_parser(value)


@pytest.mark.parametrize("value", [-2**63, -2**63 - 1, -10**19 + 1, 2**64 - 1, 2**64, -9928020049440346112])
def test_parse_json_body_keeps_integers_at_the_64_bit_edges(value):
    _same_as_the_standard_parser(value)


def _same_as_the_standard_parser(value):
    """The orjson fast path must never change what a body means (ints beyond 64 bits included)."""
    from claude_bedrock.domain.validation import parse_json_body

    raw = json.dumps({"v": value}).encode()
    parsed = parse_json_body(raw)
    expected = json.loads(raw)
    assert parsed == expected
    assert repr(parsed) == repr(expected)  # same types: 1 is not 1.0, big ints stay ints


@pytest.mark.parametrize("raw, detail", [
    (b'{"a": NaN}', "Non-standard token 'NaN'"),
    (b'\xef\xbb\xbf{}', "Unexpected UTF-8 BOM"),
    (b'{"a": "\\ud800"}', "unpaired UTF-16 surrogate"),
    (b'{"a": 1} x', "Extra data"),
])
def test_bodies_orjson_refuses_keep_the_standard_messages(raw, detail):
    from claude_bedrock.domain.validation import parse_json_body

    with pytest.raises(ValidationException) as caught:
        parse_json_body(raw)
    assert detail in caught.value.message


def test_integers_beyond_64_bits_stay_exact():
    from claude_bedrock.domain.validation import parse_json_body

    assert parse_json_body(b'{"max_tokens": 123456789012345678901234567890}')["max_tokens"] == (
        123456789012345678901234567890
    )


def test_the_parsed_type_shortcut_accepts_only_what_the_type_tests_accept():
    from claude_bedrock.domain import validation

    samples = [0, 1.5, True, "s", [], {}, None]
    for key, rule in validation.TOP_LEVEL_FIELDS.items():
        for value in samples:
            fast = type(value) in validation._PARSED_TYPES[key]
            slow = any(validation._JSON_TYPE_TESTS[name](value) for name in rule.types)
            assert fast == slow, (key, value)


@pytest.mark.parametrize(("message", "expected"), [
    ({"role": "user", "content": "hi", "bogus": 1}, "messages.0.bogus: Extra inputs are not permitted"),
    ({"role": "user", "content": "hi", "name": "alice"}, "messages.0.name: Extra inputs are not permitted"),
])
def test_validate_rejects_keys_a_message_does_not_have(message: dict[str, Any], expected: str) -> None:
    assert rejects(make_body(messages=[message])) == expected


# --------------------------------------------------------------------------- catalog-driven rules


def _catalog_model(model_id: str):
    from claude_bedrock.domain.catalog import default_catalog

    return default_catalog().get(model_id)


@pytest.mark.parametrize(("model_id", "refused"), [
    ("anthropic.claude-sonnet-4-5-20250929-v1:0", True), ("anthropic.claude-haiku-4-5-20251001-v1:0", True),
    ("anthropic.claude-opus-4-1-20250805-v1:0", True), ("anthropic.claude-opus-4-5-20251101-v1:0", True),
    ("anthropic.claude-sonnet-4-20250514-v1:0", False), ("anthropic.claude-3-7-sonnet-20250219-v1:0", False),
    ("anthropic.claude-3-haiku-20240307-v1:0", False),
])
def test_temperature_and_top_p_together_on_the_models_that_refuse_it(model_id, refused) -> None:
    model = _catalog_model(model_id)
    both = make_body(max_tokens=100, temperature=0.5, top_p=0.5)
    if refused:
        assert rejects(both, model) == (
            "`temperature` and `top_p` cannot both be specified for this model. Please use only one.")
    else:
        accepts(both, model)
    accepts(make_body(max_tokens=100, temperature=0.5), model)
    accepts(make_body(max_tokens=100, top_p=0.5), model)


def test_the_128k_output_beta_raises_sonnet_37s_limit() -> None:
    sonnet_37 = _catalog_model("anthropic.claude-3-7-sonnet-20250219-v1:0")
    beta = ["output-128k-2025-02-19"]
    assert accepts(make_body(max_tokens=128_000, anthropic_beta=beta), sonnet_37).max_tokens == 128_000
    assert rejects(make_body(max_tokens=128_001, anthropic_beta=beta), sonnet_37).startswith(
        "max_tokens: 128001 > 128000, which is the maximum allowed number of output tokens")
    assert rejects(make_body(max_tokens=64_001), sonnet_37).startswith("max_tokens: 64001 > 64000")
    # on a model without it, the flag changes nothing
    sonnet_45 = _catalog_model("anthropic.claude-sonnet-4-5-20250929-v1:0")
    assert rejects(make_body(max_tokens=64_001, anthropic_beta=beta), sonnet_45).startswith("max_tokens: 64001 > 64000")


# --------------------------------------------------------------------------- image edges


def _png(width: int, height: int) -> str:
    header = b"\x89PNG\r\n\x1a\n" + (13).to_bytes(4, "big") + b"IHDR" + width.to_bytes(4, "big") + height.to_bytes(4, "big")
    return base64.b64encode(header + bytes(16)).decode()


def _jpeg(width: int, height: int) -> str:
    app0 = b"\xff\xe0" + (16).to_bytes(2, "big") + b"JFIF\x00" + bytes(9)
    sof0 = b"\xff\xc0" + (17).to_bytes(2, "big") + b"\x08" + height.to_bytes(2, "big") + width.to_bytes(2, "big") + bytes(10)
    return base64.b64encode(b"\xff\xd8" + app0 + sof0 + bytes(8)).decode()


def _image_block(data: str, media_type: str = "image/png") -> dict[str, Any]:
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def test_image_edges_above_8000_pixels_are_refused() -> None:
    accepts(make_body(messages=[{"role": "user", "content": [_image_block(_png(8000, 10)), {"type": "text", "text": "?"}]}]))
    assert rejects(make_body(messages=[{"role": "user", "content": [
        {"type": "text", "text": "?"}, _image_block(_jpeg(10, 8001), "image/jpeg")]}])) == (
        "messages.0.content.1.image.source.base64.data: At least one of the image dimensions exceed max allowed "
        "size: 8000 pixels")


def test_many_image_requests_have_a_2000_pixel_limit() -> None:
    small = [_image_block(_png(2000, 2000)) for _ in range(21)]
    accepts(make_body(messages=[{"role": "user", "content": small}]))
    big_in_a_tool_result = [
        {"role": "user", "content": "Look"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "shot", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [_image_block(_png(2001, 5))]},
                                     *small[:20]]},
    ]
    assert rejects(make_body(messages=big_in_a_tool_result, tools=[{"name": "shot", "input_schema": {"type": "object"}}])) == (
        "messages.2.content.0.tool_result.content.0.image.source.base64.data: At least one of the image dimensions "
        "exceed max allowed size for many-image requests: 2000 pixels")
    twenty = [_image_block(_png(2001, 5))] + small[:19]
    accepts(make_body(messages=[{"role": "user", "content": twenty}]))  # 20 images: the 8000 limit


def _pdf_block() -> dict[str, Any]:
    return {"type": "document", "source": {"type": "base64", "media_type": "application/pdf",
                                           "data": base64.b64encode(b"%PDF-1.4 x").decode()}}


def test_images_and_documents_beyond_the_per_request_limit_are_refused() -> None:
    """Audit: no count was enforced. Anthropic "Vision": up to 100 images per request on models
    with a 200K-token context window, 600 beyond; Bedrock's refusal counts documents with them
    ("The model returned the following errors: too many images and documents: 23 + 0 > 20")."""
    image = _image_block(_png(100, 100))
    accepts(make_body(messages=[{"role": "user", "content": [image] * 99 + [_pdf_block()]}]))
    assert rejects(make_body(messages=[{"role": "user", "content": [image] * 99 + [_pdf_block()] * 2}])) == (
        "too many images and documents: 99 + 2 > 100")
    in_tool_results = [
        {"role": "user", "content": [image] * 60},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "shot", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [image] * 41}]},
    ]
    assert rejects(make_body(messages=in_tool_results, tools=[{"name": "shot", "input_schema": {"type": "object"}}])) == (
        "too many images and documents: 101 + 0 > 100")
    # with the 1M-context beta the window is no longer 200K: the API's 600
    accepts(make_body(messages=[{"role": "user", "content": [image] * 101}], anthropic_beta=["context-1m-2025-08-07"]))
    assert rejects(make_body(messages=[{"role": "user", "content": [image] * 601}],
                             anthropic_beta=["context-1m-2025-08-07"])) == "too many images and documents: 601 + 0 > 600"


# -- structured outputs ---------------------------------------------------------------------

OUTPUT_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                 "additionalProperties": False}


@pytest.mark.parametrize("body", [
    make_body(output_config={"format": {"type": "json_schema", "schema": OUTPUT_SCHEMA}}),
    make_body(output_format={"type": "json_schema", "schema": OUTPUT_SCHEMA}),
])
def test_validate_accepts_an_output_format_in_either_form(body) -> None:
    assert accepts(body).body is body


# -- effort ---------------------------------------------------------------------------------


@pytest.mark.parametrize("effort", ["low", "medium", "high", None])
def test_validate_accepts_the_effort_levels_of_a_model_that_has_them(effort) -> None:
    body = make_body(output_config={"effort": effort, "format": {"type": "json_schema", "schema": OUTPUT_SCHEMA}},
                     anthropic_beta=["effort-2025-11-24"])
    assert accepts(body, OPUS_45).body is body


@pytest.mark.parametrize("effort", ["max", "xhigh", "HIGH", "", 5, ["low"], {"level": "low"}])
def test_validate_rejects_an_effort_level_the_model_does_not_take(effort) -> None:
    """Audit: any value was accepted. Bedrock's answer for Opus 4.5 (coder/coder#25356)."""
    body = make_body(output_config={"effort": effort}, anthropic_beta=["effort-2025-11-24"])
    assert rejects(body, OPUS_45) == "output_config.effort: Input should be 'low', 'medium' or 'high'"


@pytest.mark.parametrize("model", [SONNET_45, HAIKU_35])
def test_validate_rejects_effort_on_a_model_without_it(model) -> None:
    """Audit: Sonnet 4.5 and the other models without effort accepted it; the Anthropic API
    refuses it (oratis/LISA#218). ``null`` still counts as absent."""
    assert rejects(make_body(output_config={"effort": "low"}), model) == (
        "This model does not support the effort parameter.")
    accepts(make_body(output_config={"effort": None}), model)


@pytest.mark.parametrize(("fields", "problem"), [
    ({"output_config": {"format": "json"}},
     "output_config.format: Input should be a valid dictionary or object to extract fields from"),
    ({"output_config": {"format": {"schema": OUTPUT_SCHEMA}}}, "output_config.format.type: Field required"),
    ({"output_config": {"format": {"type": "json_object", "schema": OUTPUT_SCHEMA}}},
     "output_config.format.type: Input should be 'json_schema'"),
    ({"output_config": {"format": {"type": "json_schema"}}}, "output_config.format.schema: Field required"),
    ({"output_config": {"format": {"type": "json_schema", "schema": []}}},
     "output_config.format.schema: Input should be a valid dictionary"),
    ({"output_format": {"type": "json_schema", "schema": {"type": "object", "minLength": "ten"}}},
     "output_format.schema: JSON schema is invalid"),
    ({"output_format": {"type": "json_schema", "schema": OUTPUT_SCHEMA},
      "output_config": {"format": {"type": "json_schema", "schema": OUTPUT_SCHEMA}}},
     "output_format: output_format and output_config.format cannot both be specified"),
])
def test_validate_rejects_a_malformed_output_format(fields, problem) -> None:
    assert rejects(make_body(**fields)).startswith(problem)


# --------------------------------------------------------------------------- search results


def search_result(**extra: Any) -> dict[str, Any]:
    return {"type": "search_result", "source": "https://example.com/sky", "title": "Sky",
            "content": [text("The sky is blue.")], **extra}


def test_validate_accepts_search_results_in_user_messages_and_tool_results() -> None:
    """Audit: Converse's searchResult block (botocore: supported by Claude Sonnet 4.5 and
    others) is translated to a ``search_result`` block, which validation refused."""
    accepts(make_body(messages=[user(search_result(citations={"enabled": True}), text("What colour?"))]))
    accepts(make_body(messages=[user(search_result(cache_control=EPHEMERAL), text("What colour?"))]))
    accepts(tool_loop(user(tool_result(content=[search_result()]))))


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ({"type": "search_result", "title": "Sky", "content": []}, "messages.0.content.0.search_result.source: Field required"),
        (search_result(title=3), "messages.0.content.0.search_result.title: Input should be a valid string"),
        (search_result(content="text"), "messages.0.content.0.search_result.content: Input should be a valid list"),
        (search_result(content=[image()]), "messages.0.content.0.search_result.content.0: Input tag 'image' found using 'type' does not match any of the expected tags: 'text'"),
        (search_result(citations={"enabled": "yes"}), "messages.0.content.0.search_result.citations.enabled: Input should be a valid boolean"),
    ],
)  # fmt: skip
def test_validate_rejects_a_malformed_search_result(block: dict[str, Any], expected: str) -> None:
    assert rejects(make_body(messages=[user(block, text("What colour?"))])) == expected


def test_validate_search_results_come_from_users() -> None:
    assert rejects(make_body(messages=[user(text("hi")), assistant(search_result())])) == (
        "messages.1.content.0: `search_result` blocks are only allowed in `user` messages"
    )
