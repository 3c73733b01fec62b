"""On-demand quotas that behave like Bedrock's: requests and tokens per minute.

Off unless configured. Limits (``QuotaLimits``) are ``requests_per_minute`` and
``tokens_per_minute``; a ``QuotaConfig`` holds the default limits and per-model overrides (keys
are model names or globs, as ``scripting.model_matches`` reads them; the first override that
names the model wins, key by key over the default). Counters are kept per (account, region,
base model ID, endpoint) over a sliding window of ``WINDOW_S`` seconds read from the injected
clock. The endpoint is ``global`` or ``regional`` (the geographic profile, or a bare base ID,
which the guide makes the regional endpoint): AWS counts global cross-Region, cross-Region and
on-demand calls against separate quotas ("Global cross-Region InvokeModel tokens per minute for
${model}" beside "Cross-Region InvokeModel tokens per minute for ${model}"), so a burst of
``global.`` calls does not throttle the regional ones, and a limit set for one applies to it.

Token accounting (AWS "token burndown"):

* at request start, ``input + max_tokens`` is reserved; the request is refused when the window
  already holds ``requests_per_minute`` requests, or when the reservation would take the
  window's tokens past ``tokens_per_minute``;
* when the call ends, the reservation becomes the actual cost: input tokens plus cache-write
  tokens (cache reads do not count) plus output tokens times the model's burndown rate (the
  caller passes the catalog's ``quota_output_burndown``: 5 for Claude 3.7 Sonnet and the
  4-class models, else 1). A call cut short (its client left, the server stopped) counts the
  output it produced up to the cut, as it is billed (``runtime.UsageTracker``).

A refusal raises ``QuotaExceeded``, a ``ThrottlingException`` (429, code ThrottlingException)
with Bedrock's text for the quota hit: "Too many requests, please wait before trying again." for
requests per minute, "Too many tokens, please wait before trying again." for tokens per minute
(the words real Bedrock answers a token-quota throttle with); ``.quota`` names it. Refused
requests do not count.

Source: issue 6; AWS Bedrock user guide, "Quotas" and "Token burndown rate" (on-demand),
"How inference works in Amazon Bedrock" (the quotas of each kind of endpoint).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from claude_bedrock.domain.errors import ThrottlingException
from claude_bedrock.domain.scripting import ScriptError, model_filter, model_matches, refuse_unknown_keys

__all__ = [
    "QUOTA_MESSAGE",
    "TOKEN_QUOTA_MESSAGE",
    "WINDOW_S",
    "QuotaConfig",
    "QuotaExceeded",
    "QuotaLedger",
    "QuotaLimits",
    "Reservation",
    "parse_quota_config",
]

QUOTA_MESSAGE = "Too many requests, please wait before trying again."
TOKEN_QUOTA_MESSAGE = "Too many tokens, please wait before trying again."
WINDOW_S = 60.0

_LIMIT_KEYS = ("requests_per_minute", "tokens_per_minute")


class QuotaExceeded(ThrottlingException):
    """A request over quota: rendered as ThrottlingException; ``quota`` names the limit, and
    the message is Bedrock's for it (requests or tokens)."""

    code_override = "ThrottlingException"

    def __init__(self, quota: str) -> None:
        super().__init__(TOKEN_QUOTA_MESSAGE if quota == "tokens_per_minute" else QUOTA_MESSAGE)
        self.quota = quota


@dataclass(frozen=True, slots=True)
class QuotaLimits:
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None

    @property
    def enabled(self) -> bool:
        return self.requests_per_minute is not None or self.tokens_per_minute is not None

    def over(self, other: QuotaLimits) -> QuotaLimits:
        """These limits, falling back key by key to ``other``."""
        return QuotaLimits(
            self.requests_per_minute if self.requests_per_minute is not None else other.requests_per_minute,
            self.tokens_per_minute if self.tokens_per_minute is not None else other.tokens_per_minute,
        )

    def describe(self) -> dict[str, int | None]:
        return {"requests_per_minute": self.requests_per_minute, "tokens_per_minute": self.tokens_per_minute}


@dataclass(frozen=True, slots=True)
class QuotaConfig:
    default: QuotaLimits = QuotaLimits()
    models: tuple[tuple[str, QuotaLimits], ...] = ()

    @property
    def enabled(self) -> bool:
        return self.default.enabled or any(limits.enabled for _, limits in self.models)

    def limits_for(self, model_names: Iterable[str]) -> QuotaLimits:
        names = tuple(model_names)
        for pattern, limits in self.models:
            if model_matches(pattern, names):
                return limits.over(self.default)
        return self.default

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = self.default.describe()
        if self.models:
            out["models"] = {pattern: limits.describe() for pattern, limits in self.models}
        return out


