"""Media: turn uploads into what a teacher can preview and stream on a slow school link.

- runner.py    the one place that runs ffmpeg/ffprobe: low priority, time budget, progress
- probe.py     what a media file holds (ffprobe JSON → MediaInfo)
- profiles.py  the derivative profiles (video-360p, video-720p, …) and which apply
- video.py     pure argv builders: renditions, remux, audio, poster, storyboard + WebVTT
- images.py    Pillow thumbnails (EXIF orientation, CMYK, transparency, GIF, bomb limit)
- pages.py     PDF page images with pypdfium2
- ebook.py     EPUB cover and table of contents

Nothing here knows the catalog or the blob store: services decide what to make and where
the results go.
"""

from .runner import Cancelled, MediaError

__all__ = ["MediaError", "Cancelled"]
