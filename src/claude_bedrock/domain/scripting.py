"""Scripted responses for tests: rules that answer matching model calls with fixed content.

A rule is ``{match: {...}, respond: {...}, times?: N, id?: str}``:

* ``match`` (every key optional; all given keys must hold; an empty match takes every call):

  ======================  ==================================================================
  ``model``               the model as called (``global.anthropic...``), its base model ID,
                          Anthropic name or alias (``claude-sonnet-4-5``); ``*``/``?``/``[]``
                          make it a glob over the same names
  ``operation``           a runtime operation name, or a list of them
  ``account``             the caller's 12-digit account ID
  ``user_text_contains``  case-insensitive substring of the last user message's text (text
                          blocks and the text inside its ``tool_result`` blocks)
  ``system_contains``     case-insensitive substring of the system prompt
  ``has_tools``           whether the request declares tools
  ======================  ==================================================================

* ``respond`` is one reply, or ``{turns: [reply, ...]}`` to answer successive matching calls in
  order. A reply is ``{text}``, ``{tool_use: {name, input, id?}}`` (or a list of them), both
  (the text comes first, as Claude's lead-in), or ``{error: {code, message?}}``; ``stop_reason``
  may override the natural one (``tool_use`` when a tool is called, else ``end_turn``). A bare
  string is ``{text}``.
* ``times`` caps the number of answers; without it a single reply answers forever and a
  ``turns`` rule answers once per turn. With ``times`` above the number of turns, the last
  turn repeats. A rule that has answered ``times`` times is exhausted and no longer matches.

Selection: the first rule (in insertion order) that matches and is not exhausted answers; no
rule means the call goes to the engine. ``RuleBook.select`` consumes one use; ``Selection.
give_back`` returns it (the service does so when an injected fault interrupts the answer, so
a retry gets the same turn). Uses handed back are taken again first, earliest first, even when
calls in flight together took later turns meanwhile.

A reply renders to the same Anthropic event stream an engine yields (``reply_events``), so one
rule answers InvokeModel, InvokeModelWithResponseStream, Converse and ConverseStream alike.
Text streams in pieces of ``WORDS_PER_DELTA`` words (one too long for a ``chunk``, a "word"
of megabytes, cut to fit: ``MAX_PIECE_JSON_BYTES``), tool input as ``input_json_delta``
pieces of ``JSON_CHARS_PER_DELTA`` characters after an empty one, as the simulator does; usage counts
input as the simulator does (the prompt cache's reads and writes of the request, which a
scripted answer does not change) and output with ``tokens.count_output_block``. Replies are
verbatim: ``max_tokens`` and ``stop_sequences`` do not cut them. When the request turns thinking
on, a reply opens with a thinking block (``SCRIPTED_THINKING``, signed as the simulator signs its
own) wherever Claude's answer would (``engine.answer_thinks``): a conversation that passes the
scripted turn back unmodified, as extended thinking with tool use requires, is then accepted.

Errors: a malformed rule raises ``ScriptError`` (a ValueError naming the offending key).

Source: issue 6 (testing toolkit); event shapes as in ``engine`` (wire reference 2.5).
"""

from __future__ import annotations

import fnmatch
import hashlib
import heapq
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from claude_bedrock.domain.account_id import is_account_id
from claude_bedrock.domain.content_rules import TOOL_USE_ID_PATTERN
from claude_bedrock.domain.engine import ModelCall, StreamEvent, answer_thinks, frame_answer
from claude_bedrock.domain.errors import (
    ERRORS_BY_CODE,
    MODEL_ACCESS_DENIED,
    BedrockError,
    ModelErrorException,
    ModelStreamErrorException,
)
from claude_bedrock.domain.prompt_cache import CacheUsage
from claude_bedrock.domain.thinking_signatures import ThinkingSigner
from claude_bedrock.domain.tokens import count_output_block
from claude_bedrock.domain.tool_rules import CUSTOM_TOOL_NAME_PATTERN

__all__ = [
    "DEFAULT_ERROR_MESSAGES",
    "RUNTIME_OPERATIONS",
    "SCRIPTED_THINKING",
    "CallView",
    "Match",
    "Reply",
    "Rule",
    "RuleBook",
    "ScriptError",
    "Selection",
    "SpecBook",
    "ToolUse",
    "error_for",
    "model_matches",
    "operations_of",
    "parse_rule",
    "reply_events",
    "text_pieces",
]

