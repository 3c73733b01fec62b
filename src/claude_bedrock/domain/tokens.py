"""The one token counter of the product: usage, headers, invocation metrics and CountTokens.

We do not ship Claude's tokenizer, so every count is a documented, deterministic approximation
that lands near real counts for English text (about 4 characters per token) and is cheap enough
to run on every request. Everything that reports tokens calls this module, so the numbers a
client sees in the body, the ``X-Amzn-Bedrock-*-Token-Count`` headers, the stream's
``amazon-bedrock-invocationMetrics`` and CountTokens always agree.

Rules
-----
Text (``count_text``)
    The number of matches of ``_TOKEN_RE`` in the text (ASCII text is counted by character
    classes instead, with the same result and several times faster on long prompts):

    * ASCII letters in chunks of up to 5 (``"the"`` 1, ``"hello"`` 1, ``"tokenizer"`` 2);
    * ASCII digits in chunks of up to 3 (``"2025"`` 2), as Claude splits numbers;
    * other letters (accented, Greek, CJK...) in chunks of up to 2;
    * any other non-space character (punctuation, symbols, ``_``) is one token;
    * whitespace is free.

    Invariants, relied on by the simulator (which precomputes the counts of its phrase tables
    and adds them up) and tested: the four classes are disjoint and no token spans whitespace,
    so counts add up across a whitespace or class boundary:
    ``count_text(a + " " + b) == count_text(a) + count_text(b)`` and
    ``count_text(word + ".") == count_text(word) + 1``;
    counts never decrease when text is appended; ``truncate_text(t, n)`` returns the longest
    prefix of ``t`` whose count is exactly ``min(n, count_text(t))``.

JSON values (``count_json``)
    Tool definitions and tool inputs are counted by structure, not by their serialisation (a BPE
    merges ``":"`` and friends, so counting every punctuation mark would overcount): every key
    is its text plus 1, every string its text, numbers their digits, ``true``/``false``/``null``
    1, plus 1 per object or array.

Blocks (``count_block``)
    text: its text. image: Anthropic bills ``width*height/750`` tokens after resizing to at most
    1568 px on the long edge (about 1600 tokens at most). Dimensions are read from the PNG, GIF
    or WebP header (a fixed-offset read of the first bytes, no decoding) or the JPEG frame
    header (looked for in the first ``JPEG_HEADER_SCAN_BYTES``); when none can be read (a damaged
    image), the image is assumed to hold about 4 pixels per encoded byte, so
    ``tokens = decoded_bytes * 4 / 750``; capped at 1600 and at least 1.
    document: text sources by their text; ``content`` sources by their blocks; PDF
    (base64) sources cost ``PDF_TOKENS_PER_PAGE`` per page, the page count being the number of
    ``/Type /Page`` objects in the file, compressed object streams included (``pdf_text``), else
    one page per ``PDF_BYTES_PER_PAGE_ESTIMATE`` bytes; the PDFs of one count share a
    ``DocumentBudget`` (``document_budget``), in prompt order: an object stream past it counts
    the objects it declares (``/N``) as pages;
    plus title and context and ``DOCUMENT_OVERHEAD_TOKENS``. tool_use / tool_result: name and
    input (``count_json``) or content, plus ``TOOL_BLOCK_OVERHEAD_TOKENS``. thinking: its text;
    redacted_thinking: one token per 8 characters of its data. search_result: its title, source
    and content blocks plus ``DOCUMENT_OVERHEAD_TOKENS``. Anything else: ``count_json`` of the
    block.

Output (``count_output_block``)
    text and thinking by their text, a tool call by its name plus ``count_json`` of its input;
    signatures and citations are free. An answer cut short before its ``message_delta`` bills
    what its content events carried so far, by the same rule (``ProducedTokens``).

Thinking of earlier turns (``preserve_thinking``)
    A model that does not preserve thinking (every model before Claude Opus 4.5, the catalog's
    ``preserves_thinking``) strips the ``thinking`` and ``redacted_thinking`` blocks of earlier
    assistant turns from its context: they are neither counted nor part of the cached prompt.
    The current assistant turn starts after the last user message holding anything but
    ``tool_result`` blocks; its assistant messages (a tool-use loop: the assistant continued by
    tool results) keep their thinking, which counts as input, unless thinking is off for the
    request (``thinking`` absent or disabled): then the loop's thinking is stripped too
    ("If thinking becomes disabled and you pass thinking content in the current tool use turn,
    the thinking content will be stripped"). A model that preserves thinking
    keeps and counts every thinking block. Anthropic "Extended thinking": "Extended thinking
    with prompt caching" ("When a non-tool-result user block is included, all previous thinking
    blocks are ignored and stripped from context"; "For Claude Opus 4.5 and later ... all
    previous thinking blocks are kept by default"), "Thinking block preservation in Claude
    Opus 4.5 and later", "The context window with extended thinking (and tool use)".

Requests (``count_request``)
    ``REQUEST_OVERHEAD_TOKENS`` + system (+ ``SYSTEM_OVERHEAD_TOKENS``) + per message
    ``MESSAGE_OVERHEAD_TOKENS`` + its blocks + tools (each definition by ``count_json`` plus
    ``TOOL_DEFINITION_OVERHEAD_TOKENS``, plus the tool-use system prompt Anthropic documents:
    346 tokens for ``auto``/``none``, 313 for ``any``/``tool``). "Hello, world" as a single user
    message counts 10, as on the real service. A tool with ``defer_loading: true`` is not in
    the prompt: its definition counts where a ``tool_reference`` (tool search) loads it, at
    each such reference, and is part of that block's prompt-cache key (a changed definition
    misses from there on).

``prompt_segments`` exposes the same count split in prompt-cache order (tools, system, then
messages), so prompt caching (``prompt_cache``) can split the very same total. A stripped
thinking block is no segment at all: the prompt is the one without it, so a cached prefix that
held it no longer matches, and the messages after it are written again.

Sources: Anthropic docs "Token counting", "Vision" (image cost), "PDF support", "Tool use"
(tool-use system prompt sizes), "Prompt caching" (prefix order), "Tool search tool" (deferred
tools stay out of the prefix; found ones count as input like any tool definition); wire
reference section 10.1.
"""

