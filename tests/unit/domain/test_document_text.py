"""Text of Converse documents: docx and xlsx read from their XML parts, a PDF by pdf_text,
legacy doc/xls given a placeholder, and bytes not of their declared format refused."""

from __future__ import annotations

import base64
import io
import tracemalloc
import zipfile
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from claude_bedrock.domain.document_text import apply_text_only
from claude_bedrock.domain.errors import ValidationException
from claude_bedrock.domain.office_text import MAX_PART_BYTES, NotAnOfficeDocument, docx_text, xlsx_text
from claude_bedrock.wire.converse_request import BINARY_DOCUMENT_MEDIA_TYPES

W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
S = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'


def zipped(parts: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def read_with_peak_memory(read, data: bytes) -> tuple[str, int]:
    """``read(data)``, and the most memory Python held while it ran."""
    tracemalloc.start()
    try:
        return read(data), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def docx(body: str) -> bytes:
    return zipped({"word/document.xml": f"<w:document {W}><w:body>{body}</w:body></w:document>"})


def xlsx() -> bytes:
    return zipped({
        "xl/workbook.xml": f'<workbook {S} {R}><sheets><sheet name="Sales" sheetId="1" r:id="rId1"/>'
                           f'<sheet name="Notes" sheetId="2" r:id="rId2"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
                                      'relationships"><Relationship Id="rId1" Target="worksheets/sheet1.xml"/>'
                                      '<Relationship Id="rId2" Target="/xl/worksheets/sheet2.xml"/></Relationships>',
        "xl/sharedStrings.xml": f"<sst {S}><si><t>Region</t></si><si><t>Total</t></si><si><t>North</t></si></sst>",
        "xl/worksheets/sheet1.xml": f'<worksheet {S}><sheetData>'
                                    '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
                                    '<row r="2"><c r="A2" t="s"><v>2</v></c><c r="C2"><v>42.5</v></c></row>'
                                    '<row r="3"><c r="A3" t="b"><v>1</v></c></row></sheetData></worksheet>',
        "xl/worksheets/sheet2.xml": f'<worksheet {S}><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>'
                                    'checked</t></is></c></row></sheetData></worksheet>',
    })


def test_docx_text_is_a_line_per_paragraph_with_tabs_and_breaks():
    body = ("<w:p><w:r><w:t>Hello</w:t></w:r><w:r><w:tab/><w:t>world</w:t></w:r></w:p>"
            "<w:p><w:r><w:t>second</w:t><w:br/><w:t>line</w:t></w:r></w:p>")
    assert docx_text(docx(body)) == "Hello\tworld\nsecond\nline"


def test_xlsx_text_is_a_line_per_row_per_sheet_in_workbook_order():
    assert xlsx_text(xlsx()) == "# Sales\nRegion\tTotal\nNorth\t\t42.5\nTRUE\n\n# Notes\nchecked"


@pytest.mark.parametrize("read", [docx_text, xlsx_text])
def test_bytes_that_are_not_the_format_are_refused(read):
    with pytest.raises(NotAnOfficeDocument):
        read(b"plain text")
    with pytest.raises(NotAnOfficeDocument):
        read(zipped({"other.xml": "<x/>"}))


def test_a_part_larger_than_the_bound_is_not_read():
    huge = f"<w:document {W}><w:body><w:p><w:r><w:t>" + "a" * (MAX_PART_BYTES + 10) + "</w:t></w:r></w:p></w:body></w:document>"
    assert docx_text(zipped({"word/document.xml": huge})) == ""


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_office_readers_never_fail_otherwise(data):
    for read in (docx_text, xlsx_text):
        try:
            read(data)
        except NotAnOfficeDocument:
            pass


def body_with(doc_format: str, raw: bytes) -> dict:
    block = {"type": "document", "source": {"type": "base64", "media_type": BINARY_DOCUMENT_MEDIA_TYPES[doc_format],
                                            "data": base64.b64encode(raw).decode()}}
    return {"messages": [{"role": "user", "content": [block]}]}


@pytest.mark.parametrize(("doc_format", "raw", "text"), [
    ("docx", docx("<w:p><w:r><w:t>Minutes</w:t></w:r></w:p>"), "Minutes"),
    ("xlsx", xlsx(), "# Sales\nRegion\tTotal\nNorth\t\t42.5\nTRUE\n\n# Notes\nchecked"),
    ("doc", b"\xd0\xcf\x11\xe0legacy", "(The text of this DOC document could not be read.)"),
    ("xls", b"\xd0\xcf\x11\xe0legacy", "(The text of this XLS document could not be read.)"),
    ("pdf", b"%PDF-1.4\n%%EOF\n", "(This PDF has no extractable text.)"),
], ids=["docx", "xlsx", "doc", "xls", "pdf"])  # zip bytes hold the time: no ids from values
def test_apply_text_only_puts_each_document_text_in_its_place(doc_format, raw, text):
    body = body_with(doc_format, raw)
    assert apply_text_only(body, ("/messages/0/content/0",)) == 1
    assert body["messages"][0]["content"][0]["source"] == {"type": "text", "media_type": "text/plain", "data": text}


@pytest.mark.parametrize(("doc_format", "message"), [
    ("pdf", "The PDF specified was not valid."),
    ("docx", "The DOCX document specified was not valid."),
    ("xlsx", "The XLSX document specified was not valid."),
])
def test_apply_text_only_refuses_bytes_not_of_their_format(doc_format, message):
    with pytest.raises(ValidationException) as caught:
        apply_text_only(body_with(doc_format, b"not a document"), ("/messages/0/content/0",))
    assert caught.value.message == message


# --------------------------------------------------------------------------- hostile files


def stored_docx(body: str) -> bytearray:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("word/document.xml", f"<w:document {W}><w:body>{body}</w:body></w:document>")
    return bytearray(buffer.getvalue())


def set_header_bytes(data: bytearray, local_offset: int, central_offset: int, value: int, *, bit: bool) -> bytes:
    for signature, offset in ((b"PK\x03\x04", local_offset), (b"PK\x01\x02", central_offset)):
        at = data.find(signature) + offset
        data[at] = data[at] | value if bit else value
    return bytes(data)


def corrupted(kind: str) -> bytes:
    data = stored_docx("<w:p><w:r><w:t>hello</w:t></w:r></w:p>")
    if kind == "crc":
        data[data.find(b"hello")] = ord("j")
        return bytes(data)
    if kind == "encrypted":
        return set_header_bytes(data, 6, 8, 1, bit=True)
    return set_header_bytes(data, 8, 10, 99, bit=False)  # unknown compression method


@pytest.mark.parametrize("kind", ["crc", "encrypted", "method"])
def test_damaged_or_encrypted_members_are_not_an_office_document(kind):
    with pytest.raises(NotAnOfficeDocument):
        docx_text(corrupted(kind))


def test_nested_paragraphs_are_read_in_one_pass():
    depth = 3000  # quadratic work would take minutes here
    text = docx_text(docx("<w:p><w:r><w:t>x</w:t></w:r>" * depth + "</w:p>" * depth))
    assert text.count("x") == depth


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "utf-16-le", "utf-16-be"])
def test_a_doctype_is_refused_as_entity_expansion(encoding):
    """Audit: a DOCTYPE was searched for in ASCII only, so a part in UTF-16 (which expat reads,
    from its byte order mark or its first "<") had its entities expanded. (100,000 characters
    here: below the point where expat's own limit on amplification steps in.)"""
    entities = '<!ENTITY a0 "' + "x" * 100 + '">' + "".join(
        f'<!ENTITY a{i} "' + f"&a{i - 1};" * 10 + '">' for i in range(1, 4))
    part = (f"<!DOCTYPE d [{entities}]><w:document {W}><w:body><w:p><w:r><w:t>&a3;</w:t></w:r></w:p>"
            "</w:body></w:document>")
    assert docx_text(zipped({"word/document.xml": part.encode(encoding)})) == ""
    sheet = f'<!DOCTYPE d [{entities}]><worksheet {S}><sheetData><row><c r="A1" t="inlineStr"><is><t>&a3;</t></is>'
    book = zipfile.ZipFile(io.BytesIO(sheet_workbook("")))
    parts: dict[str, str | bytes] = {name: book.read(name) for name in book.namelist()}
    parts["xl/worksheets/sheet1.xml"] = (sheet + "</c></row></sheetData></worksheet>").encode(encoding)
    assert xlsx_text(zipped(parts)) == ""


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_parts_in_utf_16_are_read(encoding):
    """ECMA-376 Part 2 (Open Packaging Conventions) allows XML parts in UTF-8 or UTF-16."""
    part = f'<?xml version="1.0"?><w:document {W}><w:body><w:p><w:r><w:t>Grüße</w:t></w:r></w:p></w:body></w:document>'
    assert docx_text(zipped({"word/document.xml": part.encode(encoding)})) == "Grüße"


