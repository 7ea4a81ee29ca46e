"""Each reader on files built here with the real libraries: what is kept, what is dropped."""

from __future__ import annotations

import codecs

import pytest

from repo_server.ingest.extract import extract_text, normalise, route_for

from .builders import text_page, write_epub, write_pdf

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_normalise_cleans_what_office_formats_leave_behind() -> None:
    raw = ("  Cafe\u0301\u3000\u3000勾股定理\t\u00a0 \x07证明\r\n第二行\vthird\u2028fourth"
           "\x00\ufeff\u200b\n\n\n\n 第三段 \f")
    assert normalise(raw) == "Café 勾股定理 证明\n第二行\nthird\nfourth\n\n第三段"


def test_docx_paragraphs_tables_headers_and_footers_in_order(tmp_path) -> None:
    import docx

    document = docx.Document()
    document.sections[0].header.paragraphs[0].text = "实验中学 七年级数学组"
    document.sections[0].footer.paragraphs[0].text = "第 1 页"
    document.add_heading("勾股定理 教学设计", level=1)
    document.add_paragraph("教学目标：理解并证明勾股定理。")
    table = document.add_table(rows=2, cols=2)
    for (r, c), value in {(0, 0): "直角边 a", (0, 1): "直角边 b", (1, 0): "3", (1, 1): "4"}.items():
        table.cell(r, c).text = value
    document.add_paragraph("课后作业：练习册第 12 页。")
    path = tmp_path / "教案.docx"
    document.save(path)

    extraction = extract_text(path, mime=DOCX, extension="docx")
    assert extraction.status == "done" and extraction.extractor == "python-docx"
    text = extraction.text
    for piece in ("勾股定理 教学设计", "直角边 a", "直角边 b", "实验中学 七年级数学组", "第 1 页"):
        assert piece in text
    # body order kept, table in its place; headers/footers after the body
    assert text.index("教学目标") < text.index("直角边 a") < text.index("课后作业") \
        < text.index("实验中学")


def test_pptx_titles_groups_tables_and_speaker_notes_in_slide_order(tmp_path) -> None:
    import pptx
    from pptx.util import Inches

    presentation = pptx.Presentation()
    first = presentation.slides.add_slide(presentation.slide_layouts[1])
    first.shapes.title.text = "第一课 春"
    first.placeholders[1].text = "朱自清的散文"
    group = first.shapes.add_group_shape()
    box = group.shapes.add_textbox(Inches(1), Inches(5), Inches(3), Inches(1))
    box.text_frame.text = "分组里的文字：盼望着，盼望着"
    first.notes_slide.notes_text_frame.text = "教师提示：先朗读全文，再讨论修辞。"
    second = presentation.slides.add_slide(presentation.slide_layouts[5])
    second.shapes.title.text = "课堂练习"
    table = second.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(4), Inches(1)).table
    table.cell(0, 0).text, table.cell(0, 1).text = "比喻", "拟人"
    table.cell(1, 0).text, table.cell(1, 1).text = "像母亲的手", "小草偷偷地"
    path = tmp_path / "课件.pptx"
    presentation.save(path)

    extraction = extract_text(path, mime=PPTX, extension="pptx")
    assert extraction.status == "done" and extraction.extractor == "python-pptx"
    text = extraction.text
    assert "分组里的文字：盼望着，盼望着" in text
    assert "教师提示：先朗读全文，再讨论修辞。" in text
    assert "比喻 拟人" in text and "像母亲的手 小草偷偷地" in text
    assert text.index("第一课 春") < text.index("朱自清") < text.index("教师提示") \
        < text.index("课堂练习") < text.index("比喻")


