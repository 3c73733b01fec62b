"""Validation of Anthropic Messages request bodies as Bedrock judges them (the body of
InvokeModel / InvokeModelWithResponseStream for Claude).

Every client mistake becomes a ``ValidationException`` (HTTP 400) with Bedrock's wording where it
is known, never an internal error: whatever JSON value arrives, nothing else is raised.

Invariants
    Rule 1: sans-I/O and pure; the body is never copied or modified, ``ValidatedRequest.body`` is
            the very dict that was passed in (``context_management`` edits make a new body,
            ``ValidatedRequest.edited``).
    Rule 2: the first problem raises (top-level schema problems are reported together, as
            Bedrock's schema layer concatenates them).
    Rule 3: the policy is the tables at the top of this module and of ``content_rules``; code
            only walks them.

Bedrock's own layer answers steps 1 to 3 (and the body size); the rest are the model's rules.
InvokeModel and InvokeModelWithResponseStream relay the model's rejection as it is worded
(public threads quoting the InvokeModel answer bare: "messages: roles must alternate ..."
anthropics/claude-code#1162, modelcontextprotocol/quickstart-resources#20; "messages: text
content blocks must be non-empty" continuedev/continue#10804, anomalyco/opencode#22364;
"Input is too long for requested model." anthropics/claude-code#8637; "`max_tokens` must be
greater than `thinking.budget_tokens`. ..." anthropics/claude-code#8756); Converse and
ConverseStream put ``MODEL_ERRORS_PREFIX``, "The model returned the following errors: ",
before it (wire-protocol reference 3.3; aws-samples/bedrock-access-gateway#191 and every
prefixed quote whose operation is known). The caller says which (``model_errors_prefix``).

Order of checks (the first failing one answers):
    1. top-level schema, "Malformed input request: #...: ..., please reformat your input and try
       again.": body is an object; required keys ``max_tokens`` and ``messages``; each known key
       has its JSON type and range (``TOP_LEVEL_FIELDS``); keys outside the allow-list are
       "extraneous" (``model`` and ``stream`` above all: clients must strip them). A ``null``
       optional key counts as absent.
    2. ``anthropic_version``: required ("anthropic_version: Field required"), one of
       ``ACCEPTED_ANTHROPIC_VERSIONS`` ("Invalid API version: X").
    3. betas (body ``anthropic_beta`` plus any header betas the caller passes): each in
       ``KNOWN_BETAS``, model-gated ones only on models that have the capability; otherwise Bedrock's
       "invalid beta flag", followed by the flag.
    4. ``max_tokens`` at most the model's output limit (128,000 with the 128K output beta on a
       model that has it).
    5. ``thinking`` (its type's keys only, model support, budget >= 1024 and < max_tokens unless
       interleaved thinking)
       and the sampling parameters it forbids; then ``temperature`` with ``top_p`` on models
       that refuse both.
    6. ``stop_sequences`` contents, ``metadata``.
    7. ``system``, ``tools`` and ``tool_choice`` (``tool_rules``), ``output_config.effort``
       (``effort``) and the output format (``output_format``); then ``messages``
       (``content_rules``), ``context_management`` (``context_editing``), then the number of
       images and documents and the image edges.
    8. at most ``MAX_CACHE_BREAKPOINTS`` ``cache_control`` markers in all, and no ``ttl: 1h``
       marker after a ``5m`` one in prompt order (``content_rules.check_cache_ttl_order``).
    9. input tokens (when a counter is given) within the context limit: the model's context
       window (200K), or 1M with ``context-1m-2025-08-07`` on a model that supports it. With
       ``context_management`` edits, the count of the edited prompt (``context_editing``).
       A caller that reads documents elsewhere (off the event loop: ``service.offload``) may
       leave this step of a request holding documents to ``check_input_tokens``
       (``defer_documents``): the same count and message, made later.

Wording sources: wire-protocol reference 3.3 (observed Bedrock texts: extraneous/required keys,
"Invalid API version", "anthropic_version: Field required", first-role/alternation/tool_result
rules); 10.1 (body shape); catalog-facts "Limits and capabilities"; Bedrock and Anthropic API
texts quoted in public issue threads ("max_tokens: X > Y, which is the maximum allowed number of
output tokens for M", "Input is too long for requested model." (the model's context window;
"prompt is too long: N tokens > 1000000 maximum" beyond the 1M beta's), "invalid beta flag" (bare
in those threads; the flag is appended, as catalog-facts asks), the beta table). The thinking/sampling texts are the Anthropic API's as
remembered, not checked against a capture. Texts with no source at all are written in the same
pydantic style and marked "(ours)" next to their constant.

Catalog-driven (``ModelLimits`` extras, read with a default so that minimal stand-ins still
work): ``supports_128k_output`` (``output-128k-2025-02-19`` raises max_tokens to 128,000: Sonnet
3.7), ``temperature_or_top_p`` (the model refuses ``temperature`` and ``top_p`` together:
Opus 4.1, Sonnet 4.5, Haiku 4.5, Opus 4.5) and ``effort_levels`` (the ``output_config.effort``
levels the model takes, none by default: Opus 4.5).

Deliberately not enforced (no reliable source for the rule or its wording): beta requirements
of Anthropic-defined tools, the number of PDF pages
per request. Thinking signatures sent back are the model's check, not this
module's: ``thinking_signatures.ThinkingSigner.check_conversation``, run by the service after
this validation (unless ``verify_thinking_signatures`` is off). The number of images and
documents (100, or 600 beyond a 200K-token window) and image edges are checked
(``content_rules.check_media``).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from claude_bedrock.domain.content_rules import (
    MAX_CACHE_BREAKPOINTS,
    TOO_MANY_CACHE_BREAKPOINTS,
    MAX_MEDIA_BLOCKS,
    MAX_MEDIA_BLOCKS_LARGE_CONTEXT,
    check_cache_control,
    check_cache_ttl_order,
    check_media,
    check_messages,
    check_system,
    tagged_type,
)
from claude_bedrock.domain.effort import check_effort
from claude_bedrock.domain.json_body import MAX_BODY_BYTES, TOO_LARGE_MESSAGE, exact_fast_loads, json_problem
from claude_bedrock.domain.errors import ValidationException
from claude_bedrock.domain.output_format import check_output_format
from claude_bedrock.domain.request_errors import (
    api_error,
    json_type_name,
    quote_value,
    refuse_extra_keys,
    schema_error,
    schema_violation,
)
from claude_bedrock.domain.tool_rules import check_tool_choice, check_tools

if TYPE_CHECKING:  # imported when a request has context_management (most have none)
    from claude_bedrock.domain.context_editing import Edit, EditedContext

#: What Bedrock puts before a rejection that comes from the model behind it (wire 3.3).
MODEL_ERRORS_PREFIX = "The model returned the following errors: "

__all__ = [
    "ACCEPTED_ANTHROPIC_VERSIONS",
    "CONTEXT_1M_BETA",
    "EXTENDED_CONTEXT_LIMIT",
    "KNOWN_BETAS",
    "MAX_BODY_BYTES",
    "MAX_STOP_SEQUENCES",
    "MIN_THINKING_BUDGET",
    "STANDARD_CONTEXT_LIMIT",
    "TOP_LEVEL_FIELDS",
    "FieldRule",
    "ModelLimits",
    "ValidatedRequest",
    "anthropic_model_name",
    "check_input_tokens",
    "edited_prompt",
    "parse_json_body",
    "validate_messages_request",
]

# --------------------------------------------------------------------------- rule tables


#: ``bedrock-2023-05-31``: AWS docs, boto3 / awscli callers, anthropic-py < 2.0.
#: ``2026-10-21``: anthropic-py >= 2.0 and @anthropic-ai/sdk >= 1.0 (wire reference 11.9).
ACCEPTED_ANTHROPIC_VERSIONS = ("bedrock-2023-05-31", "2026-10-21")

CONTEXT_1M_BETA = "context-1m-2025-08-07"
INTERLEAVED_THINKING_BETA = "interleaved-thinking-2025-05-14"

#: The beta flags accepted in ``anthropic_beta`` (and the ``anthropic-beta`` header). Anything
#: else is refused with "invalid beta flag", as Bedrock does for e.g. advanced-tool-use-2025-11-20,
#: files-api-2025-04-14, code-execution-*, web-fetch-*, skills-*, prompt-caching-scope-*.
KNOWN_BETAS: Mapping[str, str] = MappingProxyType(
    {
        "computer-use-2024-10-22": "computer use, bash and text editor tools (2024-10-22 versions)",
        "computer-use-2025-01-24": "computer use, bash and text editor tools (2025-01-24 versions)",
        "computer-use-2025-11-24": "computer use tool (2025-11-24 version)",
        "token-efficient-tools-2025-02-19": "token-efficient tool use",
        "output-128k-2025-02-19": "128K output on Claude Sonnet 3.7",
        "interleaved-thinking-2025-05-14": "thinking between tool calls",
        "dev-full-thinking-2025-05-14": "unsummarised thinking",
        "fine-grained-tool-streaming-2025-05-14": "streamed tool input without buffering",
        "context-management-2025-06-27": "context editing",
        "context-1m-2025-08-07": "1M-token context window (Sonnet 4 and 4.5 only)",
        # Anthropic "Tool search tool": Bedrock's beta header for it; "On Amazon Bedrock,
        # server-side tool search is available only via the invoke API, not the converse API."
        "tool-search-tool-2025-10-19": "tool search (InvokeModel only)",
        "tool-examples-2025-10-29": "tool input examples (InvokeModel only)",
        "structured-outputs-2025-11-13": "structured outputs",
        "effort-2025-11-24": "effort parameter",
        "compact-2026-01-12": "compaction",
        "pdfs-2024-09-25": "PDF support (now generally available)",
        "token-counting-2024-11-01": "token counting (accepted, no effect on InvokeModel)",
        "mcp-client-2025-11-20": "MCP connector (accepted, no effect on Bedrock)",
        "web-search-2025-03-05": "web search (accepted, no effect on Bedrock)",
    }
)

#: Betas only some models accept: flag -> the ``ModelLimits`` capability that must be true.
MODEL_GATED_BETAS: Mapping[str, str] = MappingProxyType({CONTEXT_1M_BETA: "supports_1m_context"})

#: The beta that raises the output limit of models whose catalog entry has output_128k_beta.
OUTPUT_128K_BETA = "output-128k-2025-02-19"
OUTPUT_128K_TOKENS = 128_000

STANDARD_CONTEXT_LIMIT = 200_000
EXTENDED_CONTEXT_LIMIT = 1_000_000

MIN_THINKING_BUDGET = 1024
#: Each ``thinking`` type and the keys it has (anthropic-py 2.14 ``ThinkingConfigEnabledParam``,
#: ``ThinkingConfigDisabledParam``); any other key is refused as pydantic refuses extra inputs
#: (a disabled config with ``budget_tokens``: EuroEval #1107). ``display`` passes unjudged.
THINKING_KEYS: Mapping[str, frozenset[str]] = MappingProxyType(
    {"enabled": frozenset({"type", "budget_tokens", "display"}), "disabled": frozenset({"type"})}
)
THINKING_TYPES = tuple(THINKING_KEYS)
#: With thinking on, top_p may only be unset or at least this.
MIN_TOP_P_WITH_THINKING = 0.95

#: Bedrock's documented maximum number of stop sequences (generous; Anthropic has no lower cap).
MAX_STOP_SEQUENCES = 8191
MAX_USER_ID_CHARS = 256

@dataclass(frozen=True, slots=True)
class FieldRule:
    """JSON-schema rule for one top-level key (everit type names: Integer, Number, String...)."""

    types: tuple[str, ...]
    minimum: int | None = None
    maximum: int | None = None
    item_type: str | None = None
    max_items: int | None = None


#: The top-level allow-list: every key a Bedrock Claude body may carry, with its schema rule.
#: The last group are newer keys the 2.x SDKs can emit; they are type-checked and passed through.
TOP_LEVEL_FIELDS: Mapping[str, FieldRule] = MappingProxyType(
    {
        "anthropic_version": FieldRule(("String",)),
        "anthropic_beta": FieldRule(("JSONArray",), item_type="String"),
        "max_tokens": FieldRule(("Integer",), minimum=1),
        "messages": FieldRule(("JSONArray",)),
        "system": FieldRule(("String", "JSONArray")),
        "temperature": FieldRule(("Number",), minimum=0, maximum=1),
        "top_p": FieldRule(("Number",), minimum=0, maximum=1),
        "top_k": FieldRule(("Integer",), minimum=0),
        "stop_sequences": FieldRule(("JSONArray",), item_type="String", max_items=MAX_STOP_SEQUENCES),
        "tools": FieldRule(("JSONArray",)),
        "tool_choice": FieldRule(("JSONObject",)),
        "thinking": FieldRule(("JSONObject",)),
        "metadata": FieldRule(("JSONObject",)),
        "output_config": FieldRule(("JSONObject",)),
        "output_format": FieldRule(("JSONObject",)),
        "service_tier": FieldRule(("String",)),
        "container": FieldRule(("String", "JSONObject")),
        "inference_geo": FieldRule(("String",)),
        "user_profile_id": FieldRule(("String",)),
        "cache_control": FieldRule(("JSONObject",)),
        "context_management": FieldRule(("JSONObject",)),
        "mcp_servers": FieldRule(("JSONArray",)),
    }
)
REQUIRED_KEYS = ("max_tokens", "messages")

_JSON_TYPE_TESTS: Mapping[str, Callable[[Any], bool]] = MappingProxyType(
    {
        "Integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "Number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "String": lambda v: isinstance(v, str),
        "Boolean": lambda v: isinstance(v, bool),
        "JSONArray": lambda v: isinstance(v, list),
        "JSONObject": lambda v: isinstance(v, dict),
    }
)

#: The exact Python types the JSON parser produces that each top-level key accepts: the common
#: case is one set lookup; anything else (subclasses, wrong types) takes the type tests.
_PARSED_TYPES: Mapping[str, frozenset[type]] = MappingProxyType(
    {
        key: frozenset(
            t
            for name in rule.types
            for t in {"Integer": (int,), "Number": (int, float), "String": (str,), "Boolean": (bool,),
                      "JSONArray": (list,), "JSONObject": (dict,)}[name]
        )
        for key, rule in TOP_LEVEL_FIELDS.items()
    }
)

# --------------------------------------------------------------------------- message texts

VERSION_REQUIRED = "anthropic_version: Field required"
INVALID_VERSION = "Invalid API version: {version}"
MAX_TOKENS_TOO_LARGE = (
    "max_tokens: {requested} > {limit}, which is the maximum allowed number of output tokens for {model}"
)
#: Bedrock's words, then the flag (catalog-facts: the ValidationException names the flag).
INVALID_BETA = "invalid beta flag: {flag}"
THINKING_UNSUPPORTED = "thinking: extended thinking is not supported by {model}"  # (ours)
BUDGET_TOO_SMALL = "Input should be greater than or equal to 1024"
BUDGET_NOT_BELOW_MAX_TOKENS = (  # anthropics/claude-code#8756 (Bedrock, Sonnet 4.5)
    "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at "
    "https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size"
)
TEMPERATURE_WITH_THINKING = "`temperature` may only be set to 1 when thinking is enabled."
TOP_K_WITH_THINKING = "`top_k` must be unset when thinking is enabled."
TOP_P_WITH_THINKING = "`top_p` must be greater than or equal to 0.95 or unset when thinking is enabled."
#: Wire-protocol 3.3 (quoted from Bedrock), on models whose catalog entry has temperature_or_top_p.
TEMPERATURE_AND_TOP_P = "`temperature` and `top_p` cannot both be specified for this model. Please use only one."
STOP_SEQUENCE_BLANK = "each stop sequence must contain non-whitespace"
#: Beyond the model's own context window (200K), Bedrock's words (anthropics/claude-code#760 and
#: #8637, aws/aws-sdk-js-v3#6266); beyond the 1M window of the context-1m beta, the model's
#: (anomalyco/models.dev#1221).
INPUT_TOO_LONG = "Input is too long for requested model."
PROMPT_TOO_LONG = "prompt is too long: {tokens} tokens > {limit} maximum"
_MALFORMED = "Malformed input request: {detail}, please reformat your input and try again."


# --------------------------------------------------------------------------- public types


class ModelLimits(Protocol):
    """What validation needs to know about the target model (``CatalogModel`` satisfies it).

    An ``anthropic_name`` attribute, when present, names the model in messages; otherwise the
    name is derived from ``model_id``.
    """

    @property
    def model_id(self) -> str: ...
    @property
    def max_output_tokens(self) -> int: ...
    @property
    def context_window(self) -> int: ...
    @property
    def supports_thinking(self) -> bool: ...
    @property
    def supports_1m_context(self) -> bool: ...


@dataclass(slots=True)
class ValidatedRequest:
    """A body that passed validation, with what the rest of the call needs from it."""

    body: dict[str, Any]
    betas: tuple[str, ...]
    anthropic_version: str
    max_tokens: int
    context_limit: int
    input_tokens: int | None = None
    thinking_budget: int | None = None
    #: The prompt the model sees once ``context_management`` edits are applied (None without
    #: edits, or without a token counter); ``input_tokens`` is then its count.
    edited: EditedContext | None = None
    #: The judged ``context_management`` clearing edits (None without): what a token count
    #: without a counter given here applies (``edited_prompt``).
    edits: tuple[Edit, ...] | None = None
    #: The document blocks of the messages (tool results' included): their count reads files.
    documents: int = 0


# --------------------------------------------------------------------------- JSON parsing


def parse_json_body(raw: bytes | bytearray | memoryview) -> dict[str, Any]:
    """Parse an InvokeModel body into a JSON object, or raise ``ValidationException``.

    Refused: more than ``MAX_BODY_BYTES``, invalid UTF-8, malformed JSON (including NaN /
    Infinity and unpaired ``\\ud800``-style escapes, which no UTF-8 reply could carry), nesting
    too deep to parse, integers longer than the interpreter reads (4,300 digits by default),
    and any top-level value that is not an object.
    """
    data = bytes(raw)
    if len(data) > MAX_BODY_BYTES:
        raise ValidationException(TOO_LARGE_MESSAGE)
    value = exact_fast_loads(data)
    if value is None:
        value = _parse_with_messages(data)
    if not isinstance(value, dict):
        raise schema_error([_type_violation("#", ("JSONObject",), value)])
    problem = json_problem(value, data)
    if problem is not None:
        raise ValidationException(_MALFORMED.format(detail=problem))
    return value


class _NonStandardToken(ValueError):
    """NaN, Infinity or -Infinity in a body."""


def _reject_constant(name: str) -> Any:
    raise _NonStandardToken(f"Non-standard token '{name}'")


#: What the standard parser adds to its BOM complaint: advice for Python code, not for a caller.
_BOM_ADVICE = " (decode using utf-8-sig)"
#: How the standard parser ends "Invalid control character at", meant to be followed by its
#: position: the message adds " at line L column C" itself.
_DANGLING_AT = " at"


def _parse_with_messages(data: bytes) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationException(
            _MALFORMED.format(detail=f"invalid UTF-8 at byte {exc.start}")
        ) from None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        reason = exc.msg.removesuffix(_BOM_ADVICE).removesuffix(_DANGLING_AT)
        detail = f"{reason} at line {exc.lineno} column {exc.colno}"
        raise ValidationException(_MALFORMED.format(detail=detail)) from None
    except _NonStandardToken as exc:
        raise ValidationException(_MALFORMED.format(detail=str(exc))) from None
    except ValueError as exc:  # int() of a literal beyond the interpreter's digit limit, whose text advises Python code
        too_long = "integer string conversion" in str(exc)
        detail = f"integer longer than {sys.get_int_max_str_digits()} digits" if too_long else str(exc)
        raise ValidationException(_MALFORMED.format(detail=detail)) from None
    except RecursionError:
        raise ValidationException(_MALFORMED.format(detail="JSON nested too deeply")) from None
    return value


# --------------------------------------------------------------------------- top-level schema


def _type_violation(pointer: str, types: tuple[str, ...], value: Any) -> str:
    expected = types[0] if len(types) == 1 else "one of " + ", ".join(types)
    return schema_violation(pointer, f"expected type: {expected}, found: {json_type_name(value)}")


def _number_text(value: float) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _field_violation(key: str, rule: FieldRule, value: Any) -> str | None:
    pointer = f"#/{key}"
    if type(value) not in _PARSED_TYPES[key] and not any(_JSON_TYPE_TESTS[name](value) for name in rule.types):
        return _type_violation(pointer, rule.types, value)
    if rule.minimum is not None and not value >= rule.minimum:
        return schema_violation(pointer, f"{_number_text(value)} is not greater or equal to {rule.minimum}")
    if rule.maximum is not None and not value <= rule.maximum:
        return schema_violation(pointer, f"{_number_text(value)} is not less or equal to {rule.maximum}")
    if rule.max_items is not None and len(value) > rule.max_items:
        return schema_violation(
            pointer, f"expected maximum item count: {rule.max_items}, found: {len(value)}"
        )
    if rule.item_type is not None:
        test = _JSON_TYPE_TESTS[rule.item_type]
        for index, item in enumerate(value):
            if not test(item):
                return _type_violation(f"{pointer}/{index}", (rule.item_type,), item)
    return None


#: Bedrock's schema takes a Messages body or a legacy Text Completions one, which must not hold
#: ``messages``: a Messages body breaking the schema fails that branch too, reported first
#: (every public capture: fumito-ito/AnthropicSwiftSDK#19, diffbot/code-gpt-docs#300,
#: ziya-ai/ziya#24). Without ``messages`` that branch's own violations are not known: left out.
_NOT_TEXT_COMPLETIONS = schema_violation("#", 'subject must not be valid against schema {"required":["messages"]}')


def _check_schema(body: dict[str, Any]) -> None:
    """Bedrock's JSON-schema layer: required keys, types and ranges, extraneous keys."""
    violations = [
        schema_violation("#", f"required key [{key}] not found")
        for key in REQUIRED_KEYS
        if key not in body
    ]
    extraneous = []
    for key, value in body.items():
        rule = TOP_LEVEL_FIELDS.get(key)
        if rule is None:
            extraneous.append(schema_violation("#", f"extraneous key [{quote_value(key)}] is not permitted"))
            continue
        if value is None and key not in REQUIRED_KEYS:
            continue
        violation = _field_violation(key, rule, value)
        if violation is not None:
            violations.append(violation)
    violations.extend(extraneous)
    if violations:
        if "messages" in body:
            violations.insert(0, _NOT_TEXT_COMPLETIONS)
        raise schema_error(violations)


