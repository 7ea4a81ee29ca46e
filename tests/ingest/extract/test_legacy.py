"""The other LibreOffice routes: RTF and ODF by their content, Excel 97 (.xls, WPS .et).

The inputs are made here: RTF and ODT by hand (both are plain text formats underneath), the
.xls by LibreOffice itself from a workbook openpyxl wrote.
"""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from repo_server.ingest.extract import extract_text

RTF = (r"{\rtf1\ansi\ansicpg936\deff0{\fonttbl{\f0\fnil\fcharset134 SimSun;}}"
       r"\f0\fs24 \u25945?\u23398?\u35774?\u35745? Lesson plan\par "
       r"\u21246?\u32929?\u23450?\u29702?\par }")           # 教学设计 / 勾股定理

ODT_CONTENT = """<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
  xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">
  <office:body><office:text>
    <text:h text:outline-level="1">第二单元 分数</text:h>
    <text:p>分数的意义：把单位“1”平均分成若干份。</text:p>
  </office:text></office:body>
</office:document-content>"""

ODT_MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">
  <manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/>
  <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
</manifest:manifest>"""


def test_rtf_is_converted_by_content(tmp_path) -> None:
    path = tmp_path / "plan.rtf"
    path.write_text(RTF, encoding="ascii")
    extraction = extract_text(path, mime="application/rtf", extension="rtf")
    assert extraction.status == "done", extraction.message
    assert extraction.extractor == "libreoffice+python-docx"
    assert extraction.text == "教学设计 Lesson plan\n勾股定理"


def test_odt_is_converted_after_the_zip_check(tmp_path) -> None:
    path = tmp_path / "unit.odt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", ODT_CONTENT)
        archive.writestr("META-INF/manifest.xml", ODT_MANIFEST)
    extraction = extract_text(path, mime="application/vnd.oasis.opendocument.text",
                              extension="odt")
    assert extraction.status == "done", extraction.message
    assert extraction.text == "第二单元 分数\n分数的意义：把单位“1”平均分成若干份。"


@pytest.fixture(scope="module")
def xls_file(tmp_path_factory) -> Path:
    import openpyxl

    folder = tmp_path_factory.mktemp("xls")
    workbook = openpyxl.Workbook()
    workbook.active.title = "成绩单"
    workbook.active.append(["姓名", "语文"])
    workbook.active.append(["李四", 92])
    workbook.save(folder / "scores.xlsx")
    subprocess.run([shutil.which("soffice") or "soffice",
                    f"-env:UserInstallation={(folder / 'profile').as_uri()}", "--headless",
                    "--convert-to", "xls", "--outdir", str(folder), str(folder / "scores.xlsx")],
                   check=True, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    return folder / "scores.xls"


@pytest.mark.parametrize("extension", ["xls", "et"])
def test_excel_97_workbook_is_read_sheet_by_sheet(xls_file, tmp_path, extension) -> None:
    path = tmp_path / f"成绩.{extension}"
    path.write_bytes(xls_file.read_bytes())
    assert path.read_bytes()[:8] == bytes.fromhex("d0cf11e0a1b11ae1")   # really OLE2
    extraction = extract_text(path, mime="application/vnd.ms-excel", extension=extension)
    assert extraction.extractor == "libreoffice+openpyxl", extraction.message
    assert extraction.text == "成绩单\n姓名 语文\n李四 92"
