"""What a media file holds, from ffprobe's JSON: duration, the video and audio streams.

`parse_probe` is pure (tested on recorded JSON as well as real files); `probe` runs ffprobe
through the runner and turns "ffprobe cannot read it" into a message for people.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from .runner import MediaError, run

__all__ = ["VideoStream", "AudioStream", "MediaInfo", "probe_argv", "parse_probe", "probe"]


@dataclass(frozen=True)
class VideoStream:
    codec: str
    width: int
    height: int
    fps: float
    pix_fmt: str = ""
    bit_rate: int = 0
    interlaced: bool = False
    rotation: int = 0        # degrees the player must turn the picture (phones)

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height as shown, after rotation."""
        return (self.height, self.width) if self.rotation % 180 else (self.width, self.height)

    @property
    def short_side(self) -> int:
        return min(self.width, self.height)


@dataclass(frozen=True)
class AudioStream:
    codec: str
    channels: int
    sample_rate: int
    bit_rate: int = 0


@dataclass(frozen=True)
class MediaInfo:
    format_name: str
    duration: float
    bit_rate: int
    video: VideoStream | None
    audio: AudioStream | None


def probe_argv(path: Path, ffprobe: str = "ffprobe") -> list[str]:
    return [ffprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)]


def _rate(value: str | None) -> float:
    try:
        rate = Fraction(value or "0")
    except (ValueError, ZeroDivisionError):
        return 0.0
    return float(rate) if rate > 0 else 0.0


def _int(value) -> int:
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return 0


def _rotation(stream: dict) -> int:
    rotate = _int(stream.get("tags", {}).get("rotate"))
    for side in stream.get("side_data_list", []):
        if "rotation" in side:
            rotate = _int(side["rotation"])
    return rotate % 360


def parse_probe(data: dict) -> MediaInfo:
    """MediaInfo from ffprobe's `-show_format -show_streams` JSON. Cover art (an attached
    picture in an MP3 or M4A) is not a video stream."""
    video = audio = None
    durations = []
    for stream in data.get("streams", []):
        kind = stream.get("codec_type")
        if stream.get("duration"):
            durations.append(float(stream["duration"]))
        if kind == "video" and video is None and not stream.get("disposition", {}).get("attached_pic"):
            fps = _rate(stream.get("avg_frame_rate")) or _rate(stream.get("r_frame_rate"))
            video = VideoStream(
                codec=stream.get("codec_name", ""), width=_int(stream.get("width")),
                height=_int(stream.get("height")), fps=round(fps, 3), pix_fmt=stream.get("pix_fmt", ""),
                bit_rate=_int(stream.get("bit_rate")),
                interlaced=stream.get("field_order", "progressive") not in ("progressive", "unknown", ""),
                rotation=_rotation(stream))
        elif kind == "audio" and audio is None:
            audio = AudioStream(codec=stream.get("codec_name", ""), channels=_int(stream.get("channels")),
                                sample_rate=_int(stream.get("sample_rate")), bit_rate=_int(stream.get("bit_rate")))
    fmt = data.get("format", {})
    duration = float(fmt.get("duration") or 0) or max(durations, default=0.0)
    return MediaInfo(format_name=fmt.get("format_name", ""), duration=duration,
                     bit_rate=_int(fmt.get("bit_rate")), video=video, audio=audio)


def probe(path: Path, *, timeout_s: float = 60, ffprobe: str = "ffprobe") -> MediaInfo:
    """Probe `path`; MediaError (permanent) when it is not playable media."""
    result = run(probe_argv(path, ffprobe), timeout_s=timeout_s)
    if result.returncode != 0:
        reason = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "no details"
        raise MediaError(f"not a readable video or audio file ({reason.split(': ', 1)[-1]})")
    try:
        info = parse_probe(json.loads(result.stdout or b"{}"))
    except (ValueError, TypeError) as exc:
        raise MediaError(f"ffprobe gave an answer that cannot be read: {exc}") from None
    if info.video is None and info.audio is None:
        raise MediaError("the file holds no video or audio stream")
    if info.video is not None and (info.video.width <= 0 or info.video.height <= 0):
        raise MediaError("the video stream has no picture size: the file is damaged")
    if info.duration <= 0:
        raise MediaError("the file has no duration: it is empty or damaged")
    return info
