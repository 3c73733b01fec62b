"""Reading a request's documents runs off the event loop (``service.offload``).

A docx sent to Converse took seconds to parse, a PDF up to the request's budget half a second
to count, on the event loop: every other caller waited. Here a reader is held until the test
lets it go (no timing): while it is held, a health check and a small InvokeModel are answered,
which the old code could only do once the reader had returned."""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from claude_bedrock.domain import document_text, tokens
from claude_bedrock.service.app import create_app
from claude_bedrock.settings import Settings
from claude_bedrock.wire.converse_request import BINARY_DOCUMENT_MEDIA_TYPES

from support.inprocess import serve_in_thread

MODEL = "/model/anthropic.claude-3-haiku-20240307-v1%3A0"
BEARER = {"authorization": "Bearer any-development-key", "content-type": "application/json"}
SMALL = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50,
         "messages": [{"role": "user", "content": "Hello"}]}
DOCX = BINARY_DOCUMENT_MEDIA_TYPES["docx"]
W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


class HeldReader:
    """A document reader that waits for ``release`` (at most 20 s), noting when it returns."""

    def __init__(self, value: object) -> None:
        self.value = value
        self.entered = threading.Event()
        self.release = threading.Event()
        self.returned = threading.Event()

    def __call__(self, *args: object) -> object:
        self.entered.set()
        self.release.wait(20)
        self.returned.set()
        return self.value


def zipped_docx(document_xml: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", document_xml)
    return buffer.getvalue()


def converse_docx() -> tuple[str, dict]:
    document = {"document": {"format": "docx", "name": "minutes", "source": {"bytes": base64.b64encode(b"PK").decode()}}}
    return f"{MODEL}/converse", {"messages": [{"role": "user", "content": [document, {"text": "Summarise."}]}]}


def invoke_pdf() -> tuple[str, dict]:
    pdf = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf",
                                          "data": base64.b64encode(b"%PDF-1.4\n%%EOF\n").decode()}}
    return f"{MODEL}/invoke", {**SMALL, "messages": [{"role": "user", "content": [pdf, {"type": "text", "text": "Hi"}]}]}


@pytest.mark.parametrize("heavy", ["converse_docx", "invoke_pdf"])
def test_others_are_answered_while_a_request_s_documents_are_read(tmp_path, monkeypatch, heavy):
    if heavy == "converse_docx":
        reader = HeldReader("Minutes of the meeting.")
        monkeypatch.setitem(document_text._READERS, DOCX, reader)
        path, body = converse_docx()
    else:
        reader = HeldReader(1)
        monkeypatch.setattr(tokens, "pdf_page_count", reader)
        path, body = invoke_pdf()
    app = create_app(Settings(data_dir=str(tmp_path)))
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client, \
            ThreadPoolExecutor(1) as pool:
        try:
            pending = pool.submit(client.post, path, content=json.dumps(body), headers=BEARER)
            assert reader.entered.wait(20)
            health = client.get("/_claude-bedrock/health")
            small = client.post(f"{MODEL}/invoke", content=json.dumps(SMALL), headers=BEARER)
            answered_while_held = not reader.returned.is_set()
        finally:
            reader.release.set()
        heavy_response = pending.result(30)
    assert health.status_code == 200 and small.status_code == 200
    assert answered_while_held  # was: both waited for the reader to return
    assert heavy_response.status_code == 200, heavy_response.text