RUNTIME_OPERATIONS = ("InvokeModel", "InvokeModelWithResponseStream", "Converse", "ConverseStream")
WORDS_PER_DELTA = 3
JSON_CHARS_PER_DELTA = 24
#: The JSON a text piece may take in its event: InvokeModelWithResponseStream's ``chunk`` holds
#: at most 1,000,000 bytes (botocore's ``PartBody``), the rest of the event's JSON aside.
MAX_PIECE_JSON_BYTES = 999_000
#: Pieces of this many characters fit whatever they escape to (``\uXXXX``: 6 bytes at most):
#: a longer piece (a "word" of megabytes) that would not fit is cut into pieces of this size.
_SAFE_PIECE_CHARS = MAX_PIECE_JSON_BYTES // 6
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_GLOB_CHARS = frozenset("*?[")
_WORD_RE = re.compile(r"\s*\S+")
#: The thinking a scripted reply opens with when the request turns thinking on.
SCRIPTED_THINKING = "The test's script gives this answer."
#: A scripted tool call's id holds to the Messages API's pattern and to Converse's 64
#: characters (``ToolUseId``): one outside either is refused when the conversation passes the
#: turn back, in one operation or in all of them.
_TOOL_USE_ID = re.compile(TOOL_USE_ID_PATTERN)
_TOOL_USE_ID_MAX = 64
#: Its name, like a declared custom tool's (Converse's ``ToolName`` too).
_TOOL_NAME = re.compile(CUSTOM_TOOL_NAME_PATTERN)
_STOP_REASONS = ("end_turn", "tool_use", "max_tokens", "stop_sequence", "pause_turn", "refusal")

#: The messages real Bedrock gives for the errors tests inject most (wire reference 3.3).
DEFAULT_ERROR_MESSAGES: dict[str, str] = {
    "ThrottlingException": "Too many requests, please wait before trying again.",
    "ModelTimeoutException": "Model has timed out in processing the request. Try your request again.",
    "ServiceUnavailableException": "Bedrock is unable to process your request.",
    "InternalServerException": "The system encountered an unexpected error during processing. Try your request again.",
    "ModelNotReadyException": "Model is not ready to serve inference requests. Try your request again later.",
    "ModelErrorException": "The system encountered an unexpected error during processing. Try your request again.",
    "ModelStreamErrorException": "The model encountered an error while streaming the response.",
    "ValidationException": "The request is invalid.",
    "AccessDeniedException": MODEL_ACCESS_DENIED,
    "ResourceNotFoundException": "The requested resource could not be found.",
    "ServiceQuotaExceededException": "Your request exceeds the service quota for your account.",
}

#: The error codes a runtime call can answer with (botocore: InvokeModel, Converse and their
#: streams), which a rule's ``error`` may name.
RUNTIME_ERROR_CODES = tuple(DEFAULT_ERROR_MESSAGES)

#: Modelled extra members some errors carry (botocore shapes), filled for injected errors.
_ERROR_FIELDS: dict[type[BedrockError], dict[str, Any]] = {
    ModelErrorException: {"originalStatusCode": 500},
    ModelStreamErrorException: {"originalStatusCode": 500},
}


class ScriptError(ValueError):
    """A rule (or fault, or quota setting) that cannot be used; the message names the key."""


def refuse_unknown_keys(spec: Mapping[str, Any], allowed: Sequence[str], origin: str, note: str = "") -> None:
    """A ScriptError naming the keys of ``spec`` outside ``allowed``, and the keys it takes."""
    unknown = set(spec) - set(allowed)
    if unknown:
        names = ", ".join(sorted(map(str, unknown)))  # a YAML key may be a number or a boolean
        raise ScriptError(f"{origin}: unknown key(s) {names}; expected {', '.join(allowed)}{note}")


def error_for(code: str, message: str | None = None) -> BedrockError:
    """The typed AWS error for ``code`` with ``message`` (default: Bedrock's usual text)."""
    cls = ERRORS_BY_CODE.get(code)
    if cls is None:
        raise ScriptError(f"unknown error code {code!r}; expected one of {', '.join(sorted(ERRORS_BY_CODE))}")
    text = message or DEFAULT_ERROR_MESSAGES.get(code, f"{code} (injected).")
    fields = dict(_ERROR_FIELDS.get(cls, {}))
    if cls is ModelStreamErrorException:
        fields["originalMessage"] = text
    return cls(text, **fields)


