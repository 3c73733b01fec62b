"""PDF text extraction for Converse's text-only document mode."""

from __future__ import annotations

import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

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
