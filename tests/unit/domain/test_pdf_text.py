"""PDF text extraction for Converse's text-only document mode."""

from __future__ import annotations

import re
import subprocess
import sys
import zlib
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claude_bedrock.domain import pdf_text
from claude_bedrock.domain.document_budget import DocumentBudget
from claude_bedrock.domain.pdf_text import extract_text, page_count


def make_pdf(content: bytes, *, compress: bool = False) -> bytes:
    data = zlib.compress(content) if compress else content
    filters = b"/Filter /FlateDecode " if compress else b""
    return (b"%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n"
            b"2 0 obj << " + filters + b"/Length " + str(len(data)).encode() + b" >>\nstream\n"
            + data + b"\nendstream\nendobj\n%%EOF\n")


def test_pdf_text_plain_stream():
    pdf = make_pdf(b"BT /F1 12 Tf 72 712 Td (Quarterly revenue grew 12%.) Tj ET")
    assert extract_text(pdf) == "Quarterly revenue grew 12%."


def test_pdf_text_flate_stream_and_tj_arrays():
    pdf = make_pdf(b"BT [(Hel) -20 (lo) 10 <20776f726c64>] TJ ET BT (second \\(line\\)) Tj ET", compress=True)
    assert extract_text(pdf) == "Hello world\nsecond (line)"


def test_pdf_text_octal_escapes():
    assert extract_text(make_pdf(b"BT (caf\\351) Tj ET")) == "caf\u00e9"


def test_pdf_text_nothing_readable():
    assert extract_text(b"%PDF-1.4 no streams here") == ""
    assert extract_text(make_pdf(b"garbage", compress=False)) == ""


@settings(max_examples=200)
@given(st.binary(max_size=2000))
def test_pdf_text_never_raises(data):
    assert isinstance(extract_text(b"%PDF-1.4\n" + data), str)
    assert isinstance(extract_text(make_pdf(data)), str)


# A client chooses the bytes and the runtime reads them on the event loop: hostile documents
# must cost one pass, not one pass per opening bracket (a 40 KB PDF of ``<<>>`` held the whole
# server for six seconds; a few MB, for hours).

HOSTILE_PDFS = {
    "dictionaries that never reach a stream": b"%PDF-1.4\n" + b"<<>>" * 500_000,
    "streams that never end": b"%PDF-1.4\n" + b"<<>>stream\n" * 200_000,
    "text blocks that never end": make_pdf(b"BT " * 700_000),
    "a string that never ends": make_pdf(b"BT " + b"(" * 2_000_000 + b" ET"),
    "strings inside a string never shown": make_pdf(b"BT " + b"(" * 2_000_000 + b") ET"),
    "an array that never ends": make_pdf(b"BT " + b"[(" * 1_000_000 + b" ET"),
    "an array of strings that never end": make_pdf(b"BT [" + b"(" * 2_000_000 + b"] TJ ET"),
}


def test_hostile_pdfs_are_read_in_one_pass():
    """Run in a child process killed after a minute: the old regexes needed hours for each."""
    script = (
        "import sys\n"
        "from claude_bedrock.domain.pdf_text import extract_text\n"
        "print(repr(extract_text(sys.stdin.buffer.read())))\n"
    )
    for name, pdf in HOSTILE_PDFS.items():
        done = subprocess.run([sys.executable, "-c", script], input=pdf, capture_output=True, timeout=60)
        assert done.returncode == 0, (name, done.stderr[-500:])
        assert done.stdout.strip() == b"''", name


def _flate_streams(content: bytes, count: int) -> bytes:
    data = zlib.compress(content, 9)
    stream = b"<< /Filter /FlateDecode >>\nstream\n" + data + b"\nendstream\n"
    return b"%PDF-1.4\n" + stream * count


# A few kB that inflate to millions of tokens: each cost 10 to 40 s of the event loop.
INFLATING_PDFS = {
    "empty strings": _flate_streams(b"BT " + b"()" * 4_000_000 + b" ET", 8),
    "escapes": _flate_streams(b"BT (" + b"\\\\" * 4_000_000 + b") Tj ET", 8),
    "text blocks": _flate_streams(b"BT ET " * 1_300_000, 8),
    "hex strings": _flate_streams(b"BT " + b"<>" * 4_000_000 + b" ET", 8),
    "arrays": _flate_streams(b"BT " + b"[" * 8_000_000 + b" ET", 8),
}


