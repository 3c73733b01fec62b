"""What one runtime call did, handed to observers (invocation logging, call history).

A CallRecord is built by the runtime handlers for every call, successful or not, after the
response is complete (for streams: after the last frame). Observers must be cheap and must
not raise; slow work (disk) belongs on their own queue.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass
class CallRecord:
    request_id: str
    operation: str
    account_id: str
    region: str
    identity_arn: str
    model_id: str
    started_at: float
    #: Resolved catalog model ID (None when resolution failed).
    resolved_model_id: str | None = None
    endpoint_type: str | None = None
    geography: str | None = None
    inference_region: str | None = None
    price_multiplier: float = 1.0
    status: int = 200
    error_code: str | None = None
    error_message: str | None = None
    latency_ms: int = 0
    first_byte_ms: int | None = None
    input_body: Any = None
    #: The request body as received (invocation logs fall back to it when ``input_body`` is
    #: None: a call that failed before its body was parsed, or a body that is not JSON).
    input_bytes: bytes | None = None
    input_content_type: str = "application/json"
    #: Non-streaming: the response body (dict). Streaming: list of decoded chunk events.
    output_body: Any = None
    #: The output invocation logs give instead of ``output_body``, when it differs: for a
    #: ConverseStream that ran to its end, the Converse response its events add up to.
    logged_output: Any = None
    output_content_type: str = "application/json"
    streamed: bool = False
    usage: dict[str, int] = field(default_factory=dict)
    request_metadata: dict[str, str] | None = None
    injected_fault: str | None = None


ObserverList = list[Callable[[CallRecord], None]]