# --------------------------------------------------------------------------- API-level rules


def anthropic_model_name(model: ModelLimits) -> str:
    """The Anthropic name used in messages (``claude-sonnet-4-5-20250929``)."""
    name = getattr(model, "anthropic_name", None)
    if isinstance(name, str) and name:
        return name
    match = re.fullmatch(r"(?:[a-z-]+\.)?anthropic\.(.+?)(?:-v\d+(?::\d+)?)?", model.model_id)
    return match.group(1) if match else model.model_id


def _check_version(body: dict[str, Any]) -> str:
    version = body.get("anthropic_version")
    if version is None:
        raise ValidationException(VERSION_REQUIRED)
    if version not in ACCEPTED_ANTHROPIC_VERSIONS:
        raise ValidationException(INVALID_VERSION.format(version=quote_value(version)))
    return str(version)


def _collect_betas(body_betas: Any, header_betas: Iterable[str], model: ModelLimits) -> tuple[str, ...]:
    betas: dict[str, None] = {}
    for flag in [*(body_betas or ()), *header_betas]:
        if not isinstance(flag, str) or flag not in KNOWN_BETAS:
            raise ValidationException(INVALID_BETA.format(flag=quote_value(flag)))
        capability = MODEL_GATED_BETAS.get(flag)
        if capability is not None and not getattr(model, capability):
            raise ValidationException(INVALID_BETA.format(flag=flag))
        betas[flag] = None
    return tuple(betas)


