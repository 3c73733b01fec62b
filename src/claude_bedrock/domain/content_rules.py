"""Rules for the conversation part of an Anthropic Messages body: ``messages``, ``system``,
content blocks and ``cache_control`` markers, as Bedrock (InvokeModel for Claude) judges them.

Invariants
    Rule 1: one pass over ``messages`` and each block, no copies; the body is never modified.
    Rule 2: the first problem raises ``ValidationException`` with Anthropic-API wording
            (``messages.<i>.content.<j>.<type>.<field>: ...``); nothing else escapes, whatever the
            JSON values are.
    Rule 3: the tables below are the whole policy: which block types each role may send, which
            media types and source kinds are accepted, which ``cache_control`` TTLs exist.

Conversation rules (wire-protocol reference 3.3 and 10.1, observed Bedrock texts):
    * at least one message; the first is ``user``; roles alternate;
    * every message has non-empty content, except an optional final ``assistant`` message
      (a prefill), whose text must not end with whitespace;
    * ``tool_use`` ids are unique in the conversation; the message after an assistant message
      with ``tool_use`` blocks begins with one ``tool_result`` per id; every ``tool_result``
      names a ``tool_use`` of the message just before it; an assistant ``tool_use`` may not be
      the last message;
    * a ``server_tool_use`` (tool search) is answered by the ``tool_search_tool_result`` the
      server wrote in the same assistant message, never by a ``tool_result`` (Anthropic "Tool
      search tool": "Don't return a tool_result for the srvtoolu_... ID"); every
      ``tool_reference`` names a tool of ``tools``;
    * with extended thinking enabled, the assistant message of the current turn (a final
      prefill, or the message before a trailing ``tool_result`` message) starts with a
      ``thinking`` or ``redacted_thinking`` block.

``thinking`` and ``redacted_thinking`` blocks may not carry ``cache_control`` (Anthropic "Prompt
caching": they cannot be marked, only cached with the content around them).

Block-level keys that are not checked here (``citations`` on text, ``caller``...) pass through
unjudged, so blocks echoed back from a response are not refused for carrying extra members.
URL and file sources are refused: Bedrock documents only base64 images and base64 / text /
content documents.

Wording: the first-role, alternation and "Did not find N `tool_result` block(s)" texts were observed
from Bedrock (wire-protocol reference 3.3); the other conversation texts are the Anthropic API's as
quoted in public issue threads; the few written here without such a source are marked "(ours)".
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

from claude_bedrock.domain.errors import ValidationException
from claude_bedrock.domain.request_errors import EXTRA_INPUT, api_error, expected_tags, one_of, quote_value, refuse_extra_keys
from claude_bedrock.domain.tokens import image_dimensions
from claude_bedrock.domain.tool_search import ERROR_CODES, block_references

__all__ = [
    "BLOCK_ROLES",
    "CACHE_TTLS",
    "DOCUMENT_CONTENT_BLOCK_TYPES",
    "DOCUMENT_SOURCE_MEDIA_TYPES",
    "IMAGE_MEDIA_TYPES",
    "MAX_CACHE_BREAKPOINTS",
    "MAX_IMAGE_BASE64_CHARS",
    "TOOL_RESULT_BLOCK_TYPES",
    "check_cache_control",
    "check_cache_ttl_order",
    "check_media",
    "check_messages",
    "check_system",
]

# --------------------------------------------------------------------------- rule tables

ROLES = ("user", "assistant")

#: Content block types accepted in ``messages[i].content`` and the roles that may send each.
BLOCK_ROLES: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "text": frozenset({"user", "assistant"}),
        "image": frozenset({"user"}),
        "document": frozenset({"user"}),
        "tool_result": frozenset({"user"}),
        "tool_use": frozenset({"assistant"}),
        "thinking": frozenset({"assistant"}),
        "redacted_thinking": frozenset({"assistant"}),
        # Converse's searchResult block (botocore ``SearchResultBlock``: "supported by Anthropic
        # Claude Opus 4.1, Opus 4, Sonnet 4.5, Sonnet 4, Sonnet 3.7, and 3.5 Haiku").
        "search_result": frozenset({"user"}),
        "server_tool_use": frozenset({"assistant"}),
        "tool_search_tool_result": frozenset({"assistant"}),
    }
)
MESSAGE_BLOCK_TYPES = tuple(BLOCK_ROLES)

#: Block types allowed inside ``tool_result.content`` when it is a list (``tool_reference``:
#: a custom tool search's answer, Anthropic "Tool search tool").
TOOL_RESULT_BLOCK_TYPES = ("text", "image", "document", "search_result", "tool_reference")
#: Block types allowed in a ``search_result``'s ``content``.
SEARCH_RESULT_BLOCK_TYPES = ("text",)
#: ``tool_search_tool_result.content`` kinds.
TOOL_SEARCH_RESULT_TYPES = ("tool_search_tool_search_result", "tool_search_tool_result_error")
#: Block types allowed inside a ``document`` whose source is ``{"type": "content"}``.
DOCUMENT_CONTENT_BLOCK_TYPES = ("text", "image")
#: Block types allowed in a ``system`` array.
SYSTEM_BLOCK_TYPES = ("text",)

#: Image media types and the leading bytes ((offset, bytes), all must match) of each format.
IMAGE_MEDIA_TYPES: Mapping[str, tuple[tuple[int, bytes], ...]] = MappingProxyType(
    {
        "image/jpeg": ((0, b"\xff\xd8\xff"),),
        "image/png": ((0, b"\x89PNG\r\n\x1a\n"),),
        "image/gif": ((0, b"GIF8"),),
        "image/webp": ((0, b"RIFF"), (8, b"WEBP")),
    }
)
IMAGE_SOURCE_TYPES = ("base64",)
#: Anthropic's per-image limit, measured on the base64 text as the API does.
MAX_IMAGE_BASE64_CHARS = 5 * 1024 * 1024
#: Longest image edge, and the stricter one once a request holds more than MANY_IMAGES images
#: (Anthropic API texts quoted in public issue threads).
MAX_IMAGE_EDGE_PX = 8000
MANY_IMAGES = 20
MANY_IMAGES_MAX_EDGE_PX = 2000
#: The API's text, quoted in anthropics/claude-code #6300, #12015, #13131, #15746.
IMAGE_NOT_OF_MEDIA_TYPE = "Image does not match the provided media type {media_type}"
IMAGE_TOO_BIG = "At least one of the image dimensions exceed max allowed size: {limit} pixels"
MANY_IMAGES_TOO_BIG = "At least one of the image dimensions exceed max allowed size for many-image requests: {limit} pixels"
#: Most images and documents one request may carry: Anthropic "Vision" allows 100 images per
#: request on models with a 200K-token context window and 600 beyond; Bedrock's refusal counts
#: documents with the images (its text, quoted in public code: "too many images and documents:
#: 23 + 0 > 20", relayed as the model's error).
MAX_MEDIA_BLOCKS = 100
MAX_MEDIA_BLOCKS_LARGE_CONTEXT = 600
TOO_MANY_MEDIA = "too many images and documents: {images} + {documents} > {limit}"

#: Document source kinds and the media type each requires (None: no media type).
DOCUMENT_SOURCE_MEDIA_TYPES: Mapping[str, str | None] = MappingProxyType(
    {"base64": "application/pdf", "text": "text/plain", "content": None}
)
PDF_SIGNATURE = b"%PDF-"
INVALID_PDF = "The PDF specified was not valid."

CACHE_CONTROL_TYPES = ("ephemeral",)
CACHE_TTLS = ("5m", "1h")
#: The keys of a ``cache_control`` (anthropic-py 2.14 ``CacheControlEphemeralParam``).
_CACHE_CONTROL_KEYS = frozenset({"type", "ttl"})
#: Most ``cache_control`` markers one request may carry (tools + system + messages + top level).
MAX_CACHE_BREAKPOINTS = 4

TOOL_USE_ID_PATTERN = "^[a-zA-Z0-9_-]+$"
_TOOL_USE_ID = re.compile(TOOL_USE_ID_PATTERN)
#: How much of a base64 string to decode to see a file signature (multiple of 4).
_SIGNATURE_CHARS = 24

# --------------------------------------------------------------------------- message texts

FIRST_MESSAGE_ROLE = 'messages: first message must use the "user" role'
ROLES_MUST_ALTERNATE = (
    'messages: roles must alternate between "user" and "assistant", '
    'but found multiple "{role}" roles in a row'
)
NO_MESSAGES = "at least one message is required"
EMPTY_CONTENT = "all messages must have non-empty content except for the optional final assistant message"
EMPTY_TEXT = "text content blocks must be non-empty"
WHITESPACE_TEXT = "text content blocks must contain non-whitespace text"
TRAILING_WHITESPACE = "messages: final assistant content cannot end with trailing whitespace"
WRONG_ROLE = "`{block_type}` blocks are only allowed in `{role}` messages"  # (ours)
NOT_STRING_OR_LIST = "Input should be a valid string or list"  # (ours)
_MESSAGE_KEYS = frozenset({"role", "content"})
NOT_BASE64 = "Input should be a valid base64 string"  # (ours)
MISSING_TOOL_RESULTS = (
    "Did not find {count} `tool_result` block(s) at the beginning of this message. Messages "
    "following `tool_use` blocks must begin with a matching number of `tool_result` blocks."
)
UNANSWERED_TOOL_USE = (
    "`tool_use` ids were found without `tool_result` blocks immediately after: {ids}. Each "
    "`tool_use` block must have a corresponding `tool_result` block in the next message."
)
UNEXPECTED_TOOL_RESULT = (
    "unexpected `tool_use_id` found in `tool_result` blocks: {id}. Each `tool_result` block "
    "must have a corresponding `tool_use` block in the previous message."
)
DUPLICATE_TOOL_USE_ID = "`tool_use` ids must be unique"
UNKNOWN_TOOL_REFERENCE = "Tool reference '{name}' not found in available tools"
THINKING_FIRST = (
    "Expected `thinking` or `redacted_thinking`, but found `{found}`. When `thinking` is "
    "enabled, a final `assistant` message must start with a thinking block (preceeding the "
    "lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking "
    "blocks from previous turns. To avoid this requirement, disable `thinking`. Please consult "
    "our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
)
TOO_MANY_CACHE_BREAKPOINTS = (
    "A maximum of {limit} blocks with cache_control may be provided. Found {found}."
)
CACHE_TTL_ORDER = "a ttl='{ttl}' cache_control block must not come after a ttl='{shorter}' cache_control block."
NOT_AN_OBJECT = "Input should be a valid dictionary or object to extract fields from"
NO_TAG = "Unable to extract tag using discriminator 'type'"
FIELD_REQUIRED = "Field required"


# --------------------------------------------------------------------------- small helpers


def tagged_type(value: Any, path: str, tags: tuple[str, ...]) -> str:
    """The ``type`` tag of an object that must be one of ``tags``."""
    if not isinstance(value, dict):
        raise api_error(path, NOT_AN_OBJECT)
    if "type" not in value:
        raise api_error(path, NO_TAG)
    tag = value["type"]
    if not isinstance(tag, str) or tag not in tags:
        raise api_error(path, expected_tags(tag, tags))
    return tag


def _required(obj: dict[str, Any], key: str, path: str) -> Any:
    if key not in obj:
        raise api_error(f"{path}.{key}", FIELD_REQUIRED)
    return obj[key]


def _required_str(obj: dict[str, Any], key: str, path: str) -> str:
    value = _required(obj, key, path)
    if not isinstance(value, str):
        raise api_error(f"{path}.{key}", "Input should be a valid string")
    return value


def _required_dict(obj: dict[str, Any], key: str, path: str) -> dict[str, Any]:
    value = _required(obj, key, path)
    if not isinstance(value, dict):
        raise api_error(f"{path}.{key}", NOT_AN_OBJECT)
    return value


def _optional_str(obj: dict[str, Any], key: str, path: str) -> None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise api_error(f"{path}.{key}", "Input should be a valid string")


def _optional_bool(obj: dict[str, Any], key: str, path: str) -> None:
    value = obj.get(key)
    if value is not None and not isinstance(value, bool):
        raise api_error(f"{path}.{key}", "Input should be a valid boolean")


def _media_type(source: dict[str, Any], path: str, accepted: tuple[str, ...]) -> str:
    media_type = _required(source, "media_type", path)
    if not isinstance(media_type, str) or media_type not in accepted:
        raise api_error(f"{path}.media_type", one_of(accepted))
    return media_type


def _base64_head(data: str, path: str) -> bytes:
    """Check that ``data`` is strict base64 and return its first decoded bytes."""
    try:
        if not data.isascii():
            raise ValueError("non-ASCII")
        binascii.a2b_base64(data, strict_mode=True)
        return binascii.a2b_base64(data[:_SIGNATURE_CHARS], strict_mode=False)
    except (binascii.Error, ValueError):
        raise api_error(path, NOT_BASE64) from None


def check_cache_control(value: Any, path: str) -> int:
    """Validate one ``cache_control`` member; return 1 if it sets a breakpoint, else 0."""
    if value is None:
        return 0
    tagged_type(value, path, CACHE_CONTROL_TYPES)
    if len(value) > 1:  # the usual marker is {"type": "ephemeral"} alone
        refuse_extra_keys(value, _CACHE_CONTROL_KEYS, f"{path}.ephemeral")
    ttl = value.get("ttl")
    if ttl is not None and (not isinstance(ttl, str) or ttl not in CACHE_TTLS):
        raise api_error(f"{path}.ephemeral.ttl", one_of(CACHE_TTLS))
    return 1


def check_cache_ttl_order(body: Mapping[str, Any]) -> None:
    """Refuse a ``cache_control`` whose TTL is longer than that of one before it.

    Anthropic "Prompt caching", "Mixing different TTLs": cache entries with a longer TTL must
    appear before shorter ones, in prompt order (tools, system, messages; the top-level
    automatic breakpoint last). Wording and path (``messages.0.content.0.cache_control.ttl``) as
    the API answers, quoted in public issue threads; Bedrock relays it as a model error.
    Call it on a body whose tools, system and messages were validated.
    """
    shortest = len(CACHE_TTLS) - 1
    for path, control in _cache_controls(body):
        rank = CACHE_TTLS.index(control.get("ttl") or CACHE_TTLS[0])
        if rank > shortest:
            raise api_error(
                f"{path}.ttl", CACHE_TTL_ORDER.format(ttl=CACHE_TTLS[rank], shorter=CACHE_TTLS[shortest])
            )
        shortest = rank


def _cache_controls(body: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Each ``cache_control`` of a validated body with its path, in prompt order."""
    for index, tool in enumerate(body.get("tools") or ()):
        yield from _block_cache_controls(tool, f"tools.{index}")
    system = body.get("system")
    if isinstance(system, list):
        for index, block in enumerate(system):
            yield from _block_cache_controls(block, f"system.{index}")
    for index, message in enumerate(body["messages"]):
        content = message["content"]
        for block_index, block in enumerate(content if isinstance(content, list) else ()):
            yield from _block_cache_controls(block, f"messages.{index}.content.{block_index}")
    if body.get("cache_control") is not None:
        yield "cache_control", body["cache_control"]


