"""Pack the agent's change, inside the sandbox: the only way a change leaves it.

Run by ``change.take`` in the agent's workspace, as the agent's uid, with
``python -I -S`` (standard library only, nothing from the workspace on the
path)::

    pack.py BASE_SHA OUT_DIR MAX_BYTES MAX_FILES MAX_DISK_BYTES MAX_DISK_FILES

It stages the working tree into a private index (so the agent's own index is
left alone), lists what differs from the base commit, and writes to OUT_DIR:

- ``change.tar``: every added or modified path as git stores it, a regular
  file (mode 0644 or 0755) or a symlink (its target), nothing else;
- ``change.json``: the deleted paths, the entries it refused to pack (nested
  repositories), the size of the workspace on disk and its file count.

Everything here runs under the agent's control (its git configuration, its
files), so its output is data the worker checks before using, never trusts.
"""

import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile

GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_CONFIG_COUNT": "1",
    "GIT_CONFIG_KEY_0": "safe.directory",
    "GIT_CONFIG_VALUE_0": "*",
    "GIT_NO_REPLACE_OBJECTS": "1",
    "GIT_TERMINAL_PROMPT": "0",
    "LC_ALL": "C",
}
LOCKED = [
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.untrackedCache=false",
    "-c",
    "core.quotePath=false",
]


def git(args, env, data=None):
    proc = subprocess.run(["git", *LOCKED, *args], input=data, env=env, capture_output=True)
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise SystemExit(f"pack: git {args[0]} failed: {lines[-1] if lines else proc.returncode}")
    return proc.stdout


def disk_usage(root, big):
    """(bytes, files, special files, large files) under ``root``, symlinks not followed;
    special files (fifos, sockets, devices) and regular files over ``big`` bytes outside
    ``.git`` are listed, relative to ``root``."""
    size = count = 0
    special, large = [], []
    stack = [root]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                count += 1
                st = entry.stat(follow_symlinks=False)
                size += st.st_blocks * 512 if hasattr(st, "st_blocks") else st.st_size
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                    continue
                rel = os.path.relpath(entry.path, root)
                if (rel + "/").startswith(".git/"):
                    continue
                if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
                    special.append(rel)
                elif stat.S_ISREG(st.st_mode) and st.st_size > big:
                    large.append((rel, st.st_size))
    return size, count, special, large


def oversized(large, base, env):
    """The files over the change's bound that the change would hold: not ignored, and
    not as the base has them (a sparse 2 GB file takes no disk, but staging it would
    hash and compress 2 GB: it is refused by its size before that)."""
    kept = set(not_ignored([path for path, _ in large], env))
    if not kept:
        return []
    at_base = {}
    listing = git(["ls-tree", "-l", "-z", base, "--", *sorted(kept)], env)
    for record in listing.split(b"\0"):
        if record:
            meta, path = record.split(b"\t", 1)
            at_base[path.decode("utf-8", "surrogateescape")] = meta.split()[-1].decode()
    return [(p, n) for p, n in large if p in kept and at_base.get(p) != str(n)]


def not_ignored(paths, env):
    """The paths git would not ignore (what the change would hold if git could store it)."""
    if not paths:
        return []
    data = "\0".join(paths).encode("utf-8", "surrogateescape") + b"\0"
    proc = subprocess.run(
        ["git", *LOCKED, "check-ignore", "-z", "--stdin"], input=data, env=env, capture_output=True
    )
    ignored = {p.decode("utf-8", "surrogateescape") for p in proc.stdout.split(b"\0") if p}
    return [p for p in paths if p not in ignored]


def changed_entries(base, env):
    """[(status, new mode, new sha, path)] from the staged tree against the base."""
    out = git(
        [
            "diff",
            "--cached",
            "--raw",
            "-z",
            "--no-renames",
            "--no-ext-diff",
            "--no-textconv",
            "--full-index",
            base,
        ],
        env,
    )
    fields = out.split(b"\0")
    entries = []
    for meta, path in zip(fields[0::2], fields[1::2], strict=False):
        if not meta:
            continue
        _, new_mode, _, new_sha, status = meta.decode().lstrip(":").split(" ")
        entries.append((status[0], new_mode, new_sha, path.decode("utf-8", "surrogateescape")))
    return entries


