"""Getting files in: what a file really is (sniff.py, formats.py) and what it may be called
(filenames.py). Streaming, hashing and staging live in repo_server.blobstore.staging; text
and metadata extraction join here with the search issue."""

from .filenames import clean_filename
from .sniff import Sniffed, check_acceptable, extension_of, sniff

__all__ = ["Sniffed", "check_acceptable", "clean_filename", "extension_of", "sniff"]
