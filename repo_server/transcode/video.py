"""ffmpeg command lines for video and audio derivatives, built by pure functions.

Each function returns an argv list (ffmpeg-python builds it) that runner.run executes; none
runs anything, so every choice — scaling, frame rate, keyframes, bitrate caps, remuxing —
is tested as data. Outputs are MP4 with the index at the front (`+faststart`), so a browser
starts playing before the whole file has arrived over a slow school link.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path

import ffmpeg

from .probe import MediaInfo
from .profiles import AUDIO_PROFILE_BITRATE, AUDIO_RATE, KEYFRAME_S, MAX_FPS, VideoProfile

__all__ = ["rendition_argv", "can_remux", "remux_argv", "audio_argv", "poster_argv", "poster_time",
           "storyboard_plan", "storyboard_argv", "storyboard_vtt", "duration_matches", "StoryboardPlan"]

_QUIET = ("-hide_banner", "-nostdin", "-nostats", "-loglevel", "error", "-progress", "pipe:1")
_REMUX_CONTAINERS = {"mov,mp4,m4a,3gp,3g2,mj2"}


def _compile(stream, ffmpeg_cmd: str) -> list[str]:
    """argv with the global options first (ffmpeg ignores options after the last output)."""
    argv = stream.compile(cmd=ffmpeg_cmd)
    return [argv[0], *_QUIET, "-y", *argv[1:]]


def _target_fps(info: MediaInfo) -> float | None:
    """The output frame rate when the source's must be lowered (at most 30), else None."""
    fps = info.video.fps if info.video else 0
    return MAX_FPS if fps > MAX_FPS + 0.01 else None


def _scale(info: MediaInfo, height: int) -> dict:
    """Scale so the shorter side is `height` (never upscaled), the other side even."""
    assert info.video is not None
    width, tall = info.video.display_size
    short = min(info.video.short_side, height)
    short -= short % 2
    return {"w": -2, "h": short} if width >= tall else {"w": short, "h": -2}


def rendition_argv(src: Path, dst: Path, info: MediaInfo, profile: VideoProfile,
                   ffmpeg_cmd: str = "ffmpeg") -> list[str]:
    """H.264/AAC MP4 for `profile`: capped CRF, keyframes every 2 s, ≤ 30 fps, deinterlaced
    when the source is interlaced, stereo 48 kHz audio (none when the source has none)."""
    source = ffmpeg.input(str(src))
    video = source["v:0"]
    if info.video and info.video.interlaced:
        video = video.filter("yadif")
    fps = _target_fps(info)
    if fps:
        video = video.filter("fps", fps=fps)
    video = video.filter("scale", **_scale(info, profile.height)).filter("format", "yuv420p")
    keyint = round((fps or (info.video.fps if info.video else 25) or 25) * KEYFRAME_S)
    options = {
        "vcodec": "libx264", "preset": "veryfast", "crf": profile.crf, "profile:v": "main",
        "maxrate": f"{profile.maxrate_kbps}k", "bufsize": f"{profile.bufsize_kbps}k",
        "g": keyint, "keyint_min": keyint, "sc_threshold": 0,
        "force_key_frames": f"expr:gte(t,n_forced*{KEYFRAME_S})",
        "movflags": "+faststart", "map_metadata": -1, "f": "mp4",
    }
    streams = [video]
    if info.audio is not None:
        streams.append(source["a:0"])
        options.update({"acodec": "aac", "b:a": f"{profile.audio_kbps}k", "ac": 2, "ar": AUDIO_RATE})
    return _compile(ffmpeg.output(*streams, str(dst), **options), ffmpeg_cmd)


def can_remux(info: MediaInfo, profile: VideoProfile) -> bool:
    """True when the source's picture already is what `profile` would make: H.264 (yuv420p,
    progressive, ≤ 30 fps) in MP4/MOV at exactly this height, within the bitrate cap. Then
    the video is copied (seconds instead of minutes), moved to `+faststart` order, and only
    the sound is re-encoded when it is not AAC stereo 48 kHz already (cheap)."""
    v = info.video
    if v is None or info.format_name not in _REMUX_CONTAINERS:
        return False
    if v.codec != "h264" or v.pix_fmt != "yuv420p" or v.interlaced or v.fps > MAX_FPS + 0.01:
        return False
    if v.short_side != profile.height:
        return False
    total_kbps = (info.bit_rate or v.bit_rate) / 1000
    return bool(total_kbps) and total_kbps <= profile.total_kbps * 1.1


def _audio_is_final(info: MediaInfo) -> bool:
    a = info.audio
    return a is not None and a.codec == "aac" and a.channels == 2 and a.sample_rate == AUDIO_RATE