def _check_thinking(
    body: dict[str, Any], model: ModelLimits, max_tokens: int, betas: tuple[str, ...]
) -> int | None:
    """Validate ``thinking``; return the budget when thinking is enabled."""
    thinking = body.get("thinking")
    if thinking is None:
        return None
    thinking_type = tagged_type(thinking, "thinking", THINKING_TYPES)
    refuse_extra_keys(thinking, THINKING_KEYS[thinking_type], f"thinking.{thinking_type}")
    if thinking_type == "disabled":
        return None
    if not model.supports_thinking:
        raise ValidationException(THINKING_UNSUPPORTED.format(model=anthropic_model_name(model)))
    if "budget_tokens" not in thinking:
        raise api_error("thinking.enabled.budget_tokens", "Field required")
    budget = thinking["budget_tokens"]
    if not isinstance(budget, int) or isinstance(budget, bool):
        raise api_error("thinking.enabled.budget_tokens", "Input should be a valid integer")
    if budget < MIN_THINKING_BUDGET:
        raise api_error("thinking.enabled.budget_tokens", BUDGET_TOO_SMALL)
    if budget >= max_tokens and INTERLEAVED_THINKING_BETA not in betas:
        raise ValidationException(BUDGET_NOT_BELOW_MAX_TOKENS)
    temperature = body.get("temperature")
    if temperature is not None and temperature != 1:
        raise ValidationException(TEMPERATURE_WITH_THINKING)
    if body.get("top_k") is not None:
        raise ValidationException(TOP_K_WITH_THINKING)
    top_p = body.get("top_p")
    if top_p is not None and top_p < MIN_TOP_P_WITH_THINKING:
        raise ValidationException(TOP_P_WITH_THINKING)
    return budget


