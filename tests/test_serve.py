"""The gunicorn configuration `repo-server serve` uses."""

from __future__ import annotations

from gunicorn.config import Config

from repo_server.config import Settings
from repo_server.serve import gunicorn_options


def test_gunicorn_keeps_sendfile_on_and_uses_threads(tmp_path) -> None:
    options = gunicorn_options(Settings(data_dir=tmp_path, workers=3, threads=8), "127.0.0.1", 9000)
    config = Config()
    for key, value in options.items():
        config.set(key, value)
    # In gunicorn, *any* value for the "sendfile" setting disables it: it must stay unset.
    assert config.sendfile is True
    assert config.worker_class_str == "gthread" and config.threads == 8 and config.workers == 3
    assert config.bind == ["127.0.0.1:9000"]
    assert config.control_socket_disable is True