from __future__ import annotations

import binascii
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from itertools import islice
from typing import Any, NamedTuple

from claude_bedrock.domain.document_budget import DocumentBudget
from claude_bedrock.domain.pdf_text import page_count
from claude_bedrock.domain.tool_search import block_references, is_deferred
from claude_bedrock.wire.partial_json import parse_partial

__all__ = [
    "DOCUMENT_OVERHEAD_TOKENS",
    "IMAGE_MAX_TOKENS",
    "MESSAGE_OVERHEAD_TOKENS",
    "PDF_TOKENS_PER_PAGE",
    "REQUEST_OVERHEAD_TOKENS",
    "SYSTEM_OVERHEAD_TOKENS",
    "TOOL_USE_SYSTEM_PROMPT_TOKENS",
    "ProducedTokens",
    "PromptSegment",
    "count_block",
    "count_delta",
    "count_json",
    "count_member",
    "count_output_block",
    "count_request",
    "count_text",
    "has_cache_control",
    "pdf_page_count",
    "prompt_segments",
    "truncate_text",
]

_TOKEN_RE = re.compile(r"[A-Za-z]{1,5}|[0-9]{1,3}|[^\W\d_A-Za-z]{1,2}|\S")

# ASCII text, counted by the same rule without running the regex once per token (prompts are
# mostly ASCII, and counted on every request): each character mapped to its class (letter "a",
# digit "0", whitespace " " as ``\s`` means it, anything else "."), then a run of n letters
# is ceil(n / 5) tokens, a run of n digits ceil(n / 3), and every "." one token.
_ASCII_CLASSES = str.maketrans({
    chr(code): "a" if chr(code).isalpha() else "0" if chr(code).isdigit() else " " if chr(code).isspace() else "."
    for code in range(128)
})
_LETTER_RUNS = str.maketrans({"0": " ", ".": " "})
_DIGIT_RUNS = str.maketrans({"a": " ", ".": " "})


def _count_ascii(text: str) -> int:
    classes = text.translate(_ASCII_CLASSES)
    count = classes.count(".")
    if "a" in classes:
        letters = classes.translate(_LETTER_RUNS)
        # ceil(n / 5) per run: its whole blocks of five, plus one if a shorter rest remains
        count += letters.count("aaaaa") + len(letters.replace("aaaaa", "").split())
    if "0" in classes:
        digits = classes.translate(_DIGIT_RUNS)
        count += digits.count("000") + len(digits.replace("000", "").split())
    return count

