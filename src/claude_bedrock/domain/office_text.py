"""Plain-text extraction from Office Open XML documents (docx, xlsx), for Converse documents.

Bedrock hands Claude the text of a Converse document in an Office format. A docx or xlsx file
is a zip of XML parts; this reads the parts that hold the text:

* docx: ``word/document.xml``, one line per paragraph (``w:p``), the text of its runs
  (``w:t``), tabs (``w:tab``) as tabs and breaks (``w:br``, ``w:cr``) as new lines; the
  ``mc:Fallback`` copy of alternate content is skipped (its ``mc:Choice`` is read);
* xlsx: every worksheet in workbook order (each part once), one line per row, cells separated
  by tabs; shared strings (``xl/sharedStrings.xml``), inline strings and values as written; a
  sheet's lines are headed by its name.

Both conformance classes of ECMA-376 Part 1 are read: Transitional (the
``http://schemas.openxmlformats.org/...`` namespaces) and Strict (``http://purl.oclc.org/ooxml/...``,
as "Strict Open XML" files are saved); a part's vocabulary is the one of its root element. The
package's own namespaces (relationships parts, markup compatibility: Parts 2 and 3) are the same
in both.

The legacy binary formats (doc, xls) are not read: their text would have to be guessed.

Bounded whatever the file: a part larger than ``MAX_PART_BYTES`` once decompressed is not
read, nor are more than ``MAX_DOCUMENT_BYTES`` in all; the text stops at ``MAX_TEXT_CHARS``;
a part with a DOCTYPE (which OOXML never has: it would be an entity-expansion bomb), in
UTF-8 or UTF-16, is refused, as are cell references beyond the last column Excel has (``XFD``). Every element
is visited once. The documents of one request share a ``DocumentBudget`` besides
(``document_budget``): a part it does not cover is not read. A file that is not a readable zip holding the format's main part raises
``NotAnOfficeDocument``. Pure: bytes in, text out.
"""

from __future__ import annotations

import io
import itertools
import pyexpat
import re
import zipfile
import zlib
from collections.abc import Iterator
from xml.etree import ElementTree

from claude_bedrock.domain.document_budget import DocumentBudget, check_stop

__all__ = ["MAX_DOCUMENT_BYTES", "MAX_PART_BYTES", "MAX_TEXT_CHARS", "NotAnOfficeDocument",
           "docx_text", "xlsx_text"]

#: Bounds on the work for one document (see the module docstring).
MAX_PART_BYTES = 16 * 1024 * 1024
MAX_DOCUMENT_BYTES = 64 * 1024 * 1024
MAX_TEXT_CHARS = 4_000_000
MAX_COLUMNS = 16_384  # Excel's last column, XFD
#: XML bytes parsed per call of the parser (a few milliseconds of it). An expat older than 2.6
#: (Python 3.11 and 3.12 bundle 2.5) parses an unfinished token (a long attribute value or
#: comment) again from its start at each call, so pieces cost the square of such a token's
#: length over their size: 16 KiB pieces took 2.5 s for one 8 MB attribute, 256 KiB ones 0.2 s.
_FEED_BYTES = 16 * 1024 if pyexpat.version_info >= (2, 6, 0) else 256 * 1024

#: The WordprocessingML and SpreadsheetML namespaces, Transitional first, then Strict.
_WORD = ("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}",
         "{http://purl.oclc.org/ooxml/wordprocessingml/main}")
_SHEET = ("{http://schemas.openxmlformats.org/spreadsheetml/2006/main}",
          "{http://purl.oclc.org/ooxml/spreadsheetml/main}")
#: The ``r:id`` attribute (a relationship's ID), Transitional and Strict.
_R_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_STRICT_R_ID = "{http://purl.oclc.org/ooxml/officeDocument/relationships}id"
_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_COLUMN_RE = re.compile(r"[A-Z]{1,3}")
#: A DOCTYPE in each encoding expat reads a part in: UTF-16 (either byte order, told by a byte
#: order mark or by the first "<"; ECMA-376 Part 2 allows UTF-8 and UTF-16 parts) and those in
#: which it is ASCII (UTF-8, and the single-byte encodings a declaration may name: expat requires
#: of them the ASCII bytes of markup). Three searches: one of the three spellings at once is ten
#: times slower.
_DOCTYPES = tuple(re.compile(re.escape("<!DOCTYPE".encode(encoding)), re.IGNORECASE)
                  for encoding in ("ascii", "utf-16-le", "utf-16-be"))
