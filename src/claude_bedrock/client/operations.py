"""Each client operation as data the shells run: the request, and how to read its reply.

Purpose: the one place that pairs a request builder of ``core`` with its reply parser
(``responses``) or stream decoder (``streams``), so ``sync`` and ``aio`` stay thin: a resource
method asks for a ``Call`` and hands it to its driver. Also builds what every client owns
(``client_parts``: resolved config, ``ClientCore``, ``RetryPolicy``).

Invariants:
  * Rule 1 - no I/O: the environment and the shared-files loader are arguments.
  * Rule 2 - the model is chosen (and refused, and warned about) when the ``Call`` is built,
    i.e. before any request. ``warn_stacklevel`` is 1 when the caller's own code calls these
    functions, 2 through a resource method (``ModelDeprecationWarning`` points at the caller).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from claude_bedrock.client import responses
from claude_bedrock.client.config import AwsFiles, resolve_config
from claude_bedrock.client.core import ClientCore, EndpointChoice, ModelChoice, PreparedRequest
from claude_bedrock.client.errors import APIStatusError, ConfigurationError
from claude_bedrock.client.flow import StreamInfo, call_flow, stream_flow
from claude_bedrock.client.retry import RetryPolicy

__all__ = [
    "Call", "client_parts", "with_max_retries", "invoke", "relay", "relay_count_tokens", "count_tokens", "converse", "list_models", "get_model", "whoami",
    "message_accumulator", "converse_accumulator", "StreamInfo", "call_flow", "stream_flow",
]  # fmt: skip

@dataclass(frozen=True, slots=True)
class Call:
    """One operation ready to run: ``parse`` for a whole reply, or ``decoder`` for a stream."""

    request: PreparedRequest
    parse: Callable[[responses.Reply], Any] | None = None
    decoder: Callable[[str | None], Any] | None = None
    error_of: Callable[[responses.Reply], APIStatusError] = responses.error_from_reply
    choice: ModelChoice | None = None


def client_parts(
    *,
    env: Mapping[str, str],
    load_files: Callable[[], AwsFiles],
    endpoint: EndpointChoice | None,
    default_headers: Mapping[str, str] | None,
    max_retries: int,
    retry: RetryPolicy | None,
    **credentials: Any,
) -> tuple[ClientCore, RetryPolicy]:
    """The core and retry policy of a new client (``credentials``: the constructor's
    ``aws_*``, ``api_key`` and ``base_url`` arguments)."""
    _check_max_retries(max_retries)
    config = resolve_config(env=env, load_files=load_files, **credentials)
    core = ClientCore(config, endpoint=endpoint, default_headers=default_headers)
    return core, retry or RetryPolicy(uniform=random.Random().uniform, max_retries=max_retries)


def with_max_retries(policy: RetryPolicy, max_retries: int) -> RetryPolicy:
    """``policy`` allowing ``max_retries`` retries (``with_options(max_retries=...)``)."""
    _check_max_retries(max_retries)
    return dataclasses.replace(policy, max_retries=max_retries)


def _check_max_retries(max_retries: object) -> None:
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ConfigurationError(f"max_retries must be an integer of at least 0, not {max_retries!r}")


def _choose(core: ClientCore, model: str, endpoint: EndpointChoice | None, warn_stacklevel: int) -> ModelChoice:
    # Two frames more than the public function of this module: itself and this helper.
    return core.choose_model(model, endpoint, warn_stacklevel=warn_stacklevel + 2)


def invoke(
    core: ClientCore,
    *,
    model: str,
    endpoint: EndpointChoice | None,
    body: Mapping[str, Any],
    stream: bool,
    betas: Sequence[str] | None,
    extra_headers: Mapping[str, str] | None,
    extra_body: Mapping[str, Any] | None,
    warn_stacklevel: int = 1,
) -> Call:
    """InvokeModel (parse to ``Message``) or InvokeModelWithResponseStream (decode events)."""
    choice = _choose(core, model, endpoint, warn_stacklevel)
    request = core.invoke_request(choice, body, stream=stream, betas=betas, extra_headers=extra_headers,
                                  extra_body=extra_body)
    if stream:
        from claude_bedrock.client.streams import InvokeStreamDecoder

        return Call(request, decoder=InvokeStreamDecoder, choice=choice)
    return Call(request, parse=lambda reply: responses.parse_message(reply, choice), choice=choice)


def relay(core: ClientCore, *, model_id: str, body: Mapping[str, Any], betas: Sequence[str],
          headers: Sequence[tuple[str, str]] = ()) -> Call:
    """InvokeModelWithResponseStream for a model ID taken as it is, with these extra
    ``headers``, its events left as JSON objects (the server's gateway relays them)."""
    from claude_bedrock.client.streams import RawInvokeStreamDecoder

    request = core.invoke_request_for(model_id, body, stream=True, betas=betas, extra_headers=dict(headers))
    return Call(request, decoder=RawInvokeStreamDecoder)


def relay_count_tokens(core: ClientCore, *, model_id: str, body: Mapping[str, Any], betas: Sequence[str],
                       headers: Sequence[tuple[str, str]] = ()) -> Call:
    """CountTokens for a bare model ID taken as it is (``body`` with its ``max_tokens``), with
    these extra ``headers``."""
    request = core.count_tokens_request_for(model_id, body, betas=betas, extra_headers=dict(headers))
    return Call(request, parse=responses.parse_count_tokens)


def count_tokens(
    core: ClientCore,
    *,
    model: str,
    endpoint: EndpointChoice | None,
    body: Mapping[str, Any],
    betas: Sequence[str] | None,
    extra_headers: Mapping[str, str] | None,
    extra_body: Mapping[str, Any] | None,
    warn_stacklevel: int = 1,
) -> Call:
    """CountTokens of the InvokeModel body these arguments make (parse to ``MessageTokensCount``)."""
    choice = _choose(core, model, endpoint, warn_stacklevel)
    request = core.count_tokens_request(choice, body, betas=betas, extra_headers=extra_headers,
                                        extra_body=extra_body)
    return Call(request, parse=responses.parse_count_tokens, choice=choice)


def converse(
    core: ClientCore,
    *,
    model: str,
    endpoint: EndpointChoice | None,
    fields: Mapping[str, Any],
    stream: bool,
    extra_headers: Mapping[str, str] | None,
    extra_body: Mapping[str, Any] | None,
    warn_stacklevel: int = 1,
) -> Call:
    """Converse (parse to ``ConverseResponse``) or ConverseStream (decode events)."""
    choice = _choose(core, model, endpoint, warn_stacklevel)
    request = core.converse_request(choice, fields, stream=stream, extra_headers=extra_headers,
                                    extra_body=extra_body)
    if stream:
        from claude_bedrock.client.streams import ConverseStreamDecoder

        return Call(request, decoder=ConverseStreamDecoder, choice=choice)
    return Call(request, parse=lambda reply: responses.parse_converse(reply, choice), choice=choice)


def list_models(core: ClientCore, by_provider: str | None, filters: Mapping[str, str]) -> Call:
    request = core.list_models_request(by_provider, **filters)
    return Call(request, parse=lambda reply: responses.parse_model_list(reply, core.catalog))


def get_model(core: ClientCore, model: str) -> Call:
    """GetFoundationModel; an alias or profile ID is reduced to the bare model ID first
    (whatever the endpoint availability from this region: this is a look-up, not a call)."""
    found = core.catalog.find(model)
    model_id = found.model_id if found is not None else core.base_model_id(core.choose_model(model))
    return Call(core.get_model_request(model_id), parse=lambda reply: responses.parse_model(reply, core.catalog))


def whoami(core: ClientCore) -> Call:
    return Call(core.caller_identity_request(), parse=responses.parse_caller_identity,
                error_of=responses.error_from_xml_reply)


def message_accumulator(call: Call, request_id: str | None) -> Any:
    """A ``streams.MessageAccumulator`` pricing the reply of ``call``."""
    from claude_bedrock.client.streams import MessageAccumulator

    choice = call.choice
    return MessageAccumulator(pricing=choice.pricing if choice else None,
                              bedrock_model_id=choice.model_id if choice else None, request_id=request_id)


def converse_accumulator(call: Call, request_id: str | None) -> Any:
    from claude_bedrock.client.streams import ConverseAccumulator

    choice = call.choice
    return ConverseAccumulator(pricing=choice.pricing if choice else None,
                               bedrock_model_id=choice.model_id if choice else None, request_id=request_id)