def test_inflating_pdfs_are_read_in_bounded_time():
    script = (
        "import sys, time\n"
        "from claude_bedrock.domain.pdf_text import extract_text\n"
        "extract_text(sys.stdin.buffer.read())\n"
        "print(time.process_time())\n"
    )
    for name, pdf in INFLATING_PDFS.items():
        assert len(pdf) < 200_000
        done = subprocess.run([sys.executable, "-c", script], input=pdf, capture_output=True, timeout=120)
        assert done.returncode == 0, (name, done.stderr[-500:])
        assert float(done.stdout) < 5, name


def test_pdf_text_strings_that_never_end_are_skipped_not_shown():
    """A string runs to the parenthesis that balances its own (ISO 32000-1, 7.3.4.2): one that
    never ends holds the rest of its stream, and the next stream is read."""
    never_closed = make_pdf(b"BT (never closed <41> Tj ET BT (next) Tj ET")
    assert extract_text(never_closed + make_pdf(b"BT (next stream) Tj ET")) == "next stream"
    assert extract_text(make_pdf(b"BT [(a) (never closed] TJ ET")) == ""


def test_pdf_text_reads_tokens_not_letters():
    """The letters of an operator inside a shown word or a name are not that operator: a text
    block of capitals holding 'ET' (BUDGET, MARKET, SHEET) was cut there and lost."""
    assert extract_text(make_pdf(b"BT /F1 12 Tf 72 700 Td (BUDGET REPORT) Tj ET")) == "BUDGET REPORT"
    assert extract_text(make_pdf(b"BT /ET1 12 Tf (MARKET) Tj ET BT /BT 9 Tf (DEBT) Tj ET")) == "MARKET\nDEBT"
    assert extract_text(make_pdf(b"BT(a)Tj[(b)]TJ(c)' 1 2(d)\" ET", compress=True)) == "abcd"


def test_pdf_text_string_syntax():
    """Balanced parentheses need no escape, a bracket in a string does not end its array, a
    backslash before an end of line joins the lines (ISO 32000-1, 7.3.4.2)."""
    assert extract_text(make_pdf(b"BT (Total (net) value) Tj ET")) == "Total (net) value"
    assert extract_text(make_pdf(b"BT [(a]b) -20 (c)] TJ ET")) == "a]bc"
    assert extract_text(make_pdf(b"BT (one \\\ntwo \\\r\nthree) Tj ET")) == "one two three"


def test_pdf_text_hex_strings():
    """A hex string's odd last digit is followed by 0 (ISO 32000-1, 7.3.4.3: ``<4142434>`` is
    "ABC@"), and one starting with the UTF-16BE byte order mark is UTF-16BE text."""
    assert extract_text(make_pdf(b"BT <41 42 43 4> Tj ET")) == "ABC@"
    assert extract_text(make_pdf(b"BT <FEFF004800E9> Tj ET")) == "H\xe9"
    assert extract_text(make_pdf(b"BT (\\376\\377\\000H\\000i) Tj ET")) == "Hi"


def test_pdf_text_an_operator_is_a_whole_token_on_both_sides():
    """``xTj`` and ``Tjx`` (other operators' names holding Tj) show nothing, and an operator
    takes its operand: a second ``Tj`` has none."""
    assert extract_text(make_pdf(b"BT (a) Tj (b) xTj ET")) == "a"
    assert extract_text(make_pdf(b"BT (a) Tjx (b) Tj ET")) == "b"
    assert extract_text(make_pdf(b"BT (a) Tj Tj ET")) == "a"


def test_pdf_text_each_escape_spends_a_token():
    pdf = make_pdf(b"BT (\\101\\102) Tj ET")  # BT, "(", Tj: 3 tokens, and 2 escapes
    assert extract_text(pdf, DocumentBudget(tokens=6)) == "AB"
    assert extract_text(pdf, DocumentBudget(tokens=4)) == ""