def test_xlsx_sheet_by_sheet(tmp_path) -> None:
    import openpyxl

    workbook = openpyxl.Workbook()
    scores = workbook.active
    scores.title = "成绩"
    scores.append(["姓名", "语文", "数学"])
    scores.append(["张三", 95, 88.5])
    plan = workbook.create_sheet("进度")
    plan["C7"] = "第三单元 分数的意义"
    path = tmp_path / "成绩.xlsx"
    workbook.save(path)

    extraction = extract_text(path, mime=XLSX, extension="xlsx")
    assert extraction.status == "done" and extraction.extractor == "openpyxl"
    assert extraction.text == "成绩\n姓名 语文 数学\n张三 95 88.5\n\n进度\n第三单元 分数的意义"


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8", "utf-8-sig", "utf-16", "utf-16-be"])
def test_txt_encodings_chinese_teachers_use(tmp_path, encoding) -> None:
    text = "第一单元 勾股定理\n\n勾股定理：直角三角形两直角边的平方和等于斜边的平方。"
    data = text.encode(encoding)
    if encoding == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data
    path = tmp_path / "note.txt"
    path.write_bytes(data)
    extraction = extract_text(path, mime="text/plain", extension="txt")
    assert extraction.status == "done"
    assert extraction.text == text


def test_txt_that_is_neither_utf8_nor_gbk_falls_back_to_latin1(tmp_path) -> None:
    path = tmp_path / "fr.txt"
    path.write_bytes("Le café est prêt\x80".encode("latin-1"))
    assert extract_text(path, mime="text/plain", extension="txt").text == "Le café est prêt"


def test_html_skips_script_and_style_and_honours_a_gb2312_charset(tmp_path) -> None:
    page = ('<html><head><meta charset="gb2312"><title>七年级语文</title>'
            '<style>p { color: red }</style><script>alert("x")</script></head>'
            '<body><h1>春</h1><p>盼望着，盼望着，东风来了，\n春天的脚步近了。</p>'
            '<noscript>请启用脚本</noscript><p>A&amp;B &lt;tag&gt;</p></body></html>')
    path = tmp_path / "page.html"
    path.write_bytes(page.encode("gbk"))
    extraction = extract_text(path, mime="text/html", extension="html")
    assert extraction.extractor == "html"
    assert extraction.text == "七年级语文\n春\n盼望着，盼望着，东风来了，春天的脚步近了。\nA&B <tag>"


def test_srt_keeps_only_the_spoken_lines(tmp_path) -> None:
    srt = ("1\r\n00:00:01,000 --> 00:00:03,500\r\n同学们好，<i>今天</i>我们学习\r\n勾股定理。\r\n\r\n"
           "2\r\n00:00:04,000 --> 00:00:06,000\r\n{\\an8}先看一个直角三角形\r\n\r\n")
    path = tmp_path / "微课.srt"
    path.write_bytes(srt.encode("gbk"))    # Chinese subtitle sites ship GBK
    extraction = extract_text(path, mime="application/x-subrip", extension="srt")
    assert extraction.extractor == "subtitles"
    assert extraction.text == "同学们好，今天我们学习\n勾股定理。\n先看一个直角三角形"


def test_vtt_drops_header_notes_cue_ids_tags_and_repeated_lines(tmp_path) -> None:
    vtt = ("WEBVTT\nKind: captions\nLanguage: zh-CN\n\nNOTE 这是注释，不是字幕\n\n"
           "STYLE\n::cue { color: lime }\n\n"
           "intro\n00:00.000 --> 00:02.000 align:start\n<v 老师>大家好</v>\n\n"
           "00:02.000 --> 00:04.000\n<c.yellow>大家好</c>\n\n"
           "00:04.000 --> 00:06.000\n<00:04.500>今天讲&amp;练\n")
    path = tmp_path / "lesson.vtt"
    path.write_text(vtt, encoding="utf-8")
    extraction = extract_text(path, mime="text/vtt", extension="vtt")
    assert extraction.text == "大家好\n今天讲&练"


def test_epub_reads_chapters_in_spine_order(tmp_path) -> None:
    chapters = [f'<html xmlns="http://www.w3.org/1999/xhtml"><head><title>第{n}章</title></head>'
                f'<body><h1>第{n}章</h1><p>正文{n}</p></body></html>' for n in "一二三"]
    path = write_epub(tmp_path / "book.epub", chapters, title="西游记", creator="吴承恩",
                      spine_order=[2, 0, 1])
    extraction = extract_text(path, mime="application/epub+zip", extension="epub")
    assert extraction.text == "西游记\n吴承恩\n\n第三章\n正文三\n\n第一章\n正文一\n\n第二章\n正文二"


