"""Prompt-cache bookkeeping for the simulator: which input tokens are cache reads or writes.

Semantics (Anthropic "Prompt caching", as Bedrock reports it in ``usage``):

* The prompt is read in prefix order tools → system → messages (``tokens.prompt_segments``). A
  ``cache_control`` breakpoint ``{"type": "ephemeral", "ttl"?: "5m" | "1h"}`` on a tool, a system
  block or a message content block (or top-level ``cache_control``, i.e. automatic caching, on
  the last block) marks the prefix up to and including that block.
* A prefix shorter than the model's minimum cacheable length is never cached (no write, no read):
  the catalog's ``prompt_cache_min_tokens`` (4096 tokens for Claude Opus 4.5 and Haiku 4.5, 2048
  for the older Haiku models, 1024 for the others; ``FALLBACK_MINIMUM_TOKENS`` for a model the
  catalog does not know; the constructor takes another rule so tests can lower it).
* Lookup: the longest cached prefix ending at a breakpoint or at a block boundary before it,
  within a lookback window of ``LOOKBACK_BLOCKS`` (20) positions per breakpoint, the breakpoint
  itself counting as the first (Anthropic "Prompt caching", "How automatic prefix checking
  works": a write 20 blocks before the breakpoint is out of reach), is a **cache read**; its
  entry's TTL restarts. Every breakpoint after the hit is written: the tokens from the hit (or the start)
  to the last breakpoint are **cache creation**, each span between consecutive breakpoints billed
  at the TTL of the breakpoint that ends it (``ephemeral_5m`` / ``ephemeral_1h``). Tokens after
  the last breakpoint, and all tokens when nothing qualifies, are plain ``input_tokens``.
* Entries are keyed by (account id, region, base model id, SHA-256 of the canonical JSON of the
  prefix without its ``cache_control`` markers), so moving a breakpoint later still hits the
  blocks before it, as on the real service. An entry lives 5 minutes or 1 hour after its last use.
* An entry becomes readable only once the response of the call that wrote it has begun
  (``apply``'s ``ready_in``: the simulator's time to first token). Anthropic "Prompt caching":
  "a cache entry only becomes available after the first response begins", so identical calls
  sent at once all write the prefix; one sent after the first answer began reads it.
  Ahead of the messages the prefix also holds ``tool_choice``, the thinking settings and whether
  any image is present (``tokens.prompt_segments``): changing them invalidates the cached
  messages, not tools or system (Anthropic "Prompt caching", "What invalidates the cache").
* A model before Claude Opus 4.5 strips the thinking of earlier turns once a user turn holds more
  than tool results (``tokens``, "Thinking of earlier turns"): the prompt is the one without it,
  so a prefix cached with that thinking (during the tool-use loop) no longer matches and the
  messages from the first stripped block on are written again (Anthropic "Extended thinking",
  "Extended thinking with prompt caching").
* The region is the one that serves the call: a cache written in us-east-1 is not read in
  eu-west-3 (each region is a separate deployment; AWS's prompt-caching guide, "Prompt caching
  with cross-Region inference": routing a call to another region "may lead to increased cache
  writes"). The simulator serves a cross-Region (``us.``/``global.``) profile call in the
  request's own region, so those calls share that region's cache.

Invariants: ``input + cache_read + cache_creation == tokens.count_request(request)``;
``cache_creation == ephemeral_5m + ephemeral_1h``; the store never holds more than
``max_entries`` entries (least recently used evicted first). Single event loop, no locks.
The clock is injected (seconds, any epoch); nothing here reads the time itself.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from claude_bedrock.domain.catalog import DEFAULT_PROMPT_CACHE_MIN_TOKENS, Catalog, default_catalog
from claude_bedrock.domain.tokens import (
    REQUEST_OVERHEAD_TOKENS,
    PromptSegment,
    count_request,
    has_cache_control,
    prompt_segments,
)

__all__ = [
    "FALLBACK_MINIMUM_TOKENS",
    "LOOKBACK_BLOCKS",
    "TTL_SECONDS",
    "CacheUsage",
    "PromptCache",
    "default_minimum_tokens",
    "minimum_tokens_of",
]

#: Lifetime of an entry after its last use, by ``cache_control.ttl``.
TTL_SECONDS: Mapping[str, float] = {"5m": 300.0, "1h": 3600.0}
DEFAULT_TTL = "5m"
LOOKBACK_BLOCKS = 20
DEFAULT_MAX_ENTRIES = 10_000

#: Minimum cacheable prefix of a model the catalog does not know: the catalog's own default.
FALLBACK_MINIMUM_TOKENS = DEFAULT_PROMPT_CACHE_MIN_TOKENS


def minimum_tokens_of(catalog: Catalog) -> Callable[[str], int]:
    """The minimum cacheable prompt length of a base model ID, as ``catalog`` gives it."""

    def minimum(model_id: str) -> int:
        model = catalog.get(model_id)
        return model.prompt_cache_min_tokens if model is not None else FALLBACK_MINIMUM_TOKENS

    return minimum


def default_minimum_tokens(model_id: str) -> int:
    """Minimum cacheable prompt length for ``model_id`` in the packaged catalog."""
    return minimum_tokens_of(default_catalog())(model_id)


@dataclass(slots=True)
class CacheUsage:
    """How a request's input tokens split between cache reads, cache writes and plain input."""

    input_tokens: int
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    ephemeral_5m_input_tokens: int = 0
    ephemeral_1h_input_tokens: int = 0

    @property
    def total_input_tokens(self) -> int:
        return self.input_tokens + self.cache_read_input_tokens + self.cache_creation_input_tokens

    def usage(self, output_tokens: int) -> dict[str, Any]:
        """The Anthropic ``usage`` object as Bedrock returns it (wire reference 2.5, 10.2)."""
        return {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.ephemeral_5m_input_tokens,
                "ephemeral_1h_input_tokens": self.ephemeral_1h_input_tokens,
            },
            "output_tokens": output_tokens,
        }


