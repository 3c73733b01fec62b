"""Documents the model reads as text only (Converse), replaced by their text (pure).

The guide (section "Support PDF sur Bedrock"): through Converse, a PDF gets visual analysis only
when citations are enabled; without citations only its text is extracted. Office documents
(docx, xlsx, and the legacy doc, xls) reach Claude as their text in every case. The Converse
translation points at those blocks (``ConverseTranslation.text_only_documents``); this module
replaces each with a plain-text document holding the text, so usage and answers differ between
the two modes as on Bedrock.

Bytes that are not the declared format are refused, as InvokeModel refuses a PDF that is not
one: "The PDF specified was not valid." (observed); for Office formats the same sentence with
the format's name (ours). Legacy doc and xls files are not read (their text would have to be
guessed): the model is given a placeholder saying so. The documents of a request share one
``DocumentBudget`` (``document_budget``); one met once it is spent is not read either, and a
placeholder says so.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from claude_bedrock.domain.content_rules import INVALID_PDF, PDF_SIGNATURE
from claude_bedrock.domain.document_budget import DocumentBudget
from claude_bedrock.domain.errors import ValidationException
from claude_bedrock.domain.office_text import NotAnOfficeDocument, docx_text, xlsx_text
from claude_bedrock.domain.pdf_text import extract_text
from claude_bedrock.wire.converse_request import BINARY_DOCUMENT_MEDIA_TYPES

__all__ = ["NO_TEXT_PLACEHOLDER", "apply_text_only"]

#: What the model is given for a document whose text cannot be read.
NO_TEXT_PLACEHOLDER = "(This PDF has no extractable text.)"
UNREAD_LEGACY_PLACEHOLDER = "(The text of this {kind} document could not be read.)"
#: What the model is given for a document past the request's budget (ours).
PAST_BUDGET_PLACEHOLDER = "(The text of this {kind} document was not read: the request's documents exceed the reading budget.)"
INVALID_DOCUMENT = "The {kind} document specified was not valid."  # InvokeModel's PDF words (ours)


def _pdf(raw: bytes, budget: DocumentBudget) -> str:
    if not raw.startswith(PDF_SIGNATURE):
        raise ValidationException(INVALID_PDF)
    if budget.spent:
        return PAST_BUDGET_PLACEHOLDER.format(kind="PDF")
    return extract_text(raw, budget) or NO_TEXT_PLACEHOLDER


def _office(kind: str, read: Callable[[bytes, DocumentBudget], str]) -> Callable[[bytes, DocumentBudget], str]:
    def text(raw: bytes, budget: DocumentBudget) -> str:
        past_budget = budget.decoded_bytes <= 0
        try:
            text = read(raw, budget)
        except NotAnOfficeDocument:
            raise ValidationException(INVALID_DOCUMENT.format(kind=kind)) from None
        return text or (PAST_BUDGET_PLACEHOLDER if past_budget else UNREAD_LEGACY_PLACEHOLDER).format(kind=kind)
    return text


def _legacy(kind: str) -> Callable[[bytes, DocumentBudget], str]:
    return lambda raw, budget: UNREAD_LEGACY_PLACEHOLDER.format(kind=kind)


#: Media type -> the text the model reads of such bytes, within the request's budget.
_READERS: dict[str, Callable[[bytes, DocumentBudget], str]] = {
    BINARY_DOCUMENT_MEDIA_TYPES["pdf"]: _pdf,
    BINARY_DOCUMENT_MEDIA_TYPES["docx"]: _office("DOCX", docx_text),
    BINARY_DOCUMENT_MEDIA_TYPES["xlsx"]: _office("XLSX", xlsx_text),
    BINARY_DOCUMENT_MEDIA_TYPES["doc"]: _legacy("DOC"),
    BINARY_DOCUMENT_MEDIA_TYPES["xls"]: _legacy("XLS"),
}


def apply_text_only(body: dict[str, Any], pointers: tuple[str, ...]) -> int:
    """Replace each base64 ``document`` block at the JSON ``pointers`` of ``body`` with a
    plain-text document holding its text. Returns how many blocks changed.

    Raises:
        ValidationException: a document's bytes are not of its declared format.
    """
    changed = 0
    budget = DocumentBudget()
    for pointer in pointers:
        block = _resolve(body, pointer)
        source = block.get("source") if isinstance(block, dict) else None
        read = _READERS.get(source.get("media_type")) if isinstance(source, dict) else None
        if read is None:
            continue
        try:
            raw = base64.b64decode(source.get("data", ""), validate=False)
        except (binascii.Error, ValueError):
            raw = b""
        block["source"] = {"type": "text", "media_type": "text/plain", "data": read(raw, budget)}
        changed += 1
    return changed


def _resolve(body: Any, pointer: str) -> Any:
    node = body
    for part in pointer.lstrip("/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[int(part)] if isinstance(node, list) else node.get(part)
        if node is None:
            return None
    return node