def remux_argv(src: Path, dst: Path, info: MediaInfo, profile: VideoProfile,
               ffmpeg_cmd: str = "ffmpeg") -> list[str]:
    """Copy the picture; copy the sound when it is AAC stereo 48 kHz, else encode it so."""
    source = ffmpeg.input(str(src))
    streams = [source["v:0"]]
    options: dict = {"vcodec": "copy", "movflags": "+faststart", "map_metadata": -1, "f": "mp4"}
    if info.audio is not None:
        streams.append(source["a:0"])
        if _audio_is_final(info):
            options["acodec"] = "copy"
        else:
            options.update({"acodec": "aac", "b:a": f"{profile.audio_kbps}k", "ac": 2, "ar": AUDIO_RATE})
    return _compile(ffmpeg.output(*streams, str(dst), **options), ffmpeg_cmd)


def audio_argv(src: Path, dst: Path, ffmpeg_cmd: str = "ffmpeg") -> list[str]:
    """The `audio` rendition of an audio-only upload: AAC stereo 48 kHz in MP4 (M4A)."""
    source = ffmpeg.input(str(src))
    return _compile(ffmpeg.output(source["a:0"], str(dst), acodec="aac", **{"b:a": AUDIO_PROFILE_BITRATE},
                                  ac=2, ar=AUDIO_RATE, vn=None, movflags="+faststart",
                                  map_metadata=-1, f="mp4"), ffmpeg_cmd)


def poster_time(info: MediaInfo) -> float:
    """About 10 % in: frame 0 is usually black or a title card."""
    return round(info.duration * 0.1, 3)


def poster_argv(src: Path, dst: Path, info: MediaInfo, ffmpeg_cmd: str = "ffmpeg",
                width: int = 1280) -> list[str]:
    """One JPEG frame from ~10 % into the video, at most `width` pixels wide."""
    source = ffmpeg.input(str(src), ss=poster_time(info))
    frame = source["v:0"].filter("scale", w=f"min({width},iw)", h=-2)
    return _compile(ffmpeg.output(frame, str(dst), vframes=1, **{"q:v": 3}, f="image2"), ffmpeg_cmd)


@dataclass(frozen=True)
class StoryboardPlan:
    """A seek-preview sprite: one tile every `interval` seconds, `columns` per row. Stored as
    the storyboard's metadata (`as_meta`), from which the WebVTT is written when asked for."""

    duration: float
    interval: float
    tiles: int
    columns: int
    rows: int
    tile_width: int
    tile_height: int

    def as_meta(self) -> dict:
        return asdict(self)

    @classmethod
    def from_meta(cls, meta: dict) -> "StoryboardPlan":
        return cls(**{f.name: meta[f.name] for f in fields(cls)})


def storyboard_plan(info: MediaInfo, *, max_tiles: int = 100, columns: int = 10,
                    tile_width: int = 160) -> StoryboardPlan:
    assert info.video is not None
    interval = max(round(info.duration / max_tiles, 3), 1.0)
    tiles = max(min(int(info.duration // interval) or 1, max_tiles), 1)
    columns = min(columns, tiles)
    width, height = info.video.display_size
    return StoryboardPlan(duration=info.duration, interval=interval, tiles=tiles, columns=columns,
                          rows=-(-tiles // columns), tile_width=tile_width,
                          tile_height=max(round(tile_width * height / width / 2) * 2, 2))


def storyboard_argv(src: Path, dst: Path, plan: StoryboardPlan, ffmpeg_cmd: str = "ffmpeg") -> list[str]:
    """All tiles in one JPEG sprite (one request for the browser instead of a hundred)."""
    frames = (ffmpeg.input(str(src))["v:0"]
              # eof_action=pass: a clip shorter than one interval still gives its frame
              .filter("fps", fps=f"1/{plan.interval}", eof_action="pass")
              .filter("scale", w=plan.tile_width, h=plan.tile_height)
              .filter("tile", f"{plan.columns}x{plan.rows}"))
    return _compile(ffmpeg.output(frames, str(dst), vframes=1, **{"q:v": 5}, f="image2"), ffmpeg_cmd)


def _timestamp(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def storyboard_vtt(plan: StoryboardPlan, sprite_url: str) -> str:
    """WebVTT cues pointing into the sprite with media fragments (`#xywh=`), the format
    video players read for seek previews."""
    lines = ["WEBVTT", ""]
    for n in range(plan.tiles):
        start = n * plan.interval
        end = plan.duration if n == plan.tiles - 1 else (n + 1) * plan.interval
        x, y = n % plan.columns * plan.tile_width, n // plan.columns * plan.tile_height
        lines += [f"{_timestamp(start)} --> {_timestamp(max(end, start + 0.001))}",
                  f"{sprite_url}#xywh={x},{y},{plan.tile_width},{plan.tile_height}", ""]
    return "\n".join(lines)


def duration_matches(expected: float, actual: float) -> bool:
    """ffmpeg exits 0 on a truncated input and writes what it could read: an output much
    shorter than the probed input means the source is damaged. Tolerance: 1 s or 2 %."""
    return abs(expected - actual) <= max(1.0, expected * 0.02)
