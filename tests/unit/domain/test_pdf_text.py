"""PDF text extraction for Converse's text-only document mode."""

from __future__ import annotations

import re
import subprocess
import sys
import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from claude_bedrock.domain import pdf_text
from claude_bedrock.domain.pdf_text import extract_text


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


def test_pdf_text_strings_that_never_end_are_skipped_not_shown():
    assert extract_text(make_pdf(b"BT (never closed <41> Tj ET BT (next) Tj ET")) == "next"
    assert extract_text(make_pdf(b"BT [(a) (never closed] TJ ET")) == "a"


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
_OLD_TEXT_BLOCK_RE = re.compile(rb"BT(.*?)ET", re.S)
_PDF_PIECES = st.lists(st.sampled_from([b"<<", b">>", b"stream", b"\n", b"\r", b" ", b"endstream", b"x", b">"]))
_TEXT_PIECES = st.lists(st.sampled_from([b"BT", b"ET", b"B", b"T", b"E", b" ", b"x"]))


@settings(max_examples=500)
@given(_PDF_PIECES)
def test_raw_streams_find_what_the_stream_regex_found(pieces):
    pdf = b"".join(pieces)
    expected = [(m["dict"], m["data"]) for m in _OLD_STREAM_RE.finditer(pdf)]
    assert list(pdf_text._raw_streams(pdf)) == expected


@settings(max_examples=500)
@given(_TEXT_PIECES)
def test_text_blocks_find_what_the_block_regex_found(pieces):
    stream = b"".join(pieces)
    assert list(pdf_text._text_blocks(stream)) == [m.group(1) for m in _OLD_TEXT_BLOCK_RE.finditer(stream)]
