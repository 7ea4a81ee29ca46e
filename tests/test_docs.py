"""The documents people rely on stay true: settings documented, README commands real, CI
running exactly the README's test command."""

from __future__ import annotations

import re
from pathlib import Path

from repo_server.config import describe

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_documented() -> None:
    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for info in describe():
        row = re.search(rf"^\| `{info.env}` \| `([^`]*)` \|", page, re.MULTILINE)
        assert row, f"{info.env} is missing from docs/configuration.md"
        assert row.group(1) in {info.default, "(empty)"}, f"{info.env}: documented default is stale"


def test_readme_commands_exist_and_ci_runs_the_test_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Two commands.*?```sh\n(.*?)```", readme, re.DOTALL).group(1)
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["./scripts/demo", "./scripts/test"]
    for command in commands:
        assert (ROOT / command).stat().st_mode & 0o111, f"{command} is not executable"
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.rstrip().splitlines()[-1] == "./scripts/test"