# --------------------------------------------------------------------------- what a call looks like


def _block_text(block: Any) -> str:
    if isinstance(block, str):
        return block
    if not isinstance(block, Mapping):
        return ""
    if block.get("type") == "text":
        return str(block.get("text", ""))
    if block.get("type") == "tool_result":
        content = block.get("content")
        if isinstance(content, str):
            return content
        return " ".join(_block_text(item) for item in content or ())
    return ""


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return " ".join(text for text in (_block_text(block) for block in content or ()) if text)


@dataclass(frozen=True, slots=True)
class CallView:
    """What rules and faults can see of one model call.

    Attributes:
        model_names: every name the called model answers to (as called, base ID, Anthropic
            name, aliases).
        operation: the runtime operation.
        account_id: the caller's account.
        region: the region that serves the call.
        request: the validated Anthropic Messages body (Converse requests arrive translated).
    """

    model_names: tuple[str, ...]
    operation: str
    account_id: str
    region: str
    request: Mapping[str, Any]

    @property
    def last_user_text(self) -> str:
        messages = self.request.get("messages") or ()
        last = next((m for m in reversed(messages) if isinstance(m, Mapping) and m.get("role") == "user"), None)
        return _content_text(last.get("content")) if last is not None else ""

    @property
    def system_text(self) -> str:
        system = self.request.get("system")
        if isinstance(system, str):
            return system
        return "\n".join(_block_text(block) for block in system or ())

    @property
    def has_tools(self) -> bool:
        return bool(self.request.get("tools"))


def model_matches(pattern: str, names: Iterable[str]) -> bool:
    """Whether ``pattern`` names one of ``names``: equality, or a glob when it has ``*?[``."""
    if _GLOB_CHARS.isdisjoint(pattern):
        return pattern in names
    return any(fnmatch.fnmatchcase(name, pattern) for name in names)


def account_filter(spec: Mapping[str, Any], origin: str) -> str | None:
    """The ``account`` filter of a rule's match or a fault: a 12-digit account ID, or None."""
    account = _optional_str(spec, "account", origin)
    if account is not None and not is_account_id(account):
        raise ScriptError(f"{origin}.account: expected a 12-digit account ID")
    return account


def model_filter(value: Any, origin: str, *, globs: bool = True) -> str:
    """Validate a ``model`` filter of a rule, fault or quota: a glob (``*sonnet*``), or a name
    a call's model answers to (``Toolkit.model_names``): a base model ID, an Anthropic name or
    alias, an inference profile ID (``global.``/``us.``... + a model ID) or an ARN. A misspelt
    name would silently never match, so it is refused. ``globs`` False: a filter that takes no
    glob (``logs --model``); one is then an unknown name, and the message offers none."""
    from claude_bedrock.domain.catalog import ENDPOINT_COLUMNS, default_catalog

    if not isinstance(value, str) or not value:
        raise ScriptError(f"{origin}: expected a non-empty string")
    if (globs and not _GLOB_CHARS.isdisjoint(value)) or value.startswith("arn:"):
        return value
    catalog = default_catalog()
    geo, _, base = value.partition(".")
    if catalog.find(value) is not None or (geo in ENDPOINT_COLUMNS and catalog.get(base) is not None):
        return value
    close = catalog.closest_name(value)
    hint = f" (did you mean {close!r}?)" if close else ""
    names_it = "an Anthropic name or alias such as 'claude-sonnet-4-5'"
    expected = f"{names_it}, or a glob such as '*sonnet*'" if globs else f"or {names_it}"
    raise ScriptError(
        f"{origin}: unknown model {value!r}{hint}; expected a model ID, an inference profile ID, an ARN, {expected}"
    )


def operations_of(value: Any, origin: str, allowed: Sequence[str] = RUNTIME_OPERATIONS) -> tuple[str, ...]:
    """Validate an ``operation`` filter: one name of ``allowed`` (the runtime operations unless
    told) or a list of them."""
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ScriptError(f"{origin}: expected an operation name or a list of them")
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise ScriptError(f"{origin}: unknown operation {unknown[0]!r}; expected one of {', '.join(allowed)}")
    return tuple(names)


@dataclass(frozen=True, slots=True)
class Match:
    model: str | None = None
    operations: tuple[str, ...] = ()
    account: str | None = None
    user_text_contains: str | None = None
    system_contains: str | None = None
    has_tools: bool | None = None

    def matches(self, view: CallView) -> bool:
        if self.model is not None and not model_matches(self.model, view.model_names):
            return False
        if self.operations and view.operation not in self.operations:
            return False
        if self.account is not None and view.account_id != self.account:
            return False
        if self.has_tools is not None and view.has_tools != self.has_tools:
            return False
        if self.user_text_contains is not None and self.user_text_contains.casefold() not in view.last_user_text.casefold():
            return False
        if self.system_contains is not None and self.system_contains.casefold() not in view.system_text.casefold():
            return False
        return True


@dataclass(frozen=True, slots=True)
class ToolUse:
    name: str
    input: Mapping[str, Any]
    id: str | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """One answer: text and/or tool calls, or an error (then nothing else)."""

    text: str | None = None
    tool_uses: tuple[ToolUse, ...] = ()
    error_code: str | None = None
    error_message: str | None = None
    stop_reason: str | None = None

    def error(self) -> BedrockError | None:
        return None if self.error_code is None else error_for(self.error_code, self.error_message)


@dataclass(slots=True)
class Rule:
    id: str
    match: Match
    replies: tuple[Reply, ...]
    times: int | None
    source: Mapping[str, Any]
    used: int = 0
    #: The positions (0-based, in the order uses were taken) of the uses handed back, a heap:
    #: the next matching calls take them before any new one.
    returned: list[int] = field(default_factory=list)

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.used >= self.times

    @property
    def remaining(self) -> int | None:
        return None if self.times is None else max(0, self.times - self.used)

    def describe(self) -> dict[str, Any]:
        """JSON-ready view for the admin API: the rule as given, plus its counters."""
        return {**self.source, "id": self.id, "used": self.used, "remaining": self.remaining}


@dataclass(slots=True)
class Selection:
    """One use of a rule: the reply it gives this call."""

    rule: Rule
    reply: Reply
    turn: int
    #: which use of the rule this is (its turn, until the last turn repeats)
    position: int = 0
    _returned: bool = field(default=False, repr=False)

    def give_back(self) -> None:
        """Undo the use (once), so the next matching call gets the same turn."""
        if not self._returned:
            self._returned = True
            self.rule.used -= 1
            heapq.heappush(self.rule.returned, self.position)


# --------------------------------------------------------------------------- parsing

_MATCH_KEYS = frozenset({"model", "operation", "account", "user_text_contains", "system_contains", "has_tools"})
_RULE_KEYS = ("id", "match", "respond", "times")
_REPLY_KEYS = ("text", "tool_use", "error", "stop_reason")


def _optional_str(spec: Mapping[str, Any], key: str, origin: str) -> str | None:
    value = spec.get(key)
    if value is not None and (not isinstance(value, str) or not value):
        raise ScriptError(f"{origin}.{key}: expected a non-empty string")
    return value


def _parse_match(spec: Any, origin: str) -> Match:
    if spec is None:
        return Match()
    if not isinstance(spec, Mapping):
        raise ScriptError(f"{origin}: expected a table of conditions")
    unknown = set(spec) - _MATCH_KEYS
    if unknown:
        raise ScriptError(f"{origin}: unknown condition(s) {', '.join(sorted(unknown))}; "
                          f"expected {', '.join(sorted(_MATCH_KEYS))}")
    has_tools = spec.get("has_tools")
    if has_tools is not None and not isinstance(has_tools, bool):
        raise ScriptError(f"{origin}.has_tools: expected true or false")
    account = account_filter(spec, origin)
    return Match(
        model=model_filter(spec["model"], f"{origin}.model") if spec.get("model") is not None else None,
        operations=operations_of(spec["operation"], f"{origin}.operation") if spec.get("operation") else (),
        account=account,
        user_text_contains=_optional_str(spec, "user_text_contains", origin),
        system_contains=_optional_str(spec, "system_contains", origin),
        has_tools=has_tools,
    )


