"""The Converse / ConverseStream / CountTokens request shapes as data, and their validator.

Purpose: check a parsed request body against the bedrock-runtime service model the way the
service does before any model runs, and word each failure the way Bedrock words it.

Source: botocore ``bedrock-runtime/2023-09-30/service-2.json`` shapes ``ConverseRequest``,
``ConverseStreamRequest``, ``CountTokensRequest`` and everything they reach. ``SHAPES`` repeats
those shapes under their botocore names (members, required members, enums, length and range
limits, patterns, the ``sensitive`` trait); a unit test compares the table with the installed
model, so the two cannot drift apart silently. URI-bound members (``modelId``) are left out: they
never appear in the body. ``DELIBERATE_DEVIATIONS`` lists where the table knowingly differs.

Invariants:

* Rule 1: failures come in three tiers, reported in this order, mirroring the service's layers:
  a JSON value of the wrong type (the deserializer's complaint, first one wins); then modelled
  constraint violations (all of them, Coral's aggregated "N validation errors detected" text with
  1-based ``.member`` paths); then tagged unions with zero or several members (Bedrock's own
  "... object at <0-based path> must set one of the following keys" text, first one wins).
* Rule 2: unknown members of a structure are ignored (AWS JSON deserializers skip them); an
  unknown key inside a union does not count as a member. JSON ``null`` means "absent".
* Rule 3: blobs are base64 strings; their length limits apply to the decoded bytes.
* Rule 4: ``validate`` returns the value pruned to modelled members, so code after it never
  meets an unknown key or a null member.

Texts: "Value 'system' at 'messages.1.member.role' failed to satisfy constraint: Member must
satisfy enum value set: [user, assistant]" and "ContentBlock object at messages.1.content.0 must
set one of the following keys: text, image, ..." were observed from real Bedrock (wire-protocol
reference 3.3; public issue threads). A map's keys, and its values, are judged as one constraint
of the map listing every rule of their shape, as Coral words it for other AWS services ("Value at
'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member
must satisfy regular expression pattern: ...]", "... Map value must satisfy constraint: [Member
must have length less than or equal to 1000, Member must have length greater than or equal to
1]", public issue threads). Values of members under a ``sensitive`` shape are not
echoed ("Value at '...'"), as Coral does. The several-members union text and the wrong-type text
("The format of the value at toolConfig.tools.0.toolSpec.inputSchema.json is invalid. Provide a
json object for the field and try again." is observed; the other kinds follow it) are this
module's extrapolations.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from claude_bedrock.domain.errors import ValidationException

__all__ = [
    "DELIBERATE_DEVIATIONS",
    "SHAPES",
    "Path",
    "coral_path",
    "decode_blob",
    "dotted_path",
    "format_error",
    "union_error",
    "validate",
]

#: One step of a path into the request: a member name or a 0-based list index.
PathStep = Union[str, int]
Path = tuple[PathStep, ...]


# --------------------------------------------------------------------------------------------
# Shape kinds
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class String:
    min: int | None = None
    max: int | None = None
    pattern: str | None = None
    enum: tuple[str, ...] | None = None
    sensitive: bool = False


@dataclass(frozen=True)
class Integer:
    min: int | None = None
    max: int | None = None
    sensitive: bool = False


@dataclass(frozen=True)
class Float:
    min: float | None = None
    max: float | None = None
    sensitive: bool = False


@dataclass(frozen=True)
class Boolean:
    sensitive: bool = False


@dataclass(frozen=True)
class Blob:
    min: int | None = None
    max: int | None = None
    sensitive: bool = False


@dataclass(frozen=True)
class Document:
    """Free JSON (botocore ``"document": true``)."""

    sensitive: bool = False


@dataclass(frozen=True)
class Struct:
    members: Mapping[str, str]
    required: tuple[str, ...] = ()
    sensitive: bool = False


@dataclass(frozen=True)
class TaggedUnion:
    members: Mapping[str, str]
    sensitive: bool = False
    #: Keys named in the "must set one of" text when Bedrock names fewer than the model has.
    error_keys: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ListOf:
    member: str
    min: int | None = None
    max: int | None = None
    sensitive: bool = False


@dataclass(frozen=True)
class MapOf:
    key: str
    value: str
    min: int | None = None
    max: int | None = None
    sensitive: bool = False


Shape = Union[String, Integer, Float, Boolean, Blob, Document, Struct, TaggedUnion, ListOf, MapOf]

_CONVERSE_COMMON: dict[str, str] = {
    "messages": "Messages",
    "system": "SystemContentBlocks",
    "inferenceConfig": "InferenceConfiguration",
    "toolConfig": "ToolConfiguration",
    "projectIdentifier": "ProjectIdentifier",
    "additionalModelRequestFields": "Document",
    "promptVariables": "PromptVariableMap",
    "requestMetadata": "RequestMetadata",
    "performanceConfig": "PerformanceConfiguration",
    "serviceTier": "ServiceTier",
    "outputConfig": "OutputConfig",
}

_LOCATION_INDEX = Integer(min=0)

#: The request shapes, under their botocore names.
SHAPES: dict[str, Shape] = {
    # --- requests ---------------------------------------------------------------------------
    "ConverseRequest": Struct({
        **_CONVERSE_COMMON,
        "guardrailConfig": "GuardrailConfiguration",
        "additionalModelResponseFieldPaths": "ConverseRequestAdditionalModelResponseFieldPathsList",
    }),
    "ConverseStreamRequest": Struct({
        **_CONVERSE_COMMON,
        "guardrailConfig": "GuardrailStreamConfiguration",
        "additionalModelResponseFieldPaths":
            "ConverseStreamRequestAdditionalModelResponseFieldPathsList",
    }),
    "CountTokensRequest": Struct({"input": "CountTokensInput"}, required=("input",)),
    "CountTokensInput": TaggedUnion(
        {"invokeModel": "InvokeModelTokensRequest", "converse": "ConverseTokensRequest"}
    ),
    "InvokeModelTokensRequest": Struct({"body": "Body"}, required=("body",)),
    "Body": Blob(min=0, max=25_000_000, sensitive=True),
    "ConverseTokensRequest": Struct({
        "messages": "Messages",
        "system": "SystemContentBlocks",
        "toolConfig": "ToolConfiguration",
        "additionalModelRequestFields": "Document",
    }),
    # --- messages ---------------------------------------------------------------------------
    "Messages": ListOf("Message"),
    "Message": Struct({"role": "ConversationRole", "content": "ContentBlocks"},
                      required=("role", "content")),
    "ConversationRole": String(enum=("user", "assistant")),
    "ContentBlocks": ListOf("ContentBlock"),
    "ContentBlock": TaggedUnion(
        {
            "text": "String",
            "image": "ImageBlock",
            "document": "DocumentBlock",
            "video": "VideoBlock",
            "audio": "AudioBlock",
            "toolUse": "ToolUseBlock",
            "toolResult": "ToolResultBlock",
            "guardContent": "GuardrailConverseContentBlock",
            "cachePoint": "CachePointBlock",
            "reasoningContent": "ReasoningContentBlock",
            "citationsContent": "CitationsContentBlock",
            "searchResult": "SearchResultBlock",
            "toolAddition": "ToolAdditionBlock",
            "toolRemoval": "ToolRemovalBlock",
        },
        error_keys=("text", "image", "toolUse", "toolResult", "document", "video", "cachePoint",
                    "reasoningContent", "citationsContent", "searchResult"),
    ),
    "String": String(),
    "NonEmptyString": String(min=1),
    "Boolean": Boolean(),
    "Document": Document(),
    "Blob": Blob(),
    # --- media ------------------------------------------------------------------------------
    "ImageBlock": Struct({"format": "ImageFormat", "source": "ImageSource", "error": "ErrorBlock"},
                         required=("format", "source")),
    "ImageFormat": String(enum=("png", "jpeg", "gif", "webp")),
    "ImageSource": TaggedUnion({"bytes": "ImageSourceBytesBlob", "s3Location": "S3Location"},
                               sensitive=True),
    "ImageSourceBytesBlob": Blob(min=1),
    "S3Location": Struct({"uri": "S3Uri", "bucketOwner": "AccountId"}, required=("uri",)),
    "S3Uri": String(min=1, max=1024, pattern=r"s3://[a-z0-9][\.\-a-z0-9]{1,61}[a-z0-9](/.*)?"),
    "AccountId": String(pattern=r"[0-9]{12}"),
    "ErrorBlock": Struct({"message": "String"}, sensitive=True),
    "DocumentBlock": Struct(
        {"format": "DocumentFormat", "name": "DocumentBlockNameString", "source": "DocumentSource",
         "context": "String", "citations": "CitationsConfig"},
        required=("name", "source"),
    ),
    "DocumentFormat": String(
        enum=("pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md")
    ),
    "DocumentBlockNameString": String(min=1, max=200),
    "DocumentSource": TaggedUnion({"bytes": "DocumentSourceBytesBlob", "s3Location": "S3Location",
                                   "text": "String", "content": "DocumentContentBlocks"}),
    "DocumentSourceBytesBlob": Blob(min=1),
    "DocumentContentBlocks": ListOf("DocumentContentBlock"),
    "DocumentContentBlock": TaggedUnion({"text": "String"}),
    "CitationsConfig": Struct({"enabled": "Boolean"}, required=("enabled",)),
    "VideoBlock": Struct({"format": "VideoFormat", "source": "VideoSource"},
                         required=("format", "source")),
    "VideoFormat": String(enum=("mkv", "mov", "mp4", "webm", "flv", "mpeg", "mpg", "wmv",
                                "three_gp")),
    "VideoSource": TaggedUnion({"bytes": "VideoSourceBytesBlob", "s3Location": "S3Location"}),
    "VideoSourceBytesBlob": Blob(min=1),
    "AudioBlock": Struct({"format": "AudioFormat", "source": "AudioSource", "error": "ErrorBlock"},
                         required=("format", "source")),
    "AudioFormat": String(enum=("mp3", "opus", "wav", "aac", "flac", "mp4", "ogg", "mkv", "mka",
                                "x-aac", "m4a", "mpeg", "mpga", "pcm", "webm")),
    "AudioSource": TaggedUnion({"bytes": "AudioSourceBytesBlob", "s3Location": "S3Location"},
                               sensitive=True),
    "AudioSourceBytesBlob": Blob(min=1),
    # --- tools ------------------------------------------------------------------------------
    "ToolUseBlock": Struct(
        {"toolUseId": "ToolUseId", "name": "ToolName", "input": "Document", "type": "ToolUseType"},
        required=("toolUseId", "name", "input"),
    ),
    "ToolUseId": String(min=1, max=64, pattern=r"[a-zA-Z0-9_.:-]+"),
    "ToolName": String(min=1, max=64, pattern=r"[a-zA-Z0-9_-]+"),
    "ToolUseType": String(enum=("server_tool_use",)),
    "ToolResultBlock": Struct(
        {"toolUseId": "ToolUseId", "content": "ToolResultContentBlocks",
         "status": "ToolResultStatus", "type": "String"},
        required=("toolUseId", "content"),
    ),
    "ToolResultContentBlocks": ListOf("ToolResultContentBlock"),
    "ToolResultContentBlock": TaggedUnion({
        "json": "Document", "text": "String", "image": "ImageBlock", "document": "DocumentBlock",
        "video": "VideoBlock", "searchResult": "SearchResultBlock",
    }),
    "ToolResultStatus": String(enum=("success", "error")),
    "SearchResultBlock": Struct(
        {"source": "String", "title": "String", "content": "SearchResultContentBlocks",
         "citations": "CitationsConfig"},
        required=("source", "title", "content"),
    ),
    "SearchResultContentBlocks": ListOf("SearchResultContentBlock"),
    "SearchResultContentBlock": Struct({"text": "String"}, required=("text",)),
    "ToolAdditionBlock": Struct({"tool": "ToolReference"}, required=("tool",)),
    "ToolRemovalBlock": Struct({"tool": "ToolReference"}, required=("tool",)),
    "ToolReference": Struct({"type": "ToolReferenceTypeString", "name": "ToolReferenceNameString",
                             "serverName": "ToolReferenceServerNameString"}),
    "ToolReferenceTypeString": String(min=1, max=64),
    "ToolReferenceNameString": String(min=1, max=128),
    "ToolReferenceServerNameString": String(min=1, max=128),
    "ToolConfiguration": Struct({"tools": "ToolConfigurationToolsList", "toolChoice": "ToolChoice"},
                                required=("tools",)),
    "ToolConfigurationToolsList": ListOf("Tool", min=1),
    "Tool": TaggedUnion({"toolSpec": "ToolSpecification", "systemTool": "SystemTool",
                         "cachePoint": "CachePointBlock"}),
    "ToolSpecification": Struct(
        {"name": "ToolName", "description": "NonEmptyString", "inputSchema": "ToolInputSchema",
         "strict": "Boolean"},
        required=("name", "inputSchema"),
    ),
    "ToolInputSchema": TaggedUnion({"json": "Document"}),
    "SystemTool": Struct({"name": "ToolName"}, required=("name",)),
    "ToolChoice": TaggedUnion({"auto": "AutoToolChoice", "any": "AnyToolChoice",
                               "tool": "SpecificToolChoice"}),
    "AutoToolChoice": Struct({}),
    "AnyToolChoice": Struct({}),
    "SpecificToolChoice": Struct({"name": "ToolName"}, required=("name",)),
    # --- guardrails, caching, reasoning -----------------------------------------------------
    "GuardrailConverseContentBlock": TaggedUnion({"text": "GuardrailConverseTextBlock",
                                                  "image": "GuardrailConverseImageBlock"}),
    "GuardrailConverseTextBlock": Struct(
        {"text": "String", "qualifiers": "GuardrailConverseContentQualifierList"},
        required=("text",),
    ),
    "GuardrailConverseContentQualifierList": ListOf("GuardrailConverseContentQualifier"),
    "GuardrailConverseContentQualifier": String(enum=("grounding_source", "query",
                                                      "guard_content")),
    "GuardrailConverseImageBlock": Struct(
        {"format": "GuardrailConverseImageFormat", "source": "GuardrailConverseImageSource"},
        required=("format", "source"), sensitive=True,
    ),
    "GuardrailConverseImageFormat": String(enum=("png", "jpeg")),
    "GuardrailConverseImageSource": TaggedUnion({"bytes": "GuardrailConverseImageSourceBytesBlob"},
                                                sensitive=True),
    "GuardrailConverseImageSourceBytesBlob": Blob(min=1),
    "CachePointBlock": Struct({"type": "CachePointType", "ttl": "CacheTTL"}, required=("type",)),
    "CachePointType": String(enum=("default",)),
    "CacheTTL": String(enum=("5m", "1h")),
    "ReasoningContentBlock": TaggedUnion({"reasoningText": "ReasoningTextBlock",
                                          "redactedContent": "Blob"}, sensitive=True),
    "ReasoningTextBlock": Struct({"text": "String", "signature": "String"}, required=("text",),
                                 sensitive=True),
    # --- citations (replayed assistant turns) -----------------------------------------------
    "CitationsContentBlock": Struct({"content": "CitationGeneratedContentList",
                                     "citations": "Citations"}),
    "CitationGeneratedContentList": ListOf("CitationGeneratedContent"),
    "CitationGeneratedContent": TaggedUnion({"text": "String"}),
    "Citations": ListOf("Citation"),
    "Citation": Struct({"title": "String", "source": "String",
                        "sourceContent": "CitationSourceContentList",
                        "location": "CitationLocation"}),
    "CitationSourceContentList": ListOf("CitationSourceContent"),
    "CitationSourceContent": TaggedUnion({"text": "String"}),
    "CitationLocation": TaggedUnion({
        "web": "WebLocation", "documentChar": "DocumentCharLocation",
        "documentPage": "DocumentPageLocation", "documentChunk": "DocumentChunkLocation",
        "searchResultLocation": "SearchResultLocation",
    }),
    "WebLocation": Struct({"url": "String", "domain": "String"}),
    **{
        f"{kind}Location": Struct({
            "documentIndex": f"{kind}LocationDocumentIndexInteger",
            "start": f"{kind}LocationStartInteger",
            "end": f"{kind}LocationEndInteger",
        })
        for kind in ("DocumentChar", "DocumentPage", "DocumentChunk")
    },
    **{
        f"{kind}Location{part}Integer": _LOCATION_INDEX
        for kind in ("DocumentChar", "DocumentPage", "DocumentChunk")
        for part in ("DocumentIndex", "Start", "End")
    },
    "SearchResultLocation": Struct({
        "searchResultIndex": "SearchResultLocationSearchResultIndexInteger",
        "start": "SearchResultLocationStartInteger",
        "end": "SearchResultLocationEndInteger",
    }),
    "SearchResultLocationSearchResultIndexInteger": _LOCATION_INDEX,
    "SearchResultLocationStartInteger": _LOCATION_INDEX,
    "SearchResultLocationEndInteger": _LOCATION_INDEX,
    # --- system, inference ------------------------------------------------------------------
    "SystemContentBlocks": ListOf("SystemContentBlock"),
    "SystemContentBlock": TaggedUnion({"text": "NonEmptyString",
                                       "guardContent": "GuardrailConverseContentBlock",
                                       "cachePoint": "CachePointBlock"}),
    "InferenceConfiguration": Struct({
        "maxTokens": "InferenceConfigurationMaxTokensInteger",
        "temperature": "InferenceConfigurationTemperatureFloat",
        "topP": "InferenceConfigurationTopPFloat",
        "stopSequences": "InferenceConfigurationStopSequencesList",
    }),
    "InferenceConfigurationMaxTokensInteger": Integer(min=1),
    "InferenceConfigurationTemperatureFloat": Float(min=0, max=1),
    "InferenceConfigurationTopPFloat": Float(min=0, max=1),
    "InferenceConfigurationStopSequencesList": ListOf("NonEmptyString", min=0, max=2500),
    # --- carried settings -------------------------------------------------------------------
    "GuardrailConfiguration": Struct({"guardrailIdentifier": "GuardrailIdentifier",
                                      "guardrailVersion": "GuardrailVersion",
                                      "trace": "GuardrailTrace"}),
    "GuardrailStreamConfiguration": Struct({"guardrailIdentifier": "GuardrailIdentifier",
                                            "guardrailVersion": "GuardrailVersion",
                                            "trace": "GuardrailTrace",
                                            "streamProcessingMode":
                                                "GuardrailStreamProcessingMode"}),
    "GuardrailIdentifier": String(
        min=0, max=2048,
        pattern=r"(|([a-z0-9]+)|(arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:guardrail/"
                r"[a-z0-9]+))",
    ),
    "GuardrailVersion": String(pattern=r"(|([1-9][0-9]{0,7})|(DRAFT))"),
    "Trace": String(enum=("ENABLED", "DISABLED", "ENABLED_FULL")),  # InvokeModel's X-Amzn-Bedrock-Trace
    "GuardrailTrace": String(enum=("enabled", "disabled", "enabled_full")),
    "GuardrailStreamProcessingMode": String(enum=("sync", "async")),
    "ProjectIdentifier": String(
        min=1, max=2048,
        pattern=r"([a-zA-Z0-9_-]+|arn:aws(|-us-gov|-cn|-iso|-iso-b|-iso-f|-eusc):bedrock:"
                r"[0-9a-z-]{1,20}:[0-9]{12}:project/[a-zA-Z0-9_-]+)",
    ),
    "PromptVariableMap": MapOf("String", "PromptVariableValues", sensitive=True),
    "PromptVariableValues": TaggedUnion({"text": "String"}),
    "ConverseRequestAdditionalModelResponseFieldPathsList": ListOf(
        "ConverseRequestAdditionalModelResponseFieldPathsListMemberString", min=0, max=10),
    "ConverseRequestAdditionalModelResponseFieldPathsListMemberString": String(min=1, max=256),
    "ConverseStreamRequestAdditionalModelResponseFieldPathsList": ListOf(
        "ConverseStreamRequestAdditionalModelResponseFieldPathsListMemberString", min=0, max=10),
    "ConverseStreamRequestAdditionalModelResponseFieldPathsListMemberString":
        String(min=1, max=256),
    "RequestMetadata": MapOf("RequestMetadataKeyString", "RequestMetadataValueString",
                             min=1, max=16, sensitive=True),
    "RequestMetadataKeyString": String(min=1, max=256, pattern=r"[a-zA-Z0-9\s:_@$#=/+,-.]{1,256}"),
    "RequestMetadataValueString": String(min=0, max=256,
                                         pattern=r"[a-zA-Z0-9\s:_@$#=/+,-.]{0,256}"),
    "PerformanceConfiguration": Struct({"latency": "PerformanceConfigLatency"}),
    "PerformanceConfigLatency": String(enum=("standard", "optimized")),
    "ServiceTier": Struct({"type": "ServiceTierType"}, required=("type",)),
    "ServiceTierType": String(enum=("priority", "default", "flex", "reserved")),
    "OutputConfig": Struct({"textFormat": "OutputFormat", "effort": "OutputConfigEffortString"}),
    "OutputFormat": Struct({"type": "OutputFormatType", "structure": "OutputFormatStructure"},
                           required=("type", "structure")),
    "OutputFormatType": String(enum=("json_schema",)),
    "OutputFormatStructure": TaggedUnion({"jsonSchema": "JsonSchemaDefinition"}, sensitive=True),
    "JsonSchemaDefinition": Struct({"schema": "String", "name": "String", "description": "String"},
                                   required=("schema",)),
    "OutputConfigEffortString": String(min=0, max=16),
}

#: Where ``SHAPES`` knowingly differs from botocore, and why.
DELIBERATE_DEVIATIONS: dict[str, str] = {
    "ConversationRole": (
        "botocore also lists 'system', but Bedrock's Converse rejects it: observed 'Value "
        "'system' at 'messages.1.member.role' failed to satisfy constraint: Member must satisfy "
        "enum value set: [user, assistant]'."
    ),
}


# --------------------------------------------------------------------------------------------
# Paths
# --------------------------------------------------------------------------------------------


def coral_path(path: Path) -> str:
    """Coral's constraint path: 1-based list indexes followed by ``.member``."""
    parts: list[str] = []
    for step in path:
        parts.append(f"{step + 1}.member" if isinstance(step, int) else step)
    return ".".join(parts)


