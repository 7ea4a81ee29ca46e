"""`repo-server import` end to end: the real console script in a subprocess, on a real
(SQLite) data directory, over a folder tree with the names and files schools really have."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from repo_server.config import Settings
from repo_server.services import Services
from repo_server.services.consistency import check_consistency

REPO_SERVER = Path(sys.executable).with_name("repo-server")
UNIT = "小学/三年级/数学/人教版/上册/第一单元"


def run(data: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPO_")}
    env["REPO_DATA_DIR"] = str(data)
    return subprocess.run([str(REPO_SERVER), *args], input=stdin, capture_output=True,
                          text=True, encoding="utf-8", errors="replace", env=env, timeout=120)


@pytest.fixture(scope="module")
def templates(tmp_path_factory) -> tuple[Path, Path]:
    """Data directories after `repo-server init`, without and with an admin (copied per
    test: every run of the console script costs a couple of seconds of start-up)."""
    base = tmp_path_factory.mktemp("cli-import")
    data = base / "data"
    assert run(data, "init").returncode == 0
    shutil.copytree(data, base / "bare")
    added = run(data, "user", "add", "boss", "--role", "admin", stdin="correct horse 1\n")
    assert added.returncode == 0, added.stderr
    return base / "bare", data


@pytest.fixture
def data(templates: tuple[Path, Path], tmp_path: Path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(templates[1], copy)
    return copy


@pytest.fixture
def bare(templates: tuple[Path, Path], tmp_path: Path) -> Path:
    copy = tmp_path / "bare"
    shutil.copytree(templates[0], copy)
    return copy


def consistent(data: Path) -> bool:
    """`repo-server check`, in process: the catalog and the blob store agree, no litter."""
    services = Services.open(Settings(data_dir=data))
    try:
        staging = services.settings.staging_dir
        return check_consistency(services).ok and not (staging.exists() and any(staging.iterdir()))
    finally:
        services.close()


def library(root: Path, corpus, *, broken: bool = True) -> Path:
    (root / UNIT).mkdir(parents=True)
    shutil.copyfile(corpus("bug64693.pptx"), root / UNIT / "01_第1课 认识图形.pptx")
    (root / "初中/初一/生物/教学设计").mkdir(parents=True)
    shutil.copyfile(corpus("stress009.docx"), root / "初中/初一/生物/教学设计/细胞.docx")
    (root / "Thumbs.db").write_bytes(b"junk")
    if broken:
        raw = os.fsencode(root)
        os.mkdir(raw + b"/" + "数学".encode("gbk"))
        shutil.copyfile(corpus("hopper.png"), raw + b"/" + "数学".encode("gbk") + b"/tu.png")
        os.mkdir(raw + b"/\xff\xfe")
        shutil.copyfile(corpus("multilang.pdf"), raw + b"/\xff\xfe/a.pdf")
        shutil.copyfile(corpus("dummy.mp4"), root / "假视频.mp4")
    return root


def test_import_reports_failures_and_resumes(data: Path, corpus, tmp_path: Path) -> None:
    lib = library(tmp_path / "lib", corpus)
    first = run(data, "import", str(lib))
    assert first.returncode == 1, first.stderr          # partial success: some files failed
    out = first.stdout
    assert "imported 3, skipped 0, failed 2, ignored 1 junk files, 1 warnings" in out
    assert "\\xff\\xfe/a.pdf: undecodable_name: the folder name \\xff\\xfe is neither UTF-8 " \
           "nor GB18030" in out
    assert "假视频.mp4: extension_mismatch" in out
    assert "数学/tu.png: folder name is not UTF-8; read as GB18030: 数学" in out
    assert "5/5 files" in first.stderr                   # progress when stderr is no terminal

    second = run(data, "import", str(lib), "--json")
    report = json.loads(second.stdout)
    assert second.returncode == 1 and report["finished"]
    assert report["imported"] == 0 and report["reasons"]["skipped:already_imported"] == 3
    assert consistent(data)


def test_dry_run_then_import_with_gbk_sidecar(data: Path, corpus, tmp_path: Path) -> None:
    lib = library(tmp_path / "lib", corpus, broken=False)
    (lib / "metadata.csv").write_bytes(
        f"路径,标题,标签\r\n{UNIT}/01_第1课 认识图形.pptx,认识图形,几何|图形\r\n".encode("gbk"))
    dry = run(data, "import", str(lib), "--dry-run", "--status", "draft")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert (f"{UNIT}/01_第1课 认识图形.pptx: title=认识图形; stage=小学; grade=三年级; "
            "subject=数学; edition=人教版; volume=上册; type=课件; chapter=第一单元; "
            "lesson=第1课; tags=几何、图形; status=draft") in dry.stdout
    assert "would import 2" in dry.stdout and "nothing was stored" in dry.stdout

    done = run(data, "import", str(lib), "--as", "boss")
    assert done.returncode == 0 and "imported 2, skipped 0, failed 0" in done.stdout
    again = run(data, "import", str(lib))
    assert again.returncode == 0 and "imported 0, skipped 2 (2 already imported)" in again.stdout


def test_refusals_and_exit_codes(data: Path, bare: Path, corpus, tmp_path: Path) -> None:
    lib = library(tmp_path / "lib", corpus, broken=False)
    sheet = tmp_path / "meta.csv"
    sheet.write_text("path,titel\na,b\n", encoding="utf-8")
    bad_csv = run(data, "import", str(lib), "--csv", str(sheet))
    assert bad_csv.returncode == 1 and "unknown column(s) 'titel'" in bad_csv.stderr

    staging = Settings(data_dir=data).staging_dir      # the staging area cannot be written
    shutil.rmtree(staging, ignore_errors=True)
    staging.write_bytes(b"not a directory")
    broken = run(data, "import", str(lib))
    assert broken.returncode == 75 and "staging area" in broken.stderr
    assert "STOPPED by a storage error" in broken.stdout
    staging.unlink()
    assert consistent(data)

    no_admin = run(bare, "import", str(lib))
    assert no_admin.returncode == 78 and "--role admin" in no_admin.stderr
