"""The SWE-bench instance the evaluation tests share: inflection, at its base."""

from __future__ import annotations

import subprocess
from pathlib import Path

from overnight.testing import make_repo

FIXTURE = Path(__file__).parent / "fixtures" / "swebench" / "inflection"


def inflection_repo(path: Path) -> tuple[Path, str]:
    """A git repository of the fixture's base tree at ``path``, and its commit."""
    files = {
        str(p.relative_to(FIXTURE / "repo")): p.read_text()
        for p in sorted((FIXTURE / "repo").rglob("*"))
        if p.is_file()
    }
    repo = make_repo(path, files)
    base = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    return repo, base