def _parse_tool_use(spec: Any, origin: str) -> ToolUse:
    if not isinstance(spec, Mapping):
        raise ScriptError(f"{origin}: expected {{name, input}}")
    refuse_unknown_keys(spec, ("name", "input", "id"), origin)
    name = spec.get("name")
    if not isinstance(name, str) or not name:
        raise ScriptError(f"{origin}.name: expected the tool's name")
    if not _TOOL_NAME.fullmatch(name):
        raise ScriptError(f"{origin}.name: {name!r} is no tool name Claude can call; "
                          f"expected {CUSTOM_TOOL_NAME_PATTERN}")
    value = spec.get("input", {})
    if not isinstance(value, Mapping):
        raise ScriptError(f"{origin}.input: expected an object")
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise ScriptError(f"{origin}.input: must be JSON-serialisable") from None
    tool_id = _optional_str(spec, "id", origin)
    if tool_id is not None and (len(tool_id) > _TOOL_USE_ID_MAX or not _TOOL_USE_ID.fullmatch(tool_id)):
        raise ScriptError(f"{origin}.id: {tool_id!r} would be refused when sent back; expected "
                          f"{TOOL_USE_ID_PATTERN}, at most {_TOOL_USE_ID_MAX} characters")
    return ToolUse(name=name, input=dict(value), id=tool_id)


def _parse_reply(spec: Any, origin: str) -> Reply:
    if isinstance(spec, str):
        return Reply(text=spec)
    if not isinstance(spec, Mapping):
        raise ScriptError(f"{origin}: expected {{text}}, {{tool_use}}, {{error}} or a string")
    refuse_unknown_keys(spec, _REPLY_KEYS, origin, " (or turns at the top of respond)")
    stop_reason = _optional_str(spec, "stop_reason", origin)
    if stop_reason is not None and stop_reason not in _STOP_REASONS:
        raise ScriptError(f"{origin}.stop_reason: expected one of {', '.join(_STOP_REASONS)}")
    if "error" in spec:
        if len(spec) > 1:
            raise ScriptError(f"{origin}: an error reply has nothing else")
        error = spec["error"]
        if isinstance(error, str):
            error = {"code": error}
        if not isinstance(error, Mapping) or set(error) - {"code", "message"}:
            raise ScriptError(f"{origin}.error: expected {{code, message?}}")
        code = error.get("code")
        if code not in RUNTIME_ERROR_CODES:
            raise ScriptError(f"{origin}.error.code: expected one of the runtime's error codes "
                              f"({', '.join(RUNTIME_ERROR_CODES)}), got {code!r}")
        return Reply(error_code=code, error_message=_optional_str(error, "message", f"{origin}.error"))
    text = spec.get("text")
    if text is not None and not isinstance(text, str):
        raise ScriptError(f"{origin}.text: expected a string")
    raw_tools = spec.get("tool_use")
    tool_specs = [] if raw_tools is None else raw_tools if isinstance(raw_tools, list) else [raw_tools]
    tools = tuple(_parse_tool_use(t, f"{origin}.tool_use") for t in tool_specs)
    given_ids = [tool.id for tool in tools if tool.id is not None]
    if len(set(given_ids)) != len(given_ids):  # the turn sent back would be refused
        raise ScriptError(f"{origin}.tool_use: two tool calls have the same id; ids must be unique")
    if text is None and not tools:
        raise ScriptError(f"{origin}: a reply needs text, tool_use or error")
    return Reply(text=text, tool_uses=tools, stop_reason=stop_reason)


