"""What every `repo-server` command shares: the click group, error handling, exit codes.

Exit codes: 0 success; 1 a request was refused (bad input, not found); 2 usage error
(click); 75 temporary failure, retry later (storage unreachable); 78 configuration error,
fix a setting. Scripts and cron jobs can tell "retry" from "fix it" by these.
"""

from __future__ import annotations

import functools
import sys
from typing import Any, Callable

import click

from repo_server.config import Settings
from repo_server.errors import ConfigError, RepoError, StorageError
from repo_server.services import Services
from repo_server.tasks import MediaQueue

__all__ = ["cli", "handles_errors", "open_services", "fail", "EXIT_REFUSED", "EXIT_TEMPFAIL",
           "EXIT_CONFIG"]

EXIT_REFUSED, EXIT_TEMPFAIL, EXIT_CONFIG = 1, 75, 78


def fail(message: str, code: int) -> None:
    click.echo(f"repo-server: {message}", err=True)
    sys.exit(code)


def handles_errors(func: Callable) -> Callable:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            fail(exc.message, EXIT_CONFIG)
        except StorageError as exc:
            fail(f"{exc.message} (try again later)", EXIT_TEMPFAIL)
        except RepoError as exc:
            fail(exc.message, EXIT_REFUSED)
    return wrapper


def open_services(*, migrated: bool = True) -> Services:
    """Services for a command, wired to the media queue (imports make media jobs)."""
    settings = Settings.from_env()
    services = Services.open(settings)
    if migrated:
        services.require_current_schema()
    queue: list[MediaQueue] = []

    def enqueue(job_ids: list[int]) -> None:  # the queue is opened only when there is work
        if not queue:
            queue.append(MediaQueue(settings, services))
        queue[0].enqueue(job_ids)

    services.enqueue = enqueue
    return services


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="repo-server")
def cli() -> None:
    """District education-resource repository. Configure with REPO_* variables
    (`repo-server config` lists them)."""


