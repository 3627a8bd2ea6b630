"""The layers hold: import-linter's contracts in pyproject.toml (`lint-imports`),
checked on this tree's source, function-local imports included."""

import os
import subprocess
import sys
from pathlib import Path

import overnight

ROOT = Path(__file__).resolve().parent.parent


def test_no_module_imports_from_a_layer_above_its_own():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    src = Path(overnight.__file__).resolve().parent.parent  # the tree under test
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run(
        [str(lint_imports), "--no-cache", "--no-logo", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout
