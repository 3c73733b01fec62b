"""The built-in deterministic engine: answers a Messages request without any model.

``SimulatorEngine`` implements ``engine.Engine``. Everything it produces (text, thinking,
signatures, tool ids, tool inputs) derives from SHA-256 of the seed, the base model id and the
canonical JSON of the request (less ``UNSEEDED_KEYS``: ``max_tokens`` and ``stop_sequences``
only cut the same answer, and less ``output_config.effort``, which only scales it), so the same
call and seed always give the same events; only the prompt cache (``prompt_cache``) carries
state between calls.

Behaviour (the issue text, made precise):

* **Text.** ``mode="prose"`` writes plausible English (``prose.ProseWriter``) of 40 to 300
  tokens, skewed short, mentioning content words of the last user message. ``mode="echo"``
  answers exactly the text of the last user message (its text blocks concatenated; when it has
  none, the text of its tool results). Text streams in ``text_delta`` pieces of about three
  words (``prose.WORDS_PER_PIECE``).
* **max_tokens.** Output (thinking + text + tool input) never exceeds ``max_tokens``; the cut
  falls after the last token that fits and ``stop_reason`` is ``max_tokens``. A tool call that
  does not fit bills ``max_tokens`` but streams only the parameters written whole by then (the
  API streams a parameter once complete): its JSON is left open after the comma that ended the
  last of them (``{"a": 1, ``, or nothing), and a whole answer reads it as those parameters
  (``message.MessageAccumulator``), as the SDKs' stream accumulators do (the npm SDK's drops a
  number at the very end, which might go on: the comma tells it the number is whole).
* **stop_sequences.** The earliest-completing stop sequence found in the text, if it fits in
  the budget, ends the answer: the text stops just before it, ``stop_reason`` is
  ``stop_sequence`` and ``stop_sequence`` names it. Thinking and tool input are not scanned.
* **Tools** (``tools`` present; Anthropic-defined tools get canned inputs). ``tool_choice``
  ``none``: never. ``{"type": "tool", "name"}``: that tool. ``any``: the tool the auto rule
  would pick, else the first tool. ``auto`` (or absent): call the first tool whose name, or a
  distinctive word of its name (3+ letters, not a generic verb such as get/list/search...),
  appears as a word in the last user message, unless that message carries ``tool_result``
  blocks. A forced call (``any``/``tool``) is the whole answer, as the API prefills it; an auto
  call gets a one-sentence lead-in text block. One ``tool_use`` block per answer, input from
  ``tool_input`` (validates against ``input_schema``), streamed as ``input_json_delta`` pieces
  after an empty one; ``stop_reason`` ``tool_use``.
* **Tool search** (a ``tool_search_tool_regex_20251119`` / ``..._bm25_20251119`` tool). Tools
  with ``defer_loading: true`` are out of the model's sight until a ``tool_reference`` in the
  conversation names them, and the search tool is never called as a client tool. When the auto
  rule would pick a deferred tool not yet loaded (or ``any`` finds no loaded tool, or
  ``tool_choice`` names the search tool), the answer searches first, as the API does within
  one response: a lead-in (auto only), a ``server_tool_use`` (id ``srvtoolu_bdrk_01...``, input
  ``{"pattern": "w1|w2"}`` or ``{"query": "w1 w2"}`` from the user's words that are words of a
  deferred tool's name, else the message's topics), then a ``tool_search_tool_result`` that
  ``tool_search.run_search`` really computes, whole in its ``content_block_start``. The answer
  then calls the found tool the user named, else the first found, by the rules above; when
  nothing is found it goes on as if no tool were called.
* **Structured outputs.** With a JSON schema in ``output_config.format`` (or the beta's
  ``output_format``) and no tool call, in prose mode, the text is a JSON value generated from
  that schema (``tool_input.schema_value``: it validates against the schema, so the SDKs'
  ``messages.parse`` reads it), compact, in ``text_delta`` pieces; a ``max_tokens`` cut leaves
  it unparseable, as on the real API. Echo mode still echoes.
* **Effort** (``output_config.effort``). ``high``, the default, is exactly the answer without
  it ("Effort": "Setting effort to "high" produces exactly the same behavior as omitting the
  effort parameter entirely"). Lower levels write the same answer shorter: the prose answer and the
  thinking stop at the first sentence end past ``EFFORT_SHARE_PERCENT`` of high's tokens (ours:
  medium 60%, low 30%), so that low's text is a prefix of medium's, medium's of high's; and at ``low`` an auto tool call comes without its lead-in text ("Effort with tool use":
  lower effort proceeds "directly to action without preamble"). ``xhigh`` and ``max`` (no model
  of the packaged catalog takes them) write as ``high``. Echo mode, structured outputs, tool
  inputs and tool-result summaries are not scaled.
* **Tool results.** A last user message with ``tool_result`` blocks (and no forced call) is
  answered with text summarising each result ("The get_weather tool returned: ...").
* **Thinking.** ``thinking.type`` ``enabled`` (or ``adaptive``): a thinking block first, 30 to
  150 tokens within ``budget_tokens``, streamed as ``thinking_delta`` then one
  ``signature_delta`` (``thinking_signatures.ThinkingSigner``: a MAC of the base model id and
  the thinking text, so that the server can refuse it changed when it comes back). Not repeated on a
  tool-result continuation unless the ``interleaved-thinking-2025-05-14`` beta is on, because
  Claude thinks once per assistant turn. When the last user text contains Anthropic's test
  string ``REDACTED_THINKING_TRIGGER``, the thinking comes as one ``redacted_thinking`` block
  instead (opaque base64 ``data``, signed likewise, streamed as a ``content_block_start`` and a
  ``content_block_stop`` with no delta), so clients can test their handling of redacted thinking.
* **Citations** (prose mode). When document blocks enable citations, the answer cites up to
  three of them: a text block per document carries one ``citations_delta`` quoting a sentence:
  ``char_location`` for plain-text documents, ``content_block_location`` for content documents,
  ``page_location`` page 1 for PDFs with ``cited_text`` taken from the first ``(...) Tj`` text
  operator of an uncompressed page, else ``""`` (we do not parse compressed PDFs).
  ``document_index`` counts document blocks over the whole request.
* **Usage.** Input side from ``PromptCache.apply`` (cache reads/writes for ``cache_control``
  breakpoints), whose total is ``tokens.count_request``; ``output_tokens`` is the sum of
  ``tokens.count_output_block`` over the produced blocks (``message_start`` reports 1), except
  that a ``redacted_thinking`` block counts the thinking it hides, as Anthropic bills it, and
  that it is never 0: an empty answer (a stop sequence matching at its very start) bills 1, as
  "``output_tokens`` will be non-zero, even for an empty string response" (Messages API
  reference, ``Message.usage``).
* **Context editing.** ``call.request`` is already the edited prompt (``context_editing``, applied
  at validation): the answer is written from what is left (a cleared tool result is summarised
  as its placeholder); ``call.context_management`` goes into the ``message_delta``.
* **Latency.** Off by default. With a ``LatencyProfile`` (one for all, or by base model id
  with ``"*"`` as default) the stream awaits ``sleep(first_token_s)`` before ``message_start``
  and ``sleep(tokens / tokens_per_s)`` before each delta carrying tokens. A paced answer's
  deltas are never merged, also for a whole answer: cut short, it has produced what the same
  answer streamed would have by then.

Source: Anthropic "Streaming messages", "Tool use", "Extended thinking" (thinking redaction and its
test string), "Citations", "Prompt caching"; wire reference 2.5 and 10.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import math
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from collections import OrderedDict


from claude_bedrock.domain.engine import (
    NON_STREAMING_OPERATIONS,
    ModelCall,
    ReadyEvents,
    StreamEvent,
    answer_end,
    answer_start,
    answer_thinks,
)
from claude_bedrock.domain.effort import DEFAULT_EFFORT, requested_effort
from claude_bedrock.domain.json_body import json_bytes
from claude_bedrock.domain.message import coalesce_deltas
from claude_bedrock.domain.output_format import output_schema
from claude_bedrock.domain.prompt_cache import CacheUsage, PromptCache
from claude_bedrock.domain.prose import Draws, Passage, ProseWriter
from claude_bedrock.domain.thinking_signatures import REDACTED_NONCE_BYTES, ThinkingSigner
from claude_bedrock.domain.tokens import count_delta, count_json, count_member, count_text, truncate_text
from claude_bedrock.domain.tool_input import schema_value, tool_input
from claude_bedrock.domain.tool_search import (
    MAX_PATTERN_CHARS,
    MAX_QUERY_CHARS,
    SEARCH_TOOL_INPUT_KEYS,
    is_deferred,
    referenced_names,
    run_search,
    search_tool,
)

__all__ = ["LatencyProfile", "Mode", "SimulatorEngine", "choose_tool"]

Mode = Literal["prose", "echo"]
JSON_CHARS_PER_DELTA = 24
#: Anthropic's documented prompt for testing redacted thinking ("Extended thinking", thinking redaction).
REDACTED_THINKING_TRIGGER = (
    "ANTHROPIC_MAGIC_STRING_TRIGGER_REDACTED_THINKING_46C9A13E193C177646C7398A98432ECCCE4C1253D5E2D82641AC0E52CC2876CB"
)
MAX_CITED_DOCUMENTS = 3
#: Request keys that do not change what the simulated model "would write", only where it stops
#: or how the request was framed: answers to requests differing only in these are prefixes of
#: one another, as with a real model at temperature 0.
UNSEEDED_KEYS = frozenset({"max_tokens", "stop_sequences", "anthropic_version", "anthropic_beta", "metadata"})
#: What share of a full-effort (``high``) answer's prose and thinking each effort level writes
#: (module docstring, Effort).
EFFORT_SHARE_PERCENT = {"low": 30, "medium": 60, "high": 100, "xhigh": 100, "max": 100}
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_GENERIC_NAME_WORDS = frozenset(
    "get set list fetch create update delete remove run call tool make use add read write "
    "find search lookup look query the and for with from api".split()
)
_WORD_RE = re.compile(r"[a-z0-9]+")
_NAME_SPLIT_RE = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+")
_SENTENCE_RE = re.compile(r"\S[^.!?\n]*[.!?]?")
_PDF_TEXT_RE = re.compile(rb"\(((?:[^()\\]|\\.){1,200})\)\s*Tj")

_LEAD_INS = (
    "I'll use the {name} tool to help with this.",
    "Let me check that with the {name} tool.",
    "I'll call {name} to get the details.",
)
_SEARCH_LEAD_INS = (
    "I'll search for a tool that can help with this.",
    "Let me look for the right tool first.",
)
_RESULT_LINES = ("The {name} tool returned: {excerpt}", "Here is what {name} reported: {excerpt}")
_ERROR_LINE = "The {name} tool reported an error: {excerpt}"
_CITATION_INTROS = ("According to {title}, ", "Based on {title}, ", "As {title} explains, ")


#: An answer's output count is never lower, even for an empty answer (module docstring, Usage).
MIN_OUTPUT_TOKENS = 1
#: Answers kept by the simulator's memo (a prose answer is a few KB).
MEMO_ENTRIES = 512
#: Events the memo's answers hold at most in all: an echoed long prompt streams thousands of
#: deltas (some 440 bytes each), so 512 of them would hold gigabytes. Prose answers (under a
#: hundred events) never reach it; beyond it, the oldest answers go first.
MEMO_MAX_EVENTS = 65_536
#: Requests up to this size (seeded part, as JSON) key the memo by themselves, larger ones by
#: their SHA-256: at most MEMO_ENTRIES x this many bytes of keys.
MEMO_INLINE_KEY_BYTES = 2048


@dataclass(frozen=True, slots=True)
class LatencyProfile:
    """Simulated pacing: delay before the first event, then output speed."""

    first_token_s: float
    tokens_per_s: float

    def __post_init__(self) -> None:
        # NaN fails both comparisons; infinity cannot be slept or divided by
        if not (0 <= self.first_token_s < math.inf and 0 < self.tokens_per_s < math.inf):
            raise ValueError("first_token_s must be >= 0 and tokens_per_s > 0, both finite")


class _Answer:
    """Builds the content events of one answer within the output budget."""

    def __init__(self, budget: int, stop_sequences: Sequence[str]) -> None:
        self.events: list[StreamEvent] = []
        self.budget = budget
        self.output_tokens = 0
        self.stop_reason: str | None = None
        self.stop_sequence: str | None = None
        self._stops = [seq for seq in stop_sequences if seq]
        self._blocks = 0

    @property
    def open(self) -> bool:
        return self.stop_reason is None

    def _block(self, start: dict[str, Any], deltas: list[dict[str, Any]]) -> None:
        index = self._blocks
        self._blocks += 1
        self.events.append({"type": "content_block_start", "index": index, "content_block": start})
        for delta in deltas:
            self.events.append({"type": "content_block_delta", "index": index, "delta": delta})
        self.events.append({"type": "content_block_stop", "index": index})

    def _spend(self, tokens: int) -> None:
        self.output_tokens += tokens
        self.budget -= tokens

    def _limit(self, passage: Passage, cap: int, scan_stops: bool) -> tuple[list[str], int, str | None]:
        """Pieces that fit, their tokens, and the stop reason the cut implies (or None)."""
        text = passage.text
        if scan_stops and self._stops:
            best: tuple[int, str] | None = None
            for seq in self._stops:
                at = text.find(seq)
                if at >= 0 and (best is None or at + len(seq) < best[0] + len(best[1])):
                    best = (at, seq)
            if best is not None and count_text(text[: best[0] + len(best[1])]) <= cap:
                self.stop_sequence = best[1]
                return _cut(passage.pieces, best[0]), count_text(text[: best[0]]), "stop_sequence"
        if passage.tokens <= cap:
            return list(passage.pieces), passage.tokens, None
        kept = truncate_text(text, cap)
        return _cut(passage.pieces, len(kept)), count_text(kept), "max_tokens"

    def text(self, passage: Passage, citation: Mapping[str, Any] | None = None) -> None:
        if not self.open:
            return
        pieces, tokens, stop = self._limit(passage, self.budget, scan_stops=True)
        chunks = [piece for piece in pieces if piece]
        if chunks:  # never an empty text block, not even one carrying a citation
            deltas: list[dict[str, Any]] = []
            if citation is not None:
                deltas.append({"type": "citations_delta", "citation": citation})
            deltas.extend({"type": "text_delta", "text": chunk} for chunk in chunks)
            self._block({"type": "text", "text": ""}, deltas)
        self._spend(tokens)
        self.stop_reason = stop

    def thinking(self, passage: Passage, budget_tokens: int, sign: Callable[[str], str]) -> None:
        if not self.open:
            return
        cap = min(budget_tokens, self.budget)
        pieces, tokens, stop = self._limit(passage, cap, scan_stops=False)
        deltas: list[dict[str, Any]] = [{"type": "thinking_delta", "thinking": c} for c in pieces if c]
        deltas.append({"type": "signature_delta", "signature": sign("".join(pieces))})
        self._block({"type": "thinking", "thinking": "", "signature": ""}, deltas)
        self._spend(tokens)
        if stop is not None and cap == self.budget + tokens:
            self.stop_reason = "max_tokens"

    def redacted_thinking(self, passage: Passage, budget_tokens: int, data: str) -> None:
        """The thinking ``passage`` hidden as opaque ``data``: billed as the thinking it hides
        (Anthropic bills redacted thinking as output), within the same caps as ``thinking``."""
        if not self.open:
            return
        cap = min(budget_tokens, self.budget)
        tokens = min(passage.tokens, cap)
        self._block({"type": "redacted_thinking", "data": data}, [])
        self._spend(tokens)
        if passage.tokens > cap and cap == self.budget + tokens:
            self.stop_reason = "max_tokens"

    def tool_use(self, tool_id: str, name: str, value: Any) -> None:
        """A client tool call: the answer ends with it (``tool_use``)."""
        if self._call("tool_use", tool_id, name, value):
            self.stop_reason = "tool_use"

    def server_tool_use(self, tool_id: str, name: str, value: Any) -> bool:
        """A server tool call (tool search): the answer goes on; whether it was written whole."""
        return self._call("server_tool_use", tool_id, name, value)

    def tool_search_result(self, tool_use_id: str, content: Mapping[str, Any]) -> None:
        """The server's result, whole in its ``content_block_start`` (no output tokens)."""
        if self.open:
            self._block({"type": "tool_search_tool_result", "tool_use_id": tool_use_id, "content": content}, [])

    def _call(self, kind: str, tool_id: str, name: str, value: Any) -> bool:
        if not self.open:
            return False
        tokens = count_text(name) + count_json(value)
        whole = tokens <= self.budget
        if whole:
            text = json.dumps(value, ensure_ascii=False)
        else:
            text = _streamed_members(name, value, self.budget)
            tokens, self.stop_reason = self.budget, "max_tokens"
        deltas = [{"type": "input_json_delta", "partial_json": ""}]
        deltas.extend(
            {"type": "input_json_delta", "partial_json": text[i : i + JSON_CHARS_PER_DELTA]}
            for i in range(0, len(text), JSON_CHARS_PER_DELTA)
        )
        self._block({"type": kind, "id": tool_id, "name": name, "input": {}}, deltas)
        self._spend(tokens)
        return whole


