"""One request's document work is bounded: its documents share one DocumentBudget.

Each document was bounded on its own (pdf_text, office_text), but a request holds up to 600:
100 PDFs of 25 kB whose object streams inflate to 16 MB each held the event loop for seconds
(a concurrent health check waited as long)."""

from __future__ import annotations

import base64
import contextvars
import time
import zlib

import pytest

from claude_bedrock.domain import pdf_text, tokens
from claude_bedrock.domain.document_budget import (MAX_REQUEST_DECODED_BYTES, MAX_REQUEST_TOKENS, READING_STOP,
                                                   DocumentBudget, ReadingStopped)
from claude_bedrock.domain.document_text import apply_text_only
from claude_bedrock.domain.office_text import docx_text
from claude_bedrock.domain.pdf_text import extract_text, page_count
from claude_bedrock.domain.tokens import PDF_TOKENS_PER_PAGE, count_request, prompt_segments

from .test_document_text import docx, zipped
from .test_pdf_text import make_pdf, make_pdf15


def flate_stream(number: int, entries: bytes, data: bytes) -> bytes:
    packed = zlib.compress(data, 9)
    return (b"%d 0 obj\n<< %s /Filter /FlateDecode /Length %d >>\nstream\n" % (number, entries, len(packed))
            + packed + b"\nendstream\nendobj\n")


