"""Converse / ConverseStream request body -> Anthropic Messages request body.

Purpose: the server speaks Converse to clients but the engines only speak Anthropic Messages, so a
Converse request is validated (``converse_shapes``), checked against Bedrock's own rules, and
rewritten as the body InvokeModel would carry (wire-protocol reference 1.4, 1.5, 10.1).

Invariants:

* Rule 1: nothing reaches the Anthropic body unless the whole request is valid; every rejection is
  a ``ValidationException`` worded as Bedrock words it (see ``converse_shapes`` for the shape
  tier; this module adds the conversation-level rules of reference 3.3).
* Rule 2: ``additionalModelRequestFields`` are merged under keys the translation did not set;
  one that the modelled members set already is refused, as Bedrock refuses it ("The additional
  field system conflicts with an existing field.", quoted in public issue threads).
  ``max_tokens`` falls back to the caller's default (the model's maximum output) when neither
  sets it.
* Rule 3: a ``cachePoint`` never becomes a block; it becomes ``cache_control`` on the block,
  system entry or tool right before it, and must have one.
* Rule 4: a user message answers the client toolUse blocks of the assistant message before it
  with exactly one toolResult each, and a toolResult of status ``error`` has content; Bedrock
  refuses the request otherwise, in its own words (``MISSING_TOOL_RESULTS``...), where the
  model's own wording would follow if the request reached it.

Documents (seed guide, "Support PDF sur Bedrock"): through Converse a PDF gets visual analysis
only when citations are enabled; without citations only its text is extracted. A PDF without
citations is therefore sent as a base64 ``application/pdf`` document and reported through
``ConverseTranslation.pdf_text_only`` and ``text_only_documents`` (JSON pointers into the
Anthropic body), so the engine and the logs know to treat it as text only: extracting the text
here would need a PDF parser, which this layer does not carry. Office documents (doc, docx,
xls, xlsx) go the same way under their own media types, with or without citations
(``domain.document_text`` puts their text in their place). txt, md, html and csv bytes are
decoded as UTF-8 into plain-text documents.

A ``toolResult`` whose ``type`` names a server tool's result (``tool_search_tool_result``, as
the response renders one in an assistant message) goes back to that Anthropic block, its one
``json`` item as the block's content; a ``toolUse`` of type ``server_tool_use`` likewise.

Texts not observed from real Bedrock (this module's wording): unsupported block types and S3
sources, a cache point with nothing before it, a byte document without a format, a server
tool's result whose content is not one json item.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from claude_bedrock.domain.errors import ValidationException
from claude_bedrock.wire.converse_response import CITATION_LOCATIONS, is_server_tool_result
from claude_bedrock.wire.converse_shapes import (
    Path,
    coral_path,
    decode_blob,
    dotted_path,
    format_error,
    validate,
)

__all__ = ["ANTHROPIC_VERSION", "ConverseTranslation", "converse_to_anthropic"]

#: The ``anthropic_version`` Bedrock documents for InvokeModel bodies (reference 10.1).
ANTHROPIC_VERSION = "bedrock-2023-05-31"

START_WITH_USER = (
    "A conversation must start with a user message. "
    "Try again with a conversation that starts with a user message."
)
ALTERNATE_ROLES = (
    "A conversation must alternate between user and assistant roles. "
    "Make sure the conversation alternates between user and assistant roles and try again."
)
TOOL_CONFIG_REQUIRED = (
    "The toolConfig field must be defined when using toolUse and toolResult content blocks."
)
#: Bedrock's own tool-pairing texts, as quoted in public issue threads (Converse and
#: ConverseStream, Claude models): Bedrock checks them before the model sees the request.
MISSING_TOOL_RESULTS = "Expected toolResult blocks at {where} for the following Ids: {ids}"
EXTRA_TOOL_RESULTS = (
    "The number of toolResult blocks at {where} exceeds the number of toolUse blocks of previous turn."
)
EMPTY_ERROR_RESULT = "The content field at {where} cannot be empty when status value is error."
DOCUMENT_NAME_RULE = (
    "The document file name can only contain alphanumeric characters, whitespace characters, "
    "hyphens, parentheses, and square brackets. The name can't contain more than one "
    "consecutive whitespace character. Check that the file name conforms to these restrictions "
    "and retry your request."
)
#: What Bedrock accepts, as recorded against the live service in public threads: ASCII letters
#: and digits, the space (not a tab, U+00A0 or U+3000), ``-``, ``(``, ``)``, ``[``, ``]``, and the
#: underscore its message does not list; never two spaces in a row.
_DOCUMENT_NAME = re.compile(r"(?:[A-Za-z0-9_()\[\]-]| (?! ))+")
#: Bedrock's texts, as quoted in public issue threads.
DOCUMENT_NEEDS_TEXT = "A text block must be included when using documents."
DUPLICATE_DOCUMENT_NAMES = "Messages can't contain duplicate document names."
MAX_DOCUMENTS = 5
TOO_MANY_DOCUMENTS = f"You can't include more than {MAX_DOCUMENTS} documents in a request."
#: RFC 6901, not empty: "/" then reference tokens in which "~" only starts "~0" or "~1".
_JSON_POINTER_RE = re.compile(r"(/([^~/]|~[01])*)+")

#: Media type of each document format that is passed on as base64 bytes, text-only unless a PDF
#: has citations enabled.
BINARY_DOCUMENT_MEDIA_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
#: Document formats whose bytes are UTF-8 text.
TEXT_DOCUMENT_FORMATS = frozenset({"txt", "md", "html", "csv"})

_REQUEST_SHAPE = {False: "ConverseRequest", True: "ConverseStreamRequest"}


@dataclass(frozen=True)
class ConverseTranslation:
    """A Converse request rewritten for an Anthropic engine, plus what the reply needs.

    Attributes:
        anthropic_body: the InvokeModel-style Anthropic Messages body.
        request_metadata: ``requestMetadata`` (for invocation logs), or None.
        additional_response_field_paths: JSON pointers the reply must echo from the model output.
        pdf_text_only: True when at least one PDF arrived without citations (text extraction only).
        text_only_documents: JSON pointers into ``anthropic_body`` of every document that is to be
            read as text only (PDFs without citations, office documents).
        guardrail_config: ``guardrailConfig`` as sent, carried for the guardrail layer, or None.
        performance_config: ``performanceConfig`` to echo in the reply, or None.
        service_tier: ``serviceTier`` to echo in the reply, or None.
        stream: whether this was a ConverseStream request.
    """

    anthropic_body: dict[str, Any]
    request_metadata: Mapping[str, str] | None = None
    additional_response_field_paths: tuple[str, ...] = ()
    pdf_text_only: bool = False
    text_only_documents: tuple[str, ...] = ()
    guardrail_config: Mapping[str, Any] | None = None
    performance_config: Mapping[str, Any] | None = None
    service_tier: Mapping[str, Any] | None = None
    stream: bool = False


def converse_to_anthropic(
    body: Mapping[str, Any],
    *,
    default_max_tokens: int,
    stream: bool = False,
    field_path: Path = (),
) -> ConverseTranslation:
    """Validate a Converse (or ConverseStream) request body and translate it.

    Args:
        body: the parsed JSON request body.
        default_max_tokens: ``max_tokens`` to use when the request sets none (the model's
            maximum output).
        stream: True for ConverseStream (its ``guardrailConfig`` shape differs).
        field_path: where ``body`` sits inside a larger request (CountTokens passes
            ``("input", "converse")``), so error paths name the right place.

    Returns:
        The translation. ``anthropic_body`` is built afresh, but free-form JSON documents in it
        (tool inputs, input schemas, additional fields) are the request's own objects.

    Raises:
        ValidationException: the request breaks a modelled constraint or a Bedrock rule.
    """
    body = validate(body, _REQUEST_SHAPE[stream], field_path)
    builder = _Builder(field_path)
    built = builder.build(body)
    # max_tokens right after anthropic_version, as the Anthropic SDKs write it.
    anthropic = {"anthropic_version": built.pop("anthropic_version"),
                 "max_tokens": built.pop("max_tokens", default_max_tokens), **built}
    text_only = tuple(_pointers_to(anthropic, builder.text_only))
    field_paths = body.get("additionalModelResponseFieldPaths") or ()
    for pointer in field_paths:
        if not _JSON_POINTER_RE.fullmatch(pointer):
            # botocore: "Converse and ConverseStream reject an empty JSON Pointer or incorrectly
            # structured JSON Pointer with a 400 error code" (the wording is ours)
            raise ValidationException(
                f"The additionalModelResponseFieldPaths entry {pointer!r} is not a valid JSON Pointer: it must "
                "start with '/', and '~' must be followed by '0' or '1'."
            )
    return ConverseTranslation(
        anthropic_body=anthropic,
        request_metadata=body.get("requestMetadata"),
        additional_response_field_paths=tuple(field_paths),
        pdf_text_only=builder.pdf_text_only,
        text_only_documents=text_only,
        guardrail_config=body.get("guardrailConfig"),
        performance_config=body.get("performanceConfig"),
        service_tier=body.get("serviceTier"),
        stream=stream,
    )


def _unsupported(what: str, path: Path) -> ValidationException:
    return ValidationException(
        f"This model doesn't support {what}. Remove it from {dotted_path(path)} and try again."
    )


def _the_member(union: Mapping[str, Any]) -> tuple[str, Any]:
    """The one member of a tagged union, as ``validate`` left it (pruned, exactly one)."""
    ((key, value),) = union.items()
    return key, value


def _cache_control(cache_point: Mapping[str, Any]) -> dict[str, str]:
    control = {"type": "ephemeral"}
    if cache_point.get("ttl"):
        control["ttl"] = cache_point["ttl"]
    return control


def _attach_cache_point(blocks: list[dict[str, Any]], cache_point: Mapping[str, Any],
                        path: Path) -> None:
    if not blocks:
        raise ValidationException(
            f"The cachePoint at {dotted_path(path)} must follow another content block. "
            "Move the cachePoint after the block to cache and try again."
        )
    blocks[-1]["cache_control"] = _cache_control(cache_point)


def _pointers_to(body: Any, targets: list[dict[str, Any]]) -> list[str]:
    """JSON pointers of the objects in ``targets`` (found by identity) inside ``body``."""
    wanted = {id(target) for target in targets}
    found: list[str] = []

    def walk(node: Any, pointer: str) -> None:
        if isinstance(node, dict):
            if id(node) in wanted:
                found.append(pointer)
            for key, value in node.items():
                walk(value, f"{pointer}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{pointer}/{index}")

    walk(body, "")
    return found


def _check_documents(documents: list[Any], content: list[Any], names: set[str]) -> None:
    """Bedrock's rules for the document blocks of one message (``names``: those of the
    request's earlier messages, updated): a text block beside them (botocore ``Message``), at
    most MAX_DOCUMENTS in the request, and no name twice."""
    if not any("text" in block for block in content):
        raise ValidationException(DOCUMENT_NEEDS_TEXT)
    for document in documents:
        if document["name"] in names:
            raise ValidationException(DUPLICATE_DOCUMENT_NAMES)
        names.add(document["name"])
    if len(names) > MAX_DOCUMENTS:
        raise ValidationException(TOO_MANY_DOCUMENTS)


def _check_tool_results(previous: list[Any], content: list[Any], path: Path) -> None:
    """Bedrock's pairing rule for a user message (``content`` at ``path``) that follows an
    assistant message (``previous``): no more toolResult blocks than that message's client
    toolUse blocks, and one for each of them. A server tool's call (``type``
    ``server_tool_use``) has its result in the assistant message itself."""
    calls = [block["toolUse"]["toolUseId"] for block in previous
             if "toolUse" in block and block["toolUse"].get("type") != "server_tool_use"]
    answered = [block["toolResult"]["toolUseId"] for block in content if "toolResult" in block]
    where = dotted_path(path)
    if len(answered) > len(calls):
        raise ValidationException(EXTRA_TOOL_RESULTS.format(where=where))
    missing = [call for call in calls if call not in answered]
    if missing:
        raise ValidationException(MISSING_TOOL_RESULTS.format(where=where, ids=", ".join(missing)))


class _Builder:
    """One translation; collects the text-only documents as it goes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.text_only: list[dict[str, Any]] = []
        self.pdf_text_only = False
        self._content: dict[str, Callable[[Any, Path], dict[str, Any]]] = {
            "text": self._text,
            "image": self._image,
            "document": self._document,
            "toolUse": self._tool_use,
            "toolResult": self._tool_result,
            "guardContent": self._guard_content,
            "reasoningContent": self._reasoning,
            "citationsContent": self._citations_content,
            "searchResult": self._search_result,
        }
        self._tool_result_content: dict[str, Callable[[Any, Path], dict[str, Any]]] = {
            "json": self._json_text,
            "text": lambda value, path: {"type": "text", "text": value},
            "image": self._image,
            "document": self._document,
            "searchResult": self._search_result,
        }

    # --- whole request -----------------------------------------------------------------------

    def build(self, body: Mapping[str, Any]) -> dict[str, Any]:
        root = self.root
        out: dict[str, Any] = {"anthropic_version": ANTHROPIC_VERSION}
        inference = body.get("inferenceConfig") or {}
        if inference.get("maxTokens") is not None:
            out["max_tokens"] = inference["maxTokens"]
        if body.get("system"):
            out["system"] = self._system(body["system"], root + ("system",))
        messages = body.get("messages")
        if messages is None:
            raise ValidationException(
                "1 validation error detected: Value null at "
                f"'{coral_path(root + ('messages',))}' failed to satisfy constraint: "
                "Member must not be null"
            )
        out["messages"] = self._messages(messages, body.get("toolConfig") is not None)
        for converse_key, anthropic_key in _INFERENCE_KEYS:
            if inference.get(converse_key) is not None:
                out[anthropic_key] = inference[converse_key]
        if inference.get("stopSequences"):
            out["stop_sequences"] = list(inference["stopSequences"])
        if body.get("toolConfig") is not None:
            out.update(self._tool_config(body["toolConfig"], root + ("toolConfig",)))
        if body.get("outputConfig"):
            out["output_config"] = self._output_config(body["outputConfig"],
                                                       root + ("outputConfig",))
        extra = body.get("additionalModelRequestFields")
        if extra is not None:
            if not isinstance(extra, Mapping):
                raise ValidationException(
                    format_error(root + ("additionalModelRequestFields",), "json object")
                )
            for key, value in extra.items():
                if key in out:  # Bedrock refuses to let them override a modelled member
                    raise ValidationException(f"The additional field {key} conflicts with an existing field.")
                out[key] = value
        return out

    # --- conversation ------------------------------------------------------------------------

    def _messages(self, messages: list[Any], has_tool_config: bool) -> list[dict[str, Any]]:
        roles = [message["role"] for message in messages]
        if not roles or roles[0] != "user":
            raise ValidationException(START_WITH_USER)
        if any(first == second for first, second in zip(roles, roles[1:])):
            raise ValidationException(ALTERNATE_ROLES)
        out = []
        document_names: set[str] = set()
        for index, message in enumerate(messages):
            path = self.root + ("messages", index)
            content = message["content"]
            if not content:
                raise ValidationException(
                    f"The content field in the Message object at {dotted_path(path)} is empty. "
                    "Add a ContentBlock object to the content field and try again."
                )
            documents = [block["document"] for block in content if "document" in block]
            if documents:
                _check_documents(documents, content, document_names)
            blocks = self._blocks(content, path + ("content",), has_tool_config)
            if index and message["role"] == "user":
                _check_tool_results(messages[index - 1]["content"], content, path + ("content",))
            out.append({"role": message["role"], "content": blocks})
        return out

    def _blocks(self, content: list[Any], path: Path,
                has_tool_config: bool) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        for index, block in enumerate(content):
            block_path = path + (index,)
            kind, value = _the_member(block)
            if kind in ("toolUse", "toolResult") and not has_tool_config:
                raise ValidationException(TOOL_CONFIG_REQUIRED)
            if kind == "cachePoint":
                _attach_cache_point(blocks, value, block_path)
                continue
            translate = self._content.get(kind)
            if translate is None:
                raise _unsupported(f"the {kind} content block", block_path)
            blocks.append(translate(value, block_path + (kind,)))
        return blocks

    def _system(self, system: list[Any], path: Path) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        for index, entry in enumerate(system):
            entry_path = path + (index,)
            kind, value = _the_member(entry)
            if kind == "cachePoint":
                _attach_cache_point(blocks, value, entry_path)
            elif kind == "text":
                blocks.append({"type": "text", "text": value})
            else:  # guardContent
                guarded = self._guard_content(value, entry_path + (kind,))
                if guarded["type"] != "text":
                    raise _unsupported("images in the system prompt", entry_path)
                blocks.append(guarded)
        return blocks

    # --- content blocks ----------------------------------------------------------------------

    def _text(self, text: str, path: Path) -> dict[str, Any]:
        if not text.strip():
            where = dotted_path(path[:-1])
            raise ValidationException(
                f"The text field in the ContentBlock object at {where} is blank. "
                "Add text to the text field, and try again."
            )
        return {"type": "text", "text": text}

    def _image(self, image: Mapping[str, Any], path: Path) -> dict[str, Any]:
        source = self._bytes_source(image["source"], path + ("source",))
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": f"image/{image['format']}",
                       "data": source},
        }

    def _bytes_source(self, source: Mapping[str, Any], path: Path) -> str:
        kind, value = _the_member(source)
        if kind != "bytes":
            raise _unsupported(f"the {kind} source", path)
        return "".join(value.split())

    def _document(self, document: Mapping[str, Any], path: Path) -> dict[str, Any]:
        name = document["name"]
        if not _DOCUMENT_NAME.fullmatch(name):
            raise ValidationException(DOCUMENT_NAME_RULE)
        citations = bool((document.get("citations") or {}).get("enabled"))
        out: dict[str, Any] = {"type": "document",
                               "source": self._document_source(document, citations, path)}
        out["title"] = name
        if document.get("context"):
            out["context"] = document["context"]
        if document.get("citations") is not None:
            out["citations"] = {"enabled": citations}
        if out["source"]["type"] == "base64" and not (
            citations and out["source"]["media_type"] == "application/pdf"
        ):
            self.text_only.append(out)
            self.pdf_text_only |= out["source"]["media_type"] == "application/pdf"
        return out

    def _document_source(self, document: Mapping[str, Any], citations: bool,
                         path: Path) -> dict[str, Any]:
        source_path = path + ("source",)
        kind, value = _the_member(document["source"])
        if kind == "text":
            return {"type": "text", "media_type": "text/plain", "data": value}
        if kind == "content":
            return {"type": "content",
                    "content": [{"type": "text", "text": part["text"]} for part in value]}
        data = self._bytes_source(document["source"], source_path)
        doc_format = document.get("format")
        if doc_format is None:
            raise ValidationException(
                f"The format field of the DocumentBlock object at {dotted_path(path)} is "
                "required when the source is bytes. Add a format and try again."
            )
        if doc_format in TEXT_DOCUMENT_FORMATS:
            try:
                text = (decode_blob(data) or b"").decode("utf-8")
            except UnicodeDecodeError:
                raise ValidationException(
                    format_error(source_path + ("bytes",), "UTF-8 encoded document")
                ) from None
            return {"type": "text", "media_type": "text/plain", "data": text}
        media_type = BINARY_DOCUMENT_MEDIA_TYPES[doc_format]
        return {"type": "base64", "media_type": media_type, "data": data}

    def _tool_use(self, tool_use: Mapping[str, Any], path: Path) -> dict[str, Any]:
        if not isinstance(tool_use["input"], Mapping):
            raise ValidationException(format_error(path + ("input",), "json object"))
        return {
            "type": tool_use.get("type") or "tool_use",
            "id": tool_use["toolUseId"],
            "name": tool_use["name"],
            "input": tool_use["input"],
        }

    def _tool_result(self, result: Mapping[str, Any], path: Path) -> dict[str, Any]:
        if is_server_tool_result(result.get("type") or ""):
            return _server_tool_result(result, path)
        if result.get("status") == "error" and not result["content"]:  # the model would take it
            raise ValidationException(EMPTY_ERROR_RESULT.format(where=dotted_path(path)))
        content = []
        for index, item in enumerate(result["content"]):
            item_path = path + ("content", index)
            kind, value = _the_member(item)
            translate = self._tool_result_content.get(kind)
            if translate is None:
                raise _unsupported(f"the {kind} tool result content", item_path)
            content.append(translate(value, item_path + (kind,)))
        out: dict[str, Any] = {"type": "tool_result", "tool_use_id": result["toolUseId"],
                               "content": content}
        if result.get("status") == "error":
            out["is_error"] = True
        return out

    def _json_text(self, value: Any, path: Path) -> dict[str, Any]:
        return {"type": "text", "text": json.dumps(value, ensure_ascii=False,
                                                   separators=(",", ":"))}

    def _guard_content(self, guarded: Mapping[str, Any], path: Path) -> dict[str, Any]:
        kind, value = _the_member(guarded)
        if kind == "text":
            return self._text(value["text"], path + ("text", "text"))
        return self._image(value, path + ("image",))

    def _reasoning(self, reasoning: Mapping[str, Any], path: Path) -> dict[str, Any]:
        kind, value = _the_member(reasoning)
        if kind == "reasoningText":
            block = {"type": "thinking", "thinking": value["text"]}
            if value.get("signature") is not None:  # without one, the model refuses it as on InvokeModel
                block["signature"] = value["signature"]
            return block
        raw = decode_blob(value) or b""
        try:
            data = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationException(format_error(path + (kind,), "redacted content blob")) \
                from None
        return {"type": "redacted_thinking", "data": data}

    def _citations_content(self, cited: Mapping[str, Any], path: Path) -> dict[str, Any]:
        text = "".join(part["text"] for part in cited.get("content") or ())
        citations = [
            _anthropic_citation(citation, path + ("citations", index))
            for index, citation in enumerate(cited.get("citations") or ())
        ]
        out: dict[str, Any] = {"type": "text", "text": text}
        if citations:
            out["citations"] = citations
        return out

    def _search_result(self, result: Mapping[str, Any], path: Path) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "search_result",
            "source": result["source"],
            "title": result["title"],
            "content": [{"type": "text", "text": part["text"]} for part in result["content"]],
        }
        if result.get("citations") is not None:
            out["citations"] = {"enabled": bool(result["citations"]["enabled"])}
        return out

    # --- tools, output format ----------------------------------------------------------------

    def _tool_config(self, config: Mapping[str, Any], path: Path) -> dict[str, Any]:
        tools: list[dict[str, Any]] = []
        for index, tool in enumerate(config["tools"]):
            tool_path = path + ("tools", index)
            kind, value = _the_member(tool)
            if kind == "cachePoint":
                _attach_cache_point(tools, value, tool_path)
            elif kind == "systemTool":
                raise _unsupported("system tools", tool_path)
            else:
                tools.append(self._tool_spec(value, tool_path + (kind,)))
        out: dict[str, Any] = {"tools": tools}
        if config.get("toolChoice") is not None:
            kind, value = _the_member(config["toolChoice"])
            out["tool_choice"] = _TOOL_CHOICES[kind](value)
        return out

    def _tool_spec(self, spec: Mapping[str, Any], path: Path) -> dict[str, Any]:
        schema = spec["inputSchema"]["json"]
        if not isinstance(schema, Mapping):
            raise ValidationException(format_error(path + ("inputSchema", "json"), "json object"))
        out: dict[str, Any] = {"name": spec["name"]}
        if spec.get("description") is not None:
            out["description"] = spec["description"]
        out["input_schema"] = schema
        if spec.get("strict") is not None:
            out["strict"] = spec["strict"]
        return out

    def _output_config(self, config: Mapping[str, Any], path: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        text_format = config.get("textFormat")
        if text_format is not None:
            definition = text_format["structure"]["jsonSchema"]
            schema_path = path + ("textFormat", "structure", "jsonSchema", "schema")
            try:
                schema = json.loads(definition["schema"])
            except (ValueError, RecursionError):  # (a string of 5,000 '[' is deeper than the interpreter goes)
                schema = None
            if not isinstance(schema, dict):
                raise ValidationException(format_error(schema_path, "json object"))
            out["format"] = {"type": "json_schema", "schema": schema}
        if config.get("effort"):
            out["effort"] = config["effort"]
        return out


#: inferenceConfig member -> Anthropic body key, for the members copied as they are.
_INFERENCE_KEYS: tuple[tuple[str, str], ...] = (("temperature", "temperature"), ("topP", "top_p"))

_TOOL_CHOICES: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "auto": lambda value: {"type": "auto"},
    "any": lambda value: {"type": "any"},
    "tool": lambda value: {"type": "tool", "name": value["name"]},
}


