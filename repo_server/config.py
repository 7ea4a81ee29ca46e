"""Every setting of repo-server, declared exactly once: name, type, default, env var, help.

`Settings.from_env()` is the only place that reads the environment, and only when called
(never at import). `describe()` feeds `repo-server config` and docs/configuration.md; a test
checks that the docs list every setting declared here.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from repo_server.errors import ConfigError

__all__ = ["Settings", "SettingInfo", "describe"]

GiB = 1024**3


def _setting(env: str, default: Any, help: str, parse: Callable[[str], Any] = str,
             choices: tuple[str, ...] = (), secret: bool = False) -> Any:
    """Declare one setting as a dataclass field carrying its env var, parser and help."""
    meta = {"env": env, "help": help, "parse": parse, "choices": choices, "secret": secret}
    return field(default=default, metadata=meta)


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true/false, got {text!r}")


def _positive_int(text: str) -> int:
    value = int(text.strip().replace("_", ""))
    if value <= 0:
        raise ValueError(f"expected a positive integer, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    value = int(text.strip())
    if value < 0:
        raise ValueError(f"expected 0 or more, got {text!r}")
    return value


@dataclass(frozen=True)
class Settings:
    """Configuration of one repo-server instance. Embedded defaults need no other service."""

    data_dir: Path = _setting(
        "REPO_DATA_DIR", Path("./storage"),
        "Runtime data root: SQLite catalog, local blob store, staging area, secret key.",
        parse=Path)
    database_url: str = _setting(
        "REPO_DATABASE_URL", "",
        "Catalog database. Empty: SQLite (WAL) at <data dir>/catalog.sqlite3. "
        "A postgresql:// URL switches the catalog to PostgreSQL.")
    blobstore: str = _setting(
        "REPO_BLOBSTORE", "local",
        "Where file contents live: 'local' (under <data dir>/blobs) or 'minio' (any S3 endpoint).",
        choices=("local", "minio"))
    s3_endpoint: str = _setting(
        "REPO_S3_ENDPOINT", "127.0.0.1:9000", "host:port of the MinIO/S3 endpoint (REPO_BLOBSTORE=minio).")
    s3_access_key: str = _setting("REPO_S3_ACCESS_KEY", "", "S3 access key.", secret=True)
    s3_secret_key: str = _setting("REPO_S3_SECRET_KEY", "", "S3 secret key.", secret=True)
    s3_bucket: str = _setting("REPO_S3_BUCKET", "repo-server", "S3 bucket (created private if missing).")
    s3_secure: bool = _setting("REPO_S3_SECURE", False, "Use HTTPS to reach the S3 endpoint.", parse=_bool)
    s3_region: str = _setting("REPO_S3_REGION", "us-east-1", "S3 region used for request signing.")
    s3_download: str = _setting(
        "REPO_S3_DOWNLOAD", "proxy",
        "How downloads leave a MinIO store: 'proxy' streams through the app (works when the "
        "endpoint is internal), 'redirect' sends a short-lived presigned URL (endpoint must be "
        "reachable by clients).",
        choices=("proxy", "redirect"))
    secret_key: str = _setting(
        "REPO_SECRET_KEY", "",
        "Signs sessions and CSRF tokens. Empty: generated once and kept in <data dir>/secret_key.",
        secret=True)
    max_upload_bytes: int = _setting(
        "REPO_MAX_UPLOAD_BYTES", 8 * GiB,
        "Largest accepted upload in bytes (HTTP 413 above it). Class recordings run to several GB.",
        parse=_positive_int)
    upload_expire_hours: int = _setting(
        "REPO_UPLOAD_EXPIRE_HOURS", 24,
        "A resumable upload (the upload page, /api/v1/uploads/) untouched for this many hours is "
        "deleted with its partial bytes; so is a finished one whose filing failed and was "
        "neither retried nor deleted.", parse=_positive_int)
    upload_stall_seconds: int = _setting(
        "REPO_UPLOAD_STALL_SECONDS", 60,
        "A resumable upload request whose bytes stop arriving for this long is ended (keeping "
        "what arrived), so a silently dead connection does not hold the upload for hours.",
        parse=_positive_int)
    public_access: bool = _setting(
        "REPO_PUBLIC_ACCESS", True,
        "Let visitors who are not logged in browse and download public, published resources.",
        parse=_bool)
    host: str = _setting("REPO_HOST", "127.0.0.1", "Address `repo-server serve` listens on.")
    port: int = _setting("REPO_PORT", 8080, "Port `repo-server serve` listens on.", parse=_positive_int)
    workers: int = _setting(
        "REPO_WORKERS", 2, "gunicorn worker processes for `repo-server serve`.", parse=_positive_int)
    threads: int = _setting(
        "REPO_THREADS", 16,
        "Threads per worker: each slow download or upload holds one for its duration.",
        parse=_positive_int)
    search_engine: str = _setting(
        "REPO_SEARCH_ENGINE", "whoosh",
        "Full-text engine: 'whoosh' (pure Python, libraries up to ~100,000 items) or "
        "'tantivy' (embedded Rust engine, up to ~1,000,000 items). Switching needs "
        "`repo-server index rebuild`.",
        choices=("whoosh", "tantivy"))
    background_work: bool = _setting(
        "REPO_BACKGROUND_WORK", True,
        "Let the web workers keep this node's search index up to date (one worker per node, "
        "elected by a file lock in the index) and extract texts (one process per catalog, on "
        "any node, elected by a catalog lease). Turn off when `repo-server index run` runs as "
        "its own service.", parse=_bool)
    extract_timeout: int = _setting(
        "REPO_EXTRACT_TIMEOUT", 120,
        "Seconds one text extraction may take (LibreOffice conversions included) before it is "
        "recorded as failed.", parse=_positive_int)
    extract_max_chars: int = _setting(
        "REPO_EXTRACT_MAX_CHARS", 100_000,
        "Extracted text kept per resource, in characters (indexed and shipped to mirrors).",
        parse=_positive_int)
    soffice: str = _setting(
        "REPO_SOFFICE", "soffice",
        "LibreOffice's command, for text from legacy DOC/PPT/XLS/WPS files and page previews "
        "of office documents.")
    queue_url: str = _setting(
        "REPO_QUEUE_URL", "",
        "Job queue for media work: empty keeps it in a SQLite file in the data dir (no broker, "
        "workers on this machine); `redis://host:6379/0` lets workers run on other machines.")
    embedded_worker: bool = _setting(
        "REPO_EMBEDDED_WORKER", True,
        "Let `repo-server serve` start one media worker beside the web workers. Turn off when "
        "`repo-server worker` runs as its own service (or on other machines).", parse=_bool)
    media_timeout_factor: int = _setting(
        "REPO_MEDIA_TIMEOUT_FACTOR", 4,
        "A video step may take this many times the video's length (plus 5 minutes) before it is "
        "stopped and retried later.", parse=_positive_int)
    proxy_hops: int = _setting(
        "REPO_PROXY_HOPS", 0,
        "How many reverse proxies (nginx) sit in front and set X-Forwarded-For/-Proto/-Host; "
        "0 trusts none. Client addresses in download events and rate limits depend on it.",
        parse=_non_negative_int)
    accel_redirect: str = _setting(
        "REPO_ACCEL_REDIRECT", "",
        "Behind nginx: the internal location (e.g. `/_repo_blobs/`, aliased to <data dir>/blobs/) "
        "that downloads from the local blob store are handed to with X-Accel-Redirect, after the "
        "permission check, so nginx sends the bytes (sendfile, Range). Empty: the app sends them. "
        "No effect with REPO_BLOBSTORE=minio (docs/deploy.md).")
    login_limit: str = _setting(
        "REPO_LOGIN_LIMIT", "10 per 15 minutes",
        "Failed logins allowed per client address (the real one: see REPO_PROXY_HOPS) before "
        "further attempts answer 429 until the window has passed.")
    rate_limit_url: str = _setting(
        "REPO_RATE_LIMIT_URL", "",
        "Where login-attempt counters live: empty uses REPO_QUEUE_URL when that is Redis (shared "
        "by every worker and machine), else each web worker's memory (`memory://`: the limit then "
        "applies per worker process).")
    mirror_name: str = _setting(
        "REPO_MIRROR_NAME", "",
        "This server's name in a mirror chain (city → county → school), written into the mirror "
        "tree's CURRENT and the downstream traces. Empty: the host name.")
    mirror_keep_serials: int = _setting(
        "REPO_MIRROR_KEEP_SERIALS", 5,
        "The mirror tree keeps the manifests of the last N published serials, and every object "
        "they reference, so a school still syncing an older serial finds its files.",
        parse=_positive_int)
    mirror_keep_days: int = _setting(
        "REPO_MIRROR_KEEP_DAYS", 7,
        "The mirror tree also keeps every manifest younger than this many days, with its "
        "objects: an object leaves the tree only when neither this rule nor "
        "REPO_MIRROR_KEEP_SERIALS keeps it.", parse=_non_negative_int)
    mirror_stale_hours: int = _setting(
        "REPO_MIRROR_STALE_HOURS", 48,
        "A downstream mirror (or this server, when it is one) with no successful sync for longer "
        "than this many hours is flagged stale on /admin/mirrors and in GET /api/v1/mirrors.",
        parse=_positive_int)
    rsync_hosts_allow: str = _setting(
        "REPO_RSYNC_HOSTS_ALLOW", "127.0.0.1 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16",
        "Addresses allowed to reach the mirror's rsync module (space separated, CIDR allowed), "
        "written into `repo-server mirror rsyncd-conf`; everyone else is refused.")
    rsync_max_connections: int = _setting(
        "REPO_RSYNC_MAX_CONNECTIONS", 10,
        "Schools syncing from the rsync module at the same time; the next one is told to retry "
        "later (rsync exit code 5, 'max connections').", parse=_positive_int)
    oai_repository_name: str = _setting(
        "REPO_OAI_REPOSITORY_NAME", "repo-server",
        "The repository's name in the OAI-PMH Identify answer (/oai), e.g. 示例县教育资源库.")
    oai_admin_email: str = _setting(
        "REPO_OAI_ADMIN_EMAIL", "admin@localhost.localdomain",
        "adminEmail in the OAI-PMH Identify answer: whom harvesters write to about problems. "
        "Set it: the default only satisfies the protocol's address syntax.")
    oai_identifier_host: str = _setting(
        "REPO_OAI_IDENTIFIER_HOST", "",
        "The namespace part of OAI identifiers, oai:<this>:<resource id>. Empty: the host name "
        "requests arrive at. Set it before the first harvest and never change it (harvesters "
        "key their copies on these identifiers).")
    oai_page_size: int = _setting(
        "REPO_OAI_PAGE_SIZE", 100,
        "Records (or headers) per OAI-PMH ListRecords/ListIdentifiers answer; the rest follows "
        "through resumption tokens.", parse=_positive_int)
    vocab_seed: Path = _setting(
        "REPO_VOCAB_SEED", Path(__file__).parent / "catalog" / "seed" / "vocab.json",
        "Vocabulary seed (学段, 年级, 学科, 教材版本, 册次, 资源类型) loaded by `repo-server init`.",
        parse=Path)
    log_level: str = _setting(
        "REPO_LOG_LEVEL", "info", "Log level.", choices=("debug", "info", "warning", "error"))
    log_format: str = _setting(
        "REPO_LOG_FORMAT", "text",
        "Log lines of the web server (gunicorn's own included), `repo-server worker` and "
        "`repo-server index run`: 'text' for people, 'json' for a log collector (one JSON object "
        "per line: time, level, logger, message and, per request, request id, method, endpoint, "
        "status, duration, user, client address; docs/operations.md).", choices=("text", "json"))
    metrics_allow: str = _setting(
        "REPO_METRICS_ALLOW", "127.0.0.1/32 ::1/128",
        "Addresses that may read /metrics (space or comma separated, CIDR allowed), judged on the "
        "real client address (see REPO_PROXY_HOPS); everyone else gets 403. Add your Prometheus "
        "server's address.")
    metrics_cache_seconds: int = _setting(
        "REPO_METRICS_CACHE_SECONDS", 15,
        "/metrics reads its catalog figures (jobs, index lag, storage, mirrors) at most once per "
        "this many seconds in each web worker, so scrapes stay cheap on a large catalog; 0 reads "
        "them on every scrape.", parse=_non_negative_int)
    mirror_mode: str = _setting(
        "REPO_MIRROR_MODE", "auto",
        "Serve this data dir read-only as a school/county mirror: uploads, edits and admin writes "
        "are refused, search, preview and download work. `auto`: when scripts/repo-sync has "
        "applied a version (<REPO_DATA_DIR>/sync/CURRENT exists).", choices=("auto", "on", "off"))

    # -- derived locations -------------------------------------------------------------
    @property
    def catalog_url(self) -> str:
        """The SQLAlchemy URL of the catalog, SQLite under the data dir unless configured."""
        if not self.database_url:
            return f"sqlite:///{(self.data_dir / 'catalog.sqlite3').resolve()}"
        url = self.database_url
        # Users write plain postgresql:// URLs; the driver we ship is psycopg 3.
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix):]
        return url

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def index_dir(self) -> Path:
        """Search index generations of the configured engine (one directory per engine)."""
        return self.data_dir / "index" / self.search_engine

    @property
    def staging_dir(self) -> Path:
        """Uploads land here while being hashed; same filesystem as blob_dir so adoption is a rename."""
        return self.data_dir / "tmp"

    @property
    def queue_file(self) -> Path:
        """The embedded job queue (SqliteHuey) when REPO_QUEUE_URL is empty."""
        return self.data_dir / "queue.sqlite3"

    @property
    def is_mirror(self) -> bool:
        """This data dir is a mirror, served read-only (REPO_MIRROR_MODE)."""
        if self.mirror_mode == "auto":
            return (self.data_dir / "sync" / "CURRENT").is_file()
        return self.mirror_mode == "on"

    @property
    def mirror_dir(self) -> Path:
        """The exported mirror tree (objects/, manifests/, CURRENT) that schools sync from."""
        return self.data_dir / "mirror"

    @property
    def metrics_dir(self) -> Path:
        """Where gunicorn's workers keep their metric values for /metrics (emptied by `serve`)."""
        return self.data_dir / "run" / "metrics"

    @property
    def metrics_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        """REPO_METRICS_ALLOW as networks."""
        return _networks(self.metrics_allow)

    @property
    def rsync_secrets(self) -> Path:
        """The rsync daemon's secrets file: one `school:secret` line per school (mode 0600)."""
        return self.data_dir / "rsyncd.secrets"

    # -- construction -----------------------------------------------------------------
    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Build settings from REPO_* variables (default: os.environ), then apply overrides."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            env = f.metadata["env"]
            if env in environ:
                values[f.name] = _parse(f, environ[env])
        values.update(overrides)
        return cls(**values)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            choices = f.metadata["choices"]
            value = getattr(self, f.name)
            if choices and value not in choices:
                raise ConfigError(
                    f"{f.metadata['env']} must be one of {', '.join(choices)} (got {value!r})")
        if self.blobstore == "minio" and not (self.s3_access_key and self.s3_secret_key):
            raise ConfigError("REPO_BLOBSTORE=minio needs REPO_S3_ACCESS_KEY and REPO_S3_SECRET_KEY")
        prefix = self.accel_redirect
        if prefix and (prefix[0] != "/" or prefix[-1] != "/" or any(c.isspace() or c in "?#" for c in prefix)):
            raise ConfigError("REPO_ACCEL_REDIRECT must be empty or a location path starting and ending "
                              f"with / such as /_repo_blobs/ (got {self.accel_redirect!r})")
        if self.queue_url and not self.queue_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError(f"REPO_QUEUE_URL must be a redis:// URL or empty (got {self.queue_url!r})")
        self.metrics_networks  # noqa: B018  (refuses a malformed REPO_METRICS_ALLOW now)
        url = self.catalog_url
        if not (url.startswith("sqlite") or url.startswith("postgresql")):
            raise ConfigError(
                f"REPO_DATABASE_URL must be a sqlite:// or postgresql:// URL (got {self.database_url!r})")


def _networks(text: str) -> tuple[IPv4Network | IPv6Network, ...]:
    try:
        return tuple(ip_network(item, strict=False) for item in text.replace(",", " ").split())
    except ValueError as exc:
        raise ConfigError(f"REPO_METRICS_ALLOW: {exc}") from None


def _parse(f: dataclasses.Field, text: str) -> Any:
    try:
        return f.metadata["parse"](text)
    except ValueError as exc:
        raise ConfigError(f"{f.metadata['env']}: {exc}") from None


@dataclass(frozen=True)
class SettingInfo:
    """Documentation view of one setting."""

    name: str
    env: str
    default: str
    help: str
    choices: tuple[str, ...]
    secret: bool


def describe() -> Iterator[SettingInfo]:
    """Every declared setting, in declaration order, for docs and `repo-server config`."""
    for f in dataclasses.fields(Settings):
        default = f.default
        if isinstance(default, Path):
            default = "(packaged)" if default.is_absolute() else f"./{default}"
        yield SettingInfo(f.name, f.metadata["env"], str(default), f.metadata["help"],
                          f.metadata["choices"], f.metadata["secret"])