def test_text_stops_at_the_character_budget(monkeypatch):
    from claude_bedrock.domain import office_text

    monkeypatch.setattr(office_text, "MAX_TEXT_CHARS", 50)
    text = docx_text(docx("<w:p><w:r><w:t>abcdefghij</w:t></w:r></w:p>" * 100))
    assert len(text) <= 50


def sheet_workbook(sheet_xml: str, listings: int = 1) -> bytes:
    sheets = "".join(f'<sheet name="S{n}" sheetId="{n}" r:id="rId1"/>' for n in range(listings))
    return zipped({
        "xl/workbook.xml": f"<workbook {S} {R}><sheets>{sheets}</sheets></workbook>",
        "xl/_rels/workbook.xml.rels": '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
                                      'relationships"><Relationship Id="rId1" Target="worksheets/sheet1.xml"/>'
                                      "</Relationships>",
        "xl/worksheets/sheet1.xml": f"<worksheet {S}><sheetData>{sheet_xml}</sheetData></worksheet>",
    })


@pytest.mark.parametrize("index", ["-1", "-3", "3", "x", "1" * 5000])
def test_a_shared_string_index_out_of_the_table_is_an_empty_cell(index):
    row = f'<row><c r="A1" t="s"><v>{index}</v></c><c r="B1"><v>7</v></c></row>'
    book = zipfile.ZipFile(io.BytesIO(sheet_workbook(row)))
    parts = {name: book.read(name) for name in book.namelist()}
    parts["xl/sharedStrings.xml"] = f"<sst {S}><si><t>a</t></si><si><t>b</t></si><si><t>c</t></si></sst>"
    assert xlsx_text(zipped(parts)) == "# S0\n\t7"  # -1 read the last string ("c"), -3 the first