@dataclass(slots=True)
class _Entry:
    expires_at: float
    ttl_s: float
    #: when the response of the call that wrote it began (before that, no call reads it)
    readable_at: float


@dataclass(frozen=True, slots=True)
class _Breakpoint:
    index: int
    ttl: str


def _ttl_name(control: Mapping[str, Any]) -> str:
    ttl = control.get("ttl", DEFAULT_TTL)
    return ttl if ttl in TTL_SECONDS else DEFAULT_TTL


class PromptCache:
    """In-memory prompt cache shared by all simulator calls, partitioned by account, region and
    model.

    Args:
        clock: returns the current time in seconds.
        minimum_tokens: minimum cacheable prefix; an int for every model, or a function of the
            base model id (default ``default_minimum_tokens``).
        max_entries: bound on stored prefixes; the least recently used goes first.
    """

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        minimum_tokens: int | Callable[[str], int] = default_minimum_tokens,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._clock = clock
        self._minimum: Callable[[str], int] = (
            (lambda _model, value=minimum_tokens: value) if isinstance(minimum_tokens, int) else minimum_tokens
        )
        self._max_entries = max_entries
        self._entries: OrderedDict[tuple[str, str, str, bytes], _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def reset(self) -> None:
        """Forget every cached prefix."""
        self._entries.clear()

    def apply(
        self,
        *,
        account_id: str,
        region: str,
        model_id: str,
        request: Mapping[str, Any],
        input_tokens: int | None = None,
        preserve_thinking: bool = False,
        segments: Sequence[PromptSegment] | None = None,
        ready_in: float = 0.0,
    ) -> CacheUsage:
        """Settle one request against the cache: look up, refresh and write its prefixes.

        State change: hit entries get a new expiry; breakpoints after the hit are stored.

        Args:
            region: the region serving the call (the cache is per account and region).
            input_tokens: ``tokens.count_request(request)`` if the caller has it already.
            segments: ``tokens.prompt_segments(request)`` if the caller has them already
                (computed where reading the request's documents holds nothing up).
            preserve_thinking: the model keeps the thinking of earlier turns (``tokens``); when
                it does not, stripped thinking is out of the cached prompt too.
            ready_in: seconds from now until this call's response begins; the prefixes it
                writes are read by no call before then.

        Returns:
            the split of ``tokens.count_request(request)`` into read, creation and plain input.
        """
        if not has_cache_control(request):
            if input_tokens is None:
                input_tokens = count_request(request, preserve_thinking=preserve_thinking)
            return CacheUsage(input_tokens=input_tokens)
        if segments is None:
            segments = prompt_segments(request, preserve_thinking=preserve_thinking)
        cumulative: list[int] = []
        running = 0
        breakpoints: list[_Breakpoint] = []
        minimum = self._minimum(model_id)
        for index, segment in enumerate(segments):
            running += segment.tokens
            cumulative.append(running)
            if segment.cache_control is not None and running >= minimum:
                breakpoints.append(_Breakpoint(index, _ttl_name(segment.cache_control)))
        total = running + REQUEST_OVERHEAD_TOKENS
        if not breakpoints:
            return CacheUsage(input_tokens=total)

        digests = self._prefix_digests(segments, breakpoints[-1].index)
        now = self._clock()
        scope = (account_id, region, model_id)
        hit = self._find_hit(scope, digests, cumulative, breakpoints, minimum, now)
        read = cumulative[hit] if hit >= 0 else 0

        spans = {"5m": 0, "1h": 0}
        previous = read
        for point in breakpoints:
            key = (*scope, digests[point.index])
            if point.index <= hit:
                entry = self._entries.get(key)
                if entry is not None and entry.expires_at > now:
                    entry.expires_at = now + entry.ttl_s
                    self._entries.move_to_end(key)
                continue
            spans[point.ttl] += cumulative[point.index] - previous
            previous = cumulative[point.index]
            self._store(key, TTL_SECONDS[point.ttl], now, ready_in)
        creation = spans["5m"] + spans["1h"]
        return CacheUsage(
            input_tokens=total - read - creation,
            cache_read_input_tokens=read,
            cache_creation_input_tokens=creation,
            ephemeral_5m_input_tokens=spans["5m"],
            ephemeral_1h_input_tokens=spans["1h"],
        )

    @staticmethod
    def _prefix_digests(segments: Sequence[PromptSegment], last: int) -> list[bytes]:
        hasher = hashlib.sha256()
        digests = []
        for segment in segments[: last + 1]:
            hasher.update(json.dumps(segment.material, sort_keys=True, separators=(",", ":")).encode())
            hasher.update(b"\x1e")
            digests.append(hasher.copy().digest())
        return digests

    def _find_hit(
        self,
        scope: tuple[str, str, str],
        digests: list[bytes],
        cumulative: list[int],
        breakpoints: list[_Breakpoint],
        minimum: int,
        now: float,
    ) -> int:
        """Index of the last segment of the longest live cached prefix, or -1."""
        for point in reversed(breakpoints):
            for index in range(point.index, max(-1, point.index - LOOKBACK_BLOCKS), -1):
                if cumulative[index] < minimum:
                    break
                key = (*scope, digests[index])
                entry = self._entries.get(key)
                if entry is None:
                    continue
                if entry.expires_at <= now:
                    del self._entries[key]
                    continue
                if entry.readable_at > now:  # its writer's response has not begun yet
                    continue
                entry.expires_at = now + entry.ttl_s
                self._entries.move_to_end(key)
                return index
        return -1

    def _store(self, key: tuple[str, str, str, bytes], ttl_s: float, now: float, ready_in: float) -> None:
        entry = self._entries.get(key)
        if entry is not None:
            if entry.expires_at > now:  # written by a call whose response may not have begun
                entry.ttl_s = max(ttl_s, entry.ttl_s)
                entry.readable_at = min(entry.readable_at, now + ready_in)
            else:
                entry.ttl_s, entry.readable_at = ttl_s, now + ready_in
            entry.expires_at = now + entry.ttl_s
            self._entries.move_to_end(key)
            return
        self._entries[key] = _Entry(now + ttl_s, ttl_s, now + ready_in)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