def _check_stop_sequences(stop_sequences: list[str] | None) -> None:
    for sequence in stop_sequences or ():
        if not sequence or sequence.isspace():
            raise api_error("stop_sequences", STOP_SEQUENCE_BLANK)


def _check_metadata(metadata: dict[str, Any] | None) -> None:
    if metadata is None:
        return
    refuse_extra_keys(metadata, ("user_id",), "metadata")
    for value in metadata.values():
        if value is None:
            continue
        if not isinstance(value, str):
            raise api_error("metadata.user_id", "Input should be a valid string")
        if len(value) > MAX_USER_ID_CHARS:
            raise api_error(
                "metadata.user_id", f"String should have at most {MAX_USER_ID_CHARS} characters"
            )


# --------------------------------------------------------------------------- entry point


def validate_messages_request(
    body: Any,
    model: ModelLimits,
    *,
    count_input_tokens: Callable[[dict[str, Any]], int] | None = None,
    header_betas: Iterable[str] = (),
    defer_documents: bool = False,
    model_errors_prefix: str = "",
) -> ValidatedRequest:
    """Judge an Anthropic Messages body for ``model`` as Bedrock would.

    Args:
        body: the parsed JSON body (any JSON value is accepted and judged).
        model: the resolved model's limits and capabilities.
        count_input_tokens: counts the body's input tokens; called last, only on a body that
            passed every other rule. Without it no context-length check is made.
        header_betas: flags from an ``anthropic-beta`` HTTP header, judged like the body's.
        defer_documents: a body holding documents is not counted here (``input_tokens`` is
            None): the caller counts it with ``check_input_tokens``.
        model_errors_prefix: put before the model's rejections (steps 4 to 9): none for
            InvokeModel, ``MODEL_ERRORS_PREFIX`` for Converse (module docstring).

    Raises:
        ValidationException: at the first problem, with Bedrock's wording where known.
    """
    if not isinstance(body, dict):
        raise schema_error([_type_violation("#", ("JSONObject",), body)])
    _check_schema(body)
    version = _check_version(body)
    betas = _collect_betas(body.get("anthropic_beta"), header_betas, model)  # "invalid beta flag: <flag>"
    try:
        return _model_checks(body, model, version, betas, count_input_tokens, defer_documents)
    except ValidationException as exc:
        raise _relayed(exc, model_errors_prefix) from None


