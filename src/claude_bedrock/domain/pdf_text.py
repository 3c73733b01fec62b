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

import re
import zlib

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
