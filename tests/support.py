"""Small helpers shared by test modules (fixtures live in conftest.py files)."""

from __future__ import annotations

import io
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import urllib3
from minio import Minio

__all__ = ["filename_star", "upload_form", "free_port", "S3Server", "REGION"]

REGION = "us-east-1"


def filename_star(header: str) -> str:
    """The decoded RFC 5987 `filename*` of a Content-Disposition header."""
    match = re.search(r"filename\*=UTF-8''([^;\s]+)", header)
    assert match, header
    return unquote(match.group(1))


def upload_form(data: bytes | Path, filename: str, **metadata) -> dict:
    """A multipart form for POST /api/v1/resources (pass to the test client with
    content_type="multipart/form-data")."""
    payload = data.read_bytes() if isinstance(data, Path) else data
    return {"file": (io.BytesIO(payload), filename), **metadata}


def free_port() -> int:
    """A TCP port nothing listens on right now (also used as a 'closed port')."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class S3Server:
    """Where an S3 endpoint is and how to log in; `bucket_prefix` names per-test buckets."""

    endpoint: str
    access_key: str
    secret_key: str
    secure: bool
    bucket_prefix: str

    def client(self, *, retries: int | bool = 2) -> Minio:
        http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=2, read=30), retries=retries)
        return Minio(self.endpoint, access_key=self.access_key, secret_key=self.secret_key,
                     secure=self.secure, region=REGION, http_client=http)