def check_input_tokens(validated: ValidatedRequest, model: ModelLimits,
                       count_input_tokens: Callable[[dict[str, Any]], int],
                       model_errors_prefix: str = "") -> ValidatedRequest:
    """Step 9 of a body validated with ``defer_documents`` (pure, thread-safe: it reads the
    body only): ``validated`` with its input tokens (and edited prompt) counted.

    Raises:
        ValidationException: the prompt is too long, as ``validate_messages_request`` says it.
    """
    try:
        input_tokens, edited = _counted(validated.body, model, validated.edits, validated.context_limit,
                                        count_input_tokens)
    except ValidationException as exc:
        raise _relayed(exc, model_errors_prefix) from None
    return replace(validated, input_tokens=input_tokens, edited=edited)


def _relayed(exc: ValidationException, model_errors_prefix: str) -> ValidationException:
    """The model's own rejection as Bedrock relays it: with ``model_errors_prefix`` before its
    text (Converse), or as it is (InvokeModel: none)."""
    return ValidationException(model_errors_prefix + exc.message) if model_errors_prefix else exc


def max_output_tokens(model: ModelLimits, betas: Iterable[str]) -> int:
    """The model's output limit, raised by the ``output-128k`` beta where the model takes it."""
    if OUTPUT_128K_BETA in betas and getattr(model, "supports_128k_output", False):
        return OUTPUT_128K_TOKENS
    return model.max_output_tokens