def _streamed_members(name: str, value: Any, budget: int) -> str:
    """The input JSON a tool call cut by ``max_tokens`` streams: the parameters (top-level
    members) written whole within ``budget``, each with the comma that ended it, the object
    left open; "" when none is. The API streams a tool parameter once it is complete, so one cut
    off never reaches the client, though its tokens are billed (an Anthropic SDK maintainer,
    anthropic-sdk-python#794; Bedrock ConverseStream showed the same, LibreChat-AI/agents#280).
    A cut call always leaves a parameter out, so a comma follows the last one kept: without it
    the npm SDK's partial JSON parser drops a number at the end (it might go on) and its stream
    helper would read fewer parameters than the whole answer."""
    if not isinstance(value, Mapping):
        return ""
    spent = count_text(name) + 1  # the object's own token, as ``count_json`` counts it
    members = []
    for key, item in value.items():
        spent += count_member(key, item)
        if spent > budget:
            break
        members.append(f"{json.dumps(key, ensure_ascii=False)}: {json.dumps(item, ensure_ascii=False)}")
    return "{" + "".join(f"{member}, " for member in members) if members else ""


def _cut(pieces: Sequence[str], at: int) -> list[str]:
    """The pieces covering the first ``at`` characters of their concatenation."""
    out: list[str] = []
    seen = 0
    for piece in pieces:
        if seen + len(piece) >= at:
            if at > seen:
                out.append(piece[: at - seen])
            break
        out.append(piece)
        seen += len(piece)
    return out