REQUEST_OVERHEAD_TOKENS = 4
MESSAGE_OVERHEAD_TOKENS = 3
SYSTEM_OVERHEAD_TOKENS = 3
TOOL_DEFINITION_OVERHEAD_TOKENS = 6
TOOL_BLOCK_OVERHEAD_TOKENS = 3
DOCUMENT_OVERHEAD_TOKENS = 5
#: Tool-use system prompt added when ``tools`` is present, by ``tool_choice.type``.
TOOL_USE_SYSTEM_PROMPT_TOKENS: Mapping[str, int] = {"auto": 346, "none": 346, "any": 313, "tool": 313}
IMAGE_MAX_TOKENS = 1600
IMAGE_MAX_EDGE_PX = 1568
IMAGE_PIXELS_PER_TOKEN = 750
IMAGE_PIXELS_PER_BYTE_ESTIMATE = 4
PDF_TOKENS_PER_PAGE = 1600
PDF_BYTES_PER_PAGE_ESTIMATE = 100_000


def count_text(text: str) -> int:
    """Tokens in ``text`` by the module rule (0 for empty or whitespace-only text)."""
    if text.isascii():
        return _count_ascii(text)
    return len(_TOKEN_RE.findall(text))


def truncate_text(text: str, max_tokens: int) -> str:
    """The longest prefix of ``text`` holding at most ``max_tokens`` tokens.

    The cut falls right after the ``max_tokens``-th token, so a word may be cut inside (as a
    real model stopping mid-word would), and ``count_text`` of the result is exactly
    ``min(max_tokens, count_text(text))``.
    """
    if max_tokens <= 0:
        return ""
    last = None
    for last in islice(_TOKEN_RE.finditer(text), max_tokens):
        pass
    if last is None:
        return ""
    return text[: last.end()]


