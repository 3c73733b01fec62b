"""Plain-text extraction from a PDF, for the Converse API's text-only document mode.

The guide (section "Support PDF sur Bedrock"): through Converse, a PDF gets visual analysis
only when citations are enabled; without citations only its text is extracted. The runtime
uses this module to hand the model exactly that text, so usage and answers differ between the
two modes as on Bedrock.

It reads what most generated PDFs hold: content streams, plain or ``/FlateDecode``d, and the
strings shown by the ``Tj``, ``TJ``, ``'`` and ``"`` text operators (literal strings with their
escapes, and hex strings). It is not a full PDF parser (no font encodings or CMaps, no
object streams): text it cannot read is skipped, never guessed. Pure: bytes in, text out.

A client chooses the bytes, and the runtime reads them on the event loop, so the reading is
bounded: one pass over the document (streams, text blocks and strings are each found once, a
string or an array that never ends is skipped to the end of its block, never searched again
from every later position), at most ``MAX_STREAM_BYTES`` of one stream and
``MAX_DECODED_BYTES`` of all of them decompressed, one stream in memory at a time.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator

#: The end of a stream's dictionary and its ``stream`` keyword (the stream's data follows).
_STREAM_HEAD_RE = re.compile(rb">>\s*stream\r?\n")
_STREAM_END = b"\nendstream"
#: A shown string or array, then its operator when one follows. Closers are optional so that an
#: unterminated string consumes the rest of its block once (required closers would make every
#: later opening parenthesis scan to the end again: quadratic); the caller keeps complete ones.
_SHOW_RE = re.compile(
    rb"(?P<shown>\((?:\\.|[^\\)])*(?P<string_end>\))?|<[0-9A-Fa-f\s]*(?P<hex_end>>)?"
    rb"|\[(?:\\.|[^\]\\])*(?P<array_end>\])?)(?P<operator>\s*(?:Tj|TJ|'|\"))?"
)
_ARRAY_ITEM_RE = re.compile(rb"(?P<item>\((?:\\.|[^\\)])*(?P<string_end>\))?|<[0-9A-Fa-f\s]*(?P<hex_end>>)?)")
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f", b"(": b"(", b")": b")", b"\\": b"\\"}
_ESCAPE_RE = re.compile(rb"\\([0-7]{1,3}|.)", re.S)
#: Streams larger than this (decompressed) are cut: a document is not a decompression bomb.
MAX_STREAM_BYTES = 8 * 1024 * 1024
#: Stream bytes read from one document in all (many small streams that each inflate to
#: MAX_STREAM_BYTES are a bomb too); the streams past it are not read.
MAX_DECODED_BYTES = 64 * 1024 * 1024


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


def _raw_streams(pdf: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(dictionary, data) of each stream, in one pass: what
    ``<<(.*?)>>\\s*stream\\r?\\n(.*?)\\r?\\nendstream`` finds (the regex itself, when a stream
    never ends, tries again from every later ``<<``)."""
    position = 0
    while (opening := pdf.find(b"<<", position)) >= 0:
        head = _STREAM_HEAD_RE.search(pdf, opening + 2)
        if head is None:
            return
        end = pdf.find(_STREAM_END, head.end())
        if end < 0:
            return
        data = pdf[head.end():end]
        yield pdf[opening + 2:head.start()], data[:-1] if data.endswith(b"\r") else data
        position = end + len(_STREAM_END)


def _streams(pdf: bytes) -> Iterator[bytes]:
    budget = MAX_DECODED_BYTES
    for dictionary, data in _raw_streams(pdf):
        if budget <= 0:
            return
        if b"/FlateDecode" in dictionary:
            try:
                data = zlib.decompressobj().decompress(data, min(MAX_STREAM_BYTES, budget))
            except zlib.error:
                continue
        elif b"/Filter" in dictionary:
            continue  # other filters (images, DCT...) hold no text we can read
        budget -= len(data)
        yield data


def _text_blocks(stream: bytes) -> Iterator[bytes]:
    """What ``BT(.*?)ET`` finds, in one pass."""
    position = 0
    while (start := stream.find(b"BT", position)) >= 0:
        end = stream.find(b"ET", start + 2)
        if end < 0:
            return
        yield stream[start + 2:end]
        position = end + 2


def _shown(block: bytes) -> Iterator[str]:
    """The strings shown in one text block, in order."""
    for match in _SHOW_RE.finditer(block):
        if match["operator"] is None or not (match["string_end"] or match["hex_end"] or match["array_end"]):
            continue
        shown = match["shown"]
        if shown.startswith(b"["):
            for item in _ARRAY_ITEM_RE.finditer(shown):
                if item["string_end"] or item["hex_end"]:
                    yield _string(item["item"])
        else:
            yield _string(shown)


def extract_text(pdf: bytes) -> str:
    """The text shown by the PDF's content streams, one line per text block.

    Returns "" when nothing readable is found (scanned pages, unsupported encodings).
    """
    lines: list[str] = []
    for stream in _streams(pdf):
        for block in _text_blocks(stream):
            text = "".join(_shown(block)).strip()
            if text:
                lines.append(text)
    return "\n".join(lines)
