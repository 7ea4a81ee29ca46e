"""The benchmark's input videos, generated with ffmpeg's own sources (nothing downloaded).

- `noise`:  1080p30 lavfi testsrc2 with temporal noise (`noise=alls=20:allf=t`) and a 440 Hz
            tone: a camera-like source with no two frames alike, the expensive case.
- `slides`: 1080p30 slides (title bar, bullet points, a figure) changing every 10 s, nothing
            moving in between, with a tone: a screen recording of a slide deck, the cheap case.
- `lesson`: the 10-minute lesson of the upload-to-playable measurement: the same slides
            (cycling through 12 designs) with a 480×270 "teacher camera" inset that moves all
            the time (testsrc2) and audio.

All are H.264 High (yuv420p) at CRF 18, capped at 20 Mbit/s (`-maxrate 20M -bufsize 40M`),
with AAC 128 kbit/s stereo 48 kHz, in MP4. The cap matters for `noise`: uncapped, CRF 18 spends
~210 Mbit/s on it (134 MB for 5 s, 15 CPU-seconds per second of video to make), which no
camera writes; 20 Mbit/s is what phones record 1080p30 at. The preset is `veryfast` to keep
generation short on two cores; the preset of the *source* changes little for the decoder.

A clip is kept beside a `.json` naming the command that made it and its probe facts; a later
run with `--keep` reuses it when the command is the same.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from repo_server.transcode.probe import probe

__all__ = ["make_clip", "SLIDE_SECONDS", "ENCODE"]

SLIDE_SECONDS = 10
WIDTH, HEIGHT, FPS = 1920, 1080, 30
ENCODE = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-maxrate", "20M", "-bufsize", "40M",
          "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-ar", "48000"]

_TITLES = [
    ("勾股定理（第1课时）", ["人教版 数学 八年级下册 第十七章", "授课：示例县第一小学 数学组", "2024 年秋季学期"],
     "Pythagorean theorem, lesson 1", ["Grade 8 mathematics, chapter 17", "Example County School No. 1",
                                       "Autumn term 2024"]),
    ("学习目标", ["1. 经历勾股定理的探究过程", "2. 掌握勾股定理的内容", "3. 会用勾股定理解决简单问题"],
     "Objectives", ["1. Explore the theorem", "2. State the theorem", "3. Use it in simple problems"]),
    ("情境导入：赵爽弦图", ["2002 年国际数学家大会会徽", "四个全等的直角三角形", "中间是一个小正方形"],
     "Zhao Shuang's figure", ["ICM 2002 logo", "four congruent right triangles", "a small square inside"]),
    ("探究：三边的关系", ["测量直角三角形的三边", "计算 a²、b²、c²", "你发现了什么？"],
     "Explore the sides", ["measure the three sides", "compute a², b², c²", "what do you notice?"]),
    ("证明一：面积法", ["大正方形面积 = c²", "= 4 × ½ab + (b − a)²", "化简得 a² + b² = c²"],
     "Proof 1: areas", ["big square = c²", "= 4 × ab/2 + (b - a)²", "hence a² + b² = c²"]),
    ("证明二：拼图法", ["把四个三角形重新拼接", "比较两种拼法的面积", "得到同样的结论"],
     "Proof 2: rearranging", ["move the four triangles", "compare the two areas", "same result"]),
    ("例题 1", ["在 Rt△ABC 中，∠C = 90°", "a = 3，b = 4，求 c", "解：c² = 9 + 16 = 25，c = 5"],
     "Example 1", ["right angle at C", "a = 3, b = 4, find c", "c² = 9 + 16 = 25, c = 5"]),
    ("例题 2", ["梯子长 5 米，底端离墙 3 米", "梯子顶端离地面多高？", "解：√(25 − 9) = 4 米"],
     "Example 2", ["a 5 m ladder, foot 3 m from the wall", "how high does it reach?", "sqrt(25 - 9) = 4 m"]),
    ("课堂练习", ["练习 1：a = 6，b = 8，求 c", "练习 2：c = 13，a = 5，求 b", "练习 3：判断 7、24、25"],
     "Exercises", ["1: a = 6, b = 8, find c", "2: c = 13, a = 5, find b", "3: is 7, 24, 25 right?"]),
    ("易错点", ["先确定哪条边是斜边", "勾股定理只适用于直角三角形", "注意单位统一"],
     "Common mistakes", ["find the hypotenuse first", "right triangles only", "same units"]),
    ("课堂小结", ["勾股定理：a² + b² = c²", "两种证明方法", "应用：求边长"],
     "Summary", ["a² + b² = c²", "two proofs", "finding a side"]),
    ("布置作业", ["课本第 24 页 习题 1、2、3", "预习：勾股定理的逆定理", "谢谢！"],
     "Homework", ["page 24, exercises 1-3", "read ahead: the converse", "thank you!"]),
]
_BAR_COLOURS = ["0x1f5fa8", "0x2e7d32", "0xc62828", "0x6a1b9a", "0xef6c00", "0x00838f"]


def _font() -> tuple[str | None, bool]:
    """(a font file for drawtext, whether it has Chinese glyphs); (None, False) without fonts."""
    if shutil.which("fc-match"):
        for family, cjk in (("Noto Sans CJK SC", True), ("WenQuanYi Zen Hei", True), ("DejaVu Sans", False)):
            found = subprocess.run(["fc-match", "-f", "%{file}", family], capture_output=True, text=True,
                                   check=False)
            path = found.stdout.strip()
            if path and Path(path).is_file() and (not cjk or "CJK" in path or "wqy" in path.lower()):
                return path, cjk
    for path in ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",):
        if Path(path).is_file():
            return path, False
    return None, False


def _slides(directory: Path) -> dict[str, Any]:
    """Write slide-01.png … slide-12.png (1920×1080); the figure on each is a testsrc2 frame."""
    directory.mkdir(parents=True, exist_ok=True)
    font, cjk = _font()
    for n, (title, lines, title_en, lines_en) in enumerate(_TITLES, start=1):
        texts = [title, *lines] if cjk else [title_en, *lines_en]
        text_files = []
        for i, text in enumerate(texts + [f"{n} / {len(_TITLES)}"]):
            path = directory / f"text-{n:02d}-{i}.txt"
            path.write_text(text, encoding="utf-8")
            text_files.append(path)
        chain = ["[0:v][fig]overlay=x=1120:y=300",
                 f"drawbox=x=0:y=0:w=iw:h=150:color={_BAR_COLOURS[n % len(_BAR_COLOURS)]}@1:t=fill",
                 "drawbox=x=1110:y=290:w=740:h=425:color=0x888888@1:t=4"]
        if font:
            chain.append(f"drawtext=fontfile={font}:textfile={text_files[0]}:x=80:y=40:fontsize=64:"
                         "fontcolor=white")
            for i, path in enumerate(text_files[1:-1]):
                chain.append(f"drawtext=fontfile={font}:textfile={path}:x=100:y={300 + 110 * i}:"
                             "fontsize=46:fontcolor=0x222222")
            chain.append(f"drawtext=fontfile={font}:textfile={text_files[-1]}:x=80:y=1000:"
                         "fontsize=30:fontcolor=0x888888")
        graph = f"[1:v]trim=start_frame={n * 37}:end_frame={n * 37 + 1}[fig];" + ",".join(chain)
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi",
                        "-i", f"color=c=white:s={WIDTH}x{HEIGHT}:d=1",
                        "-f", "lavfi", "-i", "testsrc2=s=720x405:r=30:d=20",
                        "-filter_complex", graph, "-frames:v", "1", str(directory / f"slide-{n:02d}.png")],
                       check=True, capture_output=True, timeout=120)
    return {"font": font, "chinese_text": cjk, "designs": len(_TITLES)}


def _sequence(slides: Path, seq: Path, seconds: float) -> None:
    """Numbered links 0001.png … for the image2 demuxer: one slide per SLIDE_SECONDS, cycling."""
    shutil.rmtree(seq, ignore_errors=True)
    seq.mkdir(parents=True)
    count = int(seconds // SLIDE_SECONDS) + 2
    for i in range(count):
        (seq / f"{i + 1:04d}.png").symlink_to(slides / f"slide-{i % len(_TITLES) + 1:02d}.png")


def _argv(kind: str, seconds: float, out: Path, seq: Path) -> list[str]:
    head = ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y"]
    tone = "sine=frequency=440:sample_rate=48000" if kind == "noise" else \
        "sine=frequency=220:beep_factor=3:sample_rate=48000"
    if kind == "noise":
        return [*head, "-f", "lavfi", "-i",
                f"testsrc2=size={WIDTH}x{HEIGHT}:rate={FPS},noise=alls=20:allf=t",
                "-f", "lavfi", "-i", tone, "-map", "0:v", "-map", "1:a", "-t", f"{seconds:g}", *ENCODE, str(out)]
    slides = ["-framerate", f"1/{SLIDE_SECONDS}", "-i", str(seq / "%04d.png")]
    if kind == "slides":
        graph = f"[0:v]format=yuv420p,fps={FPS}[v]"
        return [*head, *slides, "-f", "lavfi", "-i", tone, "-filter_complex", graph,
                "-map", "[v]", "-map", "1:a", "-t", f"{seconds:g}", *ENCODE, str(out)]
    if kind == "lesson":
        graph = (f"[0:v]format=yuv420p,fps={FPS}[bg];[1:v]format=yuv420p[cam];"
                 "[bg][cam]overlay=x=W-w-40:y=H-h-40:format=yuv420,format=yuv420p[v]")
        return [*head, *slides, "-f", "lavfi", "-i", f"testsrc2=s=480x270:r={FPS}",
                "-f", "lavfi", "-i", tone, "-filter_complex", graph,
                "-map", "[v]", "-map", "2:a", "-t", f"{seconds:g}", *ENCODE, str(out)]
    raise ValueError(kind)


def _facts(path: Path) -> dict[str, Any]:
    """Probe facts with the product's own probe (what run_job will see)."""
    info = probe(path)
    return {"size_bytes": path.stat().st_size, "duration_s": round(info.duration, 3),
            "format": info.format_name, "bit_rate": info.bit_rate,
            "video": asdict(info.video) if info.video else None,
            "audio": asdict(info.audio) if info.audio else None}