def count_json(value: Any) -> int:
    """Tokens of a JSON-ready value counted by structure (see module docstring)."""
    if isinstance(value, str):
        return count_text(value)
    if isinstance(value, Mapping):
        return 1 + sum(count_member(key, item) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return 1 + sum(count_json(item) for item in value)
    if value is None or isinstance(value, bool):
        return 1
    return count_text(str(value))


def count_member(key: Any, item: Any) -> int:
    """Tokens of one member of a JSON object, its key and separator included (``count_json``)."""
    return count_text(str(key)) + 1 + count_json(item)


def _b64_prefix(data: str, n_bytes: int) -> bytes:
    chars = (n_bytes + 2) // 3 * 4
    try:
        return binascii.a2b_base64(data[:chars])
    except (binascii.Error, ValueError):
        return b""


def _b64_size(data: str) -> int:
    return len(data) * 3 // 4 - data.count("=", max(0, len(data) - 2))


#: How far into a base64 JPEG its frame header (SOF) is looked for.
JPEG_HEADER_SCAN_BYTES = 64 * 1024
#: SOF markers: C0-CF but C4 (DHT), C8 (JPG) and CC (DAC).
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def image_dimensions(data: str) -> tuple[int, int] | None:
    """(width, height) of a base64 PNG, GIF, WebP or JPEG from its header; None when the
    header cannot be read (a damaged image, or a JPEG whose frame header lies deeper than
    JPEG_HEADER_SCAN_BYTES)."""
    head = _b64_prefix(data, 30)
    if head[:8] == b"\x89PNG\r\n\x1a\n" and len(head) >= 24:
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        return int.from_bytes(head[6:8], "little"), int.from_bytes(head[8:10], "little")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP" and len(head) >= 30:
        chunk = head[12:16]
        if chunk == b"VP8X":
            return 1 + int.from_bytes(head[24:27], "little"), 1 + int.from_bytes(head[27:30], "little")
        if chunk == b"VP8L":
            bits = int.from_bytes(head[21:25], "little")
            return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
        if chunk == b"VP8 ":
            return int.from_bytes(head[26:28], "little") & 0x3FFF, int.from_bytes(head[28:30], "little") & 0x3FFF
        return None
    if head[:2] == b"\xff\xd8":
        return _jpeg_dimensions(_b64_prefix(data, JPEG_HEADER_SCAN_BYTES))
    return None


def _jpeg_dimensions(raw: bytes) -> tuple[int, int] | None:
    at = 2
    while at + 9 <= len(raw):
        if raw[at] != 0xFF:
            return None
        marker = raw[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in _JPEG_SOF:
            return int.from_bytes(raw[at + 7 : at + 9], "big"), int.from_bytes(raw[at + 5 : at + 7], "big")
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            at += 2
            continue
        at += 2 + int.from_bytes(raw[at + 2 : at + 4], "big")
    return None


def _image_tokens(block: Mapping[str, Any]) -> int:
    source = block.get("source")
    data = source.get("data") if isinstance(source, Mapping) else None
    if not isinstance(data, str):
        return IMAGE_MAX_TOKENS // 2
    dims = image_dimensions(data)
    if dims is not None:
        width, height = dims
        scale = min(1.0, IMAGE_MAX_EDGE_PX / max(width, height, 1))
        pixels = (width * scale) * (height * scale)
    else:
        pixels = _b64_size(data) * IMAGE_PIXELS_PER_BYTE_ESTIMATE
    return max(1, min(IMAGE_MAX_TOKENS, math.ceil(pixels / IMAGE_PIXELS_PER_TOKEN)))


def pdf_page_count(data: str, budget: DocumentBudget | None = None) -> int:
    """Pages of a base64 PDF: ``/Type /Page`` objects (in object streams too, within ``budget``,
    the request's: ``pdf_text.page_count``), else one page per 100 kB (at least 1)."""
    try:
        raw = binascii.a2b_base64(data)
    except (binascii.Error, ValueError):
        raw = b""
    pages = page_count(raw, budget)
    if pages:
        return pages
    return max(1, math.ceil(_b64_size(data) / PDF_BYTES_PER_PAGE_ESTIMATE))


def _document_tokens(block: Mapping[str, Any], budget: DocumentBudget) -> int:
    total = DOCUMENT_OVERHEAD_TOKENS
    for key in ("title", "context"):
        if isinstance(block.get(key), str):
            total += count_text(block[key])
    source = block.get("source")
    if not isinstance(source, Mapping):
        return total
    kind = source.get("type")
    data = source.get("data")
    if kind == "text" and isinstance(data, str):
        return total + count_text(data)
    if kind == "base64" and isinstance(data, str):
        return total + PDF_TOKENS_PER_PAGE * pdf_page_count(data, budget)
    if kind == "content":
        content = source.get("content")
        if isinstance(content, str):
            return total + count_text(content)
        if isinstance(content, Sequence):
            return total + sum(count_block(item, budget) for item in content)
    return total + count_json(source)


def _text_tokens(block: Mapping[str, Any]) -> int:
    text = block.get("text")
    return count_text(text) if isinstance(text, str) else 0


def _tool_use_tokens(block: Mapping[str, Any]) -> int:
    return TOOL_BLOCK_OVERHEAD_TOKENS + count_text(str(block.get("name", ""))) + count_json(block.get("input", {}))


def _tool_result_tokens(block: Mapping[str, Any], budget: DocumentBudget) -> int:
    content = block.get("content")
    if isinstance(content, str):
        return TOOL_BLOCK_OVERHEAD_TOKENS + count_text(content)
    if isinstance(content, Sequence):
        return TOOL_BLOCK_OVERHEAD_TOKENS + sum(count_block(item, budget) for item in content)
    return TOOL_BLOCK_OVERHEAD_TOKENS


def _thinking_tokens(block: Mapping[str, Any]) -> int:
    thinking = block.get("thinking")
    return count_text(thinking) if isinstance(thinking, str) else 0


def _redacted_thinking_tokens(block: Mapping[str, Any]) -> int:
    data = block.get("data")
    return len(data) // 8 if isinstance(data, str) else 0


def _search_result_tokens(block: Mapping[str, Any]) -> int:
    total = DOCUMENT_OVERHEAD_TOKENS + count_text(str(block.get("title", "")))
    total += count_text(str(block.get("source", "")))
    content = block.get("content")
    if isinstance(content, Sequence) and not isinstance(content, str):
        total += sum(count_block(item) for item in content)
    return total


_BLOCK_COUNTERS = {
    "text": _text_tokens,
    "image": _image_tokens,
    "tool_use": _tool_use_tokens,
    "thinking": _thinking_tokens,
    "redacted_thinking": _redacted_thinking_tokens,
    "search_result": _search_result_tokens,
}
#: The blocks that may hold a PDF, counted within the request's ``DocumentBudget``.
_DOCUMENT_COUNTERS = {
    "document": _document_tokens,
    "tool_result": _tool_result_tokens,
}


def count_block(block: Mapping[str, Any] | str, budget: DocumentBudget | None = None) -> int:
    """Input tokens of one content block (or a bare string of content); the PDFs in it read
    within ``budget`` (the request's, shared by its blocks in prompt order; a fresh one when None)."""
    if isinstance(block, str):
        return count_text(block)
    kind = block.get("type", "")
    counter = _BLOCK_COUNTERS.get(kind)
    if counter is not None:
        return counter(block)
    holder = _DOCUMENT_COUNTERS.get(kind)
    if holder is not None:
        return holder(block, DocumentBudget() if budget is None else budget)
    return count_json(block)


def count_output_block(block: Mapping[str, Any]) -> int:
    """Output tokens of a produced content block (what ``usage.output_tokens`` sums).

    text: its text; thinking: its thinking text (the signature is free); tool_use: the tool name
    plus ``count_json`` of the input. Citations are free, as on the real API.
    """
    kind = block.get("type")
    if kind == "text":
        return _text_tokens(block)
    if kind == "thinking":
        return _thinking_tokens(block)
    if kind in ("tool_use", "server_tool_use"):
        return count_text(str(block.get("name", ""))) + count_json(block.get("input", {}))
    return 0


def count_delta(delta: Mapping[str, Any]) -> int:
    """Output tokens one streamed ``content_block_delta`` carries: its text, thinking or partial
    JSON by ``count_text`` (signatures and citations are free): the simulator's pacing. What an
    answer cut short has produced is ``ProducedTokens``, which counts tool input as
    ``count_output_block`` does."""
    for field in ("text", "thinking", "partial_json"):
        value = delta.get(field)
        if isinstance(value, str):
            return count_text(value)
    return 0


_TOOL_CALLS = frozenset({"tool_use", "server_tool_use"})


class ProducedTokens:
    """The output tokens an answer has produced so far, from its content events: what a stream
    cut short before its ``message_delta`` bills. By ``count_output_block``'s rule, so that the
    events of a whole answer add up to its output count and a cut one never to more: text and
    thinking deltas by ``count_text``; a tool call by its name (at its ``content_block_start``)
    and ``count_json`` of its input, read from its ``input_json_delta`` pieces (a JSON text
    counted as text would make every quote, colon and brace a token), the complete part of it
    (``parse_partial``) while it is still open."""

    __slots__ = ("_closed", "_open")

    def __init__(self) -> None:
        self._closed = 0
        self._open: dict[Any, list[str]] = {}  # index of an open tool call -> its JSON pieces

    def observe(self, event: Mapping[str, Any]) -> None:
        kind = event.get("type")
        if kind == "content_block_delta":
            delta = event.get("delta") or {}
            pieces = self._open.get(event.get("index"))
            if pieces is not None and isinstance(delta.get("partial_json"), str):
                pieces.append(delta["partial_json"])
            else:
                self._closed += count_delta(delta)
        elif kind == "content_block_start":
            block = event.get("content_block") or {}
            if block.get("type") in _TOOL_CALLS:
                self._closed += count_text(str(block.get("name", "")))
                self._open[event.get("index")] = []
        elif kind == "content_block_stop" and self._open:
            pieces = self._open.pop(event.get("index"), None)
            if pieces is not None:
                self._closed += _input_tokens(pieces)

    @property
    def tokens(self) -> int:
        if not self._open:
            return self._closed
        return self._closed + sum(_input_tokens(pieces) for pieces in self._open.values())


def _input_tokens(pieces: list[str]) -> int:
    value = parse_partial("".join(pieces))
    return 0 if value is None else count_json(value)


class PromptSegment(NamedTuple):
    """One cacheable unit of the prompt, in prompt-cache prefix order.

    ``material`` is what identifies the unit for cache keys (the block without its
    ``cache_control``, plus its position tags); ``cache_control`` is the breakpoint it carries.
    """

    tokens: int
    material: Any
    cache_control: Mapping[str, Any] | None


def _without_cache_control(block: Mapping[str, Any]) -> Any:
    """The block as prompt content: without its ``cache_control`` nor those of the blocks nested
    in its ``content`` (tool and search results) or ``source.content`` (documents), which are
    breakpoints too (``content_rules``), not content."""
    out = block if "cache_control" not in block else {k: v for k, v in block.items() if k != "cache_control"}
    content = block.get("content")
    if _marks_nested(content):
        out = {**out, "content": _unmarked(content)}
    source = block.get("source")
    if isinstance(source, Mapping) and _marks_nested(source.get("content")):
        out = {**out, "source": {**source, "content": _unmarked(source["content"])}}
    return out


def _marks_nested(blocks: Any) -> bool:
    return isinstance(blocks, list) and any(
        isinstance(inner, Mapping) and ("cache_control" in inner or _marks_nested(inner.get("content")))
        for inner in blocks)


def _unmarked(blocks: list[Any]) -> list[Any]:
    return [_without_cache_control(inner) if isinstance(inner, Mapping) else inner for inner in blocks]


def _control(block: Any) -> Mapping[str, Any] | None:
    if isinstance(block, Mapping):
        control = block.get("cache_control")
        if isinstance(control, Mapping):
            return control
    return None


def _tool_tokens(tool: Mapping[str, Any]) -> int:
    return TOOL_DEFINITION_OVERHEAD_TOKENS + count_json(_without_cache_control(tool))


def _has_image(blocks: Any) -> bool:
    """Whether content blocks (nested ones included: tool results, documents) hold an image."""
    if not isinstance(blocks, Sequence) or isinstance(blocks, str):
        return False
    for block in blocks:
        if not isinstance(block, Mapping):
            continue
        if block.get("type") == "image":
            return True
        source = block.get("source")
        if _has_image(block.get("content")) or (isinstance(source, Mapping) and _has_image(source.get("content"))):
            return True
    return False


def _rendered_settings(request: Mapping[str, Any], with_images: bool = True) -> tuple[Any, bool] | None:
    """What the prompt renders ahead of the messages besides tools and system: the thinking
    configuration (None when off) and whether images are present anywhere; None when neither."""
    thinking = request.get("thinking")
    if isinstance(thinking, Mapping) and thinking.get("type") == "disabled":
        thinking = None
    # Whether images are present keys the cache only: a count alone (``with_images`` False)
    # does not walk every block for them.
    images = with_images and any(_has_image(message.get("content")) for message in request.get("messages") or ())
    return (thinking, images) if thinking is not None or images else None


_THINKING_BLOCKS = frozenset({"thinking", "redacted_thinking"})


def _current_turn_start(messages: Sequence[Mapping[str, Any]]) -> int:
    """Index of the last user message holding anything but tool results (-1 when none): the
    assistant messages after it form the current turn, whose thinking the model keeps."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str) or any(block.get("type") != "tool_result" for block in content or ()):
            return index
    return -1


def _iter_segments(request: Mapping[str, Any], preserve_thinking: bool, keyed: bool = True) -> Iterator[PromptSegment]:
    """The prompt's segments (``prompt_segments``); ``keyed`` False when only their tokens are
    read (``count_request``): the cache keys may then miss what only keys them."""
    budget = DocumentBudget()  # shared by the prompt's documents, in prompt order
    tools = request.get("tools") or ()
    deferred: dict[str, Mapping[str, Any]] = {}
    for tool in tools:
        if is_deferred(tool):  # out of the prompt until a tool_reference loads it
            deferred[str(tool.get("name"))] = tool
            continue
        yield PromptSegment(_tool_tokens(tool), ("tool", _without_cache_control(tool)), _control(tool))

    system = request.get("system")
    if isinstance(system, str):
        if system:
            yield PromptSegment(SYSTEM_OVERHEAD_TOKENS + count_text(system), ("system", system), None)
    elif system:
        first = True
        for block in system:
            tokens = count_block(block, budget) + (SYSTEM_OVERHEAD_TOKENS if first else 0)
            yield PromptSegment(tokens, ("system", _without_cache_control(block)), _control(block))
            first = False

    settings = _rendered_settings(request, with_images=keyed)
    if tools:
        choice = request.get("tool_choice") or {}
        choice_type = choice.get("type", "auto") if isinstance(choice, Mapping) else "auto"
        tool_prompt = TOOL_USE_SYSTEM_PROMPT_TOKENS.get(choice_type, TOOL_USE_SYSTEM_PROMPT_TOKENS["auto"])
        yield PromptSegment(tool_prompt, ("tool_choice", choice, settings), None)
    elif settings is not None:  # rendered ahead of the messages even without tools
        yield PromptSegment(0, ("settings", settings), None)

    messages = request.get("messages") or ()
    if preserve_thinking:
        turn_start = -1
    elif settings is None or settings[0] is None:  # thinking off: no turn keeps its thinking
        turn_start = len(messages)
    else:
        turn_start = _current_turn_start(messages)
    for index, message in enumerate(messages):
        role = message.get("role")
        content = message.get("content")
        if isinstance(content, str):
            yield PromptSegment(MESSAGE_OVERHEAD_TOKENS + count_text(content), ("message", role, content), None)
            continue
        overhead = MESSAGE_OVERHEAD_TOKENS
        for block in content or ():
            if index < turn_start and block.get("type") in _THINKING_BLOCKS:
                continue  # stripped from the context (module docstring)
            tokens = count_block(block, budget)
            material: Any = ("block", role, _without_cache_control(block))
            if deferred:
                loaded = [deferred[name] for name in block_references(block) if name in deferred]
                if loaded:  # their definitions are in the prompt here, so in the cache key too
                    tokens += sum(_tool_tokens(tool) for tool in loaded)
                    material = (*material, [_without_cache_control(tool) for tool in loaded])
            yield PromptSegment(overhead + tokens, material, _control(block))
            overhead = 0
        if overhead:  # a message with an empty block list still costs its framing
            yield PromptSegment(overhead, ("message", role, ()), None)


def prompt_segments(request: Mapping[str, Any], *, preserve_thinking: bool = False) -> list[PromptSegment]:
    """The request's input tokens split into cacheable units, in cache prefix order.

    Order: tools, system, the tool-use system prompt (keyed by ``tool_choice``, ``thinking`` and
    whether any image is present, whose changes invalidate the message part of the cache as on
    the real API; without tools, a zero-token segment keyed by the last two when thinking is on
    or an image is present, so they still invalidate the messages: Anthropic "Prompt caching",
    "What invalidates the cache"), then each message's blocks. A top-level ``cache_control`` (automatic caching) becomes a
    breakpoint on the last segment. ``REQUEST_OVERHEAD_TOKENS`` is not part of any segment.
    ``preserve_thinking``: the model keeps the thinking of earlier turns (module docstring).
    """
    segments = list(_iter_segments(request, preserve_thinking))
    automatic = request.get("cache_control")
    if isinstance(automatic, Mapping) and segments and segments[-1].cache_control is None:
        segments[-1] = segments[-1]._replace(cache_control=automatic)
    return segments


def count_request(request: Mapping[str, Any], *, preserve_thinking: bool = False) -> int:
    """Input tokens of a validated Anthropic Messages request (see module docstring);
    ``preserve_thinking``: the model keeps the thinking of earlier turns (catalog
    ``preserves_thinking``)."""
    messages = request.get("messages") or ()
    plain = not request.get("tools") and not request.get("system")
    if plain and all(isinstance(message.get("content"), str) for message in messages):
        # fast path for the common plain-chat request; same rule as _iter_segments
        return REQUEST_OVERHEAD_TOKENS + sum(MESSAGE_OVERHEAD_TOKENS + count_text(m["content"]) for m in messages)
    return REQUEST_OVERHEAD_TOKENS + sum(
        segment.tokens for segment in _iter_segments(request, preserve_thinking, keyed=False))


def has_cache_control(request: Mapping[str, Any]) -> bool:
    """Whether the request carries any ``cache_control`` breakpoint (cheap pre-check)."""
    if request.get("cache_control"):
        return True
    if any(_control(tool) for tool in request.get("tools") or ()):
        return True
    system = request.get("system")
    if not isinstance(system, str) and any(_control(block) for block in system or ()):
        return True
    for message in request.get("messages") or ():
        content = message.get("content")
        if not isinstance(content, str) and any(_control(block) for block in content or ()):
            return True
    return False
