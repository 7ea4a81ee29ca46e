"""Media pipeline (issue 4): pure ffmpeg-python command builders with exactly one runner,
video renditions, posters, storyboards, document page images and Pillow thumbnails.

Nothing lives here yet: the foundation provides what it will plug into — the `derivatives`
table keyed by (source sha256, profile), the blob store protocol for storing outputs, and
download responses (Range, ETag) that renditions will reuse.
"""

__all__: list[str] = []