def test_phonetic_runs_are_not_part_of_a_cells_text():
    """Audit: a Japanese cell's phonetic hint (``rPh``, ECMA-376 18.4.6) was read into its text:
    東京 became 東京トウキョウ, in shared strings and inline strings alike."""
    phonetic = '<rPh sb="0" eb="2"><t>トウキョウ</t></rPh><phoneticPr fontId="1"/>'
    row = f'<row><c r="A1" t="s"><v>0</v></c><c r="B1" t="inlineStr"><is><t>大阪</t>{phonetic}</is></c></row>'
    book = zipfile.ZipFile(io.BytesIO(sheet_workbook(row)))
    parts = {name: book.read(name) for name in book.namelist()}
    parts["xl/sharedStrings.xml"] = (f"<sst {S}><si><r><t>東</t></r><r><t>京</t></r>{phonetic}</si></sst>")
    assert xlsx_text(zipped(parts)) == "# S0\n東京\t大阪"


def test_a_sheet_listed_many_times_is_read_once():
    assert xlsx_text(sheet_workbook('<row><c r="A1"><v>7</v></c></row>', listings=500)) == "# S0\n7"


@pytest.mark.parametrize(("reference", "text"), [("XFD1", "\t" * 16383 + "1"), ("XFE1", ""),
                                                 ("AAAAAAA1", ""), ("ZZZZZZZZZZZZZZ1", "")])
def test_cell_references_beyond_the_last_column_are_skipped(reference, text):
    result = xlsx_text(sheet_workbook(f'<row><c r="{reference}"><v>1</v></c></row>'))
    assert result == ("# S0\n" + text).strip()


# --------------------------------------------------------------------------- Strict Open XML

#: ECMA-376 Part 1 Strict's namespaces for the Transitional ones ("Strict Open XML" files);
#: the package's relationships namespace is the same in both.
STRICT_NAMESPACES = {
    "http://schemas.openxmlformats.org/wordprocessingml/2006/main": "http://purl.oclc.org/ooxml/wordprocessingml/main",
    "http://schemas.openxmlformats.org/spreadsheetml/2006/main": "http://purl.oclc.org/ooxml/spreadsheetml/main",
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships":
        "http://purl.oclc.org/ooxml/officeDocument/relationships",
}


