"""The document work one reading of a request may cost, shared by all its documents (pure).

A client chooses a document's bytes, and the runtime reads them in a worker thread
(``service.offload``, a few at once). Each reader bounds the work of one document
(``pdf_text``: ``MAX_DECODED_BYTES``, ``MAX_TOKENS``; ``office_text``: ``MAX_DOCUMENT_BYTES``),
but a request may hold up to 600 documents, each within those bounds: 100 PDFs of 25 kB whose
object streams inflate to 16 MB each cost seconds of a worker (and of a core). A ``DocumentBudget`` bounds them all together: one is made per reading of a
request (a token count, ``tokens.count_request`` / ``prompt_segments``; the text of the Converse
text-only documents, ``document_text.apply_text_only``) and every document of it draws from it,
in the request's order.

* ``decoded_bytes``: bytes decompressed from PDF streams and Office parts, in all;
* ``tokens``: PDF content-stream tokens read (``pdf_text._Reader``), in all.

What lies past the budget is not read, as what lies past a document's own bounds: a PDF's
streams it does not cover entirely are left out of its text, and counted by their declared
object count in its pages (``pdf_text.page_count``); an Office part it does not cover is not
read. The budget counts bytes and tokens, never time, and documents are read in the request's
order, so the same request reads the same, and a document's reading depends only on the
documents before it (a prompt-cache prefix keeps its count). A request whose documents are all
read within their own bounds and hold less than this in all reads exactly as without it.

A reading also stops when its call ends (its client left, the server stops): the runtime,
which reads in worker threads, sets the reading's stop flag (``READING_STOP``, in the context
the reading runs in: ``service.offload``), and the readers look at it between two pieces of
their work (``check_stop``: an XML part's pieces, a PDF's streams, windows and runs of
tokens), raising ``ReadingStopped``: the reading is dropped, its worker free at once rather than
seconds later. The flag never changes what a reading returns, only whether it returns: it is
the one thing a reader learns from its context, as a thread learns of an interrupt. A reading
without a flag (on the event loop, in the tests) is never stopped.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Protocol

__all__ = ["MAX_REQUEST_DECODED_BYTES", "MAX_REQUEST_TOKENS", "READING_STOP", "DocumentBudget", "ReadingStopped",
           "check_stop"]

#: Bytes decompressed for all the documents of one reading: two PDFs' worth
#: (``pdf_text.MAX_DECODED_BYTES``), half what an Office document may decompress on its own
#: (``office_text.MAX_DOCUMENT_BYTES``). Counting pages in that much costs well under a second.
MAX_REQUEST_DECODED_BYTES = 32 * 1024 * 1024
#: PDF content-stream tokens read for all the documents of one reading: one PDF's worth
#: (``pdf_text.MAX_TOKENS``), more text than a 200K-token context window holds.
MAX_REQUEST_TOKENS = 500_000


class DocumentBudget:
    """What is left of one reading's budget (see the module docstring); spent by the readers."""

    __slots__ = ("decoded_bytes", "tokens")

    def __init__(self, decoded_bytes: int = MAX_REQUEST_DECODED_BYTES, tokens: int = MAX_REQUEST_TOKENS) -> None:
        self.decoded_bytes = decoded_bytes
        self.tokens = tokens

    @property
    def spent(self) -> bool:
        """Nothing is left to read a PDF's text with: PDFs from here on are not read."""
        return self.decoded_bytes <= 0 or self.tokens <= 0


class _Flag(Protocol):
    def is_set(self) -> bool: ...


class ReadingStopped(Exception):
    """The call whose documents were being read has ended: the reading stopped where it was
    (module docstring). Nobody reads its result: its call has ended already."""


#: The stop flag of the reading running in this context (a ``threading.Event``, set when its
#: call ends: ``service.offload``); None: nothing stops it.
READING_STOP: ContextVar[_Flag | None] = ContextVar("claude_bedrock_reading_stop", default=None)


def check_stop() -> None:
    """Between two pieces of a reading: raise ``ReadingStopped`` once its call has ended.

    Raises:
        ReadingStopped: the reading's stop flag is set.
    """
    stop = READING_STOP.get()
    if stop is not None and stop.is_set():
        raise ReadingStopped()