@pytest.mark.parametrize("compress", [False, True])
def test_pdf_text_a_stream_of_exactly_the_budget_left_is_read(compress):
    content = b"BT (Quarterly revenue) Tj ET"
    pdf = make_pdf(content, compress=compress)
    assert extract_text(pdf, DocumentBudget(decoded_bytes=len(content))) == "Quarterly revenue"
    assert extract_text(pdf, DocumentBudget(decoded_bytes=len(content) - 1)) == ""


def test_pdf_text_skips_inline_images_and_comments():
    image = b"q BI /W 2 /H 1 /BPC 8 /CS /G ID \x28\x5b EI Q "
    assert extract_text(make_pdf(b"BT (a) Tj ET " + image + b"% (note\nBT (b) Tj ET")) == "a\nb"


_SHOWN_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=255), min_size=1, max_size=40)


@settings(max_examples=300)
@given(st.lists(_SHOWN_TEXT, min_size=1, max_size=5))
def test_pdf_text_reads_back_any_escaped_text(lines):
    escaped = [line.encode("latin-1").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")
               for line in lines]
    content = b" ".join(b"BT /F1 12 Tf (" + line + b") Tj ET" for line in escaped)
    assert extract_text(make_pdf(content, compress=True)) == "\n".join(line.strip() for line in lines if line.strip())


def test_pdf_text_many_streams_stop_at_the_decoded_budget(monkeypatch):
    monkeypatch.setattr(pdf_text, "MAX_DECODED_BYTES", 2_500)
    page = b"BT (page) Tj ET" + b" " * 985  # 1,000 bytes decompressed
    stream = b"<< /Filter /FlateDecode >>\nstream\n" + zlib.compress(page) + b"\nendstream\n"
    assert extract_text(b"%PDF-1.4\n" + stream * 5) == "page\npage\npage"  # the third is cut at 500 bytes


def test_pdf_text_one_stream_is_cut_at_its_limit(monkeypatch):
    monkeypatch.setattr(pdf_text, "MAX_STREAM_BYTES", 100)
    text = b"BT (first) Tj ET" + b" " * 200 + b"BT (second) Tj ET"
    assert extract_text(make_pdf(text, compress=True)) == "first"


# The one-pass readers find what the regexes they replace found.
_OLD_STREAM_RE = re.compile(rb"<<(?P<dict>.*?)>>\s*stream\r?\n(?P<data>.*?)\r?\nendstream", re.S)
_PDF_PIECES = st.lists(st.sampled_from([b"<<", b">>", b"stream", b"\n", b"\r", b" ", b"endstream", b"x", b">"]))


@settings(max_examples=500)
@given(_PDF_PIECES)
def test_raw_streams_find_what_the_stream_regex_found(pieces):
    pdf = b"".join(pieces)
    expected = [(m["dict"], m["data"]) for m in _OLD_STREAM_RE.finditer(pdf)]
    assert list(pdf_text._raw_streams(pdf)) == expected




def test_pdf_text_skips_glyph_codes_of_two_byte_fonts():
    """Audit: a font with 2-byte codes (Identity-H, as Word and Chrome write PDFs) showed its glyph
    ids read as latin-1, control bytes included ('\\x00+\\x00H...'): they are skipped, not guessed."""
    content = b"BT /F1 12 Tf <002B0048004F004F0052> Tj ET BT /F2 12 Tf (Readable) Tj ET"
    assert extract_text(make_pdf(content)) == "Readable"