def _model_checks(
    body: dict[str, Any],
    model: ModelLimits,
    version: str,
    betas: tuple[str, ...],
    count_input_tokens: Callable[[dict[str, Any]], int] | None,
    defer_documents: bool,
) -> ValidatedRequest:
    """Steps 4 to 9 of the module docstring: the rules of the model behind Bedrock."""
    max_tokens: int = body["max_tokens"]
    output_limit = max_output_tokens(model, betas)
    if max_tokens > output_limit:
        raise ValidationException(
            MAX_TOKENS_TOO_LARGE.format(requested=max_tokens, limit=output_limit, model=anthropic_model_name(model))
        )
    budget = _check_thinking(body, model, max_tokens, betas)
    if (body.get("top_p") is not None and body.get("temperature") is not None
            and getattr(model, "temperature_or_top_p", False)):
        raise ValidationException(TEMPERATURE_AND_TOP_P)
    _check_stop_sequences(body.get("stop_sequences"))
    _check_metadata(body.get("metadata"))
    breakpoints = check_system(body.get("system"))
    tool_names, tool_breakpoints = check_tools(body.get("tools"))
    check_tool_choice(body.get("tool_choice"), tool_names, budget is not None)
    if "output_config" in body:  # the usual request has none: no call
        check_effort(body, model)
    check_output_format(body)
    breakpoints += tool_breakpoints
    breakpoints += check_cache_control(body.get("cache_control"), "cache_control")
    breakpoints += check_messages(body["messages"], thinking_enabled=budget is not None, tool_names=tool_names)
    edits = None
    if "context_management" in body:  # the usual request has none: no call, no import
        from claude_bedrock.domain.context_editing import check_context_management

        edits = check_context_management(body, betas, thinking_enabled=budget is not None)
    context_limit = EXTENDED_CONTEXT_LIMIT if CONTEXT_1M_BETA in betas else model.context_window
    documents = check_media(body["messages"], max_blocks=MAX_MEDIA_BLOCKS if context_limit <= STANDARD_CONTEXT_LIMIT
                            else MAX_MEDIA_BLOCKS_LARGE_CONTEXT)
    if breakpoints > MAX_CACHE_BREAKPOINTS:
        raise ValidationException(
            TOO_MANY_CACHE_BREAKPOINTS.format(limit=MAX_CACHE_BREAKPOINTS, found=breakpoints)
        )
    if breakpoints > 1:
        check_cache_ttl_order(body)
    input_tokens = None
    edited = None
    if count_input_tokens is not None and not (documents and defer_documents):
        input_tokens, edited = _counted(body, model, edits, context_limit, count_input_tokens)
    return ValidatedRequest(
        body=body,
        betas=betas,
        anthropic_version=version,
        max_tokens=max_tokens,
        context_limit=context_limit,
        input_tokens=input_tokens,
        thinking_budget=budget,
        edited=edited,
        edits=edits,
        documents=documents,
    )