def strict(data: bytes) -> bytes:
    """The same document saved as Strict Open XML."""
    book = zipfile.ZipFile(io.BytesIO(data))
    parts = {}
    for name in book.namelist():
        part = book.read(name).decode()
        for transitional, strict_uri in STRICT_NAMESPACES.items():
            part = part.replace(f'"{transitional}"', f'"{strict_uri}"')
        parts[name] = part
    assert parts != {name: book.read(name).decode() for name in book.namelist()}
    return zipped(parts)


def test_docx_text_reads_strict_open_xml():
    body = ("<w:p><w:r><w:t>Hello</w:t></w:r><w:r><w:tab/><w:t>world</w:t></w:r></w:p>"
            "<w:p><w:r><w:t>second</w:t><w:br/><w:t>line</w:t></w:r></w:p>")
    assert docx_text(strict(docx(body))) == "Hello\tworld\nsecond\nline"


def test_xlsx_text_reads_strict_open_xml():
    """Shared strings, inline strings, sheets found by their Strict ``r:id``, phonetic runs."""
    assert xlsx_text(strict(xlsx())) == "# Sales\nRegion\tTotal\nNorth\t\t42.5\nTRUE\n\n# Notes\nchecked"
    row = '<row><c r="A1" t="inlineStr"><is><t>大阪</t><rPh sb="0" eb="2"><t>オオサカ</t></rPh></is></c></row>'
    assert xlsx_text(strict(sheet_workbook(row))) == "# S0\n大阪"


def test_apply_text_only_reads_strict_open_xml():
    body = body_with("docx", strict(docx("<w:p><w:r><w:t>Minutes</w:t></w:r></w:p>")))
    apply_text_only(body, ("/messages/0/content/0",))
    assert body["messages"][0]["content"][0]["source"]["data"] == "Minutes"


# A docx is read as it is parsed, each element let go once read (off the event loop, the tree of a
# 16 MB part made the garbage collector's passes hold the GIL, so the loop, for 0.2 s each).
_WORD_NS = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"


def walked_docx(part: bytes) -> str:
    """The text as the reader of a whole tree found it: one depth-first walk of the parsed part."""
    from xml.etree import ElementTree

    root = ElementTree.fromstring(part)
    w, pieces = _WORD_NS, []
    stack = [(root, False)]
    while stack:
        node, closing = stack.pop()
        if closing:
            pieces.append("\n")
        elif node.tag == _FALLBACK:
            continue
        elif node.tag == f"{w}t":
            pieces.append(node.text or "")
        else:
            pieces.append({f"{w}tab": "\t", f"{w}br": "\n", f"{w}cr": "\n"}.get(node.tag, ""))
            if node.tag == f"{w}p":
                stack.append((node, True))
            stack.extend((child, False) for child in reversed(node))
    return "".join(pieces).strip()


_TAGS = ["w:p", "w:r", "w:t", "w:tab", "w:br", "w:cr", "w:x", "mc:Fallback", "mc:AlternateContent"]
_ELEMENTS = st.recursive(
    st.sampled_from(["", "a", "b c", " "]),
    lambda children: st.tuples(st.sampled_from(_TAGS), st.lists(children, max_size=4)).map(
        lambda element: f"<{element[0]}>{''.join(element[1])}</{element[0]}>"),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_ELEMENTS, max_size=5), st.integers(1, 40))
def test_docx_text_reads_what_a_walk_of_the_whole_tree_read(elements, feed_bytes):
    from claude_bedrock.domain import office_text

    mc = 'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'
    part = f"<w:document {W} {mc}><w:body>{''.join(elements)}</w:body></w:document>".encode()
    with mock.patch.object(office_text, "_FEED_BYTES", feed_bytes):  # pieces of a few bytes: elements straddle them
        text = docx_text(zipped({"word/document.xml": part}))
    assert text == walked_docx(part)


@settings(max_examples=300)
@given(st.lists(st.sampled_from([b"<!DOCTYPE", b"<!doctype", b"<!DOC", b"TYPE", b"<", b"!", b"x", b" ",
                                  "<!DOCTYPE".encode("utf-16-le"), "<!DOCTYPE".encode("utf-16-be"),
                                  "<!DOC".encode("utf-16-be"), "TYPE".encode("utf-16-be"), b"\0"])),
       st.integers(1, 12))