def make_pdf15(pages: int, *, compress: bool = True) -> bytes:
    """A PDF 1.5 file as Word, Chrome or LibreOffice write them: catalog, page tree and pages in
    an object stream, a content stream, and a cross-reference stream (offsets not checked)."""
    kids = b" ".join(b"%d 0 R" % (3 + i) for i in range(pages))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages)]
    objects += [b"<< /Type/Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R >>" % (3 + pages)] * pages
    offsets, body = [], b""
    for number, obj in enumerate(objects, 1):
        offsets.append(b"%d %d" % (number, len(body)))
        body += obj + b"\n"
    header = b" ".join(offsets) + b"\n"

    def stream(number: int, entries: bytes, data: bytes, flate: bool = True) -> bytes:
        data = zlib.compress(data) if flate else data
        entries += b" /Filter /FlateDecode" if flate else b""
        return b"%d 0 obj\n<< %s /Length %d >>\nstream\n%s\nendstream\nendobj\n" % (number, entries, len(data), data)

    return (b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n"
            + stream(3 + pages, b"", b"BT /F1 12 Tf 72 720 Td (Hello) Tj ET")
            + stream(4 + pages, b"/Type /ObjStm /N %d /First %d" % (len(objects), len(header)), header + body, compress)
            + stream(5 + pages, b"/Type /XRef /Size %d /W [1 2 1] /Root 1 0 R" % (6 + pages), b"\x01\x00\x10\x00" * 8)
            + b"startxref\n0\n%%EOF\n")


def test_page_count_reads_pages_in_compressed_object_streams():
    assert page_count(make_pdf15(3)) == 3
    assert page_count(make_pdf15(12)) == 12
    assert extract_text(make_pdf15(3)) == "Hello"


def test_page_count_of_plain_files_and_uncompressed_object_streams_counts_each_page_once():
    assert page_count(make_pdf(b"BT (x) Tj ET")) == 1
    assert page_count(make_pdf15(4, compress=False)) == 4
    assert page_count(b"%PDF-1.7\n%%EOF") == 0


def test_page_count_reads_object_streams_within_the_decoded_budget(monkeypatch):
    first, second = make_pdf15(2), make_pdf15(5)
    both = first + second.split(b"\n", 2)[2]  # (a second revision's objects, appended)
    assert page_count(both) == 7
    monkeypatch.setattr(pdf_text, "MAX_DECODED_BYTES", 300)  # one object stream, not two
    assert page_count(both) == 2


# Searched in pieces: the reading (off the event loop, ``service.offload``) gives the GIL back.
_TOKEN_PIECES = st.lists(st.sampled_from([b"(", b"<", b">", b"[", b"]", b"%", b"B", b"E", b"T", b"j", b"J", b"I",
                                          b"D", b"'", b'"', b" ", b"\n", b"\r", b"\t", b"a", b"0", b"F", b"\\", b"x"]))


@settings(max_examples=1000)
@given(_TOKEN_PIECES, st.integers(2, 9), st.integers(0, 40))
def test_next_token_finds_what_the_token_search_found(pieces, window, position):
    """Searched ``_SEARCH_BYTES`` at a time (here a few bytes, so that tokens and hex strings
    straddle the pieces), the next token is the one a single search of the whole stream finds."""
    stream = b"".join(pieces)
    with mock.patch.object(pdf_text, "_SEARCH_BYTES", window):
        found = pdf_text._next_token(stream, position)
    expected = pdf_text._TOKEN_RE.search(stream, position)
    assert found == (None if expected is None else expected.span())


class _Recorded:
    """A compiled pattern whose searches and matches note how many bytes each may read."""

    def __init__(self, pattern: re.Pattern[bytes], spans: list[int]) -> None:
        self._pattern, self._spans = pattern, spans

    def _note(self, method: str, string: bytes, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[bytes] | None:
        self._spans.append(min(endpos, len(string)) - pos)
        return getattr(self._pattern, method)(string, pos, endpos)

    def search(self, *args: object) -> re.Match[bytes] | None:
        return self._note("search", *args)  # type: ignore[arg-type]

    def match(self, *args: object) -> re.Match[bytes] | None:
        return self._note("match", *args)  # type: ignore[arg-type]


def test_a_stream_without_tokens_is_searched_in_pieces(monkeypatch):
    """Audit: 8 MB of spaces (or an unclosed hex string, or a comment without an end of line) was
    one search holding the GIL for tens of milliseconds, in the worker thread as on the loop."""
    spans: list[int] = []
    for name in ("_TOKEN_RE", "_TOKEN_HEAD_RE", "_HEX_BODY_RE", "_COMMENT_BODY_RE"):
        if hasattr(pdf_text, name):
            monkeypatch.setattr(pdf_text, name, _Recorded(getattr(pdf_text, name), spans))
    size = 2 * 1024 * 1024
    for stream in (b" " * size, b"<" + b" " * size, b"%" + b"x" * size, b"BT (A) Tj ET" + b" " * size + b"BT <42> Tj ET"):
        spans.clear()
        text = extract_text(make_pdf(stream, compress=True))
        assert text == ("A\nB" if stream.startswith(b"BT") else "")
        assert spans and max(spans) <= pdf_text._SEARCH_BYTES + 1


_STRING_PIECES = st.lists(st.sampled_from([b"(", b")", b"\\", b"\\\\", b"\\(", b"\\)", b"a", b"\\a", b" ", b"\n"]))


@settings(max_examples=1000)
@given(_STRING_PIECES, st.integers(2, 9), st.integers(0, 40))
def test_run_end_finds_where_the_string_body_match_ended(pieces, window, position):
    """Matched ``_SEARCH_BYTES`` at a time (here a few bytes, so that escapes straddle the
    pieces), a literal string's body ends where one match over the whole stream ended."""
    stream = b"".join(pieces)
    position = min(position, len(stream))
    with mock.patch.object(pdf_text, "_SEARCH_BYTES", window):
        found = pdf_text._run_end(pdf_text._STRING_BODY_RE, stream, position)
    assert found == pdf_text._STRING_BODY_RE.match(stream, position).end()


def test_a_string_that_never_ends_is_matched_in_pieces(monkeypatch):
    """Audit: a "(" followed by megabytes without a closing parenthesis, or by millions of
    escapes (an 8 KB FlateDecode PDF: 0.36 s), was one match holding the GIL, in the worker
    thread as on the loop; a string as long that ends is read all the same."""
    spans: list[int] = []
    monkeypatch.setattr(pdf_text, "_STRING_BODY_RE", _Recorded(pdf_text._STRING_BODY_RE, spans))
    size = 2 * 1024 * 1024
    for stream, text in ((b"BT (" + b"x" * size, ""), (b"BT (" + b"\\a" * size, ""),
                         (b"BT (A) Tj ET BT (" + b"\\(" * 1000 + b"x" * size + b") Tj ET BT (B) Tj ET", None)):
        spans.clear()
        found = extract_text(make_pdf(stream, compress=True))
        assert found == text if text is not None else found == "A\n" + "(" * 1000 + "x" * size + "\nB"
        assert spans and max(spans) <= pdf_text._SEARCH_BYTES + 1


_IMAGE_PIECES = st.lists(st.sampled_from([b"E", b"I", b"EI", b" ", b"\n", b"x", b"/", b"(", b"\r\n"]))


@settings(max_examples=1000)
@given(_IMAGE_PIECES, st.integers(4, 9), st.integers(0, 40))
def test_inline_image_end_finds_what_the_end_search_found(pieces, window, position):
    """Searched ``_SEARCH_BYTES`` at a time (here a few bytes, so that an ``EI`` and the
    delimiter after it straddle the pieces), an inline image's data ends where one search of the
    whole stream found its end."""
    stream = b"".join(pieces)
    with mock.patch.object(pdf_text, "_SEARCH_BYTES", window):
        found = pdf_text._inline_image_end(stream, position)
    expected = pdf_text._INLINE_IMAGE_END_RE.search(stream, position)
    assert found == (-1 if expected is None else expected.end())


def test_inline_image_data_is_searched_in_pieces(monkeypatch):
    """Audit: an ``ID`` followed by 8 MB without ``EI`` was one search holding the GIL for 50 ms,
    in the worker thread as on the loop."""
    spans: list[int] = []
    monkeypatch.setattr(pdf_text, "_INLINE_IMAGE_END_RE", _Recorded(pdf_text._INLINE_IMAGE_END_RE, spans))
    size = 2 * 1024 * 1024
    for stream, text in ((b"BT (A) Tj ET BI /W 1 ID " + b"x" * size, "A"),
                         (b"BI /W 1 ID " + b"xEI " * (size // 4) + b" EI BT (B) Tj ET", "B")):
        spans.clear()
        assert extract_text(make_pdf(stream, compress=True)) == text
        assert spans and max(spans) <= pdf_text._SEARCH_BYTES + 1