#: 8 MiB of '/Type' (no page: the costliest bytes to search for pages), about 12 kB packed.
_TYPES = b"/Type" * (pdf_text.MAX_STREAM_BYTES // 5)


def object_stream_bomb(seed: int) -> bytes:
    """25 kB: two object streams declaring one object each and inflating to 8 MiB each (the
    most one PDF may decompress)."""
    stream = flate_stream(1, b"/Type /ObjStm /N 1 /First 0", _TYPES)
    return b"%PDF-1.5\n%" + str(seed).encode() + b"\n" + stream + stream.replace(b"1 0 obj", b"2 0 obj") + b"%%EOF\n"


def content_stream_bomb() -> bytes:
    """16 kB: two content streams inflating to 8 MiB of spaces each (half the request's budget)."""
    stream = flate_stream(1, b"", b" " * pdf_text.MAX_STREAM_BYTES)
    return b"%PDF-1.4\n" + stream * 2 + b"%%EOF\n"


def document(raw: bytes, media_type: str = "application/pdf") -> dict:
    return {"type": "document", "source": {"type": "base64", "media_type": media_type,
                                           "data": base64.b64encode(raw).decode()}}


def request(*blocks: dict) -> dict:
    return {"messages": [{"role": "user", "content": [*blocks, {"type": "text", "text": "Summarise."}]}]}


class Inflated:
    """Counts the bytes pdf_text inflates (a deterministic measure of its work)."""

    error = zlib.error

    def __init__(self) -> None:
        self.total = 0

    def decompressobj(self):
        real = zlib.decompressobj()
        counter = self

        class Counting:
            def decompress(self, data: bytes, max_length: int = 0) -> bytes:
                out = real.decompress(data, max_length)
                counter.total += len(out)
                return out

            @property
            def eof(self) -> bool:
                return real.eof

        return Counting()


def test_a_request_of_100_inflating_pdfs_decompresses_one_budget_in_all(monkeypatch):
    inflated = Inflated()
    monkeypatch.setattr(pdf_text, "zlib", inflated)
    hostile = request(*(document(object_stream_bomb(seed)) for seed in range(100)))
    started = time.process_time()
    first = count_request(hostile)
    elapsed = time.process_time() - started
    assert inflated.total <= MAX_REQUEST_DECODED_BYTES  # was 100 * 16 MiB
    assert elapsed < 10  # was about 16 s of CPU on a shared runner
    # the same request counts the same (bytes, not time, decide), and prompt caching splits it
    assert count_request(hostile) == first
    assert sum(segment.tokens for segment in prompt_segments(hostile)) == first - tokens.REQUEST_OVERHEAD_TOKENS


def test_object_streams_past_the_budget_count_the_objects_they_declare():
    pdf = make_pdf15(3)  # catalog, page tree and 3 pages in one object stream (/N 5)
    assert page_count(pdf, DocumentBudget()) == 3
    assert page_count(pdf, DocumentBudget(decoded_bytes=0)) == 5  # never fewer than it holds
    budget = DocumentBudget(decoded_bytes=40)  # covers part of the stream: not read
    assert page_count(pdf, budget) == 5
    assert budget.decoded_bytes <= 0


def test_a_document_s_count_depends_only_on_the_documents_before_it():
    bombs = [document(object_stream_bomb(seed)) for seed in range(3)]
    ordinary = document(make_pdf15(3))
    within = prompt_segments(request(*bombs[:1], ordinary))[1]  # one bomb: half the budget
    assert within.tokens == tokens.DOCUMENT_OVERHEAD_TOKENS + 3 * PDF_TOKENS_PER_PAGE
    late = prompt_segments(request(*bombs, ordinary))
    assert late[:3] == prompt_segments(request(*bombs))[:3]  # a cached prefix keeps its count
    assert late[3].tokens == tokens.DOCUMENT_OVERHEAD_TOKENS + 5 * PDF_TOKENS_PER_PAGE  # past it: /N


def test_ordinary_requests_read_every_document_as_before():
    many = request(*(document(make_pdf15(3)) for _ in range(600)))
    assert count_request(many) == count_request(request()) + 600 * (
        tokens.DOCUMENT_OVERHEAD_TOKENS + 3 * PDF_TOKENS_PER_PAGE)


def test_converse_documents_past_the_budget_are_not_read_and_say_so():
    body = request(document(content_stream_bomb()), document(content_stream_bomb()),
                   document(make_pdf(b"BT (Quarterly revenue) Tj ET")),
                   document(docx("<w:p><w:r><w:t>Minutes</w:t></w:r></w:p>"),
                            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"))
    assert apply_text_only(body, tuple(f"/messages/0/content/{index}" for index in range(4))) == 4
    texts = [block["source"]["data"] for block in body["messages"][0]["content"][:4]]
    assert texts == [
        "(This PDF has no extractable text.)",
        "(This PDF has no extractable text.)",
        "(The text of this PDF document was not read: the request's documents exceed the reading budget.)",
        "(The text of this DOCX document was not read: the request's documents exceed the reading budget.)",
    ]


def test_documents_after_the_request_s_tokens_are_spent_say_so():
    """A request reads one PDF's worth of tokens: a first PDF reading all of them (the budget left
    at exactly 0) leaves the next past the budget, not a PDF without text."""
    assert MAX_REQUEST_TOKENS == pdf_text.MAX_TOKENS
    spender = b"%PDF-1.4\n" + flate_stream(1, b"", b"BT ET " * (pdf_text.MAX_TOKENS // 2 + 10)) + b"%%EOF\n"
    body = request(document(spender), document(make_pdf(b"BT (Quarterly revenue) Tj ET")))
    assert apply_text_only(body, ("/messages/0/content/0", "/messages/0/content/1")) == 2
    assert [block["source"]["data"] for block in body["messages"][0]["content"][:2]] == [
        "(This PDF has no extractable text.)",
        "(The text of this PDF document was not read: the request's documents exceed the reading budget.)",
    ]


def test_pdf_text_tokens_are_shared_by_the_request_s_documents():
    pdf = make_pdf(b"BT (one) Tj ET BT (two) Tj ET BT (three) Tj ET")
    assert extract_text(pdf, DocumentBudget()) == "one\ntwo\nthree"
    budget = DocumentBudget(tokens=8)  # BT ( Tj ET twice, and one more: the third string is not read
    assert extract_text(pdf, budget) == "one\ntwo"
    assert budget.tokens <= 0 and extract_text(pdf, budget) == ""


class StopFlag:
    """A reading's stop flag, set from its ``at``-th look on (never when None); counts the looks."""

    def __init__(self, at: int | None = None) -> None:
        self.at = at
        self.looks = 0

    def is_set(self) -> bool:
        self.looks += 1
        return self.at is not None and self.looks >= self.at


def read_with_flag(read, data: bytes, flag: StopFlag):
    """``read(data)`` in a context holding ``flag`` as its reading's stop flag (as
    ``service.offload`` runs it)."""
    context = contextvars.copy_context()
    context.run(READING_STOP.set, flag)
    return context.run(read, data)


_W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
#: Long readings, each in many pieces: a 3 MB docx part (16 KiB or 256 KiB pieces), 80,000
#: tokens of text operators, one string of 100,000 nested parentheses, object streams inflating
#: to 16 MiB of '/Type'; and searches over many windows: one string of 4 MB of escapes, 16 MiB
#: without a token, 4 MB of inline image data.
_LONG_READINGS = {
    "docx": (docx_text,
             zipped({"word/document.xml": f"<w:document {_W}><w:body>"
                                          f"{'<w:p><w:r><w:t>word</w:t></w:r></w:p>' * 80_000}"
                                          "</w:body></w:document>"})),
    "pdf text": (extract_text, make_pdf(b"BT (a) Tj ET\n" * 20_000, compress=True)),
    "pdf string": (extract_text, make_pdf(b"BT " + b"(" * 50_000 + b")" * 50_000 + b" Tj ET", compress=True)),
    "pdf pages": (page_count, object_stream_bomb(0)),
    "pdf escapes": (extract_text, make_pdf(b"BT (" + b"\\(" * 2_000_000 + b") Tj ET", compress=True)),
    "pdf no token": (extract_text, content_stream_bomb()),
    "pdf image": (extract_text, make_pdf(b"BI /W 1 ID " + b"\0" * 4_000_000 + b" EI", compress=True)),
}


@pytest.mark.parametrize("kind", list(_LONG_READINGS))
def test_a_reading_stops_between_two_pieces_once_its_call_has_ended(kind):
    """Audit: a reading in a worker thread ran to its end when its call ended (its client left,
    the server stopped): seconds of a worker for a large docx, and a stopping server waited for
    it (17 s after a second Ctrl-C with 16 MB docx parts in flight). The readers now look at the
    reading's stop flag between two pieces of their work: a flag never set changes nothing; one
    set stops the reading at the next look."""
    read, data = _LONG_READINGS[kind]
    unset = StopFlag()
    assert read_with_flag(read, data, unset) == read(data)  # a flag never set: the same reading
    assert unset.looks >= 10  # looked at all along the reading, not only at its start
    stopped = StopFlag(at=unset.looks // 2)
    with pytest.raises(ReadingStopped):
        read_with_flag(read, data, stopped)
    assert stopped.looks == unset.looks // 2  # it stopped at the first look after the flag was set
