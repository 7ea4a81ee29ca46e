"""The derivative profiles: what a school link can play, and the names the API shows.

A 20 Mbit/s village-school uplink shared by a few classrooms must stream a lesson at 360p
without stalling, so 360p is capped well under 1 Mbit/s; 720p is made only from sources
that have it. Profile names are the API's (`derivatives[].profile`).
"""

from __future__ import annotations

from dataclasses import dataclass

from .probe import MediaInfo

__all__ = ["VideoProfile", "VIDEO_PROFILES", "video_profiles_for",
           "MAX_FPS", "KEYFRAME_S", "AUDIO_RATE", "AUDIO_PROFILE_BITRATE"]

MAX_FPS = 30
KEYFRAME_S = 2
AUDIO_RATE = 48_000
AUDIO_PROFILE_BITRATE = "128k"   # the `audio` rendition of audio-only uploads


@dataclass(frozen=True)
class VideoProfile:
    name: str
    height: int             # of the shorter side: portrait phone videos keep their shape
    crf: int
    maxrate_kbps: int
    bufsize_kbps: int
    audio_kbps: int

    @property
    def total_kbps(self) -> int:
        return self.maxrate_kbps + self.audio_kbps


VIDEO_PROFILES = (
    VideoProfile("video-360p", 360, 23, 800, 1600, 96),
    VideoProfile("video-720p", 720, 23, 2500, 5000, 128),
)


def video_profiles_for(info: MediaInfo) -> list[VideoProfile]:
    """360p always; 720p when the source has at least 720 lines (on its shorter side)."""
    if info.video is None:
        return []
    return [p for p in VIDEO_PROFILES if p.height == 360 or info.video.short_side >= p.height]