#: What reading a damaged, encrypted or unusual zip member may raise.
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, RuntimeError, NotImplementedError, EOFError, OSError, ValueError)


class NotAnOfficeDocument(ValueError):
    """The bytes are not a readable zip holding the format's main part."""


class _Reader:
    """One document's zip, read within its byte budget and the request's ``budget``, each part at
    most once."""

    def __init__(self, data: bytes, budget: DocumentBudget | None) -> None:
        try:
            self._archive = zipfile.ZipFile(io.BytesIO(data))
            self.names = frozenset(self._archive.namelist())
        except _ZIP_ERRORS as exc:
            raise NotAnOfficeDocument(str(exc)) from None
        self._budget = DocumentBudget() if budget is None else budget
        self._bytes_left = MAX_DOCUMENT_BYTES

    def xml(self, name: str) -> bytes | None:
        """The part's bytes, or None when absent or beyond the bounds."""
        if name not in self.names:
            return None
        try:
            info = self._archive.getinfo(name)
            if info.file_size > min(MAX_PART_BYTES, self._bytes_left, self._budget.decoded_bytes):
                return None
            with self._archive.open(info) as member:
                data = member.read(MAX_PART_BYTES + 1)
        except _ZIP_ERRORS as exc:
            raise NotAnOfficeDocument(f"{name}: {exc}") from None
        self._bytes_left -= len(data)
        self._budget.decoded_bytes -= len(data)
        if len(data) > MAX_PART_BYTES or _has_doctype(data):
            return None
        return data

    def close(self) -> None:
        self._archive.close()


def _elements(xml: bytes) -> Iterator[tuple[str, ElementTree.Element, int]]:
    """("start" or "end", element, depth: 0 for the root) for each element of the part, in
    document order; an element's attributes are known at its start, its text (up to its first
    child, as a tree holds it) at its end.

    Parsed ``_FEED_BYTES`` at a time (one C call parsing a 16 MB part would hold the GIL for
    seconds, and a reading off the event loop, ``service.offload``, would hold the loop all the
    same), each element let go once its end is read: the tree of a 16 MB part holds a million
    and a half elements, and held whole, the garbage collector's full passes over it (each
    holding the GIL) grew to 0.2 s, and its release took 0.1 s more, in one go. Between two
    pieces, a reading whose call has ended stops (``document_budget.check_stop``).

    Raises:
        ElementTree.ParseError: the part is not well-formed XML (raised where the parser finds it).
        ReadingStopped: the reading's call has ended.
    """
    parser = ElementTree.XMLPullParser(("start", "end"))
    opened: list[ElementTree.Element] = []  # the elements not ended yet: the root, ..., the parent
    for piece in itertools.chain(_pieces(xml), (None,)):
        check_stop()
        if piece is None:
            parser.close()
        else:
            parser.feed(piece)
        for event, element in parser.read_events():
            if event == "start":
                opened.append(element)
                yield event, element, len(opened) - 1
                continue
            opened.pop()
            yield event, element, len(opened)
            if opened:
                del opened[-1][:]  # the parent's children before this one are read already


def _has_doctype(data: bytes) -> bool:
    """Whether ``data`` holds a DOCTYPE (``_DOCTYPES``), searched ``_FEED_BYTES`` at a time (one
    search of a 16 MB part holds the GIL for 25 ms): each piece overlaps the next by the longest
    spelling's length less one byte, so a DOCTYPE is whole in the piece where it starts."""
    overlap = len("<!DOCTYPE".encode("utf-16-le")) - 1
    return any(doctype.search(data, start, start + _FEED_BYTES + overlap)
               for start in range(0, len(data), _FEED_BYTES) for doctype in _DOCTYPES)


def _pieces(data: bytes) -> Iterator[bytes]:
    """``data``, ``_FEED_BYTES`` at a time."""
    view = memoryview(data)
    for start in range(0, len(data), _FEED_BYTES):
        yield bytes(view[start:start + _FEED_BYTES])


def _namespace(root: ElementTree.Element, known: tuple[str, str]) -> str:
    """The namespace (``{uri}``) of a part's vocabulary: its root element's when one of
    ``known`` (Transitional or Strict), else the Transitional one."""
    namespace = root.tag[:root.tag.find("}") + 1]
    return namespace if namespace in known else known[0]


class _Text:
    """Pieces of text up to ``MAX_TEXT_CHARS`` in all."""

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.left = MAX_TEXT_CHARS

    def add(self, text: str) -> bool:
        """Keep ``text`` (cut to what is left); False once the budget is spent."""
        if self.left <= 0:
            return False
        self.pieces.append(text[: self.left])
        self.left -= len(text)
        return True

    def joined(self) -> str:
        return "".join(self.pieces).strip()


