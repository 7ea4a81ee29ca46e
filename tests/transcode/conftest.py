"""Fixtures for the media tests: real ffmpeg, real Pillow, real pdfium; clips made with
ffmpeg's own test sources so their properties are known exactly."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Callable

import pytest


@pytest.fixture(scope="session", autouse=True)
def _ffmpeg_installed() -> None:
    missing = [tool for tool in ("ffmpeg", "ffprobe") if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not installed: the media tests need it "
                    "(apt-get install ffmpeg; scripts/bootstrap --test does it)", pytrace=False)


@pytest.fixture(scope="session")
def make_clip(tmp_path_factory) -> Callable[..., Path]:
    """A clip from lavfi testsrc2 (+ a sine tone unless audio=False), cached per arguments."""
    made: dict[tuple, Path] = {}

    def make(*, width: int = 1280, height: int = 720, seconds: float = 4, fps: int = 25,
             audio: bool = True, extra: tuple[str, ...] = (), suffix: str = ".mp4") -> Path:
        key = (width, height, seconds, fps, audio, extra, suffix)
        if key not in made:
            out = tmp_path_factory.mktemp("clips") / f"clip-{width}x{height}-{fps}{suffix}"
            argv = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds}"]
            if audio:
                argv += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}"]
            argv += [*extra, str(out)]
            subprocess.run(argv, check=True, timeout=120)
            made[key] = out
        return made[key]
    return make


def ffprobe_json(path: Path, *args: str) -> dict:
    import json
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", *args, str(path)],
                         check=True, capture_output=True, timeout=60).stdout
    return json.loads(out)