def blobs(shas, env):
    """The contents of blobs, in order, from one ``git cat-file --batch``."""
    out = git(["cat-file", "--batch"], env, data="".join(f"{sha}\n" for sha in shas).encode())
    found, at = [], 0
    for _ in shas:
        header_end = out.index(b"\n", at)
        size = int(out[at:header_end].split(b" ")[2])
        found.append(out[header_end + 1 : header_end + 1 + size])
        at = header_end + 1 + size + 1
    return found


def sizes(shas, env):
    query = "".join(f"{sha}\n" for sha in shas).encode()
    out = git(["cat-file", "--batch-check=%(objectsize)"], env, data=query)
    return [int(line) for line in out.split()]


def main(base, out_dir, max_bytes, max_files, max_disk, max_disk_files):
    disk, count, special, large = disk_usage(".", max_bytes)
    report = {
        "deleted": [],
        "refused": [],
        "disk_bytes": disk,
        "disk_files": count,
        "bytes": 0,
        "files": 0,
    }
    if disk > max_disk or count > max_disk_files:  # not worth staging: the bound says no
        with open(os.path.join(out_dir, "change.json"), "w") as f:
            json.dump(report, f)
        return
    tmp = tempfile.mkdtemp(prefix="pack-")  # the private index, gone whatever happens
    try:
        stage(base, out_dir, tmp, max_bytes, max_files, report, special, large)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def stage(base, out_dir, tmp, max_bytes, max_files, report, special, large):
    """Stage the workspace in a private index in ``tmp``; write the tar and report."""
    disk, count = report["disk_bytes"], report["disk_files"]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("GIT_")}, **GIT_ENV}
    env["GIT_INDEX_FILE"] = os.path.join(tmp, "index")
    if os.path.isfile(".git/index") and not os.path.islink(".git/index"):
        shutil.copyfile(".git/index", env["GIT_INDEX_FILE"])  # keeps git's stat cache
    else:
        git(["read-tree", base], env)
    too_big = oversized(large, base, env)
    if too_big:  # over the bound whatever else changed: not worth staging
        report.update(bytes=sum(n for _, n in too_big), files=len(too_big))
        with open(os.path.join(out_dir, "change.json"), "w") as f:
            json.dump(report, f)
        return
    git(["add", "--all", "--", "."], env)
    entries = changed_entries(base, env)
    kept = [e for e in entries if e[0] != "D" and e[1] != "160000"]
    total = sum(sizes([sha for _, _, sha, _ in kept], env)) if kept else 0
    report = {
        "deleted": [path for status, _, _, path in entries if status == "D"],
        "refused": [
            [path, "a nested git repository"]
            for status, mode, _, path in entries
            if status != "D" and mode == "160000"
        ]
        + [[path, "a fifo, socket or device file"] for path in not_ignored(special, env)],
        "disk_bytes": disk,
        "disk_files": count,
        "bytes": total,
        "files": len(kept),
    }
    if total <= max_bytes and len(kept) <= max_files:
        write_tar(os.path.join(out_dir, "change.tar"), kept, env)
    with open(os.path.join(out_dir, "change.json"), "w") as f:
        json.dump(report, f)


def write_tar(path, entries, env):
    contents = blobs([sha for _, _, sha, _ in entries], env)
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for (_, mode, _, name), data in zip(entries, contents, strict=True):
            info = tarfile.TarInfo(name)
            if mode == "120000":
                info.type = tarfile.SYMTYPE
                info.linkname = data.decode("utf-8", "surrogateescape")
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o755 if mode == "100755" else 0o644
                tar.addfile(info, io.BytesIO(data))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], *(int(arg) for arg in sys.argv[3:7]))
