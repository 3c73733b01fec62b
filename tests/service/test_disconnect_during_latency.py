"""Audit regression: a client that leaves while its call waits for the first event (an injected
latency fault, the simulator's ``--simulator-latency`` time to first token) was recorded only
once the whole wait had run, with the full latency (a whole call as ClientDisconnected, a stream
as a complete 200, its frames written to nobody), and a scripted turn went back only then.

Deterministic: the client's disconnect is the next ASGI message after the body, and the wait is
a minute long, so a call that ends within seconds ended because the client left."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from claude_bedrock.service.app import create_app
from claude_bedrock.settings import Settings

MODEL = b"/model/anthropic.claude-3-haiku-20240307-v1%3A0"
INVOKE_BODY = json.dumps({"max_tokens": 100, "messages": [{"role": "user", "content": "Hello"}],
                          "anthropic_version": "bedrock-2023-05-31"}).encode()
CONVERSE_BODY = json.dumps({"messages": [{"role": "user", "content": [{"text": "Hello"}]}]}).encode()
SUFFIXES = [b"/invoke", b"/invoke-with-response-stream", b"/converse", b"/converse-stream"]
#: far longer than any call of these tests may take
LATENCY_MS = 60_000


async def _call(app: Any, suffix: bytes, leave: bool = True) -> list[dict[str, Any]]:
    """One call, whose client leaves as soon as its body is sent (``leave``); what the app wrote."""
    scope = {"type": "http", "method": "POST", "path": (MODEL + suffix).decode(), "raw_path": MODEL + suffix,
             "query_string": b"", "headers": [(b"authorization", b"Bearer dev"), (b"host", b"localhost")],
             "client": ("127.0.0.1", 5000)}
    body = CONVERSE_BODY if suffix.startswith(b"/converse") else INVOKE_BODY
    messages = [{"type": "http.disconnect"}] if leave else []
    messages.append({"type": "http.request", "body": body, "more_body": False})
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # the client stays
        raise AssertionError  # pragma: no cover

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await asyncio.wait_for(app(scope, receive, send), timeout=10)  # not the minute of latency
    return sent


def _run(tmp_path, suffix: bytes, setup, **settings: Any):
    app = create_app(Settings(data_dir=str(tmp_path), **settings))
    setup(app.state.testing)
    try:
        sent = asyncio.run(_call(app, suffix))
    finally:
        app.state.store.close()
    return sent, app.state.testing.history.entries()


def _latency_fault(toolkit) -> None:
    toolkit.faults.add({"kind": "latency", "latency_ms": LATENCY_MS, "probability": 1})


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_client_leaving_during_injected_latency_is_recorded_at_once(tmp_path, suffix):
    sent, (entry,) = _run(tmp_path, suffix, _latency_fault)
    record = entry.record
    assert (record.status, record.error_code) == (0, "ClientDisconnected")
    assert record.latency_ms < LATENCY_MS  # the latency actually waited, not the fault's
    assert record.injected_fault == f"latency:{LATENCY_MS}ms"
    assert sent == []  # nothing written: not even a stream's 200


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_client_leaving_during_simulator_latency_is_recorded_at_once(tmp_path, suffix):
    sent, (entry,) = _run(tmp_path, suffix, lambda toolkit: None, simulator_latency=f"{LATENCY_MS}:50")
    record = entry.record
    assert (record.status, record.error_code) == (0, "ClientDisconnected")
    assert record.latency_ms < LATENCY_MS
    assert sent == []


@pytest.mark.parametrize("suffix", [b"/invoke", b"/converse-stream"])
def test_client_leaving_during_latency_leaves_the_next_turn_to_the_retry(tmp_path, suffix):
    app = create_app(Settings(data_dir=str(tmp_path)))
    toolkit = app.state.testing
    toolkit.rules.add({"respond": {"turns": ["First turn answer.", "Second turn."]}})
    toolkit.faults.add({"kind": "latency", "latency_ms": LATENCY_MS, "count": 1})

    async def leave_then_retry() -> list[dict[str, Any]]:
        assert await _call(app, suffix) == []
        return await _call(app, suffix, leave=False)

    try:
        sent = asyncio.run(leave_then_retry())
    finally:
        app.state.store.close()
    left, retry = toolkit.history.entries()
    assert (left.record.error_code, left.record.injected_fault) == ("ClientDisconnected", f"latency:{LATENCY_MS}ms")
    assert (retry.record.status, retry.rule_id) == (200, "rule-1")
    body = b"".join(message.get("body", b"") for message in sent)
    assert b"First turn" in body
