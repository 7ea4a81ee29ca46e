"""The video pipeline's argv, run by the runner on real ffmpeg, against generated clips and
the shared corpus (legacy codecs, no-audio, audio-only, corrupt and lying files)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from repo_server.transcode.probe import probe
from repo_server.transcode.profiles import VIDEO_PROFILES, video_profiles_for
from repo_server.transcode.runner import MediaError, run
from repo_server.transcode.video import (audio_argv, can_remux, duration_matches, poster_argv,
                                         remux_argv, rendition_argv, storyboard_argv, storyboard_plan)

from .conftest import ffprobe_json

P360, P720 = VIDEO_PROFILES


def _run_ok(argv: list[str], **kwargs) -> None:
    result = run(argv, timeout_s=120, **kwargs)
    assert result.returncode == 0, result.stderr


def _moov_before_mdat(path: Path) -> bool:
    data = path.read_bytes()
    return 0 <= data.find(b"moov") < data.find(b"mdat")


def test_720p_source_gives_360p_and_720p_h264_aac_faststart_with_2s_keyframes(make_clip, tmp_path) -> None:
    src = make_clip(width=1280, height=720, seconds=5, fps=50)
    info = probe(src)
    assert [p.name for p in video_profiles_for(info)] == ["video-360p", "video-720p"]
    seen: list[float] = []
    for profile, size in ((P360, (640, 360)), (P720, (1280, 720))):
        out = tmp_path / f"{profile.name}.mp4"
        _run_ok(rendition_argv(src, out, info, profile), total_s=info.duration, on_progress=seen.append)
        made = probe(out)
        assert (made.video.codec, made.video.pix_fmt, (made.video.width, made.video.height)) == \
            ("h264", "yuv420p", size)
        assert made.video.fps == 30                                   # 50 fps source, capped
        assert (made.audio.codec, made.audio.channels, made.audio.sample_rate) == ("aac", 2, 48000)
        assert duration_matches(info.duration, made.duration)
        assert _moov_before_mdat(out)                                  # +faststart
        frames = ffprobe_json(out, "-select_streams", "v", "-skip_frame", "nokey",
                              "-show_entries", "frame=pts_time", "-show_frames")["frames"]
        keys = [round(float(f["pts_time"]), 2) for f in frames]
        assert keys[:3] == [0.0, 2.0, 4.0]
    assert seen and seen[-1] == 1.0 and all(0 <= f <= 1 for f in seen)   # progress parsed


def test_compatible_360p_source_is_remuxed_not_reencoded(make_clip, tmp_path) -> None:
    src = make_clip(width=640, height=360, seconds=3, extra=("-c:v", "libx264", "-b:v", "400k",
                                                             "-pix_fmt", "yuv420p", "-c:a", "aac"))
    info = probe(src)
    assert can_remux(info, P360)
    out = tmp_path / "remux.mp4"
    _run_ok(remux_argv(src, out, info, P360))
    made = probe(out)
    assert _moov_before_mdat(out) and duration_matches(info.duration, made.duration)
    assert made.video.bit_rate == info.video.bit_rate                  # the picture was copied
    assert (made.audio.codec, made.audio.channels, made.audio.sample_rate) == ("aac", 2, 48000)


@pytest.mark.parametrize("name", ["testFLV.flv", "testWMV.wmv", "testWEBM.webm", "testMKV.mkv",
                                  "stub_mjpeg.avi", "sample.mov", "testVideoMp4.mp4"])
def test_corpus_videos_in_every_container_become_playable_mp4(corpus, tmp_path, name) -> None:
    info = probe(corpus(name))
    out = tmp_path / "out.mp4"
    _run_ok(rendition_argv(corpus(name), out, info, P360))
    made = probe(out)
    assert made.video.codec == "h264" and made.video.short_side <= 360
    assert (made.audio is None) == (info.audio is None)          # no-audio stays silent
    assert duration_matches(info.duration, made.duration)


def test_poster_and_storyboard_sprite(make_clip, tmp_path) -> None:
    src = make_clip(width=1280, height=720, seconds=12)
    info = probe(src)
    poster = tmp_path / "poster.jpg"
    _run_ok(poster_argv(src, poster, info))
    shot = probe(poster).video
    assert (shot.width, shot.height) == (1280, 720)
    plan = storyboard_plan(info)
    sprite = tmp_path / "storyboard.jpg"
    _run_ok(storyboard_argv(src, sprite, plan))
    tiles = probe(sprite).video
    assert (tiles.width, tiles.height) == (plan.columns * plan.tile_width, plan.rows * plan.tile_height)


def test_audio_only_input_gets_an_aac_rendition(corpus, tmp_path) -> None:
    info = probe(corpus("testMP4AudioOnly.mp4"))
    assert info.video is None and info.audio is not None
    assert video_profiles_for(info) == []
    out = tmp_path / "audio.m4a"
    _run_ok(audio_argv(corpus("testMP4AudioOnly.mp4"), out))
    made = probe(out)
    assert made.video is None and (made.audio.codec, made.audio.sample_rate) == ("aac", 48000)


@pytest.mark.parametrize(("name", "message"), [
    ("Matroska.mkv", "not a readable video or audio file"),     # truncated headers, no frames
    ("dummy.mp4", "not a readable video or audio file"),        # text named .mp4
])
def test_unreadable_input_is_refused_with_a_clear_message(corpus, name, message) -> None:
    with pytest.raises(MediaError) as caught:
        probe(corpus(name))
    assert message in caught.value.message and not caught.value.transient


def test_zero_length_file_is_refused(tmp_path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(MediaError):
        probe(empty)


def test_truncated_video_is_caught_by_the_duration_check(make_clip, tmp_path) -> None:
    """ffmpeg exits 0 on a truncated input: only comparing durations notices."""
    whole = make_clip(width=640, height=360, seconds=10, extra=("-movflags", "+faststart"))
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 5])
    info = probe(cut)
    assert info.duration == pytest.approx(10, abs=0.2)               # the header still says 10 s
    out = tmp_path / "out.mp4"
    result = run(rendition_argv(cut, out, info, P360), timeout_s=120)
    assert result.returncode == 0                                    # ffmpeg calls it a success
    assert not duration_matches(info.duration, probe(out).duration)


def test_a_run_over_its_time_budget_is_killed_and_reported_as_transient(make_clip, tmp_path) -> None:
    src = make_clip(width=1280, height=720, seconds=4)
    argv = rendition_argv(src, tmp_path / "o.mp4", probe(src), P720)
    argv.insert(argv.index("-i"), "-re")        # read at native speed: takes ≥ 4 s
    with pytest.raises(MediaError) as caught:
        run(argv, timeout_s=1)
    assert caught.value.transient and "longer than 1 s" in caught.value.message


def test_a_missing_program_is_a_clear_transient_error() -> None:
    with pytest.raises(MediaError) as caught:
        run(["ffmpeg-that-is-not-installed", "-version"], timeout_s=5)
    assert caught.value.transient and "not installed" in caught.value.message
    assert shutil.which("ffmpeg-that-is-not-installed") is None
