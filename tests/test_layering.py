"""Imports flow downward only (docs/architecture.md); import-linter checks the contracts in
pyproject.toml: cli → serve → app → web → services → catalog → storage/ingest → config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold() -> None:
    linter = Path(sys.executable).parent / "lint-imports"
    assert linter.exists(), "import-linter is not installed (pip install -e '.[test]')"
    result = subprocess.run([str(linter), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken" in result.stdout