def dotted_path(path: Path) -> str:
    """Bedrock's own path style: 0-based indexes, no ``member`` (``messages.1.content.0``)."""
    return ".".join(str(step) for step in path)


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------

@dataclass
class _Findings:
    type_errors: list[str] = field(default_factory=list)
    constraint_errors: list[str] = field(default_factory=list)
    union_errors: list[str] = field(default_factory=list)

    def absorb(self, other: _Findings) -> None:
        self.type_errors += other.type_errors
        self.constraint_errors += other.constraint_errors
        self.union_errors += other.union_errors

    def raise_first(self) -> None:
        if self.type_errors:
            raise ValidationException(self.type_errors[0])
        if self.constraint_errors:
            count = len(self.constraint_errors)
            noun = "error" if count == 1 else "errors"
            raise ValidationException(
                f"{count} validation {noun} detected: " + "; ".join(self.constraint_errors)
            )
        if self.union_errors:
            raise ValidationException(self.union_errors[0])


def validate(value: Any, shape_name: str, path: Path = ()) -> Any:
    """Check ``value`` against the shape ``shape_name``.

    Args:
        value: the parsed JSON value.
        shape_name: a key of ``SHAPES`` (``"ConverseRequest"``...).
        path: where ``value`` sits in the whole request, for the messages.

    Returns:
        A copy of ``value`` pruned to modelled, non-null members (Rule 2), so that each union
        in it holds exactly its one member. Documents and blobs are shared, not copied.

    Raises:
        ValidationException: with Bedrock's wording, following the tier order of Rule 1.
    """
    findings = _Findings()
    pruned = _check(value, shape_name, path, findings, sensitive=False)
    findings.raise_first()
    return pruned


