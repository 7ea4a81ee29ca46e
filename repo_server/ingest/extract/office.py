"""Office Open XML: DOCX (python-docx), PPTX (python-pptx), XLSX (openpyxl, read-only).

Callers have already run `containers.checked_zip` on the file, so no part is larger than the
zip-bomb limit. The three libraries parse XML with entity resolution switched off
(python-docx and python-pptx use lxml with resolve_entities=False; openpyxl uses defusedxml
when installed, which it is).

- DOCX: every paragraph of the body in document order — tables and text boxes included,
  the VML fallback copy of a text box (mc:Fallback) skipped, deleted revisions and field
  codes skipped — then headers, footers, footnotes, endnotes and comments. Body first, so
  the cap keeps what matters.
- PPTX: slide by slide: the title, every text frame (grouped shapes too), tables, SmartArt
  text, then the speaker notes, where teachers put the actual explanation.
- XLSX: sheet by sheet, the sheet's name then one line per row of cell values.
"""

from __future__ import annotations

from pathlib import Path

from .result import TextSink

__all__ = ["extract_docx", "extract_pptx", "extract_xlsx"]

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_A_T = "{http://schemas.openxmlformats.org/drawingml/2006/main}t"
_WML = "application/vnd.openxmlformats-officedocument.wordprocessingml."
_DOCX_EXTRA_PARTS = tuple(_WML + kind + "+xml" for kind in
                          ("header", "footer", "footnotes", "endnotes", "comments"))
_DIAGRAM_DATA = "application/vnd.openxmlformats-officedocument.drawingml.diagramData+xml"


# -- DOCX ------------------------------------------------------------------------------------
def _paragraph_text(paragraph) -> str:
    """Text of one w:p without the text of paragraphs nested in it (text boxes)."""
    pieces: list[str] = []
    for node in paragraph.iter(_W + "t", _W + "tab", _W + "br", _W + "cr", _W + "noBreakHyphen"):
        owner = node.getparent()
        while owner is not None and owner is not paragraph:
            if owner.tag == _W + "p" or owner.tag == _MC_FALLBACK:
                break
            owner = owner.getparent()
        if owner is not paragraph:
            continue
        tag = node.tag[len(_W):]
        if tag == "t":
            pieces.append(node.text or "")
        elif tag in ("br", "cr"):
            pieces.append("\n")
        elif tag == "tab":
            pieces.append(" ")
        else:
            pieces.append("-")
    return "".join(pieces)


def _wordprocessing_text(root, sink: TextSink) -> bool:
    for paragraph in root.iter(_W + "p"):
        if any(True for _ in paragraph.iterancestors(_MC_FALLBACK)):
            continue
        if not sink.add(_paragraph_text(paragraph)):
            return False
    return True


def extract_docx(path: Path, sink: TextSink) -> str:
    import docx
    from docx.oxml.parser import parse_xml

    document = docx.Document(str(path))
    if not _wordprocessing_text(document.element.body, sink):
        return "python-docx"
    extra = [part for part in document.part.package.iter_parts()
             if part.content_type in _DOCX_EXTRA_PARTS]
    extra.sort(key=lambda part: (_DOCX_EXTRA_PARTS.index(part.content_type), str(part.partname)))
    for part in extra:
        element = getattr(part, "element", None)
        if element is None:
            element = parse_xml(part.blob)   # python-docx's parser: entities not resolved
        sink.section()
        if not _wordprocessing_text(element, sink):
            break
    return "python-docx"


# -- PPTX ------------------------------------------------------------------------------------
def _shape_texts(shapes):
    """Text of shapes in order, descending into groups; tables cell by cell."""
    from pptx.shapes.group import GroupShape

    for shape in shapes:
        if isinstance(shape, GroupShape):
            yield from _shape_texts(shape.shapes)
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            yield shape.text_frame.text
        elif getattr(shape, "has_table", False) and shape.has_table:
            for row in shape.table.rows:
                yield " ".join(cell.text for cell in row.cells)


def _diagram_texts(slide):
    """SmartArt text lives in diagram data parts related to the slide, not in its shapes."""
    from pptx.oxml import parse_xml

    for relationship in slide.part.rels.values():
        if relationship.is_external:
            continue
        part = relationship.target_part
        if part.content_type == _DIAGRAM_DATA:
            root = parse_xml(part.blob)
            yield " ".join(node.text or "" for node in root.iter(_A_T))


def extract_pptx(path: Path, sink: TextSink) -> str:
    import pptx

    presentation = pptx.Presentation(str(path))
    for slide in presentation.slides:
        sink.section()
        title = slide.shapes.title
        if title is not None and title.has_text_frame:
            sink.add(title.text_frame.text)
        others = [shape for shape in slide.shapes
                  if title is None or shape.shape_id != title.shape_id]
        for text in _shape_texts(others):
            sink.add(text)
        for text in _diagram_texts(slide):
            sink.add(text)
        if slide.has_notes_slide:   # reading .notes_slide otherwise would create one
            notes = slide.notes_slide.notes_text_frame
            if notes is not None:
                sink.add(notes.text)
        if sink.full:
            break
    return "python-pptx"


# -- XLSX ------------------------------------------------------------------------------------
def extract_xlsx(path: Path, sink: TextSink) -> str:
    import openpyxl

    workbook = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
    try:
        for sheet in workbook.worksheets:
            if not hasattr(sheet, "iter_rows"):
                continue                      # chart sheets hold no cells
            sink.section()
            sink.add(sheet.title)
            sheet.reset_dimensions()          # trust the rows present, not a declared A1:XFD1048576
            for row in sheet.iter_rows(values_only=True):
                line = " ".join(str(value) for value in row if value is not None and value != "")
                if not sink.add(line):
                    return "openpyxl"
    finally:
        workbook.close()
    return "openpyxl"
