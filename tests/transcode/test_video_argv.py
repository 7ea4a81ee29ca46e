"""The pure half of the video pipeline: argv and plans as data, no ffmpeg run."""

from __future__ import annotations

from pathlib import Path

import pytest

from repo_server.transcode.probe import AudioStream, MediaInfo, VideoStream, parse_probe
from repo_server.transcode.profiles import VIDEO_PROFILES, video_profiles_for
from repo_server.transcode.video import (can_remux, duration_matches, poster_time, remux_argv, rendition_argv,
                                         storyboard_plan, storyboard_vtt)

P360, P720 = VIDEO_PROFILES
MP4 = "mov,mp4,m4a,3gp,3g2,mj2"


def info(width=1920, height=1080, fps=25.0, codec="h264", interlaced=False, audio=True,
         bit_rate=4_000_000, fmt=MP4, pix_fmt="yuv420p", duration=600.0) -> MediaInfo:
    return MediaInfo(fmt, duration, bit_rate, VideoStream(codec, width, height, fps, pix_fmt,
                                                          interlaced=interlaced),
                     AudioStream("aac", 2, 48000) if audio else None)


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_global_options_come_before_the_input() -> None:
    argv = rendition_argv(Path("in.mp4"), Path("out.mp4"), info(), P360)
    assert argv.index("-progress") < argv.index("-i") and argv[-1] == "out.mp4"


def test_360p_rendition_caps_bitrate_keyframes_every_2s_and_stereo_48k() -> None:
    argv = rendition_argv(Path("in.mp4"), Path("out.mp4"), info(fps=25), P360)
    graph = option(argv, "-filter_complex")
    assert "scale=h=360:w=-2" in graph and "format=yuv420p" in graph and "yadif" not in graph
    assert option(argv, "-vcodec") == "libx264" and option(argv, "-crf") == "23"
    assert option(argv, "-maxrate") == "800k" and option(argv, "-bufsize") == "1600k"
    assert option(argv, "-g") == "50" and option(argv, "-force_key_frames") == "expr:gte(t,n_forced*2)"
    assert option(argv, "-movflags") == "+faststart" and option(argv, "-preset") == "veryfast"
    assert (option(argv, "-acodec"), option(argv, "-ac"), option(argv, "-ar")) == ("aac", "2", "48000")


def test_interlaced_60fps_source_is_deinterlaced_and_limited_to_30fps() -> None:
    argv = rendition_argv(Path("in.mpg"), Path("out.mp4"), info(fps=59.94, interlaced=True), P720)
    graph = option(argv, "-filter_complex")
    assert graph.index("yadif") < graph.index("fps=fps=30") < graph.index("scale=h=720")
    assert option(argv, "-g") == "60"


def test_no_audio_stream_means_no_audio_options() -> None:
    argv = rendition_argv(Path("in.avi"), Path("out.mp4"), info(audio=False), P360)
    assert "-acodec" not in argv and argv.count("-map") == 1


def test_portrait_video_scales_its_short_side_and_small_videos_are_not_upscaled() -> None:
    portrait = rendition_argv(Path("in.mp4"), Path("o.mp4"), info(width=1080, height=1920), P360)
    assert "scale=h=-2:w=360" in option(portrait, "-filter_complex")
    small = rendition_argv(Path("in.mp4"), Path("o.mp4"), info(width=320, height=240), P360)
    assert "scale=h=240:w=-2" in option(small, "-filter_complex")


@pytest.mark.parametrize(("size", "expected"), [
    ((1920, 1080), ["video-360p", "video-720p"]),
    ((1280, 720), ["video-360p", "video-720p"]),
    ((720, 1280), ["video-360p", "video-720p"]),      # portrait 720p
    ((960, 540), ["video-360p"]),
    ((320, 240), ["video-360p"]),
])
def test_720p_only_from_sources_that_have_it(size, expected) -> None:
    assert [p.name for p in video_profiles_for(info(*size))] == expected