def format_error(path: Path, kind: str) -> str:
    """The wrong-type text for a value at ``path`` that should have been ``kind``."""
    return (
        f"The format of the value at {dotted_path(path)} is invalid. "
        f"Provide a {kind} for the field and try again."
    )


def _constraint(findings: _Findings, value: Any, path: Path, rule: str, hide: bool) -> None:
    shown = "" if hide else f" {_quote(value)}"
    findings.constraint_errors.append(
        f"Value{shown} at '{coral_path(path)}' failed to satisfy constraint: {rule}"
    )


def _quote(value: Any) -> str:
    if value is None:
        return "null"
    return f"'{_java_text(value)}'"


def _java_text(value: Any) -> str:
    """How a Java service prints a deserialized value inside a message."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_java_text(item) for item in value) + "]"
    return str(value)


def _number_text(limit: float) -> str:
    return str(int(limit)) if float(limit).is_integer() else str(limit)


def _check(value: Any, shape_name: str, path: Path, findings: _Findings, sensitive: bool) -> Any:
    shape = SHAPES[shape_name]
    hide = sensitive or shape.sensitive
    checker = _CHECKERS[type(shape)]
    return checker(value, shape, shape_name, path, findings, hide)


# Each checker records its findings and returns the value pruned to modelled members (the
# value itself for scalars and documents; None once the value has the wrong JSON type).


def _check_string(
    value: Any, shape: String, name: str, path: Path, findings: _Findings, hide: bool
) -> Any:
    if not isinstance(value, str):
        findings.type_errors.append(format_error(path, "string"))
        return None
    if shape.enum is not None and value not in shape.enum:
        rule = "Member must satisfy enum value set: [" + ", ".join(shape.enum) + "]"
        _constraint(findings, value, path, rule, hide)
    _check_length(len(value), value, shape.min, shape.max, path, findings, hide)
    if shape.pattern is not None and re.fullmatch(shape.pattern, value) is None:
        _constraint(findings, value, path, _PATTERN_RULE.format(shape.pattern), hide)
    return value


_MIN_LENGTH_RULE = "Member must have length greater than or equal to {}"
_MAX_LENGTH_RULE = "Member must have length less than or equal to {}"
_PATTERN_RULE = "Member must satisfy regular expression pattern: {}"


def _check_length(size: int, value: Any, low: int | None, high: int | None, path: Path,
                  findings: _Findings, hide: bool) -> None:
    if low is not None and size < low:
        _constraint(findings, value, path, _MIN_LENGTH_RULE.format(low), hide)
    if high is not None and size > high:
        _constraint(findings, value, path, _MAX_LENGTH_RULE.format(high), hide)


def _check_number(
    value: Any, shape: Integer | Float, name: str, path: Path, findings: _Findings, hide: bool
) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        findings.type_errors.append(format_error(path, "number"))
        return None
    if isinstance(shape, Integer) and isinstance(value, float) and not value.is_integer():
        findings.type_errors.append(format_error(path, "whole number"))
        return None
    if isinstance(value, float) and not math.isfinite(value):
        findings.type_errors.append(format_error(path, "number"))
        return None
    if shape.min is not None and value < shape.min:
        _constraint(findings, value, path,
                    f"Member must have value greater than or equal to {_number_text(shape.min)}",
                    hide)
    if shape.max is not None and value > shape.max:
        _constraint(findings, value, path,
                    f"Member must have value less than or equal to {_number_text(shape.max)}",
                    hide)
    return int(value) if isinstance(shape, Integer) else value


def _check_boolean(
    value: Any, shape: Boolean, name: str, path: Path, findings: _Findings, hide: bool
) -> Any:
    if not isinstance(value, bool):
        findings.type_errors.append(format_error(path, "boolean"))
        return None
    return value


def _check_blob(
    value: Any, shape: Blob, name: str, path: Path, findings: _Findings, hide: bool
) -> Any:
    decoded = decode_blob(value)
    if decoded is None:
        findings.type_errors.append(format_error(path, "base64-encoded string"))
        return None
    # Coral prints a blob as a Java ByteBuffer, never its bytes: always hide the value.
    _check_length(len(decoded), decoded, shape.min, shape.max, path, findings, hide=True)
    return value


def decode_blob(value: Any) -> bytes | None:
    """The bytes of a base64 JSON blob, or None when ``value`` is not valid base64 text.

    Whitespace (line breaks of wrapped base64) is ignored.
    """
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode("".join(value.split()).encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None


def _check_document(
    value: Any, shape: Document, name: str, path: Path, findings: _Findings, hide: bool
) -> Any:
    """Any JSON value is a document."""
    return value


def _present_members(value: Mapping[str, Any], members: Mapping[str, str]) -> list[str]:
    return [member for member in members if value.get(member) is not None]


def _check_members(value: Mapping[str, Any], members: Mapping[str, str], present: list[str],
                   path: Path, findings: _Findings, hide: bool) -> dict[str, Any]:
    return {
        member: _check(value[member], members[member], path + (member,), findings, hide)
        for member in present
    }


def _check_struct(
    value: Any, shape: Struct, name: str, path: Path, findings: _Findings, hide: bool
) -> Any:
    if not isinstance(value, Mapping):
        findings.type_errors.append(format_error(path, "json object"))
        return None
    for member in shape.required:
        if value.get(member) is None:
            findings.constraint_errors.append(
                f"Value null at '{coral_path(path + (member,))}' failed to satisfy constraint: "
                "Member must not be null"
            )
    present = _present_members(value, shape.members)
    return _check_members(value, shape.members, present, path, findings, hide)


def _check_union(
    value: Any, shape: TaggedUnion, name: str, path: Path, findings: _Findings, hide: bool
) -> Any:
    if not isinstance(value, Mapping):
        findings.type_errors.append(format_error(path, "json object"))
        return None
    present = _present_members(value, shape.members)
    if len(present) != 1:
        findings.union_errors.append(union_error(name, path, shape, len(present)))
    return _check_members(value, shape.members, present, path, findings, hide)


def union_error(shape_name: str, path: Path, shape: TaggedUnion, count: int) -> str:
    """Bedrock's text for a tagged union holding ``count`` members (0 or more than 1)."""
    keys = ", ".join(shape.error_keys or tuple(shape.members))
    how_many = "one" if count == 0 else "only one"
    return (f"{shape_name} object at {dotted_path(path)} must set {how_many} of the following "
            f"keys: {keys}.")


