"""Plain-text extraction from a PDF, for the Converse API's text-only document mode.

The guide (section "Support PDF sur Bedrock"): through Converse, a PDF gets visual analysis
only when citations are enabled; without citations only its text is extracted. The runtime
uses this module to hand the model exactly that text, so usage and answers differ between the
two modes as on Bedrock.

It reads what most generated PDFs hold: content streams, plain or ``/FlateDecode``d, and the
strings shown by the ``Tj``, ``TJ``, ``'`` and ``"`` text operators (literal strings with their
escapes, and hex strings). It is not a full PDF parser (no font encodings or CMaps, no
object streams): text it cannot read is skipped, never guessed. Pure: bytes in, text out.
"""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from typing import Any

_STREAM_RE = re.compile(rb"<<(?P<dict>.*?)>>\s*stream\r?\n(?P<data>.*?)\r?\nendstream", re.S)
_TEXT_BLOCK_RE = re.compile(rb"BT(.*?)ET", re.S)
_SHOW_RE = re.compile(rb"(\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f\s]*>|\[(?:\\.|[^\]\\])*\])\s*(Tj|TJ|'|\")")
_ARRAY_ITEM_RE = re.compile(rb"\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f\s]*>")
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f", b"(": b"(", b")": b")", b"\\": b"\\"}
_ESCAPE_RE = re.compile(rb"\\([0-7]{1,3}|.)", re.S)
#: Streams larger than this (decompressed) are skipped: a document is not a decompression bomb.
MAX_STREAM_BYTES = 8 * 1024 * 1024


def _unescape(match: re.Match[bytes]) -> bytes:
    code = match.group(1)
    if code[:1].isdigit():
        return bytes([int(code, 8) & 0xFF])
    return _ESCAPES.get(code, code)


def _string(token: bytes) -> str:
    if token.startswith(b"<"):
        digits = re.sub(rb"\s", b"", token[1:-1])
        if len(digits) % 2:
            digits += b"0"
        raw = bytes.fromhex(digits.decode("ascii"))
    else:
        raw = _ESCAPE_RE.sub(_unescape, token[1:-1])
    if raw.startswith(b"\xfe\xff"):
        return raw[2:].decode("utf-16-be", "replace")
    return raw.decode("latin-1")


def _streams(pdf: bytes) -> list[bytes]:
    out = []
    for match in _STREAM_RE.finditer(pdf):
        data = match.group("data")
        if b"/FlateDecode" in match.group("dict"):
            try:
                decoder = zlib.decompressobj()
                data = decoder.decompress(data, MAX_STREAM_BYTES)
            except zlib.error:
                continue
        elif re.search(rb"/Filter", match.group("dict")):
            continue  # other filters (images, DCT...) hold no text we can read
        out.append(data)
    return out


def extract_text(pdf: bytes) -> str:
    """The text shown by the PDF's content streams, one line per text block.

    Returns "" when nothing readable is found (scanned pages, unsupported encodings).
    """
    lines: list[str] = []
    for stream in _streams(pdf):
        for block in _TEXT_BLOCK_RE.finditer(stream):
            pieces: list[str] = []
            for shown, _operator in _SHOW_RE.findall(block.group(1)):
                if shown.startswith(b"["):
                    pieces.extend(_string(item) for item in _ARRAY_ITEM_RE.findall(shown))
                else:
                    pieces.append(_string(shown))
            text = "".join(pieces).strip()
            if text:
                lines.append(text)
    return "\n".join(lines)


#: What the model is given for a PDF whose text cannot be read in text-only mode.
NO_TEXT_PLACEHOLDER = "(This PDF has no extractable text.)"


def apply_text_only(body: dict[str, Any], pointers: tuple[str, ...]) -> int:
    """Replace each base64 PDF ``document`` block at the JSON ``pointers`` of ``body`` with a
    plain-text document holding its extracted text (Converse without citations). Returns how
    many blocks changed. Other text-only documents (Office formats) are left as sent."""
    changed = 0
    for pointer in pointers:
        block = _resolve(body, pointer)
        source = block.get("source") if isinstance(block, dict) else None
        if not isinstance(source, dict) or source.get("media_type") != "application/pdf":
            continue
        try:
            raw = base64.b64decode(source.get("data", ""), validate=False)
        except (binascii.Error, ValueError):
            raw = b""
        text = extract_text(raw) or NO_TEXT_PLACEHOLDER
        block["source"] = {"type": "text", "media_type": "text/plain", "data": text}
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