def test_a_doctype_is_found_wherever_the_pieces_cut_it(pieces, feed_bytes):
    from claude_bedrock.domain import office_text

    data = b"".join(pieces)
    with mock.patch.object(office_text, "_FEED_BYTES", feed_bytes):
        found = office_text._has_doctype(data)
    assert found == any(doctype.search(data) for doctype in office_text._DOCTYPES)


def test_a_docx_is_let_go_as_it_is_read():
    """Audit: the whole tree of a part was held (13 times the part's bytes here), so that the
    garbage collector's full passes over it held the GIL longer and longer, up to 0.2 s a pass
    for a 16 MB part, and the event loop with it, though the reading runs in a worker thread."""
    paragraphs = "<w:p><w:r><w:rPr><w:b/></w:rPr></w:r></w:p>" * 50_000
    part = f"<w:document {W}><w:body><w:p><w:r><w:t>x</w:t></w:r></w:p>{paragraphs}</w:body></w:document>".encode()
    data = zipped({"word/document.xml": part})
    text, peak = read_with_peak_memory(docx_text, data)
    assert text == "x"
    assert peak < 6 * len(part)  # the part, its pieces and a few elements: not its tree


def test_pieces_are_large_where_expat_parses_an_unfinished_token_again():
    """An expat without reparse deferral (before 2.6: Python 3.11's and 3.12's) parses a
    pending token again from its start at each feed: 16 KiB pieces made one 8 MB attribute cost
    2.5 s (16 MB: about 10 s) where 256 KiB pieces cost 0.2 s. Small pieces only with 2.6."""
    import pyexpat

    from claude_bedrock.domain import office_text

    if pyexpat.version_info >= (2, 6, 0):
        assert office_text._FEED_BYTES == 16 * 1024
    else:
        assert office_text._FEED_BYTES >= 256 * 1024


# An xlsx is read as it is parsed too, each row and shared string let go once read.
_SHEET_NAMESPACES = ("{http://schemas.openxmlformats.org/spreadsheetml/2006/main}",
                     "{http://purl.oclc.org/ooxml/spreadsheetml/main}")


def walked_xlsx(sheet: bytes, strings: bytes) -> str:
    """The text of a one-sheet workbook as the reader of whole trees found it: the shared
    strings' and the sheet's parsed parts walked with ``iterfind``, ``iter`` and ``find``."""
    from xml.etree import ElementTree

    from claude_bedrock.domain import office_text

    def namespace(root: ElementTree.Element) -> str:
        uri = root.tag[:root.tag.find("}") + 1]
        return uri if uri in _SHEET_NAMESPACES else _SHEET_NAMESPACES[0]

    def all_text(node: ElementTree.Element, s: str) -> str:
        skipped = {id(element) for run in node.iter(f"{s}rPh") for element in run.iter(f"{s}t")}
        return "".join(element.text or "" for element in node.iter(f"{s}t") if id(element) not in skipped)

    try:
        root = ElementTree.fromstring(strings)
        shared = [all_text(item, namespace(root)) for item in root.iterfind(f"{namespace(root)}si")]
    except ElementTree.ParseError:
        shared = []
    try:
        root = ElementTree.fromstring(sheet)
    except ElementTree.ParseError:
        return ""
    s, lines = namespace(root), ["# S0"]
    for data in root.iterfind(f"{s}sheetData"):
        for row in data.iterfind(f"{s}row"):
            cells: list[str] = []
            for cell in row.iterfind(f"{s}c"):
                column = office_text._column_index(cell.get("r", ""))
                if column is None:
                    continue
                cells.extend([""] * (column - len(cells)))
                kind, value = cell.get("t"), cell.find(f"{s}v")
                text = value.text if value is not None and value.text else ""
                if kind == "inlineStr":
                    text = all_text(cell, s)
                elif kind == "s":
                    try:
                        index = int(text)
                    except ValueError:
                        index = -1
                    text = shared[index] if 0 <= index < len(shared) else ""
                elif kind == "b":
                    text = "TRUE" if text == "1" else "FALSE"
                cells.append(text)
            if any(cells):
                lines.append("\t".join(cells))
    return "\n".join(lines).strip()