def _limits(spec: Mapping[str, Any], origin: str) -> QuotaLimits:
    values: dict[str, int | None] = {}
    for key in _LIMIT_KEYS:
        value = spec.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ScriptError(f"{origin}.{key}: expected a positive integer (or null for no limit)")
        values[key] = value
    return QuotaLimits(values["requests_per_minute"], values["tokens_per_minute"])


def parse_quota_config(spec: Any, origin: str = "quotas") -> QuotaConfig:
    """``{requests_per_minute?, tokens_per_minute?, models?: {name: {...}}}`` to a QuotaConfig."""
    if spec is None:
        return QuotaConfig()
    if not isinstance(spec, Mapping):
        raise ScriptError(f"{origin}: expected a table")
    refuse_unknown_keys(spec, (*_LIMIT_KEYS, "models"), origin)
    models = spec.get("models") or {}
    if not isinstance(models, Mapping):
        raise ScriptError(f"{origin}.models: expected a table of model name -> limits")
    overrides = []
    for name, limits in models.items():
        if not isinstance(limits, Mapping) or set(limits) - set(_LIMIT_KEYS):
            raise ScriptError(f"{origin}.models.{name}: expected requests_per_minute and/or tokens_per_minute")
        overrides.append((model_filter(name, f"{origin}.models"), _limits(limits, f"{origin}.models.{name}")))
    return QuotaConfig(_limits(spec, origin), tuple(overrides))


#: (account, region, base model ID, endpoint type)
QuotaKey = tuple[str, str, str, str]


@dataclass(slots=True)
class _Entry:
    at: float
    tokens: int


@dataclass(slots=True)
class Reservation:
    """Tokens held for one running call; ``settle`` replaces them by the actual cost."""

    entry: _Entry
    #: quota tokens one output token costs on this call's model
    burndown: int = 1
    settled: bool = field(default=False)

    def settle(self, input_tokens: int, output_tokens: int, cache_write_tokens: int = 0) -> int:
        """Record the call's real cost (once) and return it."""
        if not self.settled:
            self.settled = True
            self.entry.tokens = input_tokens + cache_write_tokens + output_tokens * self.burndown
        return self.entry.tokens


class QuotaLedger:
    """Per-minute request and token counters, per account, region, model and endpoint type.

    Args:
        config: the limits in force.
        clock: seconds (any epoch; only differences matter).
    """

    def __init__(self, config: QuotaConfig, clock: Callable[[], float]) -> None:
        self.config = config
        self._clock = clock
        self._windows: dict[QuotaKey, deque[_Entry]] = {}

    def configure(self, config: QuotaConfig) -> None:
        """New limits; the counters carry on."""
        self.config = config

    def reset(self) -> None:
        """Forget every counted request."""
        self._windows.clear()

    def _window(self, key: QuotaKey, now: float) -> deque[_Entry]:
        window = self._windows.setdefault(key, deque())
        while window and window[0].at <= now - WINDOW_S:
            window.popleft()
        return window

    def reserve(
        self,
        *,
        account_id: str,
        region: str,
        model_id: str,
        endpoint: str,
        model_names: Iterable[str],
        input_tokens: int,
        max_tokens: int,
        burndown: int = 1,
    ) -> Reservation | None:
        """Admit one call or raise QuotaExceeded; None when no limit applies to the model.
        ``endpoint``: ``global`` or ``regional``, each counted apart (module docstring).
        ``burndown``: quota tokens per output token on this model, applied when it settles."""
        limits = self.config.limits_for(model_names)
        if not limits.enabled:
            return None
        now = self._clock()
        window = self._window((account_id, region, model_id, endpoint), now)
        if limits.requests_per_minute is not None and len(window) >= limits.requests_per_minute:
            raise QuotaExceeded("requests_per_minute")
        reserved = input_tokens + max_tokens
        if limits.tokens_per_minute is not None:
            if sum(entry.tokens for entry in window) + reserved > limits.tokens_per_minute:
                raise QuotaExceeded("tokens_per_minute")
        entry = _Entry(now, reserved)
        window.append(entry)
        return Reservation(entry, burndown)

    def usage(self) -> list[dict[str, Any]]:
        """Current window counts per key (for the admin API)."""
        now = self._clock()
        out = []
        for key in list(self._windows):
            window = self._window(key, now)
            if window:
                account_id, region, model_id, endpoint = key
                out.append({"account_id": account_id, "region": region, "model_id": model_id, "endpoint": endpoint,
                            "requests": len(window), "tokens": sum(entry.tokens for entry in window)})
        return out