def parse_rule(spec: Any, rule_id: str, origin: str = "rule") -> Rule:
    """Build a Rule from its JSON/TOML/YAML form (module docstring)."""
    if not isinstance(spec, Mapping):
        raise ScriptError(f"{origin}: expected a table with match and respond")
    refuse_unknown_keys(spec, _RULE_KEYS, origin)
    if "respond" not in spec:
        raise ScriptError(f"{origin}: respond is required")
    respond = spec["respond"]
    if isinstance(respond, Mapping) and "turns" in respond:
        if set(respond) != {"turns"}:
            raise ScriptError(f"{origin}.respond: turns stands alone")
        turns = respond["turns"]
        if not isinstance(turns, list) or not turns:
            raise ScriptError(f"{origin}.respond.turns: expected a non-empty list of replies")
        replies = tuple(_parse_reply(t, f"{origin}.respond.turns[{i}]") for i, t in enumerate(turns))
    else:
        replies = (_parse_reply(respond, f"{origin}.respond"),)
    times = spec.get("times")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        raise ScriptError(f"{origin}.times: expected a positive integer")
    if times is None and len(replies) > 1:
        times = len(replies)
    if times is not None and times < len(replies):
        raise ScriptError(f"{origin}.times: {times} is fewer than the {len(replies)} turns: the last "
                          f"{len(replies) - times} would never answer")
    given_id = _optional_str(spec, "id", origin)
    source = {key: spec[key] for key in ("match", "respond", "times") if key in spec}
    return Rule(
        id=given_id or rule_id,
        match=_parse_match(spec.get("match"), f"{origin}.match"),
        replies=replies,
        times=times,
        source=json.loads(json.dumps(source)),
    )


class _Identified(Protocol):
    id: str


T = TypeVar("T", bound=_Identified)


class SpecBook(Generic[T]):
    """Items parsed from specs, in the order added, their ids unique (``RuleBook``, the faults'
    ``FaultPlan``). An item without an id is named ``<kind>-<n>``."""

    kind: ClassVar[str]

    def __init__(self) -> None:
        self._items: list[T] = []
        self._counter = 0

    def __len__(self) -> int:
        return len(self._items)

    def _parse(self, spec: Any, default_id: str, origin: str) -> T:
        raise NotImplementedError

    def add(self, spec: Any, origin: str | None = None) -> T:
        origin = origin or self.kind
        self._counter += 1
        item = self._parse(spec, f"{self.kind}-{self._counter}", origin)
        if any(existing.id == item.id for existing in self._items):
            raise ScriptError(f"{origin}.id: a {self.kind} named {item.id!r} already exists")
        self._items.append(item)
        return item

    def extend(self, specs: Sequence[Any], origin: str | None = None) -> list[T]:
        """Add several items, all or none (a bad one leaves the book unchanged)."""
        origin = origin or self.kind + "s"
        before, counter = list(self._items), self._counter
        try:
            return [self.add(spec, f"{origin}[{i}]") for i, spec in enumerate(specs)]
        except ScriptError:
            self._items, self._counter = before, counter
            raise

    def remove(self, item_id: str) -> bool:
        kept = [item for item in self._items if item.id != item_id]
        found = len(kept) != len(self._items)
        self._items = kept
        return found

    def clear(self) -> None:
        self._items = []
        self._counter = 0


class RuleBook(SpecBook[Rule]):
    """The ordered rules of a server; first match wins."""

    kind = "rule"

    @property
    def rules(self) -> tuple[Rule, ...]:
        return tuple(self._items)

    def _parse(self, spec: Any, default_id: str, origin: str) -> Rule:
        return parse_rule(spec, default_id, origin)

    def select(self, view: CallView) -> Selection | None:
        """The first live matching rule's reply for this call, consuming one use."""
        for rule in self._items:
            if rule.exhausted or not rule.match.matches(view):
                continue
            position = heapq.heappop(rule.returned) if rule.returned else rule.used
            turn = min(position, len(rule.replies) - 1)
            rule.used += 1
            return Selection(rule, rule.replies[turn], turn, position)
        return None


# --------------------------------------------------------------------------- events


def text_pieces(text: str, words: int = WORDS_PER_DELTA) -> list[str]:
    """``text`` cut into pieces of ``words`` words; the pieces concatenate back to ``text``."""
    # Blanks at the end belong to the tail: searched for a word, each of them would scan the
    # rest of the run again (quadratic in a long blank ending).
    found = _WORD_RE.findall(text.rstrip())
    pieces = ["".join(found[i : i + words]) for i in range(0, len(found), words)]
    tail = text[sum(len(p) for p in pieces):]
    if tail:
        if pieces:
            pieces[-1] += tail
        else:
            pieces.append(tail)
    if len(text) > _SAFE_PIECE_CHARS:
        return [part for piece in pieces for part in _fitting(piece)]
    return pieces