def test_remux_only_when_the_source_already_is_the_profile() -> None:
    ok = info(width=640, height=360, bit_rate=700_000)
    assert can_remux(ok, P360)
    assert not can_remux(info(width=640, height=360, bit_rate=2_000_000), P360)   # over the cap
    assert not can_remux(info(width=1280, height=720, bit_rate=700_000), P360)    # needs scaling
    assert not can_remux(info(width=640, height=360, bit_rate=700_000, codec="vp8", fmt="matroska,webm"), P360)
    assert not can_remux(info(width=640, height=360, bit_rate=700_000, fps=60), P360)
    assert not can_remux(info(width=640, height=360, bit_rate=700_000, interlaced=True), P360)


def test_remux_copies_the_picture_and_fixes_the_sound_only_when_needed() -> None:
    final = remux_argv(Path("in.mp4"), Path("out.mp4"), info(width=640, height=360), P360)
    assert final[final.index("-vcodec") + 1] == "copy" and final[final.index("-acodec") + 1] == "copy"
    mono = info(width=640, height=360)
    mono = MediaInfo(mono.format_name, mono.duration, mono.bit_rate, mono.video, AudioStream("aac", 1, 44100))
    fixed = remux_argv(Path("in.mp4"), Path("out.mp4"), mono, P360)
    assert fixed[fixed.index("-vcodec") + 1] == "copy" and fixed[fixed.index("-acodec") + 1] == "aac"
    assert fixed[fixed.index("-ac") + 1] == "2" and fixed[fixed.index("-ar") + 1] == "48000"
    silent = remux_argv(Path("in.mp4"), Path("out.mp4"), info(width=640, height=360, audio=False), P360)
    assert "-acodec" not in silent and "0:a:0" not in " ".join(silent)


def test_poster_from_ten_percent_in() -> None:
    assert poster_time(info(duration=600)) == 60.0


def test_storyboard_covers_the_whole_video_in_at_most_100_tiles() -> None:
    long = storyboard_plan(info(duration=3600))
    assert long.tiles == 100 and long.interval == 36 and (long.columns, long.rows) == (10, 10)
    assert (long.tile_width, long.tile_height) == (160, 90)
    short = storyboard_plan(info(duration=4.5))
    assert short.interval == 1.0 and short.tiles == 4 and (short.columns, short.rows) == (4, 1)
    vtt = storyboard_vtt(short, "/s.jpg").splitlines()
    assert vtt[0] == "WEBVTT"
    assert vtt[2:4] == ["00:00:00.000 --> 00:00:01.000", "/s.jpg#xywh=0,0,160,90"]
    assert vtt[-2:] == ["00:00:03.000 --> 00:00:04.500", "/s.jpg#xywh=480,0,160,90"]


def test_duration_check_catches_truncated_output() -> None:
    assert duration_matches(600, 599.5) and duration_matches(10, 10.8)
    assert not duration_matches(600, 240) and not duration_matches(10, 8)


def test_probe_json_parsing_skips_cover_art_and_reads_rotation() -> None:
    data = {"format": {"format_name": "mp3", "duration": "61.5", "bit_rate": "128000"},
            "streams": [{"codec_type": "audio", "codec_name": "mp3", "channels": 2, "sample_rate": "44100"},
                        {"codec_type": "video", "codec_name": "mjpeg", "width": 500, "height": 500,
                         "disposition": {"attached_pic": 1}}]}
    parsed = parse_probe(data)
    assert parsed.video is None and parsed.audio.codec == "mp3" and parsed.duration == 61.5
    phone = parse_probe({"format": {"duration": "3"}, "streams": [{
        "codec_type": "video", "codec_name": "h264", "width": 1920, "height": 1080,
        "avg_frame_rate": "30000/1001", "field_order": "tt",
        "side_data_list": [{"rotation": -90}]}]})
    assert phone.video.rotation == 270 and phone.video.display_size == (1080, 1920)
    assert phone.video.interlaced and phone.video.fps == 29.97