def test_a_cached_prompt_s_documents_are_read_off_the_event_loop(tmp_path, monkeypatch):
    """Audit: a PDF request with a cache breakpoint was counted in a worker thread, then read
    again on the event loop by the prompt cache (its segments), for up to half a second. Every
    reading of its documents is now done in a worker, and the cache settles the same usage."""
    readers: list[str] = []
    page_count = tokens.pdf_page_count

    def noted(*args: object) -> int:
        readers.append(threading.current_thread().name)
        return page_count(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(tokens, "pdf_page_count", noted)
    pages = b"1 0 obj << /Type /Page >> endobj\n2 0 obj << /Type /Page >> endobj\n"  # 3,200 tokens: cacheable
    pdf = {"type": "document", "cache_control": {"type": "ephemeral"},
           "source": {"type": "base64", "media_type": "application/pdf",
                      "data": base64.b64encode(b"%PDF-1.4\n" + pages + b"%%EOF\n").decode()}}
    body = {**SMALL, "messages": [{"role": "user", "content": [pdf, {"type": "text", "text": "Hi"}]}]}
    app = create_app(Settings(data_dir=str(tmp_path)))
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        first, second = (client.post(f"{MODEL}/invoke", content=json.dumps(body), headers=BEARER) for _ in range(2))
        assert first.status_code == 200 and second.status_code == 200, first.text
    written, read = first.json()["usage"], second.json()["usage"]
    assert written["cache_creation_input_tokens"] > 3200 and written["cache_read_input_tokens"] == 0
    assert read["cache_read_input_tokens"] == written["cache_creation_input_tokens"]
    assert read["input_tokens"] == written["input_tokens"]
    assert readers and all(name.startswith("claude-bedrock-documents") for name in readers), readers


def test_the_document_work_of_a_client_that_left_is_dropped_from_the_queue(tmp_path, monkeypatch):
    """Review: a client that gave up while its documents waited for a worker left its work in
    the queue, ahead of fresh requests (6 abandoned docx calls made a new one wait 28.8 s instead
    of 4.2 s). Its work not started yet is now dropped. One worker here: A holds it, B waits and
    leaves, C comes after; C's reading follows A's, and B's never runs."""
    from claude_bedrock.service import offload

    calls: list[int] = []
    release = threading.Event()

    def reader(*args: object) -> int:
        calls.append(1)
        if len(calls) == 1:
            release.wait(20)  # A holds the only worker
        return 1

    monkeypatch.setattr(tokens, "pdf_page_count", reader)
    monkeypatch.setattr(offload, "_POOL", ThreadPoolExecutor(1, thread_name_prefix="claude-bedrock-documents"))
    path, body = invoke_pdf()
    app = create_app(Settings(data_dir=str(tmp_path)))
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client, \
            ThreadPoolExecutor(1) as pool:
        try:
            first = pool.submit(client.post, path, content=json.dumps(body), headers=BEARER)
            while not calls:
                threading.Event().wait(0.01)
            with httpx.Client(base_url=url, timeout=0.5) as impatient:
                with pytest.raises(httpx.ReadTimeout):
                    impatient.post(path, content=json.dumps(body), headers=BEARER)  # B leaves
            recorded = client.get("/_claude-bedrock/calls").json()["calls"]  # waits for B's record
            assert [call["error_code"] for call in recorded] == ["ClientDisconnected"], recorded
        finally:
            release.set()
        assert first.result(30).status_code == 200
        third = client.post(path, content=json.dumps(body), headers=BEARER)
    assert third.status_code == 200
    assert len(calls) == 2  # A and C: B's work was dropped (was 3)


class GatedReader:
    """Wraps a real document reader: once entered, waits for ``go`` (at most 20 s), then reads,
    noting how the reading ended: "returned", or "stopped" (``ReadingStopped``)."""

    def __init__(self, read) -> None:
        self.read = read
        self.entered = threading.Event()
        self.go = threading.Event()
        self.done = threading.Event()
        self.outcome = ""

    def __call__(self, *args: object) -> object:
        from claude_bedrock.domain.document_budget import ReadingStopped

        self.entered.set()
        self.go.wait(20)
        try:
            value = self.read(*args)
        except ReadingStopped:
            self.outcome = "stopped"
            raise
        finally:
            self.done.set()
        self.outcome = "returned"
        return value


def raw_request(url: str, path: str, body: dict) -> socket.socket:
    """Send an HTTP request on a socket of its own (the caller closes it: the client leaves)."""
    payload = json.dumps(body).encode()
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: {BEARER['authorization']}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n")
    sock.sendall(head.encode() + payload)
    return sock


@pytest.mark.parametrize("heavy", ["converse_docx", "invoke_pdf"])
def test_a_running_reading_stops_when_its_client_leaves_and_frees_its_worker(tmp_path, monkeypatch, heavy):
    """Audit: work already running in a worker ran to its end after its client left: seconds of
    the worker (of one of two) for a large docx, while the next document calls waited. Its stop
    flag is now set when the client leaves, and the reader stops at its next piece. One worker
    here: the reading is held until the call is recorded as abandoned, then let go; it stops
    (was: read to its end), and the next document call is served by the freed worker."""
    from claude_bedrock.service import offload

    if heavy == "converse_docx":
        words = "<w:p><w:r><w:t>Minutes of the meeting.</w:t></w:r></w:p>" * 2_000
        docx = zipped_docx(f"<w:document {W}><w:body>{words}</w:body></w:document>")
        reader = GatedReader(document_text._READERS[DOCX])
        monkeypatch.setitem(document_text._READERS, DOCX, reader)
        path, body = converse_docx()
        body["messages"][0]["content"][0]["document"]["source"]["bytes"] = base64.b64encode(docx).decode()
    else:
        reader = GatedReader(tokens.pdf_page_count)
        monkeypatch.setattr(tokens, "pdf_page_count", reader)
        path, body = invoke_pdf()
    monkeypatch.setattr(offload, "_POOL", ThreadPoolExecutor(1, thread_name_prefix="claude-bedrock-documents"))
    app = create_app(Settings(data_dir=str(tmp_path)))
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        try:
            sock = raw_request(url, path, body)
            assert reader.entered.wait(20)
            sock.close()  # the client leaves while its reading runs
            recorded = client.get("/_claude-bedrock/calls").json()["calls"]  # waits for the call's record
            assert [call["error_code"] for call in recorded] == ["ClientDisconnected"], recorded
        finally:
            reader.go.set()
        assert reader.done.wait(20)
        assert reader.outcome == "stopped"  # was "returned": read to its end for nobody
        reader.entered.clear()
        reader.go.set()
        following = client.post(path, content=json.dumps(body), headers=BEARER)
    assert following.status_code == 200, following.text
    assert reader.outcome == "returned"  # the next call's reading, in the freed worker
