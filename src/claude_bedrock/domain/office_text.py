"""Plain-text extraction from Office Open XML documents (docx, xlsx), for Converse documents.

Bedrock hands Claude the text of a Converse document in an Office format. A docx or xlsx file
is a zip of XML parts; this reads the parts that hold the text:

* docx: ``word/document.xml``, one line per paragraph (``w:p``), the text of its runs
  (``w:t``), tabs (``w:tab``) as tabs and breaks (``w:br``, ``w:cr``) as new lines;
* xlsx: every worksheet in workbook order, one line per row, cells separated by tabs; shared
  strings (``xl/sharedStrings.xml``), inline strings and values as written; a sheet's lines
  are headed by its name.

The legacy binary formats (doc, xls) are not read (``None``): their text would have to be
guessed. Bounded: a part larger than ``MAX_PART_BYTES`` once decompressed is not read, and
neither is a file that is not a zip. Pure: bytes in, text out.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterator
from xml.etree import ElementTree

__all__ = ["MAX_PART_BYTES", "docx_text", "xlsx_text"]

#: An XML part larger than this (decompressed) is not read: a document is not a zip bomb.
MAX_PART_BYTES = 16 * 1024 * 1024

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_S = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_COLUMN_RE = re.compile(r"[A-Z]+")


class NotAnOfficeDocument(ValueError):
    """The bytes are not a zip holding the format's main part."""


def _part(archive: zipfile.ZipFile, name: str) -> ElementTree.Element | None:
    try:
        info = archive.getinfo(name)
    except KeyError:
        return None
    if info.file_size > MAX_PART_BYTES:
        return None
    with archive.open(info) as member:
        data = member.read(MAX_PART_BYTES + 1)
    if len(data) > MAX_PART_BYTES:
        return None
    try:
        return ElementTree.fromstring(data)
    except ElementTree.ParseError:
        return None


def _archive(data: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise NotAnOfficeDocument(str(exc)) from None


def docx_text(data: bytes) -> str:
    """The text of a docx file, a line per paragraph.

    Raises:
        NotAnOfficeDocument: not a zip, or no ``word/document.xml`` in it.
    """
    with _archive(data) as archive:
        if "word/document.xml" not in archive.namelist():
            raise NotAnOfficeDocument("no word/document.xml")
        root = _part(archive, "word/document.xml")
    if root is None:
        return ""
    return "\n".join(_paragraph_text(paragraph) for paragraph in root.iter(f"{_W}p")).strip()


def _paragraph_text(paragraph: ElementTree.Element) -> str:
    pieces = []
    for node in paragraph.iter():
        if node.tag == f"{_W}t" and node.text:
            pieces.append(node.text)
        elif node.tag == f"{_W}tab":
            pieces.append("\t")
        elif node.tag in (f"{_W}br", f"{_W}cr"):
            pieces.append("\n")
    return "".join(pieces)


def xlsx_text(data: bytes) -> str:
    """The cells of an xlsx file's sheets, a line per row, tab-separated.

    Raises:
        NotAnOfficeDocument: not a zip, or no ``xl/workbook.xml`` in it.
    """
    with _archive(data) as archive:
        names = set(archive.namelist())
        if "xl/workbook.xml" not in names:
            raise NotAnOfficeDocument("no xl/workbook.xml")
        shared = _shared_strings(archive)
        blocks = []
        for title, part in _sheets(archive, names):
            root = _part(archive, part)
            if root is None:
                continue
            rows = ["\t".join(row) for row in _rows(root, shared)]
            blocks.append("\n".join([f"# {title}", *rows]))
    return "\n\n".join(blocks).strip()


def _shared_strings(archive: zipfile.ZipFile) -> list[str]:
    root = _part(archive, "xl/sharedStrings.xml")
    if root is None:
        return []
    return ["".join(node.text or "" for node in item.iter(f"{_S}t")) for item in root.iter(f"{_S}si")]


def _sheets(archive: zipfile.ZipFile, names: set[str]) -> Iterator[tuple[str, str]]:
    """(sheet name, part name) in workbook order."""
    workbook = _part(archive, "xl/workbook.xml")
    rels = _part(archive, "xl/_rels/workbook.xml.rels")
    targets = {}
    if rels is not None:
        for rel in rels.iter(f"{_REL}Relationship"):
            target = rel.get("Target", "")
            target = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            targets[rel.get("Id")] = target
    if workbook is None:
        return
    for sheet in workbook.iter(f"{_S}sheet"):
        part = targets.get(sheet.get(f"{_R}id"))
        if part in names:
            yield sheet.get("name", "Sheet"), part


def _rows(root: ElementTree.Element, shared: list[str]) -> Iterator[list[str]]:
    for row in root.iter(f"{_S}row"):
        cells: list[str] = []
        for cell in row.iter(f"{_S}c"):
            column = _column_index(cell.get("r", ""))
            if column is not None and column >= len(cells):
                cells.extend([""] * (column - len(cells)))
            cells.append(_cell_text(cell, shared))
        if any(cells):
            yield cells


def _column_index(reference: str) -> int | None:
    match = _COLUMN_RE.match(reference)
    if match is None:
        return None
    index = 0
    for letter in match.group():
        index = index * 26 + ord(letter) - 64
    return index - 1


def _cell_text(cell: ElementTree.Element, shared: list[str]) -> str:
    kind = cell.get("t")
    if kind == "inlineStr":
        return "".join(node.text or "" for node in cell.iter(f"{_S}t"))
    value = cell.find(f"{_S}v")
    text = value.text if value is not None and value.text else ""
    if kind == "s":
        try:
            return shared[int(text)]
        except (ValueError, IndexError):
            return ""
    if kind == "b":
        return "TRUE" if text == "1" else "FALSE"
    return text
