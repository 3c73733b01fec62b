"""Model invocation log records (AWS ``ModelInvocationLog`` schema 1.0) built from what a call did.

Pure: the caller passes the call, the ``loggingConfig`` snapshot, the cost and every id or
timestamp; nothing here reads a clock, draws a random number or touches a file.

Record layout (docs/catalog-facts.md "Invocation logging"; wire-protocol reference 4.5)::

    {"schemaType": "ModelInvocationLog", "schemaVersion": "1.0",
     "timestamp": "2026-11-26T18:00:00Z", "accountId", "identity": {"arn"}, "region",
     "requestId", "operation", "modelId",                    # modelId exactly as sent
     "errorCode"?,                                           # failed calls only
     "input":  {"inputContentType", "inputBodyJson" | "inputBodyS3Path", "inputTokenCount",
                "cacheReadInputTokenCount", "cacheWriteInputTokenCount"},
     "output": {"outputContentType", "outputBodyJson" | "outputBodyS3Path", "outputTokenCount"},
     "inferenceRegion"?,                                     # a profile routed the call elsewhere
     "requestMetadata"?,                                     # when the caller sent some
     "claudeBedrock": {...}}                                 # our extension, see EXTENSION_KEY

Invariants
    Rule 1: the call's bodies are never mutated; redaction (image data) works on copies.
    Rule 2: ``textDataDeliveryEnabled`` false (or absent) omits both bodies; token counts stay.
            ``imageDataDeliveryEnabled`` false (or absent) removes the base64 payload of every
            image and document block from the logged input (AWS: "any image or document data
            that you pass is logged ... if you have enabled ... image logging"):
            ``source.data`` of an Anthropic ``image`` or ``document`` block (not of a plain-text
            document), ``source.bytes`` of a Converse ``image`` or ``document`` block; the
            block's other members remain.
    Rule 3: a body whose compact JSON encoding is larger than ``LARGE_BODY_BYTES`` (100 KB), or
            a body that is not JSON at all (binary), goes to its own data object under the
            ``data`` prefix of the overflow location and the record carries ``inputBodyS3Path``
            / ``outputBodyS3Path`` instead. Without an overflow location (CloudWatch with no
            ``largeDataDeliveryS3Config``) a large JSON body stays inline and a binary body is
            omitted (``claudeBedrock.inputBodyOmitted = "binary"``).
    Rule 4: an InvokeModelWithResponseStream output is logged as the list of chunks that were
            sent, in order; a ConverseStream output as the Converse response its events add up
            to (``logged_output``), as AWS logs it, or as its events when it was cut short.
    Rule 5: keys are deterministic: batch objects are named from the timestamp and hex id the
            caller passes; data objects from the request id.

S3 key layout (catalog-facts)::

    <prefix>/AWSLogs/<account>/BedrockModelInvocationLogs/<region>/YYYY/MM/DD/HH/<YYYYMMDDTHHmmssSSSZ>_<hex>.json.gz
    <prefix>/AWSLogs/<account>/BedrockModelInvocationLogs/<region>/data/YYYY/MM/DD/HH/<requestId>_input.json.gz
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal, Protocol

from claude_bedrock.domain.catalog import CatalogModel
from claude_bedrock.domain.json_body import exact_fast_loads, json_bytes
from claude_bedrock.domain.pricing import Cost, cost, plain

__all__ = [
    "CLOUDWATCH_LOG_STREAM",
    "EXTENSION_KEY",
    "LARGE_BODY_BYTES",
    "SCHEMA_TYPE",
    "SCHEMA_VERSION",
    "CallFacts",
    "DataObject",
    "DeliveryConfig",
    "PlannedDelivery",
    "PlannedRecord",
    "S3Location",
    "batch_object_key",
    "call_cost",
    "cost_json",
    "input_body_of",
    "iso_timestamp",
    "plan_deliveries",
    "plan_record",
    "strip_image_data",
]

SCHEMA_TYPE = "ModelInvocationLog"
SCHEMA_VERSION = "1.0"
#: Bodies whose compact JSON encoding is larger than this go to a data object (AWS: "over 100 KB").
LARGE_BODY_BYTES = 100 * 1024
#: The log stream Bedrock writes to in the configured log group.
CLOUDWATCH_LOG_STREAM = "aws/bedrock/modelinvocations"
#: Our extension member; everything under it is claude-bedrock's, not AWS's.
EXTENSION_KEY = "claudeBedrock"
#: The runtime operations that produce records (CountTokens does not, as on AWS).

_LOG_FOLDER = "BedrockModelInvocationLogs"
Part = Literal["input", "output"]


class CallFacts(Protocol):
    """What a record is built from (``service.calls.CallRecord`` satisfies it)."""

    request_id: str
    operation: str
    account_id: str
    region: str
    identity_arn: str
    model_id: str
    started_at: float
    resolved_model_id: str | None
    endpoint_type: str | None
    geography: str | None
    inference_region: str | None
    status: int
    error_code: str | None
    error_message: str | None
    latency_ms: int
    first_byte_ms: int | None
    input_body: Any
    input_bytes: bytes | None
    input_content_type: str
    output_body: Any
    logged_output: Any
    output_content_type: str
    streamed: bool
    usage: dict[str, int]
    request_metadata: dict[str, str] | None
    injected_fault: str | None


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True, slots=True)
class S3Location:
    """A bucket and key prefix (botocore ``S3Config``)."""

    bucket: str
    key_prefix: str = ""

    def log_root(self, account_id: str, region: str) -> str:
        """``<prefix>/AWSLogs/<account>/BedrockModelInvocationLogs/<region>`` (no slash at either end)."""
        parts = [p for p in self.key_prefix.strip("/").split("/") if p]
        parts += ["AWSLogs", account_id, _LOG_FOLDER, region]
        return "/".join(parts)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    """The delivery-relevant part of a stored ``loggingConfig``."""

    s3: S3Location | None = None
    log_group: str | None = None
    #: ``cloudWatchConfig.largeDataDeliveryS3Config``: where CloudWatch's large bodies go.
    large_data: S3Location | None = None
    text: bool = False
    image: bool = False

    @classmethod
    def from_logging_config(cls, config: Mapping[str, Any]) -> DeliveryConfig:
        """Read a validated ``loggingConfig`` (as stored by PutModelInvocationLoggingConfiguration).

        Absent delivery flags count as false, as an unset boolean member does on AWS.
        """
        s3 = _location(config.get("s3Config"))
        cloudwatch = config.get("cloudWatchConfig") or {}
        return cls(
            s3=s3,
            log_group=cloudwatch.get("logGroupName") or None,
            large_data=_location(cloudwatch.get("largeDataDeliveryS3Config")),
            text=bool(config.get("textDataDeliveryEnabled", False)),
            image=bool(config.get("imageDataDeliveryEnabled", False)),
        )

    @property
    def enabled(self) -> bool:
        return self.s3 is not None or self.log_group is not None


def _location(value: Any) -> S3Location | None:
    if not isinstance(value, Mapping) or not value.get("bucketName"):
        return None
    return S3Location(str(value["bucketName"]), str(value.get("keyPrefix") or ""))


# --------------------------------------------------------------------------- naming


def _utc(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, tz=timezone.utc)


def iso_timestamp(epoch_s: float) -> str:
    """``2026-11-26T18:00:00Z``: ISO 8601 UTC, whole seconds, as AWS writes ``timestamp``."""
    return _utc(epoch_s).strftime("%Y-%m-%dT%H:%M:%SZ")


def _hour_folder(moment: datetime) -> str:
    return moment.strftime("%Y/%m/%d/%H")


def batch_object_key(location: S3Location, account_id: str, region: str, epoch_s: float, hex_id: str) -> str:
    """The key of one gzipped batch of records written at ``epoch_s``."""
    moment = _utc(epoch_s)
    stamp = moment.strftime("%Y%m%dT%H%M%S") + f"{moment.microsecond // 1000:03d}Z"
    return f"{location.log_root(account_id, region)}/{_hour_folder(moment)}/{stamp}_{hex_id}.json.gz"


def data_object_key(
    location: S3Location, account_id: str, region: str, epoch_s: float, request_id: str, part: Part, binary: bool
) -> str:
    """The key of one large or binary body (``<requestId>_input.json.gz`` under ``data/``)."""
    suffix = "bin.gz" if binary else "json.gz"
    folder = _hour_folder(_utc(epoch_s))
    return f"{location.log_root(account_id, region)}/data/{folder}/{request_id}_{part}.{suffix}"


# --------------------------------------------------------------------------- redaction


#: The blocks whose payload ``imageDataDeliveryEnabled`` governs (Anthropic ``type``, Converse member).
_MEDIA_BLOCKS = ("image", "document")


def strip_image_data(body: Any) -> Any:
    """A copy of ``body`` without image or document payloads (Rule 2); other values are shared,
    not copied."""
    if isinstance(body, list):
        return [strip_image_data(item) for item in body]
    if not isinstance(body, dict):
        return body
    out: dict[str, Any] = {}
    for key, value in body.items():
        if (key == "source" and isinstance(value, dict) and body.get("type") in _MEDIA_BLOCKS
                and value.get("type") != "text"):  # a plain-text document's data is text
            # Anthropic image / document; a content document's blocks may hold images
            out[key] = {k: strip_image_data(v) for k, v in value.items() if k != "data"}
        elif key in _MEDIA_BLOCKS and isinstance(value, dict) and isinstance(value.get("source"), dict):
            block = dict(value)  # Converse ImageBlock / DocumentBlock
            block["source"] = {k: v for k, v in value["source"].items() if k != "bytes"}
            out[key] = block
        else:
            out[key] = strip_image_data(value)
    return out


# --------------------------------------------------------------------------- cost


def call_cost(call: CallFacts, model: CatalogModel | None) -> Cost | None:
    """The call's exact cost from the catalog prices, or None when the model was not resolved.

    Cache writes without a TTL breakdown count as 5-minute writes (the default TTL). A
    CountTokens call costs nothing: "Using the CountTokens API doesn't incur charges" (Bedrock
    user guide, count-tokens); its tokens are counted, not billed.
    """
    if model is None or call.endpoint_type not in ("global", "regional"):
        return None
    usage = {} if call.operation == "CountTokens" else call.usage or {}
    write_5m = int(usage.get("cacheWrite5mInputTokens", 0) or 0)
    write_1h = int(usage.get("cacheWrite1hInputTokens", 0) or 0)
    write_total = int(usage.get("cacheWriteInputTokens", 0) or 0)
    if write_total > write_5m + write_1h:
        write_5m = write_total - write_1h
    return cost(
        model,
        endpoint_type=call.endpoint_type,  # type: ignore[arg-type]
        input_tokens=int(usage.get("inputTokens", 0) or 0),
        output_tokens=int(usage.get("outputTokens", 0) or 0),
        cache_write_5m_tokens=write_5m,
        cache_write_1h_tokens=write_1h,
        cache_read_tokens=int(usage.get("cacheReadInputTokens", 0) or 0),
    )


def cost_json(value: Cost) -> dict[str, Any]:
    """The cost as JSON: amounts are exact decimal strings in USD (never floats)."""
    return {
        "currency": value.currency,
        "total": plain(value.total),
        "input": plain(value.input),
        "output": plain(value.output),
        "cacheWrite5m": plain(value.cache_write_5m),
        "cacheWrite1h": plain(value.cache_write_1h),
        "cacheRead": plain(value.cache_read),
        "regionalMultiplier": plain(value.multiplier),
        "longContext": value.long_context,
    }


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class DataObject:
    """A body delivered as its own object; ``body`` is the uncompressed content."""

    location: S3Location
    key: str
    body: bytes

    @property
    def uri(self) -> str:
        return self.location.uri(self.key)


@dataclass(frozen=True, slots=True)
class PlannedRecord:
    record: dict[str, Any]
    objects: tuple[DataObject, ...]


@dataclass(frozen=True, slots=True)
class PlannedDelivery:
    """What one call produces for each configured destination.

    ``index`` is the record the query index keeps: the S3 one when S3 is configured, else the
    CloudWatch one.
    """

    s3: PlannedRecord | None
    cloudwatch: PlannedRecord | None

    @property
    def index(self) -> PlannedRecord:
        chosen = self.s3 or self.cloudwatch
        assert chosen is not None
        return chosen

    @property
    def objects(self) -> tuple[DataObject, ...]:
        """Every data object, each (bucket, key) once."""
        seen: dict[tuple[str, str], DataObject] = {}
        for planned in (self.s3, self.cloudwatch):
            if planned is not None:
                for obj in planned.objects:
                    seen.setdefault((obj.location.bucket, obj.key), obj)
        return tuple(seen.values())


def input_body_of(call: CallFacts) -> tuple[Any, bytes | None]:
    """(parsed body or None, raw bytes when the body is not JSON): the parsed body, else the
    body as received (a call refused before it was parsed) read as JSON."""
    if call.input_body is not None:
        return call.input_body, None
    raw = call.input_bytes
    if not raw:
        return None, None
    data = bytes(raw)
    value = exact_fast_loads(data)
    if value is None:
        try:  # the standard parser keeps integers beyond 64 bits
            value = json.loads(data)
        except (ValueError, RecursionError):
            return None, data
    return value, None


def _place_body(
    record_part: dict[str, Any],
    name: str,
    body: Any,
    raw: bytes | None,
    overflow: S3Location | None,
    call: CallFacts,
    part: Part,
    objects: list[DataObject],
    extension: dict[str, Any],
) -> None:
    """Put ``body`` inline (``<name>BodyJson``) or in a data object (``<name>BodyS3Path``)."""
    if raw is not None:
        if overflow is None:
            extension[f"{name}BodyOmitted"] = "binary"
            return
        key = data_object_key(overflow, call.account_id, call.region, call.started_at, call.request_id, part, True)
        objects.append(DataObject(overflow, key, raw))
        record_part[f"{name}BodyS3Path"] = overflow.uri(key)
        return
    if body is None:
        return
    if overflow is not None:
        encoded = json_bytes(body)
        if len(encoded) > LARGE_BODY_BYTES:
            key = data_object_key(overflow, call.account_id, call.region, call.started_at, call.request_id, part, False)
            objects.append(DataObject(overflow, key, encoded))
            record_part[f"{name}BodyS3Path"] = overflow.uri(key)
            return
    record_part[f"{name}BodyJson"] = body


def _extension(call: CallFacts, call_price: Cost | None) -> dict[str, Any]:
    usage = call.usage or {}
    extension: dict[str, Any] = {
        "status": call.status,
        "latencyMs": call.latency_ms,
        "streamed": call.streamed,
        "resolvedModelId": call.resolved_model_id,
        "endpointType": call.endpoint_type,
        "geography": call.geography,
        "cacheWrite5mInputTokenCount": int(usage.get("cacheWrite5mInputTokens", 0) or 0),
        "cacheWrite1hInputTokenCount": int(usage.get("cacheWrite1hInputTokens", 0) or 0),
    }
    if call.first_byte_ms is not None:
        extension["firstByteLatencyMs"] = call.first_byte_ms
    if call_price is not None:
        extension["cost"] = cost_json(call_price)
    if call.error_message:
        extension["errorMessage"] = call.error_message
    if call.injected_fault:
        extension["injectedFault"] = call.injected_fault
    return extension


def plan_record(
    call: CallFacts, config: DeliveryConfig, *, overflow: S3Location | None, call_price: Cost | None
) -> PlannedRecord:
    """One record for one destination; ``overflow`` is where its large or binary bodies go.

    Returns the record dict (ready to serialize) and the data objects it references.
    """
    usage = call.usage or {}
    extension = _extension(call, call_price)
    objects: list[DataObject] = []
    record: dict[str, Any] = {
        "schemaType": SCHEMA_TYPE,
        "schemaVersion": SCHEMA_VERSION,
        "timestamp": iso_timestamp(call.started_at),
        "accountId": call.account_id,
        "identity": {"arn": call.identity_arn},
        "region": call.region,
        "requestId": call.request_id,
        "operation": call.operation,
        "modelId": call.model_id,
    }
    if call.error_code:
        record["errorCode"] = call.error_code
    record_input: dict[str, Any] = {"inputContentType": call.input_content_type}
    record_output: dict[str, Any] = {"outputContentType": call.output_content_type}
    if config.text:
        body, raw = input_body_of(call)
        if body is not None and not config.image:
            body = strip_image_data(body)
        _place_body(record_input, "input", body, raw, overflow, call, "input", objects, extension)
        output = call.output_body if call.logged_output is None else call.logged_output
        _place_body(record_output, "output", output, None, overflow, call, "output", objects, extension)
    record_input["inputTokenCount"] = int(usage.get("inputTokens", 0) or 0)
    record_input["cacheReadInputTokenCount"] = int(usage.get("cacheReadInputTokens", 0) or 0)
    record_input["cacheWriteInputTokenCount"] = int(usage.get("cacheWriteInputTokens", 0) or 0)
    record_output["outputTokenCount"] = int(usage.get("outputTokens", 0) or 0)
    record["input"] = record_input
    record["output"] = record_output
    if call.inference_region and call.inference_region != call.region:
        record["inferenceRegion"] = call.inference_region
    if call.request_metadata:
        record["requestMetadata"] = dict(call.request_metadata)
    record[EXTENSION_KEY] = extension
    return PlannedRecord(record, tuple(objects))


def plan_deliveries(call: CallFacts, config: DeliveryConfig, model: CatalogModel | None) -> PlannedDelivery:
    """The records of ``call`` for every destination of ``config``, with its cost attached.

    S3 overflows into its own bucket and prefix; CloudWatch into ``largeDataDeliveryS3Config``.
    """
    call_price = call_cost(call, model)
    s3 = plan_record(call, config, overflow=config.s3, call_price=call_price) if config.s3 else None
    cloudwatch = (
        plan_record(call, config, overflow=config.large_data, call_price=call_price) if config.log_group else None
    )
    return PlannedDelivery(s3, cloudwatch)
