"""Plain-text extraction from a PDF, for the Converse API's text-only document mode.

The guide (section "Support PDF sur Bedrock"): through Converse, a PDF gets visual analysis
only when citations are enabled; without citations only its text is extracted. The runtime
uses this module to hand the model exactly that text, so usage and answers differ between the
two modes as on Bedrock.

It reads what most generated PDFs hold: content streams, plain or ``/FlateDecode``d, and the
strings shown by the ``Tj``, ``TJ``, ``'`` and ``"`` text operators (literal strings with their
escapes, and hex strings). Content streams are read as tokens (ISO 32000-1, 7.2 and 7.8.2): a
literal string ends at the parenthesis that balances its opening one (unescaped balanced pairs
are part of it), and an operator is a whole token, so the letters ``ET`` in a shown word such
as ``(BUDGET)``, or in a name such as ``/ET1``, end nothing. Inline image data (``ID`` ...
``EI``) is skipped. It is not a full PDF parser (no font encodings or CMaps, no cross-reference
lookup): text it cannot read is skipped, never guessed. Pure: bytes in, text out.

``page_count`` counts a PDF's page objects (``/Type /Page``), for token usage: those written
plainly in the file and those inside ``/FlateDecode``d object streams (``/Type /ObjStm``, ISO
32000-1, 7.5.7), where PDF 1.5+ writers (Word, Chrome, LibreOffice) put them. A file without an
object stream costs two searches; object streams are inflated as content streams are, within
the same budgets (their text is never tokenised).

A client chooses the bytes, so the reading is bounded: one pass over the document (streams
and tokens are each found once; a string that never ends ends the reading of its stream, never
searched again from every later position), at most ``MAX_STREAM_BYTES`` of one stream and
``MAX_DECODED_BYTES`` of all of them decompressed, one stream in memory at a time, and at most
``MAX_TOKENS`` tokens of Python work.
The documents of one request share a ``DocumentBudget`` besides (``document_budget``): a stream
it does not cover entirely is not read (left out of the text); an object stream not read counts
as many pages as the objects its dictionary declares (``/N``), never fewer than it holds.

The runtime reads documents in worker threads (``service.offload``), so that the event loop
keeps serving meanwhile; but one long C call (a search of megabytes) holds the GIL, and so the
loop, all the same. So the searches that run over a stream's bytes between two things found
(the next token, a string's end, an inline image's end, page objects) are made about
``_SEARCH_BYTES`` at a time. (A string shown is still decoded in a few calls over its bytes:
tens of milliseconds for one of 8 MB.) A reading whose call has ended stops
(``document_budget.check_stop``) before each stream, every ``_TOKENS_PER_CHECK`` tokens, and
between two windows of a search (the first window of a search costs no look).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Iterator

from claude_bedrock.domain.document_budget import DocumentBudget, check_stop

#: The end of a stream's dictionary and its ``stream`` keyword (the stream's data follows).
_STREAM_HEAD_RE = re.compile(rb">>\s*stream\r?\n")
_STREAM_END = b"\nendstream"
#: The tokens the text is read from (ISO 32000-1, 7.8.2), found in one search each: a literal
#: string's "(" (its end is found by ``_string_end``: balanced parentheses may nest unescaped),
#: a hex string, an array's brackets, a comment, and the operators that show text, end a text
#: block or start an inline image's data. No capturing group: the search then skips the bytes
#: between tokens many times faster. Whether a match is a whole token is checked by the caller.
_TOKEN_RE = re.compile(rb"\(|<[0-9A-Fa-f\s]*>|\[|\]|%[^\r\n]*|BT|ET|Tj|TJ|ID|'|\"")
#: What ``_next_token`` finds of them: their first bytes (at most two; a hex string's "<" and a
#: comment's "%" only: the bodies of those two, of any length, are runs of ``_HEX_BODY_RE`` and
#: ``_COMMENT_BODY_RE``).
#: (Written as ``_TOKEN_RE`` is: a class of first bytes before the letters searches 4 times slower.)
_TOKEN_HEAD_RE = re.compile(rb"\(|<|\[|\]|%|BT|ET|Tj|TJ|ID|'|\"")
_HEX_BODY_RE = re.compile(rb"[0-9A-Fa-f\s]*")
_COMMENT_BODY_RE = re.compile(rb"[^\r\n]*")
#: What ends a bare token (PDF white space and delimiters).
_DELIMITERS = frozenset(b"\0\t\n\f\r ()<>[]{}/%")
#: A literal string's bytes up to its next unescaped parenthesis (matched by ``_run_end``).
_STRING_BODY_RE = re.compile(rb"[^\\()]*(?:\\.[^\\()]*)*", re.S)
#: The end of an inline image's data (searched by ``_inline_image_end``).
_INLINE_IMAGE_END_RE = re.compile(rb"\sEI(?=[\s()<>\[\]{}/%]|$)")
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f", b"(": b"(", b")": b")", b"\\": b"\\",
            b"\n": b"", b"\r": b"", b"\r\n": b""}  # a backslash before an end of line joins the lines
_ESCAPE_RE = re.compile(rb"\\(\r\n|[0-7]{1,3}|.)", re.S)
#: Bytes no text string holds (C0 controls but tab, line feed, carriage return): a string with
#: them shows glyph codes, as fonts with 2-byte encodings (Identity-H) do.
_CONTROL_BYTES_RE = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")
#: A page object's type (not ``/Pages``, a node of the page tree), and an object stream's.
_PAGE_TYPE_RE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")
_OBJECT_STREAM_TYPE_RE = re.compile(rb"/Type\s*/ObjStm(?![a-zA-Z])")
#: The number of objects an object stream holds (its dictionary's ``/N``); more digits than
#: this are no count of objects a request could carry.
_OBJECT_COUNT_RE = re.compile(rb"/N\s+(\d{1,9})(?!\d)")
#: Streams larger than this (decompressed) are cut: a document is not a decompression bomb.
MAX_STREAM_BYTES = 8 * 1024 * 1024
#: Stream bytes read from one document in all (many small streams that each inflate to
#: MAX_STREAM_BYTES are a bomb too); the streams past it are not read.
MAX_DECODED_BYTES = 16 * 1024 * 1024
#: Tokens (strings, the parentheses nested and the escapes in them, brackets, operators) read
#: from one document: each costs a step of Python, and a small stream can inflate to millions.
MAX_TOKENS = 500_000
#: Bytes searched for page objects, tokens or an inline image's end per call of the search (a
#: few milliseconds of it; at least 4, the bytes an inline image's end is decided on).
_SEARCH_BYTES = 256 * 1024
#: Tokens read between two looks at the reading's stop flag (a few milliseconds of them).
_TOKENS_PER_CHECK = 4096


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
    if _CONTROL_BYTES_RE.search(raw):  # glyph codes (a 2-byte Identity-H font's), not text:
        return ""  # without the font's CMap they cannot be read, so they are skipped, not guessed
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


def _decoded(streams: Iterable[tuple[bytes, bytes]], budget: DocumentBudget) -> Iterator[tuple[bytes, bytes | None]]:
    """(dictionary, data) of ``streams`` (from ``_raw_streams``), inflated within the document's
    byte budgets and the request's ``budget``; data None for a stream the request's budget does
    not cover entirely (not read). Streams with other filters are skipped."""
    left = MAX_DECODED_BYTES
    for dictionary, data in streams:
        if left <= 0:
            return
        check_stop()
        room = min(MAX_STREAM_BYTES, left)
        request_bound = budget.decoded_bytes < room
        if request_bound and budget.decoded_bytes <= 0:
            yield dictionary, None
            continue
        if b"/FlateDecode" in dictionary:
            inflater = zlib.decompressobj()
            try:
                data = inflater.decompress(data, budget.decoded_bytes if request_bound else room)
            except zlib.error:
                continue
            cut = request_bound and len(data) == budget.decoded_bytes and not inflater.eof
        elif b"/Filter" in dictionary:
            continue  # other filters (images, DCT...) hold no text we can read
        else:
            cut = request_bound and len(data) > budget.decoded_bytes
        left -= len(data)
        budget.decoded_bytes -= len(data)
        yield dictionary, None if cut else data


class _Reader:
    """The text shown by content streams, a line per text block (``BT`` ... ``ET``), reading at
    most ``tokens`` tokens of the document in all; the reading stops (``check_stop``) every
    ``_TOKENS_PER_CHECK`` tokens."""

    def __init__(self, tokens: int) -> None:
        self.lines: list[str] = []
        self.tokens_left = tokens
        self._next_check = tokens - _TOKENS_PER_CHECK  # the tokens left at the next look at the stop flag

    def _check_stop(self) -> None:
        check_stop()
        self._next_check = self.tokens_left - _TOKENS_PER_CHECK

    def read(self, stream: bytes) -> None:
        """Read one content stream: strings and arrays are operands; ``Tj``, ``'`` and ``"``
        show the last string, ``TJ`` the strings of the last array."""
        shown: list[str] = []
        operand: bytes | list[bytes] | None = None
        array: list[bytes] | None = None
        position = 0
        while self.tokens_left > 0 and (token := _next_token(stream, position)) is not None:
            self.tokens_left -= 1
            if self.tokens_left <= self._next_check:
                self._check_stop()
            start, position = token
            first = stream[start]
            if first == 0x28:  # (
                position = self._string_end(stream, position)
                if position < 0:
                    break  # a string that never ends: nothing after it is readable
                string = stream[start:position]
            elif first == 0x3C:  # <
                string = stream[start:position]
            else:
                string = None
            if string is not None:
                if array is not None:
                    array.append(string)
                else:
                    operand = string
                continue
            if first == 0x5B:  # [
                array = []
            elif first == 0x5D:  # ]
                operand, array = array, None
            elif first != 0x25 and (start == 0 or stream[start - 1] in _DELIMITERS) and (
                position == len(stream) or stream[position] in _DELIMITERS
            ):  # a whole operator, not a piece of another token or of a name
                operator = stream[start:position]
                if operator == b"TJ" and isinstance(operand, list):
                    shown.extend(self._text(item) for item in operand)
                elif operator in (b"Tj", b"'", b'"') and isinstance(operand, bytes):
                    shown.append(self._text(operand))
                elif operator == b"ET":
                    self._line(shown)
                    shown = []
                elif operator == b"ID":
                    position = _inline_image_end(stream, position)
                    if position < 0:
                        break
                operand = None
        self._line(shown)

    def _text(self, string: bytes) -> str:
        self.tokens_left -= string.count(b"\\")  # each escape is a step of Python too
        return _string(string) if self.tokens_left > 0 else ""

    def _line(self, shown: list[str]) -> None:
        text = "".join(shown).strip()
        if text:
            self.lines.append(text)

    def _string_end(self, stream: bytes, position: int) -> int:
        """Where the literal string whose "(" ends at ``position`` ends (after its balancing
        ")"); -1 when it never does within the token budget (each parenthesis is a token)."""
        depth = 1
        while self.tokens_left > 0:
            position = _run_end(_STRING_BODY_RE, stream, position)
            if position == len(stream) or stream[position] not in b"()":
                return -1  # the end of the stream, or a backslash ending it
            depth += 1 if stream[position] == 0x28 else -1
            position += 1
            if depth == 0:
                return position
            self.tokens_left -= 1
            if self.tokens_left <= self._next_check:
                self._check_stop()
        return -1


def _next_token(stream: bytes, position: int) -> tuple[int, int] | None:
    """The span of ``_TOKEN_RE.search(stream, position)`` (None when it finds none), searched
    about ``_SEARCH_BYTES`` at a time: one search of an 8 MB stream without tokens holds the GIL
    for 50 ms, and a reading off the event loop (``service.offload``) would hold the loop all the
    same. A token's first bytes (``_TOKEN_HEAD_RE``) are at most two: the first found in a piece
    is the first of the stream, and the next piece starts a byte before the end of this one.
    A "<" whose body is not closed by ">" is no token: the search goes on after it."""
    size = len(stream)
    while position < size:
        end = min(size, position + _SEARCH_BYTES)
        head = _TOKEN_HEAD_RE.search(stream, position, end)
        if head is None:
            position = end - 1 if end < size else size
            check_stop()
            continue
        start = head.start()
        first = stream[start]
        if first == 0x3C:  # <
            body_end = _run_end(_HEX_BODY_RE, stream, start + 1)
            if body_end < size and stream[body_end] == 0x3E:  # >
                return start, body_end + 1
            position = start + 1
        elif first == 0x25:  # %
            return start, _run_end(_COMMENT_BODY_RE, stream, start + 1)
        else:
            return head.span()
    return None


def _run_end(body: re.Pattern[bytes], stream: bytes, position: int) -> int:
    """Where the run of ``body`` starting at ``position`` ends, matched about ``_SEARCH_BYTES``
    at a time: ``body`` repeats units of one byte (a class of bytes) or of two (an escape: a
    backslash and the byte after it), each decided by its first byte. A match that stops short
    of its piece's last byte stopped where the whole stream's does; one that stops on that byte
    (maybe an escape whose second byte is in the next piece) or at the piece's end goes on from
    there, at the start of a unit. (One match of the body of a string that never ends held the
    GIL for 60 ms over 8 MB, 0.36 s when the 8 MB were escapes.)"""
    size = len(stream)
    while True:
        end = min(size, position + _SEARCH_BYTES)
        position = body.match(stream, position, end).end()  # type: ignore[union-attr]
        if position < end - 1 or end == size:
            return position
        check_stop()


def _inline_image_end(stream: bytes, position: int) -> int:
    """Where ``_INLINE_IMAGE_END_RE.search(stream, position)`` ends (-1 when it finds none),
    searched about ``_SEARCH_BYTES`` at a time: one search of 8 MB of image data without ``EI``
    held the GIL for 50 ms. A match is three bytes and a look-ahead at the byte after them: one
    that ends before its piece's end saw that byte; one that ends with the piece (whose end the
    look-ahead took for the stream's) is searched again in the next piece, which starts where
    it starts."""
    size = len(stream)
    while True:
        end = min(size, position + _SEARCH_BYTES)
        found = _INLINE_IMAGE_END_RE.search(stream, position, end)
        if found is not None and (found.end() < end or end == size):
            return found.end()
        if end == size:
            return -1
        position = end - 3
        check_stop()


def extract_text(pdf: bytes, budget: DocumentBudget | None = None) -> str:
    """The text shown by the PDF's content streams, one line per text block, read within
    ``budget`` (the request's, shared by its documents; a fresh one when None).

    Returns "" when nothing readable is found (scanned pages, unsupported encodings).
    """
    budget = DocumentBudget() if budget is None else budget
    tokens = min(MAX_TOKENS, budget.tokens)
    reader = _Reader(tokens)
    for _, stream in _decoded(_raw_streams(pdf), budget):
        if reader.tokens_left <= 0:
            break
        if stream is not None:
            reader.read(stream)
    budget.tokens -= tokens - reader.tokens_left
    return "\n".join(reader.lines)


def _page_objects(data: bytes) -> int:
    """``len(_PAGE_TYPE_RE.findall(data))``, searched about ``_SEARCH_BYTES`` at a time: one
    search of an 8 MB stream holds the GIL for 0.1 s, and a reading off the event loop
    (``service.offload``) would hold the loop all the same. A piece ends where a ``/Type``
    begins: a match holds one ``/Type``, at its start, so none spans that point, and the ``/``
    there is no letter for the pattern's look-ahead, which sees the end of the piece instead."""
    count = 0
    start, size = 0, len(data)
    while start < size:
        check_stop()
        end = data.find(b"/Type", start + _SEARCH_BYTES)
        end = size if end < 0 else end
        count += len(_PAGE_TYPE_RE.findall(data, start, end))
        start = end
    return count


def page_count(pdf: bytes, budget: DocumentBudget | None = None) -> int:
    """The page objects (``/Type /Page``) of the PDF, in the file and in its compressed object
    streams (0 when none is found), those read within ``budget`` (the request's, shared by its
    documents; a fresh one when None); an object stream it does not cover counts its ``/N``."""
    count = _page_objects(pdf)
    if b"/ObjStm" not in pdf:  # an object stream's own dictionary is never compressed
        return count
    object_streams = ((dictionary, data) for dictionary, data in _raw_streams(pdf)
                      if b"/Filter" in dictionary and _OBJECT_STREAM_TYPE_RE.search(dictionary))
    # (an object stream without a filter is plain bytes, already counted above)
    for dictionary, stream in _decoded(object_streams, DocumentBudget() if budget is None else budget):
        if stream is not None:
            count += _page_objects(stream)
        elif objects := _OBJECT_COUNT_RE.search(dictionary):
            count += int(objects.group(1))
    return count