def make_clip(workdir: Path, kind: str, seconds: float, log=print) -> dict[str, Any]:
    """Generate (or reuse) one input; returns {"path", "kind", "seconds", "argv", "facts", …}."""
    slides_dir = workdir / "slides"
    slide_info: dict[str, Any] = {}
    if kind != "noise":
        marker = slides_dir / "slides.json"
        if marker.is_file():
            slide_info = json.loads(marker.read_text(encoding="utf-8"))
        else:
            slide_info = _slides(slides_dir)
            marker.write_text(json.dumps(slide_info), encoding="utf-8")
    out = workdir / f"{kind}-{seconds:g}s.mp4"
    seq = workdir / f"seq-{kind}-{seconds:g}"
    argv = _argv(kind, seconds, out, seq)
    key = hashlib.sha256(json.dumps(argv).encode()).hexdigest()[:16]
    meta_path = out.with_suffix(".json")
    if out.is_file() and meta_path.is_file():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("key") == key:
            log(f"bench: reusing {out.name} (made earlier in {meta['generate_s']:.0f} s)")
            return {**meta, "path": str(out), "reused": True}
    if kind != "noise":
        _sequence(slides_dir, seq, seconds)
    log(f"bench: generating {out.name} ({kind}, {seconds:g} s of 1080p30)")
    started = time.monotonic()
    subprocess.run(argv, check=True, timeout=max(3600, seconds * 20))
    elapsed = time.monotonic() - started
    shutil.rmtree(seq, ignore_errors=True)
    meta = {"kind": kind, "seconds": seconds, "key": key, "argv": argv, "generate_s": round(elapsed, 1),
            "slides": slide_info or None, "facts": _facts(out)}
    meta_path.write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    log(f"bench:   {out.stat().st_size / 1e6:,.0f} MB, {meta['facts']['bit_rate'] / 1e6:.1f} Mbit/s, "
        f"made in {elapsed:.0f} s")
    return {**meta, "path": str(out), "reused": False}
