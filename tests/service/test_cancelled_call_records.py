"""Review regression: a call cancelled before its response is complete (uvicorn cancels the
requests still running when the graceful-shutdown timeout expires, or at a second Ctrl-C) was
recorded, and invocation-logged, as a complete 200 with no tokens, even when part of a stream
had reached the client. (What the client then gets: test_shutdown_answers.)"""

from __future__ import annotations

import asyncio
import json
from typing import Any, AsyncIterator

import pytest

from claude_bedrock.domain.engine import ModelCall
from claude_bedrock.domain.simulator import LatencyProfile, SimulatorEngine
from claude_bedrock.service.app import create_app
from claude_bedrock.service.state import ServiceState
from claude_bedrock.settings import Settings

MODEL = b"/model/anthropic.claude-3-haiku-20240307-v1%3A0"
INVOKE_BODY = json.dumps({"max_tokens": 1000, "messages": [{"role": "user", "content": "Tell me a story"}],
                          "anthropic_version": "bedrock-2023-05-31"}).encode()
CONVERSE_BODY = json.dumps({"messages": [{"role": "user", "content": [{"text": "Tell me a story"}]}]}).encode()


class StallingEngine:
    """The simulator's first ``events_before_stall`` events, then waits forever."""

    def __init__(self, events_before_stall: int) -> None:
        self.inner = SimulatorEngine(seed=0, clock=lambda: 0.0)
        self.events_before_stall = events_before_stall
        self.stalled = asyncio.Event()

    async def stream(self, call: ModelCall) -> AsyncIterator[dict[str, Any]]:
        for event in self.inner.events(call)[: self.events_before_stall]:
            yield event
        self.stalled.set()
        await asyncio.Event().wait()


class PacedStall:
    """The simulator paced by ``--simulator-latency`` whose ``sleeps_before_stall``-th sleep
    never ends: the model has produced a part of its answer, at the same simulated time
    whatever the operation."""

    def __init__(self, sleeps_before_stall: int) -> None:
        self.sleeps_before_stall = sleeps_before_stall
        self.stalled = asyncio.Event()
        self.inner = SimulatorEngine(seed=0, clock=lambda: 0.0, latency=LatencyProfile(0.0, 10.0), sleep=self._sleep)

    async def _sleep(self, seconds: float) -> None:
        self.sleeps_before_stall -= 1
        if self.sleeps_before_stall <= 0:
            self.stalled.set()
            await asyncio.Event().wait()

    def stream(self, call: ModelCall) -> AsyncIterator[dict[str, Any]]:
        return self.inner.stream(call)


async def _cancel_mid_call(tmp_path, suffix: bytes, events_before_stall: int, engine: Any = None) -> list[Any]:
    engine = engine or StallingEngine(events_before_stall)
    state = ServiceState(Settings(data_dir=str(tmp_path)), engine=engine)
    app = create_app(state=state)
    records: list[Any] = []
    state.observers.append(records.append)
    scope = {"type": "http", "method": "POST", "path": (MODEL + suffix).decode(), "raw_path": MODEL + suffix,
             "query_string": b"", "headers": [(b"authorization", b"Bearer dev"), (b"host", b"localhost")],
             "client": ("127.0.0.1", 5000)}
    body = CONVERSE_BODY if suffix.startswith(b"/converse") else INVOKE_BODY
    bodies = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        if bodies:
            return bodies.pop()
        await asyncio.Event().wait()  # the client stays
        raise AssertionError  # pragma: no cover

    async def send(message: dict[str, Any]) -> None:
        pass

    task = asyncio.ensure_future(app(scope, receive, send))
    stalled = asyncio.ensure_future(engine.stalled.wait())
    await asyncio.wait([stalled, task], return_when=asyncio.FIRST_COMPLETED)  # a call may end first
    stalled.cancel()
    task.cancel()
    await task  # recorded, then a quiet return: raised, uvicorn would log it with a traceback
    state.store.close()
    return records


@pytest.mark.parametrize("suffix", [b"/invoke", b"/invoke-with-response-stream"])
def test_cancelled_call_is_recorded_as_what_it_answered_not_as_200(tmp_path, suffix):
    # Recorded as the 503 a whole call is answered, or the exception frame a stream ends with
    # (test_shutdown_answers); this asserted Cancelled with status 0, when the client got
    # uvicorn's plain-text 500.
    (record,) = asyncio.run(_cancel_mid_call(tmp_path, suffix, events_before_stall=3))
    assert record.status == 503
    assert record.error_code == "ServiceUnavailableException"
    assert record.latency_ms is not None


def test_cancelled_stream_records_what_was_sent(tmp_path):
    (record,) = asyncio.run(_cancel_mid_call(tmp_path, b"/invoke-with-response-stream", events_before_stall=3))
    assert record.streamed
    assert record.usage["inputTokens"] > 0
    assert [event["type"] for event in record.output_body][:1] == ["message_start"]


def test_cancelled_lifespan_returns_quietly(tmp_path):
    """A forced exit (second Ctrl-C) cancels the lifespan while it waits for the shutdown
    message; ``server.serve`` runs the shutdown hooks after that, so the app just returns."""
    app = create_app(Settings(data_dir=str(tmp_path)))
    messages = [{"type": "lifespan.startup"}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await asyncio.Event().wait()
        raise AssertionError  # pragma: no cover

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    async def run() -> None:
        task = asyncio.ensure_future(app({"type": "lifespan"}, receive, send))
        while not sent:
            await asyncio.sleep(0)
        task.cancel()
        await task
        await app.shutdown()

    sent: list[str] = []
    asyncio.run(run())
    assert sent == ["lifespan.startup.complete"]


@pytest.mark.parametrize("suffix", [b"/invoke", b"/converse"])
def test_cancelled_whole_answer_records_the_tokens_produced(tmp_path, suffix):
    # A whole answer cut short is billed, as a stream cut short is, for what the model had
    # produced: its input and the output of the deltas before the cut (here one text delta).
    (record,) = asyncio.run(_cancel_mid_call(tmp_path, suffix, events_before_stall=3))
    assert record.error_code == "ServiceUnavailableException"
    assert record.usage["inputTokens"] > 0
    assert record.usage["outputTokens"] >= 1


@pytest.mark.parametrize(("whole", "streamed"), [(b"/invoke", b"/invoke-with-response-stream"),
                                                 (b"/converse", b"/converse-stream")])
def test_audit_whole_answer_cut_under_simulated_latency_bills_what_a_stream_bills(tmp_path, whole, streamed):
    # With --simulator-latency, a whole answer's text came as one merged delta paced for all
    # its tokens: cut after 12 s at 5 tokens/s (SIGTERM), an InvokeModel was billed 1 output
    # token where the same stream cut at the same time was billed the 60 it had produced.
    records = {suffix: asyncio.run(_cancel_mid_call(tmp_path / suffix.decode().strip("/"), suffix, 0,
                                                    engine=PacedStall(sleeps_before_stall=6)))[0]
               for suffix in (whole, streamed)}
    produced = records[streamed].usage["outputTokens"]
    assert produced > 1
    assert records[whole].error_code == "ServiceUnavailableException"
    assert records[whole].usage["outputTokens"] == produced