def test_pdf_pages_in_order_and_truncation_stops_early(tmp_path) -> None:
    pages = [text_page(f"Page {n} begins", "lorem ipsum " * 8) for n in range(1, 201)]
    path = write_pdf(tmp_path / "long.pdf", pages)
    whole = extract_text(path, mime="application/pdf", extension="pdf")
    assert whole.status == "done" and not whole.truncated
    assert whole.text.index("Page 1 begins") < whole.text.index("Page 2 begins") \
        < whole.text.index("Page 200 begins")
    capped = extract_text(path, mime="application/pdf", extension="pdf", max_chars=500)
    assert capped.truncated and capped.chars == len(capped.text) <= 500
    assert whole.text.startswith(capped.text)


def test_truncation_of_a_large_text_file_reads_only_its_head(tmp_path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("勾股定理 " * 2_000_000, encoding="utf-8")     # 10 million characters
    extraction = extract_text(path, mime="text/plain", extension="txt", max_chars=1000)
    assert extraction.truncated
    assert extraction.chars == 999 and extraction.text.startswith("勾股定理 勾股定理")


def test_short_text_is_not_marked_truncated(tmp_path) -> None:
    path = tmp_path / "short.txt"
    path.write_text("一二三四五", encoding="utf-8")
    extraction = extract_text(path, mime="text/plain", extension="txt", max_chars=5)
    assert (extraction.text, extraction.truncated) == ("一二三四五", False)


@pytest.mark.parametrize("mime, extension", [
    ("video/mp4", "mp4"), ("audio/mpeg", "mp3"), ("image/png", "png"), ("image/svg+xml", "svg"),
    ("application/zip", "zip"), ("application/x-shockwave-flash", "swf"),
    ("application/octet-stream", "bin")])
def test_families_without_text_are_unsupported_without_opening_the_file(tmp_path, mime,
                                                                        extension) -> None:
    missing = tmp_path / f"never-created.{extension}"     # opening it would fail
    extraction = extract_text(missing, mime=mime, extension=extension)
    assert extraction.status == "unsupported"
    assert mime in extraction.message


def test_image_only_pdf_is_empty_not_failed(tmp_path) -> None:
    path = write_pdf(tmp_path / "scan.pdf", [b"0 0 1 rg 10 10 100 100 re f"])
    extraction = extract_text(path, mime="application/pdf", extension="pdf")
    assert extraction.status == "empty" and extraction.text == ""
    assert "no extractable text" in extraction.message


def test_routes_follow_formats_py() -> None:
    assert route_for("application/CDFV2", "ppt") == "office"
    assert route_for("application/vnd.ms-word.document.macroEnabled.12", "docm") == "office"
    assert route_for("text/csv", "csv") == "text"
    assert route_for("text/plain", "srt") == "subtitles"
    assert route_for("application/rtf", "rtf") == "office"
    assert route_for("application/encrypted", "docx") == "encrypted"
    assert route_for("video/mp4", "mp4") is None


def test_importing_the_package_loads_no_parser() -> None:
    import subprocess
    import sys

    code = ("import sys, repo_server.ingest.extract as e; "
            "print(sorted(m for m in ('pypdfium2', 'docx', 'pptx', 'openpyxl', 'lxml') "
            "if m in sys.modules))")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout
    assert output.strip() == "[]"


def test_pdf_line_wraps_inside_chinese_sentences_are_joined() -> None:
    from repo_server.ingest.extract.pdf import join_cjk_lines

    page = "坚持社会主义核心价值体系，增强文化\r\n自信，\r\n建设文化强国。\r\n下一段\r\nEnglish line\r\n中文"
    assert join_cjk_lines(page) == \
        "坚持社会主义核心价值体系，增强文化自信，建设文化强国。\r\n下一段\r\nEnglish line\r\n中文"
