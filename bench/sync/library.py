"""The sync benchmark's upstream library: the search benchmark's synthetic catalog
(bench/search/generate.py) with REAL blob files.

The generator writes catalog rows only: each blob row carries a made-up sha256 and a size
(uniform 40 KB–8 MB for documents, up to 80 MB for video) but no file. A mirror syncs files,
so `realise` writes one file of random bytes per blob row, its size the generator's size
multiplied by one factor chosen so that all files together come to `total_bytes` (a 10,000
resource library at the generator's sizes is ~40 GB: hours at 20 Mbit/s), and re-keys the
rows (blobs, blob_texts, resources) by the file's real sha256. Texts stay the generator's
(~2 KB of extracted text each): they become text objects in the mirror tree at their real
size, so the object count (one original + one text per resource) is unscaled.

`change` edits a share of the published resources the way teachers do between two syncs:
half get new metadata (title, description), half a replaced file (new bytes, same size,
and a text one sentence longer); every edit goes to the change log so `repo-server mirror publish` picks it up.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["realise", "change", "REALISED"]

REALISED = "bench-sync-blobs.json"
_MIN = 1024


def _blob_path(data: Path, sha256: str) -> Path:
    return data / "blobs" / sha256[:2] / sha256[2:4] / sha256


def _write_random(data: Path, size: int, rng: random.Random) -> str:
    body = rng.randbytes(size)
    sha256 = hashlib.sha256(body).hexdigest()
    path = _blob_path(data, sha256)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return sha256


def realise(data: Path, total_bytes: int, seed: int = 6) -> dict:
    """Give every blob row of the generated library a file; returns what was made (cached
    in <data>/bench-sync-blobs.json: a second call with the same total does nothing)."""
    marker = data / REALISED
    if marker.is_file():
        info = json.loads(marker.read_text())
        if info.get("target_bytes") == total_bytes:
            return info
        raise SystemExit(f"bench: {data} was realised for another size; delete it or pass --keep off")
    rng = random.Random(seed)
    db = sqlite3.connect(data / "catalog.sqlite3")       # foreign keys off: rows are re-keyed in place
    rows = db.execute("SELECT sha256, size, mime FROM blobs ORDER BY sha256").fetchall()
    generated = sum(size for _, size, _ in rows)
    factor = total_bytes / generated
    mapping, sizes = {}, []
    for old, size, _ in rows:
        scaled = max(_MIN, int(size * factor))
        mapping[old] = _write_random(data, scaled, rng)
        sizes.append(scaled)
    with db:
        for old, new in mapping.items():
            size = _blob_path(data, new).stat().st_size
            db.execute("UPDATE blobs SET sha256=?, size=? WHERE sha256=?", (new, size, old))
            db.execute("UPDATE blob_texts SET sha256=? WHERE sha256=?", (new, old))
            db.execute("UPDATE resources SET blob_sha256=? WHERE blob_sha256=?", (new, old))
    db.close()
    sizes.sort()
    info = {"target_bytes": total_bytes, "files": len(sizes), "bytes": sum(sizes), "factor": factor,
            "generated_bytes": generated, "median": sizes[len(sizes) // 2], "p90": sizes[int(len(sizes) * 0.9)],
            "max": sizes[-1], "min": sizes[0]}
    marker.write_text(json.dumps(info, indent=1))
    return info


def change(data: Path, share: float, seed: int) -> dict:
    """Edit `share` of the public published resources (half metadata, half a new file)."""
    rng = random.Random(seed)
    db = sqlite3.connect(data / "catalog.sqlite3")
    ids = [r[0] for r in db.execute("SELECT id FROM resources WHERE deleted_at IS NULL AND status='published' "
                                    "AND visibility='public' ORDER BY id")]
    chosen = rng.sample(ids, max(2, round(len(ids) * share)))
    now = datetime.now(timezone.utc).replace(tzinfo=None).isoformat(sep=" ")
    (seq,) = db.execute("SELECT value FROM change_counter WHERE id=1").fetchone()
    metadata, files, new_bytes = 0, 0, 0
    with db:
        for n, rid in enumerate(chosen):
            actor = db.execute("SELECT owner_id FROM resources WHERE id=?", (rid,)).fetchone()[0]
            if n % 2 == 0:
                db.execute("UPDATE resources SET title = title || ?, description = description || ?, updated_at=? "
                           "WHERE id=?", (f"（修订{seed}）", f" 第{seed}次修订：补充了练习。", now, rid))
                metadata += 1
            else:
                old, size, mime, name = db.execute(
                    "SELECT b.sha256, b.size, b.mime, b.original_filename FROM resources r "
                    "JOIN blobs b ON b.sha256 = r.blob_sha256 WHERE r.id=?", (rid,)).fetchone()
                sha = _write_random(data, size, rng)
                db.execute("INSERT OR IGNORE INTO blobs (sha256, size, mime, original_filename, created_at) "
                           "VALUES (?, ?, ?, ?, ?)", (sha, size, mime, name, now))
                note = f"\n第{seed}版：更新了例题与课后练习。"      # a new file says something new: a new text
                db.execute("INSERT OR IGNORE INTO blob_texts (sha256, status, text, chars, truncated, extractor, "
                           "message, extracted_at) SELECT ?, status, text || ?, chars + ?, truncated, extractor, "
                           "message, ? FROM blob_texts WHERE sha256=?", (sha, note, len(note), now, old))
                db.execute("UPDATE resources SET blob_sha256=?, updated_at=? WHERE id=?", (sha, now, rid))
                files += 1
                new_bytes += size
            seq += 1
            db.execute("INSERT INTO changes (seq, resource_id, op, at, actor_id) VALUES (?, ?, 'update', ?, ?)",
                       (seq, rid, now, actor))
        db.execute("UPDATE change_counter SET value=? WHERE id=1", (seq,))
    db.close()
    os.sync()
    return {"resources": len(chosen), "metadata": metadata, "files": files, "file_bytes": new_bytes}