def docx_text(data: bytes, budget: DocumentBudget | None = None) -> str:
    """The text of a docx file, a line per paragraph, read within ``budget`` (the request's,
    shared by its documents; a fresh one when None).

    Raises:
        NotAnOfficeDocument: not a readable zip, or no ``word/document.xml`` in it.
    """
    reader = _Reader(data, budget)
    try:
        if "word/document.xml" not in reader.names:
            raise NotAnOfficeDocument("no word/document.xml")
        xml = reader.xml("word/document.xml")
    finally:
        reader.close()
    text = _Text()
    if xml is not None:
        try:
            _read_docx(xml, text)
        except ElementTree.ParseError:  # not well-formed: no text, as a part not read
            return ""
    return text.joined()


def _read_docx(xml: bytes, text: _Text) -> None:
    """One pass in document order (``_elements``): text, tabs and breaks (of the root's
    namespace), a new line after each paragraph (a paragraph inside another, as in a text box,
    ends its own line); the text (``w:t``) and the ``mc:Fallback`` elements' descendants are not
    read.

    Raises:
        ElementTree.ParseError: the part is not well-formed XML (its text is then not read).
    """
    t = tab = p = ""
    breaks: tuple[str, ...] = ()
    skipped = 0  # depth within an element whose descendants are not read
    for event, element, depth in _elements(xml):
        tag = element.tag
        if event == "start":
            if not depth:  # the root: its vocabulary
                w = _namespace(element, _WORD)
                t, tab, p, breaks = f"{w}t", f"{w}tab", f"{w}p", (f"{w}br", f"{w}cr")
            if skipped or tag == t or tag == _MC_FALLBACK:
                skipped += 1
            elif tag == tab:
                text.add("\t")
            elif tag in breaks:
                text.add("\n")
            continue
        if skipped:
            skipped -= 1
            if not skipped and tag == t and element.text:
                text.add(element.text)
        elif tag == p:
            text.add("\n")


def xlsx_text(data: bytes, budget: DocumentBudget | None = None) -> str:
    """The cells of an xlsx file's sheets, a line per row, tab-separated, read within ``budget``
    (the request's, shared by its documents; a fresh one when None).

    Raises:
        NotAnOfficeDocument: not a readable zip, or no ``xl/workbook.xml`` in it.
    """
    reader = _Reader(data, budget)
    text = _Text()
    try:
        if "xl/workbook.xml" not in reader.names:
            raise NotAnOfficeDocument("no xl/workbook.xml")
        shared = _shared_strings(reader)
        first = True
        for title, part in _sheets(reader):
            xml = reader.xml(part)
            if xml is None:
                continue
            try:
                lines = _sheet_lines(xml, shared, text.left)
            except ElementTree.ParseError:  # not well-formed: the sheet is not read
                continue
            if not text.add(f"{'' if first else chr(10) * 2}# {title}"):
                break
            first = False
            for line in lines:
                if not text.add(line):
                    break
    finally:
        reader.close()
    return text.joined()


class _Runs:
    """The text of an element's ``t`` descendants (of namespace ``s``), in document order, but
    those of phonetic runs (``rPh``: a reading hint shown above the text, ECMA-376 Part 1,
    18.4.6), so that 東京 is not read 東京トウキョウ; told the events of the descendants."""

    def __init__(self, s: str) -> None:
        self._t, self._phonetic_run = f"{s}t", f"{s}rPh"
        self._pieces: list[str] = []
        self._open: list[int] = []  # the places of the ``t`` elements not ended yet
        self._phonetic = 0  # depth within phonetic runs

    def event(self, event: str, element: ElementTree.Element) -> None:
        if element.tag == self._phonetic_run:
            self._phonetic += 1 if event == "start" else -1
        elif element.tag == self._t and not self._phonetic:
            if event == "start":  # its place: a ``t`` inside it ends first
                self._open.append(len(self._pieces))
                self._pieces.append("")
            else:
                self._pieces[self._open.pop()] = element.text or ""

    def text(self) -> str:
        return "".join(self._pieces)


def _shared_strings(reader: _Reader) -> list[str]:
    """The text of each ``si`` of the shared strings part ([] when absent, beyond the bounds or
    not well-formed)."""
    xml = reader.xml("xl/sharedStrings.xml")
    strings: list[str] = []
    if xml is None:
        return strings
    s = si = ""
    runs: _Runs | None = None  # the ``si`` being read
    try:
        for event, element, depth in _elements(xml):
            if not depth:
                s = _namespace(element, _SHEET)
                si = f"{s}si"
            elif depth == 1:
                if event == "start":
                    runs = _Runs(s) if element.tag == si else None
                elif runs is not None:
                    strings.append(runs.text())
            elif runs is not None:
                runs.event(event, element)
    except ElementTree.ParseError:
        return []
    return strings