def _counted(body: dict[str, Any], model: ModelLimits, edits: tuple[Edit, ...] | None, context_limit: int,
             count_input_tokens: Callable[[dict[str, Any]], int]) -> tuple[int, EditedContext | None]:
    """Step 9: the input tokens (of the edited prompt, with ``edits``) within ``context_limit``."""
    input_tokens = count_input_tokens(body)
    edited = None
    if edits:  # the context window holds the edited prompt
        edited = edited_prompt(body, edits, model, input_tokens)
        input_tokens = edited.input_tokens
    if input_tokens > context_limit:
        if context_limit <= model.context_window:
            raise ValidationException(INPUT_TOO_LONG)
        raise ValidationException(PROMPT_TOO_LONG.format(tokens=input_tokens, limit=context_limit))
    return input_tokens, edited


def edited_prompt(body: dict[str, Any], edits: tuple[Edit, ...], model: ModelLimits, input_tokens: int) -> EditedContext:
    """``body`` (counted ``input_tokens`` for ``model``) with its judged ``context_management``
    ``edits`` applied: what the model sees, is billed for and CountTokens counts."""
    from claude_bedrock.domain.context_editing import apply_context_edits

    return apply_context_edits(body, edits, input_tokens=input_tokens,
                               preserve_thinking=getattr(model, "preserves_thinking", False))