def _blocks(message: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    if message is None:
        return []
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [block for block in content or () if isinstance(block, Mapping)]


def _result_text(block: Mapping[str, Any]) -> str:
    content = block.get("content")
    if isinstance(content, str):
        return content
    parts = []
    for item in content or ():
        if isinstance(item, Mapping):
            parts.append(item.get("text", "") if item.get("type") == "text" else f"[{item.get('type', 'content')}]")
    return " ".join(part for part in parts if part)


def _name_words(name: str) -> set[str]:
    return {w.lower() for w in _NAME_SPLIT_RE.findall(name) if len(w) >= 3} - _GENERIC_NAME_WORDS


def _mentions(text: str, name: str) -> bool:
    return re.search(r"(?<![a-z0-9])" + re.escape(name) + r"(?![a-z0-9])", text) is not None


def _mentioned(tools: Sequence[Mapping[str, Any]], user_text: str) -> Mapping[str, Any] | None:
    """The first of ``tools`` whose name, or a distinctive word of it, the user text names."""
    lowered = user_text.lower()
    words = set(_WORD_RE.findall(lowered))
    for tool in tools:
        name = str(tool.get("name", ""))
        if name and (_mentions(lowered, name.lower()) or _name_words(name) & words):
            return tool
    return None


def choose_tool(
    request: Mapping[str, Any], user_text: str, tool_result_turn: bool
) -> tuple[Mapping[str, Any] | None, bool]:
    """The tool the simulator calls, and whether the call is forced (see module docstring).

    A tool search tool is returned when the model searches first: it is never called as a
    client tool, and a deferred tool no ``tool_reference`` has loaded yet is reached only
    through it.
    """
    tools = [tool for tool in request.get("tools") or () if isinstance(tool, Mapping)]
    choice = request.get("tool_choice") or {}
    kind = choice.get("type", "auto") if isinstance(choice, Mapping) else "auto"
    if not tools or kind == "none":
        return None, False
    if kind == "tool":
        return next((tool for tool in tools if tool.get("name") == choice.get("name")), None), True
    search = search_tool(tools)
    loaded = _loaded_tools(request)
    hidden = [tool for tool in tools if _is_client_tool(tool) and tool not in loaded] if search else []
    mentioned = None
    if kind == "any" or not tool_result_turn:
        mentioned = _mentioned(loaded, user_text) or (search if _mentioned(hidden, user_text) else None)
    if kind == "any":
        return mentioned or (loaded[0] if loaded else search), True
    return mentioned, False


def _is_client_tool(tool: Mapping[str, Any]) -> bool:
    return tool.get("type") not in SEARCH_TOOL_INPUT_KEYS


def _loaded_tools(request: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The client tools in Claude's context: not deferred, or loaded by a ``tool_reference``."""
    tools = [tool for tool in request.get("tools") or () if isinstance(tool, Mapping) and _is_client_tool(tool)]
    if not any(is_deferred(tool) for tool in tools):
        return tools
    found = set(referenced_names(request.get("messages") or ()))
    return [tool for tool in tools if not is_deferred(tool) or tool.get("name") in found]


def _search_terms(tools: Sequence[Mapping[str, Any]], user_text: str, topics: Sequence[str]) -> list[str]:
    """What the simulated model searches for: the user's words that are distinctive words of a
    deferred tool's name, in the user's order, else the message's topics."""
    names = set().union(*(_name_words(str(tool.get("name", ""))) for tool in tools))
    words = list(dict.fromkeys(word for word in _WORD_RE.findall(user_text.lower()) if word in names))
    return words or [topic.lower() for topic in topics] or ["tool"]


def _search_input(search: Mapping[str, Any], terms: Sequence[str]) -> dict[str, str]:
    """The ``server_tool_use`` input: a regex alternation or a BM25 query, within the limits."""
    if SEARCH_TOOL_INPUT_KEYS[search["type"]] == "pattern":
        kept = []
        for term in terms:
            if len("|".join([*kept, re.escape(term)])) > MAX_PATTERN_CHARS:
                break
            kept.append(re.escape(term))
        return {"pattern": "|".join(kept)}
    return {"query": " ".join(terms)[:MAX_QUERY_CHARS]}


class SimulatorEngine:
    """Deterministic ``Engine``: same request, model and seed, same events.

    Args:
        seed: varies all generated content.
        mode: ``"prose"`` or ``"echo"``.
        cache: the prompt cache (shared across calls); built from ``clock`` when omitted.
        clock: seconds, for the prompt cache when ``cache`` is omitted.
        latency: one profile, or profiles by base model id (``"*"`` for the rest); None = off.
        sleep: awaitable delay, required when ``latency`` is given (e.g. ``asyncio.sleep``).
        signer: signs thinking blocks; by default one derived from ``seed`` (a server passes the
            one whose secret its data folder keeps, which also checks what comes back).

    Raises:
        ValueError: unknown mode, latency without sleep, or neither cache nor clock.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        mode: Mode = "prose",
        cache: PromptCache | None = None,
        clock: Callable[[], float] | None = None,
        latency: LatencyProfile | Mapping[str, LatencyProfile] | None = None,
        sleep: Callable[[float], Awaitable[Any]] | None = None,
        signer: ThinkingSigner | None = None,
    ) -> None:
        if mode not in ("prose", "echo"):
            raise ValueError(f"unknown simulator mode {mode!r}")
        if latency is not None and sleep is None:
            raise ValueError("a latency profile needs a sleep function")
        if cache is None:
            if clock is None:
                raise ValueError("SimulatorEngine needs a prompt cache or a clock")
            cache = PromptCache(clock)
        self.mode = mode
        self.cache = cache
        self._seed_prefix = f"claude-bedrock-simulator/{seed}/".encode()
        self.signer = signer or ThinkingSigner()
        self._latency = latency
        self._sleep = sleep
        self._prose = ProseWriter()
        #: request key -> the answer's events after ``message_start`` (which carries per-call usage)
        self._memo: OrderedDict[tuple[Any, ...], tuple[StreamEvent, ...]] = OrderedDict()
        self._memo_events = 0  # the events the memo's answers hold (MEMO_MAX_EVENTS)

    def stream(self, call: ModelCall) -> AsyncIterator[StreamEvent]:
        """The answer's events (see module docstring): all ready at once (``ReadyEvents``), or
        paced by the latency profile when there is one."""
        profile = self._profile(call.model_id)
        if profile is None or self._sleep is None:
            return ReadyEvents(*self._answer(call))
        return self._paced(call, profile)

    async def _paced(self, call: ModelCall, profile: LatencyProfile) -> AsyncIterator[StreamEvent]:
        # Never merged, whatever the operation: a whole answer cut short has produced, and is
        # billed, the same tokens as the same answer streamed and cut at the same time.
        start, body = self._answer(call, merge=False, ready_in=profile.first_token_s)
        events = [*start, *body]
        assert self._sleep is not None
        await self._sleep(profile.first_token_s)
        for event in events:
            if event["type"] == "content_block_delta":
                tokens = count_delta(event["delta"])
                if tokens:
                    await self._sleep(tokens / profile.tokens_per_s)
            yield event

    def _profile(self, model_id: str) -> LatencyProfile | None:
        if self._latency is None or isinstance(self._latency, LatencyProfile):
            return self._latency
        return self._latency.get(model_id) or self._latency.get("*")

    def events(self, call: ModelCall) -> list[StreamEvent]:
        """All events of the answer at once, without pacing (settles the prompt cache)."""
        start, body = self._answer(call)
        return [*start, *body]

    def _answer(self, call: ModelCall, merge: bool | None = None,
                ready_in: float = 0.0) -> tuple[list[StreamEvent], tuple[StreamEvent, ...]]:
        """The answer as ``[message_start]`` (made for this call) and the rest (memoised).

        The content is a pure function of the seed, the model and the request, so it is
        memoised (bounded LRU: ``MEMO_ENTRIES`` answers, ``MEMO_MAX_EVENTS`` events in all);
        usage is recomputed on every call because the prompt cache changes it. Deltas are merged per block when ``merge`` is true (by default:
        for non-streaming operations). ``ready_in``: seconds until the answer's first event, when
        the prefixes this call writes to the prompt cache become readable.
        """
        if merge is None:
            merge = call.operation in NON_STREAMING_OPERATIONS
        request = call.request
        seeded = {key: value for key, value in request.items() if key not in UNSEEDED_KEYS}
        effort = None
        if "output_config" in request:  # the usual request has none: no look
            effort = requested_effort(request)
            # Effort scales the answer, does not change it (module docstring, Effort); a null
            # effort, accepted as none, is out of the seed too.
            if type(seeded["output_config"]) is dict and "effort" in seeded["output_config"]:
                config = {key: value for key, value in seeded["output_config"].items() if key != "effort"}
                if config:
                    seeded["output_config"] = config
                else:
                    del seeded["output_config"]
        material = json_bytes(seeded, sort_keys=True, default=str)
        # A small request is its own memo key (cheaper than hashing it); a large one is keyed
        # by its digest, so that the memo never holds large bodies.
        inline = len(material) <= MEMO_INLINE_KEY_BYTES
        digest = None if inline else self._digest(call.model_id, material)
        key = (
            (call.model_id, material) if inline else digest,
            request.get("max_tokens"),
            tuple(request.get("stop_sequences") or ()),
            tuple(sorted(set(call.betas) | set(request.get("anthropic_beta") or ()))),
            effort,
            # applied edits are per call (two prompts may edit to the same one): part of the key
            None if call.context_management is None else json_bytes(call.context_management),
            merge,
        )
        body = self._memo.get(key)
        if body is None:
            answer = _Answer(int(request.get("max_tokens", 1)), request.get("stop_sequences") or ())
            self._write(call, Draws(digest or self._digest(call.model_id, material)), answer)
            content = coalesce_deltas(answer.events) if merge else answer.events
            body = (*content, *answer_end(stop_reason=answer.stop_reason or "end_turn",
                                          stop_sequence=answer.stop_sequence,
                                          output_tokens=max(MIN_OUTPUT_TOKENS, answer.output_tokens),
                                          context_management=call.context_management))
            self._memo[key] = body
            self._memo_events += len(body)
            while len(self._memo) > MEMO_ENTRIES or (self._memo_events > MEMO_MAX_EVENTS and len(self._memo) > 1):
                self._memo_events -= len(self._memo.popitem(last=False)[1])
        else:
            self._memo.move_to_end(key)
        return [answer_start(call, self._input_usage(call, ready_in).usage(1))], body

    def _digest(self, model_id: str, material: bytes) -> bytes:
        """The seed of an answer: the simulator's seed, the model and the request."""
        return hashlib.sha256(self._seed_prefix + model_id.encode() + b"/" + material).digest()

    def _input_usage(self, call: ModelCall, ready_in: float) -> CacheUsage:
        return self.cache.apply(account_id=call.account_id, region=call.region, model_id=call.model_id,
                                request=call.request, input_tokens=call.input_tokens,
                                preserve_thinking=call.preserve_thinking, segments=call.prompt_segments,
                                ready_in=ready_in)

    def _write(self, call: ModelCall, draws: Draws, answer: _Answer) -> None:
        request = call.request
        messages = request.get("messages") or ()
        last_user = next((m for m in reversed(messages) if m.get("role") == "user"), None)
        blocks = _blocks(last_user)
        user_text = "".join(str(b.get("text", "")) for b in blocks if b.get("type") == "text")
        results = [b for b in blocks if b.get("type") == "tool_result"]
        topics = self._prose.topics(user_text or " ".join(_result_text(b) for b in results))

        effort = requested_effort(request) or DEFAULT_EFFORT
        share = EFFORT_SHARE_PERCENT[effort]
        thinking = request.get("thinking") or {}
        if answer_thinks(call, bool(results)):
            budget = int(thinking.get("budget_tokens") or max(1, answer.budget // 2))
            passage = _shortened(self._prose.thinking(draws.fork("thinking"), topics, draws.between(30, 150)), share)
            if REDACTED_THINKING_TRIGGER in user_text:
                nonce = draws.fork("redacted_thinking").take(REDACTED_NONCE_BYTES)
                answer.redacted_thinking(passage, budget, self.signer.redacted_data(call.model_id, nonce))
            else:
                answer.thinking(passage, budget, lambda text: self.signer.signature(call.model_id, text))

        tool, forced = choose_tool(request, user_text, bool(results))
        if tool is not None and not _is_client_tool(tool):
            tool = self._tool_search(request, tool, user_text, topics, forced, draws, answer)
        if tool is not None:
            name = str(tool.get("name", ""))
            if not forced:
                lead_in = draws.choice(_LEAD_INS)  # drawn at every level: the rest stays the same
                if effort != "low":
                    answer.text(self._prose.literal(lead_in.format(name=name)))
            hint = " ".join(topics) or "example"
            value = tool_input(tool, draws.fork("tool_input"), hint, self._prose.proper_noun(user_text))
            answer.tool_use(self._tool_id(draws), name, value)
        elif self.mode == "echo":
            text = user_text or " ".join(_result_text(b) for b in results)
            answer.text(self._prose.literal(text))
        elif (schema := output_schema(request)) is not None:
            value = schema_value(schema, draws.fork("output"), " ".join(topics) or "example",
                                 self._prose.proper_noun(user_text))
            answer.text(self._prose.literal(json.dumps(value, ensure_ascii=False)))
        elif results:
            answer.text(self._tool_result_summary(messages, results, draws, topics))
        else:
            documents = [b for m in messages for b in _blocks(m) if b.get("type") == "document"]
            cited = [(i, d) for i, d in enumerate(documents) if (d.get("citations") or {}).get("enabled")]
            if cited:
                self._cited_answer(cited[:MAX_CITED_DOCUMENTS], draws, topics, answer)
            else:
                target = 40 + (draws.below(256) * draws.below(256) * 260) // 65025
                answer.text(_shortened(self._prose.answer(draws.fork("answer"), topics, target), share))

    def _tool_search(
        self,
        request: Mapping[str, Any],
        search: Mapping[str, Any],
        user_text: str,
        topics: Sequence[str],
        forced: bool,
        draws: Draws,
        answer: _Answer,
    ) -> Mapping[str, Any] | None:
        """Search the deferred tools in the answer (``server_tool_use`` and its
        ``tool_search_tool_result``); the found tool to call next, or None."""
        tools = [tool for tool in request.get("tools") or () if isinstance(tool, Mapping)]
        if not forced:
            answer.text(self._prose.literal(draws.choice(_SEARCH_LEAD_INS)))
        value = _search_input(search, _search_terms([t for t in tools if is_deferred(t)], user_text, topics))
        search_id = self._tool_id(draws.fork("server_tool_id"), "srvtoolu_bdrk_01")
        if not answer.server_tool_use(search_id, str(search.get("name", "")), value):
            return None
        content = run_search(search, value, tools)
        answer.tool_search_result(search_id, content)
        found = {reference["tool_name"] for reference in content.get("tool_references", ())}
        candidates = [tool for tool in tools if _is_client_tool(tool) and tool.get("name") in found]
        return _mentioned(candidates, user_text) or (candidates[0] if candidates else None)

    def _tool_result_summary(
        self,
        messages: Sequence[Mapping[str, Any]],
        results: list[Mapping[str, Any]],
        draws: Draws,
        topics: Sequence[str],
    ) -> Passage:
        names = {
            b.get("id"): b.get("name")
            for m in messages
            if m.get("role") == "assistant"
            for b in _blocks(m)
            if b.get("type") == "tool_use"
        }
        lines = []
        for block in results:
            excerpt = _result_text(block).strip() or "no content"
            short = truncate_text(excerpt, 40)
            excerpt = short if short == excerpt else short + "…"
            if excerpt[-1] not in ".!?…":
                excerpt += "."
            template = _ERROR_LINE if block.get("is_error") else draws.choice(_RESULT_LINES)
            lines.append(template.format(name=names.get(block.get("tool_use_id")) or "tool", excerpt=excerpt))
        summary = self._prose.literal(" ".join(lines))
        remark = self._prose.remark(draws.fork("remark"), topics)
        return Passage(summary.pieces + remark.pieces, summary.tokens + remark.tokens)

    def _cited_answer(
        self, cited: list[tuple[int, Mapping[str, Any]]], draws: Draws, topics: Sequence[str], answer: _Answer
    ) -> None:
        first_title = cited[0][1].get("title")
        title = f"“{first_title}”" if isinstance(first_title, str) and first_title else "the document"
        answer.text(self._prose.literal(draws.choice(_CITATION_INTROS).format(title=title)))
        for position, (index, document) in enumerate(cited):
            citation = _citation(index, document, draws)
            if position:
                answer.text(self._prose.literal(". In addition, "))
            answer.text(self._prose.literal(_paraphrase(citation["cited_text"])), citation)
        closing = self._prose.remark(draws.fork("remark"), topics)
        answer.text(Passage((".",) + closing.pieces, 1 + closing.tokens))

    @staticmethod
    def _tool_id(draws: Draws, prefix: str = "toolu_bdrk_01") -> str:
        raw = draws.fork("tool_id").take(22)
        return prefix + "".join(_BASE62[byte % 62] for byte in raw)


def _shortened(passage: Passage, share_percent: int) -> Passage:
    """The first sentences of ``passage`` that make ``share_percent`` of its tokens."""
    if share_percent >= 100:
        return passage
    return passage.first_sentences(passage.tokens * share_percent // 100)


def _paraphrase(cited_text: str) -> str:
    words = truncate_text(cited_text.strip().rstrip(".!?"), 30)
    if not words:
        return "the first page covers the main points"
    return words[0].lower() + words[1:] if not words[:2].isupper() else words


def _citation(document_index: int, document: Mapping[str, Any], draws: Draws) -> dict[str, Any]:
    """A citation of one sentence (or block, or page) of ``document``."""
    title = document.get("title") if isinstance(document.get("title"), str) else None
    source = document.get("source") if isinstance(document.get("source"), Mapping) else {}
    kind = source.get("type")
    base = {"document_index": document_index, "document_title": title}
    if kind == "text" and isinstance(source.get("data"), str):
        sentences = list(_SENTENCE_RE.finditer(source["data"]))
        if sentences:
            match = sentences[draws.below(min(3, len(sentences)))]
            return {"type": "char_location", "cited_text": match.group(), **base,
                    "start_char_index": match.start(), "end_char_index": match.end()}
        return {"type": "char_location", "cited_text": "", **base, "start_char_index": 0, "end_char_index": 0}
    if kind == "content":
        content = source.get("content")
        items = [{"type": "text", "text": content}] if isinstance(content, str) else list(content or ())
        texts = [i for i, item in enumerate(items) if isinstance(item, Mapping) and item.get("type") == "text"]
        chosen = texts[draws.below(min(3, len(texts)))] if texts else 0
        cited = items[chosen].get("text", "") if texts else ""
        return {"type": "content_block_location", "cited_text": cited, **base,
                "start_block_index": chosen, "end_block_index": chosen + 1}
    return {"type": "page_location", "cited_text": _pdf_first_text(source), **base,
            "start_page_number": 1, "end_page_number": 2}


def _pdf_first_text(source: Mapping[str, Any]) -> str:
    data = source.get("data")
    if not isinstance(data, str):
        return ""
    try:
        raw = binascii.a2b_base64(data)
    except (binascii.Error, ValueError):
        return ""
    match = _PDF_TEXT_RE.search(raw)
    if match is None:
        return ""
    text = re.sub(rb"\\(.)", rb"\1", match.group(1))
    return text.decode("latin-1").strip()