def _fitting(piece: str) -> list[str]:
    """``piece``, cut when its JSON would not fit a ``chunk`` (``MAX_PIECE_JSON_BYTES``)."""
    if len(piece) <= _SAFE_PIECE_CHARS or len(json.dumps(piece)) <= MAX_PIECE_JSON_BYTES:
        return [piece]
    return [piece[start:start + _SAFE_PIECE_CHARS] for start in range(0, len(piece), _SAFE_PIECE_CHARS)]


def _tool_id(message_id: str, index: int) -> str:
    digest = hashlib.sha256(f"{message_id}/{index}".encode()).digest()
    return "toolu_bdrk_01" + "".join(_BASE62[byte % 62] for byte in digest[:22])


def _answers_tool_results(request: Mapping[str, Any]) -> bool:
    last_user = next((m for m in reversed(request.get("messages") or ()) if m.get("role") == "user"), None)
    content = last_user.get("content") if last_user else None
    return isinstance(content, list) and any(isinstance(b, Mapping) and b.get("type") == "tool_result"
                                             for b in content)


def reply_events(reply: Reply, call: ModelCall, input_usage: CacheUsage,
                 signer: ThinkingSigner | None = None) -> list[StreamEvent]:
    """The Anthropic event stream of ``reply`` answering ``call`` (module docstring), with the
    input side of the request's usage (``PromptCache.apply``: its cache reads and writes);
    ``signer`` signs its thinking block (the server's; by default the built-in key's).

    Raises:
        ValueError: for an error reply (raise ``reply.error()`` instead).
    """
    if reply.error_code is not None:
        raise ValueError("an error reply has no events")
    events: list[StreamEvent] = []
    output_tokens = 0
    index = 0
    if answer_thinks(call, _answers_tool_results(call.request)):
        signature = (signer or ThinkingSigner()).signature(call.model_id, SCRIPTED_THINKING)
        events += [
            {"type": "content_block_start", "index": index,
             "content_block": {"type": "thinking", "thinking": "", "signature": ""}},
            {"type": "content_block_delta", "index": index,
             "delta": {"type": "thinking_delta", "thinking": SCRIPTED_THINKING}},
            {"type": "content_block_delta", "index": index, "delta": {"type": "signature_delta", "signature": signature}},
            {"type": "content_block_stop", "index": index},
        ]
        output_tokens += count_output_block({"type": "thinking", "thinking": SCRIPTED_THINKING})
        index += 1
    if reply.text:
        events.append({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}})
        for piece in text_pieces(reply.text):
            events.append({"type": "content_block_delta", "index": index,
                           "delta": {"type": "text_delta", "text": piece}})
        events.append({"type": "content_block_stop", "index": index})
        output_tokens += count_output_block({"type": "text", "text": reply.text})
        index += 1
    for position, tool in enumerate(reply.tool_uses):
        tool_id = tool.id or _tool_id(call.message_id, position)
        events.append({"type": "content_block_start", "index": index,
                       "content_block": {"type": "tool_use", "id": tool_id, "name": tool.name, "input": {}}})
        text = json.dumps(tool.input, ensure_ascii=False)
        events.append({"type": "content_block_delta", "index": index,
                       "delta": {"type": "input_json_delta", "partial_json": ""}})
        for start in range(0, len(text), JSON_CHARS_PER_DELTA):
            events.append({"type": "content_block_delta", "index": index,
                           "delta": {"type": "input_json_delta",
                                     "partial_json": text[start : start + JSON_CHARS_PER_DELTA]}})
        events.append({"type": "content_block_stop", "index": index})
        output_tokens += count_output_block({"type": "tool_use", "name": tool.name, "input": tool.input})
        index += 1
    stop_reason = reply.stop_reason or ("tool_use" if reply.tool_uses else "end_turn")
    return frame_answer(
        call,
        input_usage.usage(1),
        events,
        stop_reason=stop_reason,
        stop_sequence=_stop_sequence(stop_reason, call),
        output_tokens=output_tokens,
    )


def _stop_sequence(stop_reason: str, call: ModelCall) -> str | None:
    """A scripted ``stop_sequence`` stop names the request's first stop sequence, as a real one
    names the sequence that stopped the answer (None when the request gave none)."""
    if stop_reason != "stop_sequence":
        return None
    sequences = call.request.get("stop_sequences") or ()
    return sequences[0] if sequences else None
