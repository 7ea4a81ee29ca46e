"""Legacy and non-OOXML office files through LibreOffice headless, converted to OOXML.

.doc/.wps/.rtf/.odt become .docx, .ppt/.pps/.dps/.odp become .pptx, .xls/.et/.ods become
.xlsx; the modern extractors then read the result. Only the server that extracts needs
LibreOffice: mirrors receive the extracted text.

Each conversion is one `soffice` run that cannot outlive its budget or leave anything
behind:
- a fresh user profile in a temporary directory (parallel runs never share or lock one;
  no state leaks between files), seeded with macros disabled and untrusted remote
  references blocked;
- stdin closed and HOME/TMPDIR pointing into the temporary directory;
- its own process group (soffice is a script that starts oosplash, which starts
  soffice.bin), killed as a whole when the timeout passes;
- the temporary directory removed afterwards, whatever happened.
LibreOffice exits 0 even when it could not load the file ("Error: source file could not be
loaded"), so success is judged by the output file, and its log gives the reason otherwise.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .result import ExtractionFailed

__all__ = ["convert_with_libreoffice", "EXPORT_FILTERS"]

EXPORT_FILTERS = {
    "docx": "docx:MS Word 2007 XML",
    "pptx": "pptx:Impress MS PowerPoint 2007 XML",
    "xlsx": "xlsx:Calc MS Excel 2007 XML",
    "pdf": "pdf",      # page previews: LibreOffice picks the PDF export of the document's kind
}

_SEED_PROFILE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" \
xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Common/Security/Scripting">\
<prop oor:name="DisableMacrosExecution" oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting">\
<prop oor:name="MacroSecurityLevel" oor:op="fuse"><value>3</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting">\
<prop oor:name="BlockUntrustedRefererLinks" oor:op="fuse"><value>true</value></prop></item>
</oor:items>
"""


@contextmanager
def convert_with_libreoffice(path: Path, *, source_suffix: str, target: str, timeout_s: float,
                             soffice: str = "soffice") -> Iterator[Path]:
    """Yield the converted file (`target` is docx, pptx, xlsx or pdf); cleaned up on exit.

    `source_suffix` is what the content really is (doc, ppt, xls, rtf, odt, …): LibreOffice
    picks its import filter partly by name, and blob files have no meaningful name.
    """
    executable = shutil.which(soffice)
    if executable is None:
        raise ExtractionFailed(f"LibreOffice ({soffice}) is not installed on this server, so "
                               f".{source_suffix} files cannot be read yet")
    work = Path(tempfile.mkdtemp(prefix="repo-soffice-"))
    try:
        profile, out = work / "profile", work / "out"
        (profile / "user").mkdir(parents=True)
        (profile / "user" / "registrymodifications.xcu").write_text(_SEED_PROFILE, "utf-8")
        out.mkdir()
        source = work / f"input.{source_suffix}"
        os.symlink(Path(path).resolve(), source)
        argv = [executable, f"-env:UserInstallation={profile.as_uri()}", "--headless",
                "--norestore", "--nologo", "--nodefault", "--nolockcheck", "--nofirststartwizard",
                "--convert-to", EXPORT_FILTERS[target], "--outdir", str(out), str(source)]
        log = _run(argv, work, timeout_s)
        result = out / f"input.{target}"
        if not result.is_file() or result.stat().st_size == 0:
            raise ExtractionFailed(_explain(log, source_suffix))
        yield result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(argv: list[str], work: Path, timeout_s: float) -> str:
    env = dict(os.environ, HOME=str(work), TMPDIR=str(work), SAL_USE_VCLPLUGIN="svp")
    log_path = work / "soffice.log"
    with open(log_path, "wb") as log:
        # A log file rather than a pipe: nothing can block on a full pipe or on draining
        # output from a process group that is being killed.
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, cwd=work, env=env,
                                   start_new_session=True)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            raise ExtractionFailed(f"LibreOffice did not finish within {timeout_s:g} s") from None
        except BaseException:
            _kill_group(process)
            raise
    return log_path.read_text("utf-8", "replace")


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)   # the group is ours: start_new_session=True
    except ProcessLookupError:
        pass
    process.wait()


def _explain(log: str, source_suffix: str) -> str:
    if "could not be loaded" in log:
        return (f"LibreOffice could not open the file: it is damaged, password-protected, "
                f"not really a .{source_suffix} file, or needs more memory than allowed")
    if "no export filter" in log.lower():
        return f"LibreOffice cannot convert this .{source_suffix} file to a readable format"
    detail = " ".join(line for line in log.splitlines()
                      if line.strip() and "javaldx" not in line)[:200]
    return f"LibreOffice produced no output{': ' + detail if detail else ''}"
