"""Decode whole (non-streamed) responses into result types or typed errors, sans-I/O.

Purpose: a ``Reply`` (status, headers, body bytes) becomes the operation's result or the
``APIStatusError`` it means. Streams are ``streams``'s job.

Invariants:
  * Rule 1 - the error class comes from the HTTP status (``errors.status_error_class``, as
    the Anthropic SDKs do); the AWS code is read as botocore reads it: ``x-amzn-ErrorType``,
    else body ``code`` / ``Code`` / ``__type``, trimmed at the first ``:`` and after the
    last ``#`` (wire-protocol reference 3.1). STS errors are query-XML (reference 5).
  * Rule 2 - a 2xx body that is not what the operation returns raises
    ``APIResponseValidationError``, never ``KeyError`` / ``ValueError``.
  * Rule 3 - ``headers`` is any mapping whose ``get`` is case-insensitive or lower-case
    (``httpx.Headers`` or a dict with lower-case names).

Source: wire-protocol reference 1.2 (token/latency headers), 1.4, 1.6, 3.1-3.4, 4.1-4.2, 5.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from claude_bedrock.client.errors import APIResponseValidationError, APIStatusError, status_error_class
from claude_bedrock.client.types import (
    CallerIdentity,
    ConverseResponse,
    ConverseUsage,
    FoundationModel,
    InvocationMetrics,
    Message,
    MessageTokensCount,
    ModelList,
    message_from_dict,
)

if TYPE_CHECKING:
    from claude_bedrock.client.core import ModelChoice
    from claude_bedrock.domain.catalog import Catalog

__all__ = [
    "Reply", "request_id_of", "aws_error_code", "error_from_reply", "error_from_xml_reply",
    "parse_message", "parse_count_tokens", "parse_model_list", "parse_model", "parse_converse",
    "parse_caller_identity", "foundation_model",
]  # fmt: skip

_STS_RESULT = "GetCallerIdentityResult"


@dataclass(frozen=True, slots=True)
class Reply:
    """A complete HTTP response."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def request_id_of(headers: Mapping[str, str]) -> str | None:
    """``x-amzn-RequestId`` (botocore falls back to ``x-amz-request-id``)."""
    return headers.get("x-amzn-requestid") or headers.get("x-amz-request-id")


def _trim_code(code: str) -> str:
    return code.split(":", 1)[0].rsplit("#", 1)[-1].strip()


