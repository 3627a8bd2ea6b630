"""The agent's change as data: packed inside the sandbox, checked, then stored.

The worker never reads the agent's working tree or runs git in the agent's
clone once the agent has run: ``take`` runs ``pack.py`` inside the sandbox,
as the agent's uid, and reads back two files it wrote (never following a
symlink). ``check`` refuses what must not reach grading or delivery: paths
that leave the tree or enter a ``.git``, odd names, symlinks that point out of
the tree, nested repositories, other file types, and a change or a workspace
over its bounds. ``fast_import`` turns an accepted change into git objects in
the grading clone, so the agent's files reach the disk only through git's own
checkout of a tree overnight built.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import sys
import tarfile
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from overnight.config import Bounds
from overnight.sandbox import Access, Sandbox

PACK = Path(__file__).with_name("pack.py")
MB = 1024 * 1024
MODES = {0o644: "100644", 0o755: "100755"}
UNBOUNDED = 2**62


@dataclass
class Entry:
    mode: str  # "100644", "100755" or "120000" (a symlink; data is its target)
    data: bytes


@dataclass
class Change:
    files: dict[str, Entry] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # why it may not be graded
    size: int = 0
    disk_bytes: int = 0
    disk_files: int = 0

    @property
    def paths(self) -> list[str]:
        return sorted({*self.files, *self.deleted})


def take(
    sandbox: Sandbox,
    workspace: Path,
    base_sha: str,
    environ: dict[str, str],
    bounds: Bounds,
    origin: tuple[int, int] | None = None,
    timeout: float = 600.0,
    cancel: threading.Event | None = None,
) -> Change:
    """Pack the workspace's change against ``base_sha`` inside the sandbox and check it.
    ``origin`` is the base checkout's (bytes, files) on disk, for the growth bounds
    (None: not known yet, so the workspace's size is measured, not bounded)."""
    out = Path(tempfile.mkdtemp(prefix=f".{workspace.name}-pack-", dir=workspace.parent))
    try:
        limit = int(bounds.change_mb * MB)
        disk = origin[0] + int(bounds.workspace_mb * MB) if origin else UNBOUNDED
        files = origin[1] + bounds.workspace_files if origin else UNBOUNDED
        command = (
            f"{sys.executable} -I -S {PACK} {base_sha} {out} {limit} "
            f"{bounds.change_files} {disk} {files}"
        )
        env: dict[str, str] = {
            k: environ[k] for k in ("PATH", "LANG", "LC_ALL", "TZ") if k in environ
        }
        done = sandbox.run(
            command,
            cwd=workspace,
            env=env,
            timeout=timeout,
            cancel=cancel,
            access=Access(writable=(out,)),
        )
        if not done.ok:
            tail = (done.output.strip().splitlines() or [f"exit {done.exit_code}"])[-1][:300]
            return Change(problems=[f"the workspace's change could not be read: {tail}"])
        report = json.loads(_read(out / "change.json", MB).decode())
        archive = out / "change.tar"
        data = _read(archive, limit * 2 + 10 * MB) if os.path.lexists(archive) else b""
    except (OSError, ValueError, KeyError) as exc:
        return Change(problems=[f"the workspace's change could not be read: {exc}"])
    finally:
        shutil.rmtree(out, ignore_errors=True)
    change = parse(report, data)
    change.problems += check(change, report, bounds, origin)
    return change


def _read(path: Path, limit: int) -> bytes:
    """A regular file's bytes, refusing a symlink, a special file or one over ``limit``."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"{path.name} is not a regular file")
        if st.st_size > limit:
            raise ValueError(f"{path.name} is {st.st_size} bytes, over {limit}")
        with os.fdopen(os.dup(fd), "rb") as f:
            return f.read(limit + 1)
    finally:
        os.close(fd)


def parse(report: dict, archive: bytes) -> Change:
    change = Change(
        deleted=[str(p) for p in report.get("deleted", [])],
        problems=[
            f"{path}: {why}; not allowed in a change" for path, why in report.get("refused", [])
        ],
        size=int(report.get("bytes", 0)),
        disk_bytes=int(report.get("disk_bytes", 0)),
        disk_files=int(report.get("disk_files", 0)),
    )
    if not archive:
        return change
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar:
            if member.issym():
                change.files[member.name] = Entry(
                    "120000", member.linkname.encode("utf-8", "surrogateescape")
                )
            elif member.isreg() and member.mode in MODES:
                body = tar.extractfile(member)
                change.files[member.name] = Entry(MODES[member.mode], body.read() if body else b"")
            else:
                change.problems.append(f"{member.name}: not a regular file or a symlink")
    return change


def check(
    change: Change, report: dict, bounds: Bounds, origin: tuple[int, int] | None
) -> list[str]:
    """Why the change may not be graded or delivered (empty: it may)."""
    problems = [p for path in change.paths if (p := path_problem(path))]
    for path, entry in change.files.items():
        if entry.mode == "120000" and not path_problem(path):
            problem = link_problem(path, entry.data)
            if problem:
                problems.append(f"{path}: {problem}")
    count = len(change.files) + len(change.deleted)
    size = max(change.size, sum(len(e.data) for e in change.files.values()))
    if size > bounds.change_mb * MB:
        problems.append(
            f"the change is {size / MB:.1f} MB, over the {bounds.change_mb:g} MB "
            f"bound by {(size - bounds.change_mb * MB) / MB:.1f} MB"
        )
    files = max(count, int(report.get("files", 0)) + len(change.deleted))
    if files > bounds.change_files:
        problems.append(
            f"the change touches {files} files, over the {bounds.change_files} "
            f"bound by {files - bounds.change_files}"
        )
    if origin is None:
        return problems
    grown = change.disk_bytes - origin[0]
    if grown > bounds.workspace_mb * MB:
        problems.append(
            f"the workspace grew by {grown / MB:.0f} MB on disk, over the "
            f"{bounds.workspace_mb:g} MB bound by "
            f"{(grown - bounds.workspace_mb * MB) / MB:.0f} MB"
        )
    more = change.disk_files - origin[1]
    if more > bounds.workspace_files:
        problems.append(
            f"the workspace grew by {more} files, over the "
            f"{bounds.workspace_files} bound by {more - bounds.workspace_files}"
        )
    return problems


def path_problem(path: str) -> str | None:
    """Why a path may not be part of a change (None: it may)."""
    if not path or path.startswith("/") or len(path.encode("utf-8", "surrogateescape")) > 4096:
        return f"{path!r}: not a relative path of reasonable length"
    if any(0xD800 <= ord(c) <= 0xDFFF for c in path):
        return f"{path!r}: the name is not valid UTF-8"
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        return f"{path!r}: control characters in the name"
    for part in path.split("/"):
        if part in ("", ".", ".."):
            return f"{path!r}: empty, '.' or '..' component"
        if part.rstrip(". ").lower() == ".git" or part.lower().startswith(".git/"):
            return f"{path}: inside a .git folder"
        if len(part.encode()) > 255:
            return f"{path!r}: a component longer than 255 bytes"
    return None


def link_problem(path: str, target: bytes) -> str | None:
    """A symlink may only point inside the tree: some leading '..' (no more than its
    depth), then plain names; so whatever the other links are, it cannot leave."""
    try:
        text = target.decode("utf-8")
    except UnicodeDecodeError:
        return "a symlink whose target is not valid UTF-8"
    if not text or text.startswith("/"):
        return f"a symlink to {text or 'nothing'!r}, outside the repository"
    parts = [p for p in text.split("/") if p not in ("", ".")]
    ups = 0
    while ups < len(parts) and parts[ups] == "..":
        ups += 1
    if ups > path.count("/") or ".." in parts[ups:]:
        return f"a symlink to {text!r}, which leaves the repository"
    if any(p.rstrip(". ").lower() == ".git" for p in parts[ups:]):
        return f"a symlink to {text!r}, into a .git folder"
    if any(ord(c) < 32 for c in text):
        return "a symlink whose target has control characters"
    return None


def fast_import_stream(change: Change, base_sha: str, ref: str) -> bytes:
    """A ``git fast-import`` stream: one commit on ``base_sha`` holding the change."""
    out = io.BytesIO()
    out.write(
        f"commit {ref}\ncommitter overnight <overnight@localhost> 0 +0000\n"
        f"data 0\nfrom {base_sha}\n".encode()
    )
    for path in sorted(change.deleted):
        out.write(b"D " + _quote(path) + b"\n")
    for path in sorted(change.files):
        entry = change.files[path]
        out.write(f"M {entry.mode} inline ".encode() + _quote(path) + b"\n")
        out.write(f"data {len(entry.data)}\n".encode() + entry.data + b"\n")
    out.write(b"\ndone\n")
    return out.getvalue()


def _quote(path: str) -> bytes:
    """A C-style quoted path, as fast-import reads it."""
    raw = path.encode("utf-8")
    body = b"".join(
        b"\\" + bytes([c]) if c in b'"\\' else bytes([c]) if 32 <= c < 127 else b"\\%03o" % c
        for c in raw
    )
    return b'"' + body + b'"'