def _check_list(
    value: Any, shape: ListOf, name: str, path: Path, findings: _Findings, hide: bool
) -> Any:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        findings.type_errors.append(format_error(path, "list"))
        return None
    _check_length(len(value), list(value), shape.min, shape.max, path, findings, hide)
    pruned = []
    for index, item in enumerate(value):
        if item is None:
            findings.type_errors.append(format_error(path + (index,), "value"))
            continue
        pruned.append(_check(item, shape.member, path + (index,), findings, hide))
    return pruned


def _check_map(
    value: Any, shape: MapOf, name: str, path: Path, findings: _Findings, hide: bool
) -> Any:
    if not isinstance(value, Mapping):
        findings.type_errors.append(format_error(path, "json object"))
        return None
    _check_length(len(value), value, shape.min, shape.max, path, findings, hide)
    keys, values = _Findings(), _Findings()
    pruned = {}
    for key, item in value.items():
        _check(key, shape.key, path, keys, hide)
        if item is not None:
            pruned[key] = _check(item, shape.value, path + (key,), values, hide)
    # Coral judges all the keys (values) as one constraint of the map, listing every rule of
    # their shape; a structured value's own members keep their paths.
    for part, name, found in (("keys", shape.key, keys), ("value", shape.value, values)):
        if found.constraint_errors and (rules := _string_rules(SHAPES[name])):
            found.constraint_errors = []
            _constraint(findings, value, path,
                        f"Map {part} must satisfy constraint: [{', '.join(rules)}]", hide)
        findings.absorb(found)
    return pruned


def _string_rules(shape: Shape) -> list[str]:
    """Every length and pattern rule of a string shape, in Coral's listing order (none for
    other shapes: no map of these operations has other scalar keys or values)."""
    if not isinstance(shape, String):
        return []
    rules = []
    if shape.max is not None:
        rules.append(_MAX_LENGTH_RULE.format(shape.max))
    if shape.min is not None:
        rules.append(_MIN_LENGTH_RULE.format(shape.min))
    if shape.pattern is not None:
        rules.append(_PATTERN_RULE.format(shape.pattern))
    return rules


_CHECKERS: dict[type, Any] = {
    String: _check_string,
    Integer: _check_number,
    Float: _check_number,
    Boolean: _check_boolean,
    Blob: _check_blob,
    Document: _check_document,
    Struct: _check_struct,
    TaggedUnion: _check_union,
    ListOf: _check_list,
    MapOf: _check_map,
}
