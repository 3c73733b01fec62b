"""When to retry a call and how long to wait first: exponential backoff, full jitter.

Purpose: one policy object the call flow asks after each failed attempt. It never sleeps and
never draws randomness itself: the jitter source is a ``uniform(a, b)`` callable the shell
passes (a seeded ``random.Random(seed).uniform`` in tests), and the flow hands the delay to
the shell's ``sleep``.

Rules:
  * retried: HTTP 408, 429, 500, 502, 503, 504; connection failures and timeouts; stream
    exception frames ``throttlingException``, ``serviceUnavailableException`` and
    ``internalServerException`` received before any event reached the caller;
  * never retried: any other status (400 and 403 in particular), a response carrying
    ``x-should-retry: false``, anything after an event was delivered;
  * delay before retry ``n`` (0-based): ``Retry-After-Ms`` / ``Retry-After`` (seconds or an
    HTTP date) when present and at most ``max_retry_after_s``, else full jitter
    ``uniform(0, min(max_backoff_s, initial_backoff_s * 2**n))``.

Source: botocore ``retries/standard.py`` (what is retryable), anthropic 2.14
``_base_client.py`` (``retry-after-ms``, ``x-should-retry``, 2 retries by default), AWS
Architecture Blog "Exponential Backoff And Jitter" (full jitter).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

__all__ = ["RETRYABLE_STATUSES", "RETRYABLE_STREAM_ERRORS", "RetryPolicy"]

RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
RETRYABLE_STREAM_ERRORS = frozenset({"throttlingException", "serviceUnavailableException", "internalServerException"})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retry decisions. ``uniform`` is the jitter source (``random.Random().uniform``)."""

    uniform: Callable[[float, float], float]
    max_retries: int = 2
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    max_retry_after_s: float = 60.0

    def backoff(self, retry_index: int) -> float:
        """Full-jitter delay before retry number ``retry_index`` (0-based)."""
        cap = min(self.max_backoff_s, self.initial_backoff_s * (2**retry_index))
        return self.uniform(0.0, cap)

    def retry_after(self, headers: Mapping[str, str], now: datetime | None = None) -> float | None:
        """The server's requested delay in seconds, or None (absent, unparsable, negative)."""
        value = headers.get("retry-after-ms")
        if value:
            try:
                seconds = float(value) / 1000.0
            except ValueError:
                seconds = -1.0
            if seconds >= 0:
                return seconds
        value = headers.get("retry-after")
        if not value:
            return None
        try:
            seconds = float(value)
        except ValueError:
            if now is None:
                return None
            from email.utils import parsedate_to_datetime

            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                return None
            seconds = (when - now).total_seconds()
        return seconds if seconds >= 0 else None

    def delay_after_status(
        self, retry_index: int, status: int, headers: Mapping[str, str], now: datetime | None = None
    ) -> float | None:
        """Seconds to wait before retrying an HTTP error, or None to give up."""
        if retry_index >= self.max_retries or status not in RETRYABLE_STATUSES:
            return None
        if (headers.get("x-should-retry") or "").lower() == "false":
            return None
        requested = self.retry_after(headers, now)
        if requested is not None and requested <= self.max_retry_after_s:
            return requested
        return self.backoff(retry_index)

    def delay_after_connection_error(self, retry_index: int, retryable: bool) -> float | None:
        if retry_index >= self.max_retries or not retryable:
            return None
        return self.backoff(retry_index)

    def delay_after_stream_error(self, retry_index: int, member: str | None, events_delivered: int) -> float | None:
        """``member``: the exception frame's member (``throttlingException``) or a generic error
        frame's ``:error-code`` (``ThrottlingException``): the same error either way."""
        if member:
            member = member[:1].lower() + member[1:]
        if retry_index >= self.max_retries or events_delivered or member not in RETRYABLE_STREAM_ERRORS:
            return None
        return self.backoff(retry_index)
