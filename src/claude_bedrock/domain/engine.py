"""The engine contract: one model call in, one stream of Anthropic streaming events out.

Every response the server renders (InvokeModel JSON, InvokeModelWithResponseStream chunks,
Converse JSON, ConverseStream events) is derived from a single stream of Anthropic streaming
events produced by an ``Engine``; renderers never talk to a model themselves. The built-in
``simulator.SimulatorEngine`` implements it, and so does the gateway's
``adapters.bedrock_upstream.BedrockUpstreamEngine`` (answers relayed from a real Bedrock).
An engine may also have ``async count_tokens(call) -> int`` (CountTokens asks it instead of
the local counter) and ``async aclose()`` (run when the server stops).

Invariants an engine must keep (checked by ``message.MessageAccumulator``):

* events are JSON-ready dicts exactly as Anthropic's streaming API defines them, in the order
  ``message_start (content_block_start content_block_delta* content_block_stop)*
  message_delta message_stop``; ``ping`` may appear anywhere after ``message_start``;
* ``message_start.message`` carries ``id = call.message_id``, ``model = call.anthropic_name`` and
  the input side of ``usage``; ``message_delta.usage.output_tokens`` is the final output count;
  ``message_delta.context_management`` is ``call.context_management`` when that is set;
* ``message_stop`` is plain ``{"type": "message_stop"}``: invocation metrics are the renderer's;
* the answer opens with a thinking block exactly when ``answer_thinks`` says so, so that the
  conversation passed back unmodified keeps the thinking-turn rule (``content_rules``).

Errors: an engine raises ``claude_bedrock.domain.errors`` exceptions (before or during the
stream); the service turns them into AWS errors or stream exception frames.

Source: wire reference sections 2.5 (event shapes) and 10 (request and response bodies).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from claude_bedrock.domain.tokens import PromptSegment

__all__ = ["INTERLEAVED_THINKING_BETA", "SETTING_HEADERS", "Engine", "ModelCall", "ReadyEvents", "StreamEvent", "answer_thinks"]

#: InvokeModel's request settings its responses report back in the same headers
#: (``InvokeModelResponse``'s ``serviceTier``, "the processing tier type used for serving the
#: request", and ``performanceConfigLatency``; Converse reports them in its body):
#: ``ModelCall.invoke_settings`` and ``served_settings`` hold them under these names.
SETTING_HEADERS = ("x-amzn-bedrock-performanceconfig-latency", "x-amzn-bedrock-service-tier")

#: One Anthropic streaming event, JSON-ready (``{"type": "message_start", ...}``).
StreamEvent = dict[str, Any]


@dataclass(slots=True)
class ModelCall:
    """Everything an engine needs for one call, already resolved and validated.

    Attributes:
        request: the validated Anthropic Messages body (``messages``, ``system``,
            ``max_tokens``, ``tools``, ``tool_choice``, ``thinking``, ``stop_sequences``,
            ``temperature``...). Engines do not validate it again.
        model_id: base Bedrock model id (``anthropic.claude-sonnet-4-5-20250929-v1:0``).
        anthropic_name: the Anthropic model name returned in ``model``.
        message_id: the response id chosen by the caller (``msg_bdrk_01...``).
        account_id: AWS account the call is billed to (partitions state such as the cache).
        region: the region that served the call (with the account, partitions the prompt cache).
        operation: the bedrock-runtime operation (``InvokeModel``, ``ConverseStream``...).
        betas: the ``anthropic_beta`` flags in force.
        input_tokens: ``tokens.count_request(request)`` when the caller already counted it
            (validation does, for the context limit), so nobody counts twice; None otherwise.
        prompt_segments: ``tokens.prompt_segments(request)`` when the caller computed them
            already (a request holding documents and a cache breakpoint: reading the documents
            takes time, so the runtime does it off the event loop), for the prompt cache; None
            otherwise.
        preserve_thinking: the model keeps the thinking blocks of earlier assistant turns in
            its context (catalog ``preserves_thinking``); how ``tokens`` counts and caches them.
        context_management: the response's ``context_management`` (``applied_edits``) when
            the request's edits were applied (``request`` is then the edited prompt), for the
            engine to put in its ``message_delta``; None otherwise.
        profile_id: the inference profile the call routes through (``global.…``, ``us.…``),
            as the catalog resolved the caller's identifier: what a gateway engine invokes
            upstream, so the upstream bills the endpoint the caller chose. Empty: ``model_id``.
        invoke_settings: the service tier and latency the caller asked for, as InvokeModel's
            headers carry them (``("x-amzn-bedrock-service-tier", "priority")``; Converse's
            ``serviceTier`` and ``performanceConfig`` too): what a gateway engine asks upstream.
        served_settings: the service tier and latency the answer was served with, in the same
            form, when the engine learns them (a gateway: its upstream's response headers),
            set before its first event; None: as asked (``invoke_settings``). Responses report
            these (InvokeModel's headers, Converse's ``serviceTier`` and ``performanceConfig``).
    """

    request: Mapping[str, Any]
    model_id: str
    anthropic_name: str
    message_id: str
    account_id: str
    region: str
    operation: str
    betas: tuple[str, ...] = ()
    input_tokens: int | None = None
    preserve_thinking: bool = False
    prompt_segments: Sequence[PromptSegment] | None = None
    context_management: Mapping[str, Any] | None = None
    profile_id: str = ""
    invoke_settings: Sequence[tuple[str, str]] = ()
    served_settings: Sequence[tuple[str, str]] | None = None


@runtime_checkable
class Engine(Protocol):
    """Produces the Anthropic streaming events answering one model call."""

    def stream(self, call: ModelCall) -> AsyncIterator[StreamEvent]:
        """Yield the events of the answer, from ``message_start`` to ``message_stop``.

        Events are read-only for consumers (an engine may hand out the same dicts again,
        e.g. from a memo of deterministic answers): copy before changing one.
        """
        ...


class ReadyEvents:
    """An answer whose events all exist already, as the async iterator ``Engine.stream``
    returns. Consumers may also take them without awaiting, one (``next_now``) or all that
    are left (``take_rest``), which saves the async-iterator round trip per event
    (``service.ready`` and the stream writer do).

    The events are ``head`` then ``tail``. An engine that hands out the same answer again
    passes its shared part as a ``tail`` tuple: once the head is taken, ``take_rest``
    returns that very tuple, so consumers may key caches of what they derive from it by its
    identity (see ``service.chunk_frames``).
    """

    __slots__ = ("_head", "_tail", "_next")

    def __init__(self, head: Sequence[StreamEvent], tail: Sequence[StreamEvent] = ()) -> None:
        self._head = head
        self._tail = tail
        self._next = 0

    def next_now(self) -> StreamEvent | None:
        """The next event, or None when there are no more."""
        index = self._next
        head = self._head
        if index < len(head):
            event = head[index]
        elif index - len(head) < len(self._tail):
            event = self._tail[index - len(head)]
        else:
            return None
        self._next = index + 1
        return event

    def take_rest(self) -> Sequence[StreamEvent]:
        """Every event not taken yet (possibly none), all at once: the tail itself once the
        head has been taken."""
        head, tail = self._head, self._tail
        start, self._next = self._next, len(head) + len(tail)
        if start >= len(head):
            return tail[start - len(head):] if start > len(head) else tail
        if not tail:
            return head[start:] if start else head
        return [*head[start:], *tail]

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        # ``async for`` runs fastest over a native async generator (it takes what is left).
        return _replay(self.take_rest())

    async def __anext__(self) -> StreamEvent:
        event = self.next_now()
        if event is None:
            raise StopAsyncIteration
        return event

    async def aclose(self) -> None:
        self._next = len(self._head) + len(self._tail)


async def _replay(events: Sequence[StreamEvent]) -> AsyncIterator[StreamEvent]:
    for event in events:
        yield event


#: The beta under which Claude also thinks after tool results ("Extended thinking", interleaved thinking).
INTERLEAVED_THINKING_BETA = "interleaved-thinking-2025-05-14"


def answer_thinks(call: ModelCall, answers_tool_results: bool) -> bool:
    """Whether the answer to ``call`` opens with a thinking block: with ``thinking.type``
    ``enabled`` or ``adaptive``, except in answer to tool results (``answers_tool_results``)
    without the interleaved-thinking beta, where Claude goes on from the turn's first thinking."""
    if (call.request.get("thinking") or {}).get("type") not in ("enabled", "adaptive"):
        return False
    return (not answers_tool_results or INTERLEAVED_THINKING_BETA in call.betas
            or INTERLEAVED_THINKING_BETA in (call.request.get("anthropic_beta") or ()))


#: Operations whose output is rendered whole, not streamed: engines may merge deltas for them.
NON_STREAMING_OPERATIONS = frozenset({"InvokeModel", "Converse"})


def answer_start(call: ModelCall, usage: Mapping[str, Any]) -> StreamEvent:
    """The ``message_start`` event of an answer to ``call``, with the input ``usage``."""
    message = {
        "model": call.anthropic_name,
        "id": call.message_id,
        "type": "message",
        "role": "assistant",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    return {"type": "message_start", "message": message}


def answer_end(*, stop_reason: str, stop_sequence: str | None, output_tokens: int,
               context_management: Mapping[str, Any] | None = None) -> list[StreamEvent]:
    """The ``message_delta`` and ``message_stop`` events that end an answer; the
    ``message_delta`` carries ``context_management`` when given ("Context editing": "For
    streaming responses, the context edits will be included in the final ``message_delta``
    event")."""
    delta: StreamEvent = {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence},
        "usage": {"output_tokens": output_tokens},
    }
    if context_management is not None:
        delta["context_management"] = context_management
    return [delta, {"type": "message_stop"}]


def frame_answer(
    call: ModelCall,
    usage: Mapping[str, Any],
    content: Sequence[StreamEvent],
    *,
    stop_reason: str,
    stop_sequence: str | None,
    output_tokens: int,
) -> list[StreamEvent]:
    """The whole event stream of an answer: ``message_start`` (with the input ``usage``), the
    content block events, ``message_delta`` and ``message_stop``. Every engine frames its
    content the same way (these three functions), so every renderer sees the same shape."""
    return [
        answer_start(call, usage),
        *content,
        *answer_end(stop_reason=stop_reason, stop_sequence=stop_sequence, output_tokens=output_tokens),
    ]