def _server_tool_result(result: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """A replayed server tool's result (``type`` ``tool_search_tool_result``...) as the Anthropic
    block it was rendered from: its content is the one ``json`` item the response held."""
    items = result["content"]
    if len(items) != 1 or "json" not in items[0]:
        raise ValidationException(format_error(path + ("content",), "list of one json item"))
    return {"type": result["type"], "tool_use_id": result["toolUseId"],
            "content": items[0]["json"]}


def _anthropic_citation(citation: Mapping[str, Any], path: Path) -> dict[str, Any]:
    """A replayed Converse ``Citation`` as the Anthropic citation it came from."""
    location = citation.get("location")
    if not location:
        raise ValidationException(format_error(path + ("location",), "citation location"))
    kind, where = _the_member(location)
    row = CITATION_LOCATIONS.get(kind)
    if row is None or not row.replayable:
        raise _unsupported(f"{kind} citations in a conversation", path + ("location",))
    out: dict[str, Any] = {"type": row.anthropic_type}
    cited = "".join(part.get("text") or "" for part in citation.get("sourceContent") or ())
    out["cited_text"] = cited
    for converse_key, anthropic_key in row.fields:
        if where.get(converse_key) is not None:
            out[anthropic_key] = where[converse_key]
    if row.title_key is not None:
        out[row.title_key] = citation.get("title")
    if row.source_key is not None and citation.get("source") is not None:
        out[row.source_key] = citation["source"]
    return out