def _block_cache_controls(block: Mapping[str, Any], path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The markers of one block: those of its nested blocks first, then its own."""
    source = block.get("source")
    nested_path, nested = (
        (f"{path}.source.content", source.get("content")) if isinstance(source, Mapping)
        else (f"{path}.content", block.get("content"))
    )
    if isinstance(nested, list):
        for index, inner in enumerate(nested):
            if isinstance(inner, Mapping):
                yield from _block_cache_controls(inner, f"{nested_path}.{index}")
    if block.get("cache_control") is not None:
        yield f"{path}.cache_control", block["cache_control"]


# --------------------------------------------------------------------------- block checkers
#
# Each checker gets the block, the pydantic-style path including the tag
# (``messages.0.content.1.image``), the scope word used by the emptiness messages
# (``messages`` or ``system``), and returns the number of cache_control breakpoints it holds.

BlockChecker = Callable[[dict[str, Any], str, str], int]


def _check_text(block: dict[str, Any], path: str, scope: str) -> int:
    text = _required_str(block, "text", path)
    if not text:
        raise api_error(scope, EMPTY_TEXT)
    if text.isspace():
        raise api_error(scope, WHITESPACE_TEXT)
    return check_cache_control(block.get("cache_control"), f"{path}.cache_control")


def _check_image(block: dict[str, Any], path: str, scope: str) -> int:
    source = _required_dict(block, "source", path)
    kind = tagged_type(source, f"{path}.source", IMAGE_SOURCE_TYPES)
    source_path = f"{path}.source.{kind}"
    media_type = _media_type(source, source_path, tuple(IMAGE_MEDIA_TYPES))
    data = _required_str(source, "data", source_path)
    if len(data) > MAX_IMAGE_BASE64_CHARS:
        raise api_error(
            source_path,
            f"image exceeds 5 MB maximum: {len(data)} bytes > {MAX_IMAGE_BASE64_CHARS} bytes",
        )
    head = _base64_head(data, f"{source_path}.data")
    if not all(head[at : at + len(sig)] == sig for at, sig in IMAGE_MEDIA_TYPES[media_type]):
        raise api_error(f"{source_path}.data", IMAGE_NOT_OF_MEDIA_TYPE.format(media_type=media_type))
    return check_cache_control(block.get("cache_control"), f"{path}.cache_control")


def _check_document(block: dict[str, Any], path: str, scope: str) -> int:
    source = _required_dict(block, "source", path)
    kind = tagged_type(source, f"{path}.source", tuple(DOCUMENT_SOURCE_MEDIA_TYPES))
    source_path = f"{path}.source.{kind}"
    breakpoints = 0
    media_type = DOCUMENT_SOURCE_MEDIA_TYPES[kind]
    if media_type is not None:
        _media_type(source, source_path, (media_type,))
        data = _required_str(source, "data", source_path)
        if kind == "base64":
            head = _base64_head(data, f"{source_path}.data")
            if not head.startswith(PDF_SIGNATURE):
                raise api_error(f"{source_path}.data", INVALID_PDF)
    else:
        content = _required(source, "content", source_path)
        if isinstance(content, list):
            breakpoints += _check_nested(
                content, f"{source_path}.content", scope, DOCUMENT_CONTENT_BLOCK_TYPES
            )
        elif not isinstance(content, str):
            raise api_error(f"{source_path}.content", NOT_STRING_OR_LIST)
    _optional_str(block, "title", path)
    _optional_str(block, "context", path)
    _check_citations_config(block, path)
    return breakpoints + check_cache_control(block.get("cache_control"), f"{path}.cache_control")


def _check_search_result(block: dict[str, Any], path: str, scope: str) -> int:
    _required_str(block, "source", path)
    _required_str(block, "title", path)
    content = _required(block, "content", path)
    if not isinstance(content, list):
        raise api_error(f"{path}.content", "Input should be a valid list")
    breakpoints = _check_nested(content, f"{path}.content", scope, SEARCH_RESULT_BLOCK_TYPES)
    _check_citations_config(block, path)
    return breakpoints + check_cache_control(block.get("cache_control"), f"{path}.cache_control")


def _check_citations_config(block: dict[str, Any], path: str) -> None:
    citations = block.get("citations")
    if citations is not None:
        if not isinstance(citations, dict):
            raise api_error(f"{path}.citations", NOT_AN_OBJECT)
        _optional_bool(citations, "enabled", f"{path}.citations")


def _check_tool_use(block: dict[str, Any], path: str, scope: str) -> int:
    tool_use_id = _required_str(block, "id", path)
    if not _TOOL_USE_ID.fullmatch(tool_use_id):
        raise api_error(f"{path}.id", f"String should match pattern '{TOOL_USE_ID_PATTERN}'")
    name = _required_str(block, "name", path)
    if not name:
        raise api_error(f"{path}.name", "String should have at least 1 character")
    if not isinstance(_required(block, "input", path), dict):
        raise api_error(f"{path}.input", "Input should be a valid dictionary")
    return check_cache_control(block.get("cache_control"), f"{path}.cache_control")


def _check_tool_reference(block: dict[str, Any], path: str, scope: str) -> int:
    _required_str(block, "tool_name", path)
    return check_cache_control(block.get("cache_control"), f"{path}.cache_control")


def _check_tool_search_result(block: dict[str, Any], path: str, scope: str) -> int:
    _required_str(block, "tool_use_id", path)
    content = _required(block, "content", path)
    kind = tagged_type(content, f"{path}.content", TOOL_SEARCH_RESULT_TYPES)
    content_path = f"{path}.content.{kind}"
    if kind == "tool_search_tool_result_error":
        code = _required(content, "error_code", content_path)
        if not isinstance(code, str) or code not in ERROR_CODES:
            raise api_error(f"{content_path}.error_code", one_of(ERROR_CODES))
        _optional_str(content, "error_message", content_path)
    else:
        references = _required(content, "tool_references", content_path)
        if not isinstance(references, list):
            raise api_error(f"{content_path}.tool_references", "Input should be a valid list")
        _check_nested(references, f"{content_path}.tool_references", scope, ("tool_reference",))
    return check_cache_control(block.get("cache_control"), f"{path}.cache_control")


def _check_tool_result(block: dict[str, Any], path: str, scope: str) -> int:
    _required_str(block, "tool_use_id", path)
    _optional_bool(block, "is_error", path)
    breakpoints = check_cache_control(block.get("cache_control"), f"{path}.cache_control")
    content = block.get("content")
    if isinstance(content, list):
        breakpoints += _check_nested(content, f"{path}.content", scope, TOOL_RESULT_BLOCK_TYPES)
    elif content is not None and not isinstance(content, str):
        raise api_error(f"{path}.content", NOT_STRING_OR_LIST)
    return breakpoints


def _check_thinking(block: dict[str, Any], path: str, scope: str) -> int:
    _required_str(block, "thinking", path)
    _required_str(block, "signature", path)
    return _no_cache_control(block, path)


def _check_redacted_thinking(block: dict[str, Any], path: str, scope: str) -> int:
    _required_str(block, "data", path)
    return _no_cache_control(block, path)


def _no_cache_control(block: dict[str, Any], path: str) -> int:
    """Thinking blocks cannot carry a breakpoint (Anthropic "Prompt caching"): 0, or raise."""
    if "cache_control" in block:
        raise api_error(f"{path}.cache_control", EXTRA_INPUT)
    return 0


BLOCK_CHECKERS: Mapping[str, BlockChecker] = MappingProxyType(
    {
        "text": _check_text,
        "image": _check_image,
        "document": _check_document,
        "tool_use": _check_tool_use,
        "tool_result": _check_tool_result,
        "thinking": _check_thinking,
        "redacted_thinking": _check_redacted_thinking,
        "search_result": _check_search_result,
        "server_tool_use": _check_tool_use,
        "tool_search_tool_result": _check_tool_search_result,
        "tool_reference": _check_tool_reference,
    }
)


def _check_nested(blocks: list[Any], path: str, scope: str, allowed: tuple[str, ...]) -> int:
    breakpoints = 0
    for index, block in enumerate(blocks):
        block_path = f"{path}.{index}"
        block_type = tagged_type(block, block_path, allowed)
        breakpoints += BLOCK_CHECKERS[block_type](block, f"{block_path}.{block_type}", scope)
    return breakpoints


# --------------------------------------------------------------------------- system


def check_system(system: Any) -> int:
    """Validate ``system`` (a string or text blocks); return its cache_control breakpoints.

    The caller has already checked that ``system`` is a string, a list or None.
    """
    if not isinstance(system, list):
        return 0
    breakpoints = 0
    for index, block in enumerate(system):
        path = f"system.{index}"
        if not isinstance(block, dict):
            raise api_error(path, NOT_AN_OBJECT)
        if block.get("type") != "text":
            raise api_error(f"{path}.type", one_of(SYSTEM_BLOCK_TYPES))
        breakpoints += _check_text(block, path, "system")
    return breakpoints


# --------------------------------------------------------------------------- messages


def _message_fields(message: Any, path: str) -> tuple[str, Any]:
    if not isinstance(message, dict):
        raise api_error(path, NOT_AN_OBJECT)
    role = _required(message, "role", path)
    if not isinstance(role, str) or role not in ROLES:
        raise api_error(f"{path}.role", one_of(ROLES))
    content = _required(message, "content", path)
    if not isinstance(content, (str, list)):
        raise api_error(f"{path}.content", NOT_STRING_OR_LIST)
    if len(message) > 2:  # a message is {role, content}, nothing else
        refuse_extra_keys(message, _MESSAGE_KEYS, path)
    return role, content


def _check_final_text(content: str | list[Any]) -> None:
    """A prefill must not end with whitespace (the model would continue from it)."""
    last = content if isinstance(content, str) else content[-1] if content else None
    if isinstance(last, dict):
        last = last.get("text") if last.get("type") == "text" else None
    if isinstance(last, str) and last and last != last.rstrip():
        raise ValidationException(TRAILING_WHITESPACE)


def _first_block_type(content: str | list[Any]) -> str | None:
    if isinstance(content, str):
        return "text" if content else None
    return content[0]["type"] if content else None


def _check_thinking_turn(messages: list[Any], last_user_opens_with_results: bool) -> None:
    """With thinking on, the current turn's assistant message starts with a thinking block."""
    last = len(messages) - 1
    if messages[last]["role"] == "assistant":
        index = last
    elif last_user_opens_with_results and last >= 1:
        index = last - 1
    else:
        return
    found = _first_block_type(messages[index]["content"])
    if found is not None and found not in ("thinking", "redacted_thinking"):
        raise api_error(f"messages.{index}.content.0.type", THINKING_FIRST.format(found=found))


def _media(messages: list[Any]) -> tuple[list[tuple[str, str]], int]:
    """(error path, base64 data) of every image of a validated conversation, and the number of
    its documents, tool results' included."""
    found: list[tuple[str, str]] = []
    documents = 0
    for index, message in enumerate(messages):
        content = message["content"]
        if type(content) is str:  # the usual case: nothing to look into
            continue
        for block_index, block in enumerate(content):
            kind = block["type"]
            if kind == "image":
                found.append((f"messages.{index}.content.{block_index}.image.source.base64.data",
                              block["source"]["data"]))
            elif kind == "document":
                documents += 1
            elif kind == "tool_result" and isinstance(block.get("content"), list):
                for inner_index, inner in enumerate(block["content"]):
                    if inner["type"] == "image":
                        found.append((f"messages.{index}.content.{block_index}.tool_result.content."
                                      f"{inner_index}.image.source.base64.data", inner["source"]["data"]))
                    elif inner["type"] == "document":
                        documents += 1
    return found, documents


def check_media(messages: list[Any], *, max_blocks: int = MAX_MEDIA_BLOCKS) -> int:
    """At most ``max_blocks`` images and documents in all (MAX_MEDIA_BLOCKS, or
    MAX_MEDIA_BLOCKS_LARGE_CONTEXT beyond a 200K-token window); then each image's longest edge
    within MAX_IMAGE_EDGE_PX, or MANY_IMAGES_MAX_EDGE_PX when the request holds more than
    MANY_IMAGES images (run after ``check_messages``). Images whose header cannot be read are
    not judged. Returns the number of documents (tool results' included)."""
    images, documents = _media(messages)
    if len(images) + documents > max_blocks:
        raise ValidationException(TOO_MANY_MEDIA.format(images=len(images), documents=documents, limit=max_blocks))
    if not images:
        return documents
    many = len(images) > MANY_IMAGES
    limit = MANY_IMAGES_MAX_EDGE_PX if many else MAX_IMAGE_EDGE_PX
    for path, data in images:
        dimensions = image_dimensions(data)
        if dimensions is not None and max(dimensions) > limit:
            raise api_error(path, (MANY_IMAGES_TOO_BIG if many else IMAGE_TOO_BIG).format(limit=limit))
    return documents


#: The blocks that may hold ``tool_reference`` blocks.
_REFERENCING_TYPES = frozenset({"tool_result", "tool_search_tool_result"})


def _check_references(block: dict[str, Any], tool_names: frozenset[str]) -> None:
    unknown = next((name for name in block_references(block) if name not in tool_names), None)
    if unknown is not None:
        raise ValidationException(UNKNOWN_TOOL_REFERENCE.format(name=unknown))


def check_messages(
    messages: list[Any], *, thinking_enabled: bool, tool_names: frozenset[str] | None = None
) -> int:
    """Validate the conversation in one pass; return its cache_control breakpoints.

    Args:
        messages: the ``messages`` array (the caller has checked it is a list).
        thinking_enabled: whether ``thinking.type`` is ``enabled`` (turn-start rule).
        tool_names: the request's tools; when given, every ``tool_reference`` must name one.
    """
    if not messages:
        raise api_error("messages", NO_MESSAGES)
    last = len(messages) - 1
    breakpoints = 0
    seen_tool_use_ids: set[str] = set()
    pending: list[str] = []  # tool_use ids of the previous (assistant) message
    previous_role: str | None = None
    opens_with_results = False
    for index, message in enumerate(messages):
        path = f"messages.{index}"
        role, content = _message_fields(message, path)
        if index == 0 and role != "user":
            raise ValidationException(FIRST_MESSAGE_ROLE)
        if role == previous_role:
            raise ValidationException(ROLES_MUST_ALTERNATE.format(role=role))
        final_assistant = index == last and role == "assistant"
        if not content and not final_assistant:
            raise api_error(path, EMPTY_CONTENT)
        if isinstance(content, str):
            if content.isspace():
                raise api_error("messages", WHITESPACE_TEXT)
            blocks: list[Any] = []
        else:
            blocks = content
        pending_ids = frozenset(pending)
        uses: list[str] = []
        leading_results: list[str] = []
        in_leading_run = True
        for block_index, block in enumerate(blocks):
            block_path = f"{path}.content.{block_index}"
            block_type = tagged_type(block, block_path, MESSAGE_BLOCK_TYPES)
            if role not in BLOCK_ROLES[block_type]:
                (allowed_role,) = BLOCK_ROLES[block_type]
                raise api_error(
                    block_path, WRONG_ROLE.format(block_type=block_type, role=allowed_role)
                )
            breakpoints += BLOCK_CHECKERS[block_type](block, f"{block_path}.{block_type}", "messages")
            if tool_names is not None and block_type in _REFERENCING_TYPES:
                _check_references(block, tool_names)
            if block_type == "tool_result":
                result_id = block["tool_use_id"]
                if result_id not in pending_ids:
                    raise api_error(block_path, UNEXPECTED_TOOL_RESULT.format(id=quote_value(result_id)))
                if in_leading_run:
                    leading_results.append(result_id)
                continue
            in_leading_run = False
            if block_type in ("tool_use", "server_tool_use"):
                tool_use_id = block["id"]
                if tool_use_id in seen_tool_use_ids:
                    raise api_error(block_path, DUPLICATE_TOOL_USE_ID)
                seen_tool_use_ids.add(tool_use_id)
                if block_type == "tool_use":  # a server tool's result is in the same message
                    uses.append(tool_use_id)
        if pending:
            if len(leading_results) < len(pending):
                raise api_error(path, MISSING_TOOL_RESULTS.format(count=len(pending)))
            answered = set(leading_results)
            missing = [tool_use_id for tool_use_id in pending if tool_use_id not in answered]
            if missing:
                raise api_error(
                    f"messages.{index - 1}", UNANSWERED_TOOL_USE.format(ids=", ".join(missing))
                )
        if final_assistant:
            _check_final_text(content)
        pending = uses
        previous_role = role
        opens_with_results = bool(leading_results)
    if pending:
        raise api_error(f"messages.{last}", UNANSWERED_TOOL_USE.format(ids=", ".join(pending)))
    if thinking_enabled:
        _check_thinking_turn(messages, opens_with_results)
    return breakpoints
