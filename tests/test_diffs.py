"""Reading unified diffs into files, hunks and numbered lines, from real git
output and from agent-written text that tries to confuse the reader."""

from __future__ import annotations

import subprocess
from pathlib import Path

from overnight.diffs import parse
from overnight.testing import make_repo


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


def test_a_real_git_diff_gives_each_file_its_status_counts_and_line_numbers(tmp_path):
    repo = make_repo(
        tmp_path / "r",
        {
            "calc.py": "a = 1\nb = 2\nc = 3\n",
            "old.txt": "x\n",
            "gone.txt": "bye\n",
            "logo.bin": "\0\1",
        },
    )
    (repo / "calc.py").write_text("a = 1\nb = 20\nc = 3\nd = 4\n")
    git(repo, "mv", "old.txt", "new name.txt")
    (repo / "gone.txt").unlink()
    (repo / "café.py").write_text("print('hi')\n")
    (repo / "logo.bin").write_bytes(b"\0\2\3")
    git(repo, "add", "-A")

    files = {f.path: f for f in parse(git(repo, "diff", "--cached", "--binary", "--full-index"))}

    assert {p: f.status for p, f in files.items()} == {
        "calc.py": "modified",
        "café.py": "added",
        "gone.txt": "deleted",
        "logo.bin": "modified",
        "new name.txt": "renamed",
    }
    calc = files["calc.py"]
    assert (calc.added, calc.removed) == (2, 1)
    numbered = [(line.kind, line.old, line.new, line.text) for line in calc.hunks[0].lines]
    assert numbered == [
        ("context", 1, 1, "a = 1"),
        ("del", 2, None, "b = 2"),
        ("add", None, 2, "b = 20"),
        ("context", 3, 3, "c = 3"),
        ("add", None, 4, "d = 4"),
    ]
    assert files["logo.bin"].binary and not files["logo.bin"].hunks
    assert files["new name.txt"].old_path == "old.txt"
    assert (files["gone.txt"].removed, files["café.py"].added) == (1, 1)


def test_a_hunk_takes_exactly_the_lines_its_header_counts():
    text = (
        "diff --git a/a.txt b/a.txt\n--- a/a.txt\n+++ b/a.txt\n@@ -1,3 +1,1 @@\n"
        "--- a/evil.py\n-diff --git a/x b/x\n+ok\n"
        "\\ No newline at end of file\n"
        "stray text after the hunk\n"
    )

    (only,) = parse(text)

    assert only.path == "a.txt" and (only.added, only.removed) == (1, 2)
    kinds = [line.kind for line in only.hunks[0].lines]
    assert kinds == ["del", "del", "add", "note"]


def test_a_plain_unified_diff_without_git_headers_is_read_file_by_file():
    text = (
        "--- /dev/null\n+++ b/tests/test_mul.py\n@@ -0,0 +1,2 @@\n+def test_mul():\n+    pass\n"
        "--- a/calc.py\n+++ b/calc.py\n@@ -1 +1 @@\n-x\n+y\n"
    )

    files = parse(text)

    assert [(f.path, f.status, f.added, f.removed) for f in files] == [
        ("tests/test_mul.py", "added", 2, 0),
        ("calc.py", "modified", 1, 1),
    ]


def test_nothing_to_read_is_no_files():
    assert parse(None) == [] and parse("") == [] and parse("just words\n") == []


def test_a_line_with_a_carriage_return_or_form_feed_stays_one_line():
    text = "--- a/x.txt\n+++ b/x.txt\n@@ -1 +1,2 @@\n-old\n+new\rline\n+page\fbreak\u2028end\n"

    (only,) = parse(text)

    assert [line.text for line in only.hunks[0].lines] == [
        "old",
        "new\rline",
        "page\fbreak\u2028end",
    ]