_SHEET_TAGS = ["sheetData", "row", "c", "v", "is", "t", "r", "rPh", "si", "x"]
_SHEET_ATTRIBUTES = ["", ' t="s"', ' t="inlineStr"', ' t="b"', ' r="A1"', ' r="C2"', ' r="XFE1"', ' t="s" r="B1"']
_SHEET_ELEMENTS = st.recursive(
    st.sampled_from(["", "0", "1", "2", "a b", " ", "-1"]),
    lambda children: st.tuples(st.sampled_from(_SHEET_TAGS), st.sampled_from(_SHEET_ATTRIBUTES),
                               st.lists(children, max_size=4)).map(
        lambda element: f"<{element[0]}{element[1]}>{''.join(element[2])}</{element[0]}>"),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_SHEET_ELEMENTS, max_size=4), st.lists(_SHEET_ELEMENTS, max_size=3),
       st.sampled_from(_SHEET_NAMESPACES + ("{urn:other}",)), st.booleans(), st.booleans(), st.integers(1, 40))
def test_xlsx_text_reads_what_a_walk_of_the_whole_trees_read(sheet, strings, namespace, sheet_cut, strings_cut,
                                                             feed_bytes):
    from claude_bedrock.domain import office_text

    xmlns = f'xmlns="{namespace[1:-1]}"'
    sheet_part = f"<worksheet {xmlns}>{''.join(sheet)}</worksheet>".encode()[:-1 if sheet_cut else None]
    strings_part = f"<sst {xmlns}>{''.join(strings)}</sst>".encode()[:-1 if strings_cut else None]
    book = zipfile.ZipFile(io.BytesIO(sheet_workbook("")))
    parts: dict[str, str | bytes] = {name: book.read(name) for name in book.namelist()}
    parts.update({"xl/worksheets/sheet1.xml": sheet_part, "xl/sharedStrings.xml": strings_part})
    with mock.patch.object(office_text, "_FEED_BYTES", feed_bytes):  # pieces of a few bytes: elements straddle them
        text = xlsx_text(zipped(parts))
    assert text == walked_xlsx(sheet_part, strings_part)


def test_an_xlsx_is_let_go_as_it_is_read():
    """Audit: the whole tree of a sheet or of the shared strings was held (as a docx's was), so
    that the garbage collector's passes over a 16 MB part held the GIL up to 0.2 s, and the event
    loop with it, though the reading runs in a worker thread."""
    rows = '<row r="2"><c r="A2" s="1"/><c r="B2" s="1"/></row>' * 40_000
    sheet = f'<worksheet {S}><sheetData><row><c r="A1" t="s"><v>0</v></c></row>{rows}</sheetData></worksheet>'
    strings = f"<sst {S}>" + "<si><r><t>b</t></r></si>" * 40_000 + "</sst>"
    book = zipfile.ZipFile(io.BytesIO(sheet_workbook("")))
    parts: dict[str, str | bytes] = {name: book.read(name) for name in book.namelist()}
    parts.update({"xl/worksheets/sheet1.xml": sheet, "xl/sharedStrings.xml": strings.replace("b", "x", 1)})
    data = zipped(parts)
    text, peak = read_with_peak_memory(xlsx_text, data)
    assert text == "# S0\nx"
    assert peak < 6 * max(len(sheet), len(strings))  # a part, its pieces and a few elements: not its tree


def test_a_cell_reads_its_first_value_and_a_nested_t_after_its_parent_text():
    """A cell's text is its first ``v``; a ``t`` inside a ``t`` ends first but its text comes after
    the parent's (document order)."""
    row = ('<row><c r="A1"><v>1</v><v>2</v></c>'
           '<c r="B1" t="inlineStr"><is><t>A<t>B</t></t></is></c></row>')
    assert xlsx_text(sheet_workbook(row)) == "# S0\n1\tAB"


def test_sheet_lines_stop_at_the_line_that_reaches_the_limit():
    """The lines kept for the text are bounded too, not only the text made of them."""
    from claude_bedrock.domain.office_text import _sheet_lines

    sheet = f"<worksheet {S}><sheetData>" + '<row><c r="A1"><v>12345</v></c></row>' * 100 + "</sheetData></worksheet>"
    assert _sheet_lines(sheet.encode(), [], 10) == ["\n12345", "\n12345"]
    assert _sheet_lines(sheet.encode(), [], 0) == []
    outside = f'<worksheet {S}><sheetPr><row><c r="A1"><v>9</v></c></row></sheetPr><sheetData/></worksheet>'
    assert _sheet_lines(outside.encode(), [], 100) == []  # a row is read in sheetData only