def _sheets(reader: _Reader) -> Iterator[tuple[str, str]]:
    """(sheet name, part name) in workbook order, each part once."""
    workbook = reader.xml("xl/workbook.xml")
    rels = reader.xml("xl/_rels/workbook.xml.rels")
    if workbook is None or rels is None:
        return
    listed: list[tuple[str, str | None]] = []  # (name, relationship ID)
    targets: dict[str | None, str] = {}
    try:
        sheet = ""
        for event, element, depth in _elements(workbook):
            if event == "start":
                if not depth:
                    sheet = f"{_namespace(element, _SHEET)}sheet"
                if element.tag == sheet:
                    listed.append((element.get("name", "Sheet"), element.get(_R_ID) or element.get(_STRICT_R_ID)))
        for event, element, depth in _elements(rels):
            if event == "start" and depth == 1 and element.tag == f"{_REL}Relationship":
                target = element.get("Target", "")
                targets[element.get("Id")] = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    except ElementTree.ParseError:
        return
    seen: set[str] = set()
    for name, relationship in listed:
        part = targets.get(relationship)
        if part in reader.names and part not in seen:
            seen.add(part)
            yield name, part


def _sheet_lines(xml: bytes, shared: list[str], limit: int) -> list[str]:
    """A line ("\n", then the cells, tab-separated) per row with text of the sheet's
    ``sheetData``, up to the first ``limit`` characters of them (the line that reaches it
    included); the part is read to its end all the same, to know it well-formed.

    Raises:
        ElementTree.ParseError: the part is not well-formed XML.
    """
    lines: list[str] = []
    s = sheet_data = row = c = v = ""
    in_data = in_row = in_cell = False
    cells: list[str] = []
    column: int | None = None
    kind: str | None = None
    value: str | None = None  # the text of the cell's first ``v``
    runs: _Runs | None = None  # an inline string's
    for event, element, depth in _elements(xml):
        tag = element.tag
        if event == "start":
            if not depth:
                s = _namespace(element, _SHEET)
                sheet_data, row, c, v = f"{s}sheetData", f"{s}row", f"{s}c", f"{s}v"
            elif depth == 1:
                in_data = tag == sheet_data
            elif depth == 2:
                in_row, cells = in_data and tag == row, []
            elif depth == 3:
                in_cell = in_row and tag == c
                if in_cell:
                    column, kind, value = _column_index(element.get("r", "")), element.get("t"), None
                    runs = _Runs(s) if kind == "inlineStr" else None
            elif in_cell and runs is not None:
                runs.event(event, element)
            continue
        if depth > 3:
            if in_cell:
                if runs is not None:
                    runs.event(event, element)
                if depth == 4 and tag == v and value is None:
                    value = element.text or ""
        elif depth == 3:
            if in_cell and column is not None:
                if column > len(cells):  # empty cells before it
                    cells.extend([""] * (column - len(cells)))
                inline = "" if runs is None else runs.text()
                cells.append(_cell_text(kind, value or "", inline, shared))  # (a cell out of order: at the end)
        elif depth == 2 and in_row and limit > 0 and any(cells):
            lines.append("\n" + "\t".join(cells))
            limit -= len(lines[-1])
    return lines


def _column_index(reference: str) -> int | None:
    """The 0-based column of ``reference`` (``"C7"`` -> 2); a cell without one follows the
    previous cell (-1 here: appended); None beyond Excel's last column."""
    match = _COLUMN_RE.match(reference)
    if match is None:
        return -1
    index = 0
    for letter in match.group():
        index = index * 26 + ord(letter) - 64
    return index - 1 if index <= MAX_COLUMNS and not reference[match.end():match.end() + 1].isalpha() else None


def _cell_text(kind: str | None, value: str, inline: str, shared: list[str]) -> str:
    """A cell's text, from its type (``t``), the text of its value (``v``) and of its inline
    string."""
    if kind == "inlineStr":
        return inline
    if kind == "s":
        try:
            index = int(value)
        except ValueError:
            return ""
        return shared[index] if 0 <= index < len(shared) else ""  # not -1 as the last one
    if kind == "b":
        return "TRUE" if value == "1" else "FALSE"
    return value
