"""What a /metrics reading costs on a large PostgreSQL catalog (services/monitoring.py).

    .venv/bin/python bench/metrics_queries.py [--rows 1000000] [--url postgresql://postgres@127.0.0.1/postgres]

Creates a scratch database, migrates it, fills `blobs`, `resources`, `changes` and `media_jobs` with
`--rows` rows each by SQL (generate_series: a minute for a million), VACUUM ANALYZEs it as
autovacuum would, then prints each monitoring query's plan (EXPLAIN ANALYZE: which index,
how many rows read) and the time of reading each group of figures (median of 5, warm cache).
Drops the database at the end. A measurement, not a test: docs/operations.md quotes it.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import Boolean, DateTime, Float, Integer, BigInteger, JSON, create_engine, text
from sqlalchemy.engine import make_url

from repo_server.catalog.migrate import upgrade
from repo_server.catalog.models import Blob, Change, MediaJob, Resource
from repo_server.config import Settings
from repo_server.services import Services
from repo_server.services.monitoring import _groups, gather

QUERIES = {
    "jobs": "SELECT status, count(*) FROM media_jobs WHERE status IN ('queued', 'running', 'failed') "
            "GROUP BY status",
    "resources": "SELECT status, count(*) FROM resources WHERE deleted_at IS NULL GROUP BY status",
    "blobs": "SELECT count(*), coalesce(sum(size), 0) FROM blobs",
    "lag": "SELECT at FROM changes WHERE seq > 0 ORDER BY seq LIMIT 1",
}


def _filler(table, given: dict[str, str]) -> tuple[str, str]:
    """Column list and SELECT expressions for an INSERT … SELECT over generate_series(i)."""
    names, values = [], []
    for column in table.columns:
        if column.name in given:
            names.append(column.name)
            values.append(given[column.name])
        elif not column.nullable and not column.primary_key:
            kind = type(column.type)
            names.append(column.name)
            values.append("now()" if kind is DateTime or "DateTime" in kind.__name__ else
                          "0" if kind in (Integer, BigInteger, Float) else
                          "false" if kind is Boolean else "'{}'" if kind is JSON else "''")
    return ", ".join(names), ", ".join(values)


def fill(engine, rows: int) -> None:
    sha = "md5(i::text) || md5((i + 1)::text)"
    tables = [
        (Blob.__table__, {"sha256": sha, "size": "(random() * 50000000)::bigint", "mime": "'application/pdf'",
                          "original_filename": "'讲义' || i || '.pdf'"}),
        (Resource.__table__, {"id": "md5('r' || i::text)", "title": "'第' || i || '课 教学设计'",
                              "blob_sha256": sha, "filename": "'第' || i || '课.pdf'",
                              "visibility": "'public'", "status": "CASE WHEN i % 10 = 0 THEN 'draft' "
                              "ELSE 'published' END", "language": "'zh-CN'"}),
        (Change.__table__, {"seq": "i", "resource_id": "md5('r' || i::text)", "op": "'create'",
                            "at": "now() - interval '1 hour'"}),
        (MediaJob.__table__, {"id": "i", "source_sha256": sha, "kind": "'pdf'",
                              "status": "CASE WHEN i % 10000 = 0 THEN 'failed' WHEN i % 99991 = 0 "
                              "THEN 'queued' ELSE 'done' END"}),
    ]
    with engine.begin() as conn:
        for table, given in tables:
            columns, values = _filler(table, given)
            started = time.monotonic()
            conn.execute(text(f"INSERT INTO {table.name} ({columns}) SELECT {values} "
                              f"FROM generate_series(1, {rows}) AS i"))
            print(f"filled {table.name}: {rows:,} rows in {time.monotonic() - started:.1f} s")
        conn.execute(text(f"INSERT INTO change_counter (id, value) VALUES (1, {rows}) "
                          "ON CONFLICT (id) DO UPDATE SET value = excluded.value"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    name = "repo_bench_metrics"
    admin = create_engine(args.url.replace("postgresql://", "postgresql+psycopg://", 1),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(args.url).set(database=name).render_as_string(hide_password=False)
    try:
        settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="repo-bench-metrics-")), database_url=url)
        svc = Services.open(settings)
        upgrade(svc.catalog.engine)
        fill(svc.catalog.engine, args.rows)
        with svc.catalog.engine.connect() as conn:
            for label, sql in QUERIES.items():
                plan = conn.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + sql)).scalars().all()
                print(f"\n-- {label}: {sql}\n" + "\n".join(plan))
        times: dict[str, list[float]] = {}
        for _ in range(6):
            for group, slow, reader in _groups(svc, None):
                started = time.perf_counter()
                reader()
                times.setdefault(f"{group}{' (slow)' if slow else ''}", []).append(time.perf_counter() - started)
        print(f"\nreading each group at {args.rows:,} rows, median of 5 after a first (cold) one:")
        for group, runs in times.items():
            print(f"  {group:18} {statistics.median(runs[1:]) * 1000:8.1f} ms   (first {runs[0] * 1000:.1f} ms)")
        figures = gather(svc)
        print(f"blob bytes {next(f.samples[0][1] for f in figures if f.name == 'repo_blob_bytes'):,.0f}")
        svc.close()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
