"""Bulk import: a real district folder tree in, resources with the right metadata out,
failures counted with reasons, re-runs that read nothing, and a consistent store after."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from repo_server.blobstore import Staging
from repo_server.catalog.events import ImportRecord
from repo_server.catalog.models import Blob, Resource
from repo_server.errors import ConfigError, InvalidInput, NotFound, PermissionDenied
from repo_server.services.consistency import check_consistency
from repo_server.services.import_paths import PathMapper, strip_ordering
from repo_server.services.import_sidecar import decode_csv, read_sidecar
from repo_server.services.importer import (ImportOptions, ImportReport, import_actor,
                                           import_tree)
from repo_server.services.resources import list_resources
from repo_server.catalog.vocab import VocabIndex

UNIT = "小学/三年级/数学/人教版/上册/第一单元 长方形和正方形"
BIO = "初中/初一/生物/部编版"
FILES = {  # path in the tree → corpus file
    f"{UNIT}/01_第1课 认识四边形.pptx": "bug64693.pptx",
    f"{UNIT}/教学设计/四边形教学设计.docx": "stress009.docx",
    f"{BIO}/第一章/第二节 细胞.doc": "61490.doc",
    f"{BIO}/微课/细胞分裂.mp4": "testVideoMp4.mp4",
    f"{BIO}/图片/显微镜.png": "hopper.png",
    "高中/电子书/檸檬.epub": "lemo.epub",
    "校本资源/阅读材料/多语言.pdf": "multilang.pdf",
    "杂项/假视频.mp4": "dummy.mp4",                       # the extension lies
}
JUNK = [".DS_Store", f"{UNIT}/Thumbs.db", f"{UNIT}/desktop.ini", f"{UNIT}/教学设计/~$四边形教学设计.docx",
        "__MACOSX/._x.pptx"]
GBK_MATH = "数学".encode("gbk")


def build_library(root: Path, corpus) -> Path:
    """A library as schools keep it, with everything that goes wrong in real ones."""
    for relative, name in FILES.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(corpus(name), root / relative)
    for relative in JUNK:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(b"junk")
    (root / "杂项/安装.sh").write_bytes(b"#!/bin/sh\nrm -rf /\n")
    (root / "杂项/setup.exe").write_bytes(b"MZ\x90\x00\x03" + bytes(200))
    (root / "杂项/空白.docx").write_bytes(b"")
    raw = os.fsencode(root)
    os.mkdir(raw + b"/" + GBK_MATH)                                  # unzipped on Linux
    shutil.copyfile(corpus("hopper_orientation_6.jpg"), raw + b"/" + GBK_MATH + b"/hopper.jpg")
    os.mkdir(raw + b"/\xff\xfe")                                     # neither UTF-8 nor GBK
    shutil.copyfile(corpus("chi.gif"), raw + b"/\xff\xfe/chi.gif")
    return root


def by_title(services, actor) -> dict[str, dict]:
    items = list_resources(services, actor, per_page=100)["items"]
    return {item["title"]: item for item in items}


def names(view: dict) -> dict:
    return {k: (view[k] or {}).get("name") for k in ("stage", "grade", "subject", "edition",
                                                      "volume", "type")}


def count(services, model) -> int:
    with services.catalog.read() as session:
        return session.scalar(select(func.count()).select_from(model))


def assert_consistent(services) -> None:
    assert check_consistency(services).ok
    assert list(services.settings.staging_dir.iterdir()) == []


def test_imports_a_district_tree_with_path_metadata(services, world, corpus, tmp_path) -> None:
    root = build_library(tmp_path / "lib", corpus)
    seen: list[tuple[int, int]] = []
    report = import_tree(services, world.admin, [root],
                         progress=lambda done, total, result: seen.append((done, total)))
    assert (report.imported, report.skipped, report.failed) == (8, 0, 5)
    assert report.total == 13 and report.ignored == len(JUNK) and report.finished
    assert seen[0] == (0, 13) and seen[-1] == (13, 13)
    assert {k: v for k, v in report.reasons.items() if k.startswith("failed")} == {
        "failed:extension_mismatch": 1, "failed:dangerous_file": 2, "failed:empty_file": 1,
        "failed:undecodable_name": 1}
    failures = {f["path"]: f for f in report.failures}
    assert "\\xff\\xfe" in failures["\\xff\\xfe/chi.gif"]["message"]
    assert ".sh files can run programs" in failures["杂项/安装.sh"]["message"]
    assert report.warnings == [{"path": "数学/hopper.jpg",
                                "message": "folder name is not UTF-8; read as GB18030: 数学"}]

    found = by_title(services, world.admin)
    pptx = found["第1课 认识四边形"]                      # "01_" ordering dropped
    assert names(pptx) == {"stage": "小学", "grade": "三年级", "subject": "数学",
                           "edition": "人教版", "volume": "上册", "type": "课件"}
    assert (pptx["chapter"], pptx["lesson"], pptx["tags"]) == ("第一单元 长方形和正方形", "第1课", [])
    assert pptx["owner_id"] == world.admin.user_id and pptx["status"] == "published"
    assert names(found["四边形教学设计"])["type"] == "教案"     # 教学设计 is an alias
    cell = found["第二节 细胞"]
    assert names(cell) == {"stage": "初中", "grade": "七年级", "subject": "生物学",
                           "edition": "统编版", "volume": None, "type": None}
    assert (cell["chapter"], cell["lesson"]) == ("第一章", "第二节")
    assert names(found["细胞分裂"])["type"] == "微课"
    assert names(found["显微镜"])["type"] == "素材" and found["显微镜"]["tags"] == ["图片"]
    assert names(found["檸檬"])["stage"] == "高中" and names(found["檸檬"])["type"] == "电子图书"
    assert found["多语言"]["tags"] == ["校本资源", "阅读材料"]
    assert names(found["hopper"])["subject"] == "数学"         # from the GBK folder name
    assert count(services, ImportRecord) == 8
    assert_consistent(services)


def test_rerun_skips_without_reading_and_rereads_changed_files(services, world, corpus,
                                                               tmp_path) -> None:
    root = build_library(tmp_path / "lib", corpus)
    import_tree(services, world.admin, [root])
    # Same size and mtime, other bytes: a re-run that read the file would import them.
    png = root / BIO / "图片/显微镜.png"
    before = png.stat()
    png.write_bytes(bytes(reversed(png.read_bytes())))
    os.utime(png, ns=(before.st_atime_ns, before.st_mtime_ns))
    again = import_tree(services, world.admin, [root])
    assert (again.imported, again.failed) == (0, 5)
    assert again.reasons["skipped:already_imported"] == 8 and again.skips == []
    assert count(services, Resource) == 8 and count(services, Blob) == 8
    # A touched file is read again: same bytes, so it is a duplicate, and recorded anew.
    docx = root / UNIT / "教学设计/四边形教学设计.docx"
    os.utime(docx, ns=(docx.stat().st_atime_ns, docx.stat().st_mtime_ns + 10**9))
    third = import_tree(services, world.admin, [root])
    assert third.reasons["skipped:duplicate"] == 1 and third.skips[0]["path"].endswith(".docx")
    assert "四边形教学设计" in third.skips[0]["message"]
    assert import_tree(services, world.admin, [root]).reasons["skipped:already_imported"] == 8
    assert_consistent(services)


def test_duplicate_content_in_two_folders(services, world, corpus, tmp_path) -> None:
    for folder in ("一小/数学", "二小/数学"):
        (tmp_path / "lib" / folder).mkdir(parents=True)
        shutil.copyfile(corpus("multilang.pdf"), tmp_path / "lib" / folder / "讲义.pdf")
    report = import_tree(services, world.admin, [tmp_path / "lib"])
    assert (report.imported, report.skipped) == (1, 1)
    assert report.skips[0]["path"] == "二小/数学/讲义.pdf" and report.skips[0]["reason"] == "duplicate"
    assert count(services, ImportRecord) == 2       # the duplicate is not read again either
    other = tmp_path / "again"
    shutil.copytree(tmp_path / "lib", other)
    both = import_tree(services, world.admin, [other], options=ImportOptions(allow_duplicates=True))
    assert both.imported == 2 and count(services, Resource) == 3 and count(services, Blob) == 1
    assert_consistent(services)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_csv_sidecar_overrides_path_metadata(services, world, corpus, tmp_path, encoding) -> None:
    root = tmp_path / "lib"
    (root / BIO).mkdir(parents=True)
    shutil.copyfile(corpus("stress009.docx"), root / BIO / "a.docx")
    shutil.copyfile(corpus("multilang.pdf"), root / BIO / "b.pdf")
    shutil.copyfile(corpus("hopper.png"), root / BIO / "c.png")
    sheet = ("path,标题,description,grade,tags,type\r\n"
             f"{BIO}/a.docx,细胞的结构,显微镜下的细胞,初二,实验;公开课|精品,教学设计\r\n"
             f"{BIO}\\b.pdf,,,,,不存在的类型\r\n"
             "初中/没有的文件.docx,标题,,,,\r\n")
    (root / "metadata.csv").write_bytes(sheet.encode(encoding))
    report = import_tree(services, world.admin, [root])
    assert (report.imported, report.failed) == (2, 2)
    failures = {f["reason"]: f for f in report.failures}
    assert "不存在的类型" in failures["unknown_term"]["message"]
    assert failures["unknown_term"]["path"] == f"{BIO}/b.pdf"
    assert "初中/没有的文件.docx" in failures["csv_row_unmatched"]["message"]
    found = by_title(services, world.admin)
    a = found["细胞的结构"]
    assert a["description"] == "显微镜下的细胞" and a["tags"] == ["公开课", "实验", "精品"]
    assert names(a)["grade"] == "八年级" and names(a)["stage"] == "初中"
    assert names(a)["subject"] == "生物学" and names(a)["type"] == "教案"  # path kept where unset
    assert names(found["c"])["grade"] == "七年级"          # no row: the path alone
    assert_consistent(services)


def test_bad_csv_is_refused_before_anything_is_imported(services, world, corpus, tmp_path) -> None:
    (tmp_path / "lib").mkdir()
    shutil.copyfile(corpus("multilang.pdf"), tmp_path / "lib" / "a.pdf")
    sheet = tmp_path / "meta.csv"
    sheet.write_text("path,titel\na.pdf,x\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="unknown column.*titel"):
        import_tree(services, world.admin, [tmp_path / "lib"], options=ImportOptions(csv=sheet))
    assert count(services, Resource) == 0 and count(services, ImportRecord) == 0


def test_dry_run_stores_nothing(services, world, corpus, tmp_path) -> None:
    root = build_library(tmp_path / "lib", corpus)
    results = []
    report = import_tree(services, world.admin, [root], options=ImportOptions(dry_run=True),
                         progress=lambda done, total, result: result and results.append(result))
    assert report.dry_run and (report.imported, report.failed) == (8, 5)
    shown = {r.path: r.metadata for r in results}
    assert shown[f"{UNIT}/01_第1课 认识四边形.pptx"] == {
        "title": "第1课 认识四边形", "stage": "小学", "grade": "三年级", "subject": "数学",
        "edition": "人教版", "volume": "上册", "type": "课件", "chapter": "第一单元 长方形和正方形",
        "lesson": "第1课"}
    assert [count(services, model) for model in (Resource, Blob, ImportRecord)] == [0, 0, 0]
    assert list(services.blobs.iter_sha256()) == []
    assert_consistent(services)


def test_org_status_visibility_and_who_may_import(services, world, corpus, tmp_path) -> None:
    (tmp_path / "lib").mkdir()
    shutil.copyfile(corpus("multilang.pdf"), tmp_path / "lib" / "a.pdf")
    options = ImportOptions(org="示例县/一小", status="draft", visibility="organisation")
    import_tree(services, world.county_editor, [tmp_path / "lib"], options=options)
    view = list_resources(services, world.admin)["items"][0]
    assert view["organisation"]["name"] == "一小"
    assert (view["status"], view["visibility"]) == ("draft", "organisation")
    with pytest.raises(PermissionDenied):
        import_tree(services, world.school_editor, [tmp_path / "lib"],
                    options=ImportOptions(org="二小"))
    with pytest.raises(PermissionDenied):
        import_tree(services, world.teacher, [tmp_path / "lib"])
    assert import_actor(services, None).username == "admin"      # the first administrator
    assert import_actor(services, "county_editor").role == "editor"
    with pytest.raises(PermissionDenied):
        import_actor(services, "teacher")
    with pytest.raises(NotFound):
        import_actor(services, "nobody")


def test_no_admin_to_import_as_is_a_config_error(services) -> None:
    with pytest.raises(ConfigError, match="--as"):
        import_actor(services, None)


def test_symlinks_are_not_followed_out_of_the_root(services, world, corpus, tmp_path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copyfile(corpus("hopper.png"), outside / "secret.png")
    root = tmp_path / "lib"
    (root / "数学").mkdir(parents=True)
    shutil.copyfile(corpus("multilang.pdf"), root / "数学" / "a.pdf")
    (root / "out.png").symlink_to(outside / "secret.png")
    (root / "loop").symlink_to(root, target_is_directory=True)
    (root / "inside.pdf").symlink_to(root / "数学" / "a.pdf")
    report = import_tree(services, world.admin, [root])
    reasons = {s["path"]: s["message"] for s in report.skips}
    assert "outside the import folder" in reasons["out.png"]
    assert "folder (not followed)" in reasons["loop"]
    assert report.reasons["skipped:duplicate"] == 1          # inside.pdf = 数学/a.pdf
    assert report.imported == 1 and count(services, Resource) == 1


def test_interrupted_run_loses_nothing_and_resumes(services, world, corpus, tmp_path,
                                                   monkeypatch) -> None:
    """Ctrl-C while a file is being copied: the files before it stay recorded, the one being
    read leaves nothing behind, and the next run picks up where this one stopped."""
    root = tmp_path / "lib"
    root.mkdir()
    for name in ("a.pdf", "b.docx", "c.mp4", "d.png"):       # c.mp4 is over one copy chunk
        source = {"a": "multilang.pdf", "b": "stress009.docx", "c": "testVideoMp4.mp4",
                  "d": "hopper.png"}[name[0]]
        shutil.copyfile(corpus(source), root / name)
    real_receive = Staging.receive

    class CtrlC:
        def __init__(self, stream) -> None:
            self.stream, self.reads = stream, 0

        def read(self, size: int = -1) -> bytes:
            self.reads += 1
            if self.reads == 2:
                raise KeyboardInterrupt
            return self.stream.read(size)

    def receive(self, stream, **kwargs):
        wrapped = CtrlC(stream) if kwargs.get("filename") == "c.mp4" else stream
        return real_receive(self, wrapped, **kwargs)

    monkeypatch.setattr(Staging, "receive", receive)
    report = ImportReport()
    with pytest.raises(KeyboardInterrupt):
        import_tree(services, world.admin, [root], report=report)
    assert not report.finished and report.imported == 2
    assert count(services, ImportRecord) == 2 and count(services, Resource) == 2
    assert_consistent(services)
    monkeypatch.undo()
    resumed = import_tree(services, world.admin, [root])
    assert resumed.imported == 2 and resumed.reasons["skipped:already_imported"] == 2
    assert_consistent(services)


def test_path_segments_map_to_vocabulary(services) -> None:
    with services.catalog.read() as session:
        mapper = PathMapper(VocabIndex.load(session))
        session.expunge_all()

    def mapped(path: str) -> dict:
        *folders, stem = path.split("/")
        meta = mapper.map(folders, stem)
        return {**{k: t.name for k, t in meta.terms.items()}, "chapter": meta.chapter,
                "lesson": meta.lesson, "tags": meta.tags}

    assert mapped("三年级上册/人教版-数学/x") == {
        "grade": "三年级", "volume": "上册", "edition": "人教版", "subject": "数学",
        "chapter": "", "lesson": "", "tags": []}
    assert mapped("高中/信息技术/必修1/Unit 1 Hello") == {
        "stage": "高中", "subject": "信息技术", "volume": "必修 第一册", "chapter": "Unit 1",
        "lesson": "", "tags": []}
    assert mapped("小学/信息技术/x")["subject"] == "信息科技"     # the alias, settled by 学段
    assert mapped("数学广角/01 优秀课例/Lesson 3/第2课时/x")["tags"] == ["数学广角", "优秀课例"]
    assert mapped("数学广角/Lesson 3/第2课时/x")["lesson"] == "Lesson 3 第2课时"
    assert mapped("SC/XX/apptitude") == {"chapter": "", "lesson": "", "tags": ["SC", "XX"]}
    assert mapped("资料/三年级数学上册期末试卷") == {
        "grade": "三年级", "subject": "数学", "volume": "上册", "type": "试卷", "chapter": "",
        "lesson": "", "tags": ["资料"]}
    assert mapped("勾股定理导学案")["type"] == "学案"              # type inside a longer title
    assert "grade" in mapped("小学/七年级/x") and "stage" not in mapped("小学/七年级/x")
    assert [strip_ordering(s) for s in ("01_x", "1.三角形", "(2)图", "01", "1.5倍速", "3D打印")] == [
        "x", "三角形", "图", "01", "1.5倍速", "3D打印"]


def test_sidecar_encodings_and_sheet_errors(tmp_path) -> None:
    assert decode_csv("path,标题\n".encode("utf-8-sig"))[1] == "UTF-8 (BOM)"
    assert decode_csv("path,标题\n".encode("gbk")) == ("path,标题\n", "GB18030")
    assert decode_csv("path\t标题\n".encode("utf-16")) == ("path\t标题\n", "UTF-16")
    tab = tmp_path / "tab.csv"
    tab.write_bytes("路径\t学段\t标签\r\n./a/b.pdf\t初中\t甲|乙\r\n".encode("utf-16"))
    row = read_sidecar(tab).lookup("a/b.pdf")
    assert row is not None and row.values == {"stage": "初中", "tags": "甲;乙"}
    for text, message in (("title\nx\n", "no path column"),
                          ("path,title\na.pdf,x\na.pdf,y\n", "lines 2 and 3 both describe"),
                          ("path,title\n,x\n", "no path")):
        bad = tmp_path / "bad.csv"
        bad.write_text(text, encoding="utf-8")
        with pytest.raises(InvalidInput, match=message):
            read_sidecar(bad)
    bad.write_bytes(b"path\n\xff\xff\xff\n")
    with pytest.raises(InvalidInput, match="neither UTF-8 nor GB18030"):
        read_sidecar(bad)