def aws_error_code(headers: Mapping[str, str], body: Any) -> str | None:
    """The AWS error code, botocore's way (Rule 1)."""
    error_type = headers.get("x-amzn-errortype")
    if error_type:
        return _trim_code(error_type)
    if isinstance(body, dict):
        for key in ("code", "Code", "__type"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return _trim_code(value)
    return None


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def error_from_reply(reply: Reply) -> APIStatusError:
    """The typed error for a rest-json error response (bedrock-runtime, bedrock)."""
    text = reply.body.decode("utf-8", "replace")
    body: Any
    try:
        body = json.loads(text) if text.strip() else None
    except ValueError:
        body = text
    if isinstance(body, dict):
        message = body.get("message") or body.get("Message") or ""
    else:
        message = text.strip() if isinstance(body, str) and not text.lstrip().startswith("<") else ""
    message = str(message) or _reason(reply.status)
    cls = status_error_class(reply.status)
    return cls(
        message,
        status_code=reply.status,
        code=aws_error_code(reply.headers, body) or (None if reply.status < 500 else str(reply.status)),
        request_id=request_id_of(reply.headers),
        body=body,
        headers=reply.headers,
    )


def _xml_text(root: Any, name: str) -> str | None:
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == name:
            return (element.text or "").strip()
    return None


def _xml_root(reply: Reply) -> Any:
    from xml.etree import ElementTree

    try:
        return ElementTree.fromstring(reply.body)
    except ElementTree.ParseError:
        return None


def error_from_xml_reply(reply: Reply) -> APIStatusError:
    """The typed error for a query-XML (STS) error response."""
    root = _xml_root(reply)
    code = _xml_text(root, "Code") if root is not None else None
    message = (_xml_text(root, "Message") if root is not None else None) or _reason(reply.status)
    request_id = (_xml_text(root, "RequestId") if root is not None else None) or request_id_of(reply.headers)
    cls = status_error_class(reply.status)
    return cls(
        message, status_code=reply.status, code=code, request_id=request_id,
        body=reply.body.decode("utf-8", "replace"), headers=reply.headers,
    )  # fmt: skip


def _json_object(reply: Reply, operation: str) -> dict[str, Any]:
    try:
        data = json.loads(reply.body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise APIResponseValidationError(
            f"{operation}: the response body is not a JSON object.",
            status_code=reply.status,
            request_id=request_id_of(reply.headers),
        )
    return data


def _int_header(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _header_metrics(headers: Mapping[str, str]) -> InvocationMetrics | None:
    latency = _int_header(headers, "x-amzn-bedrock-invocation-latency")
    input_count = _int_header(headers, "x-amzn-bedrock-input-token-count")
    output_count = _int_header(headers, "x-amzn-bedrock-output-token-count")
    if latency is None and input_count is None and output_count is None:
        return None
    return InvocationMetrics(
        input_token_count=input_count,
        output_token_count=output_count,
        invocation_latency=latency,
        cache_read_input_token_count=_int_header(headers, "x-amzn-bedrock-cache-read-input-token-count"),
        cache_write_input_token_count=_int_header(headers, "x-amzn-bedrock-cache-write-input-token-count"),
    )


def parse_message(reply: Reply, choice: ModelChoice) -> Message:
    """InvokeModel: the Anthropic Message JSON body plus Bedrock's headers."""
    data = _json_object(reply, "InvokeModel")
    if data.get("type") not in (None, "message") or not isinstance(data.get("content"), list):
        raise APIResponseValidationError(
            "InvokeModel: the body is not an Anthropic message.",
            status_code=reply.status,
            request_id=request_id_of(reply.headers),
        )
    return message_from_dict(
        data,
        request_id=request_id_of(reply.headers),
        pricing=choice.pricing,
        bedrock_model_id=choice.model_id,
        invocation_metrics=_header_metrics(reply.headers),
    )


def parse_count_tokens(reply: Reply) -> MessageTokensCount:
    data = _json_object(reply, "CountTokens")
    count = data.get("inputTokens")
    if not isinstance(count, int):
        raise APIResponseValidationError("CountTokens: no integer inputTokens in the response.",
                                         status_code=reply.status, request_id=request_id_of(reply.headers))
    return MessageTokensCount(count, request_id_of(reply.headers))


def foundation_model(summary: Mapping[str, Any], catalog: Catalog | None) -> FoundationModel:
    """A ``FoundationModel`` from one summary/details object, with the catalog's view."""
    model_id = str(summary.get("modelId", ""))
    known = catalog.get(model_id) if catalog is not None else None
    lifecycle = summary.get("modelLifecycle")
    return FoundationModel(
        model_id=model_id,
        model_arn=str(summary.get("modelArn", "")),
        model_name=str(summary.get("modelName", "")),
        provider_name=str(summary.get("providerName", "")),
        lifecycle_status=str(lifecycle.get("status", "")) if isinstance(lifecycle, dict) else "",
        input_modalities=tuple(summary.get("inputModalities") or ()),
        output_modalities=tuple(summary.get("outputModalities") or ()),
        response_streaming_supported=bool(summary.get("responseStreamingSupported", False)),
        inference_types_supported=tuple(summary.get("inferenceTypesSupported") or ()),
        raw=dict(summary),
        alias=known.alias if known is not None else None,
        availability=dict(known.availability) if known is not None else None,
        deprecated_on=known.deprecated_on if known is not None else None,
    )


def parse_model_list(reply: Reply, catalog: Catalog | None) -> ModelList:
    data = _json_object(reply, "ListFoundationModels")
    summaries = data.get("modelSummaries")
    if not isinstance(summaries, list):
        raise APIResponseValidationError("ListFoundationModels: no modelSummaries list.",
                                         status_code=reply.status, request_id=request_id_of(reply.headers))
    models = tuple(foundation_model(s, catalog) for s in summaries if isinstance(s, dict))
    return ModelList(models, request_id_of(reply.headers))


def parse_model(reply: Reply, catalog: Catalog | None) -> FoundationModel:
    data = _json_object(reply, "GetFoundationModel")
    details = data.get("modelDetails")
    if not isinstance(details, dict):
        raise APIResponseValidationError("GetFoundationModel: no modelDetails object.",
                                         status_code=reply.status, request_id=request_id_of(reply.headers))
    return foundation_model(details, catalog)


def parse_converse(reply: Reply, choice: ModelChoice) -> ConverseResponse:
    data = _json_object(reply, "Converse")
    output = data.get("output")
    message = output.get("message") if isinstance(output, dict) else None
    if not isinstance(message, dict):
        raise APIResponseValidationError("Converse: no output.message in the response.",
                                         status_code=reply.status, request_id=request_id_of(reply.headers))
    metrics = data.get("metrics")
    latency = metrics.get("latencyMs") if isinstance(metrics, dict) else None
    return ConverseResponse(
        output_message=message,
        stop_reason=data.get("stopReason"),
        usage=ConverseUsage.from_dict(data.get("usage")),
        latency_ms=latency if isinstance(latency, int) else None,
        raw=data,
        request_id=request_id_of(reply.headers),
        bedrock_model_id=choice.model_id,
        pricing=choice.pricing,
    )


def parse_caller_identity(reply: Reply) -> CallerIdentity:
    root = _xml_root(reply)
    values = {name: _xml_text(root, name) if root is not None else None for name in ("Account", "Arn", "UserId")}
    if root is None or _xml_text(root, _STS_RESULT) is None or not all(values.values()):
        raise APIResponseValidationError("GetCallerIdentity: not a GetCallerIdentityResponse document.",
                                         status_code=reply.status, request_id=request_id_of(reply.headers))
    return CallerIdentity(
        account=values["Account"] or "",
        arn=values["Arn"] or "",
        user_id=values["UserId"] or "",
        request_id=_xml_text(root, "RequestId") or request_id_of(reply.headers),
    )
