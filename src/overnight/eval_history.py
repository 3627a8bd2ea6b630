"""``overnight eval from-history``: an evaluation suite mined from a repository's history.

A candidate is a first-parent, non-merge commit (newest first, since a date)
that changes test files and non-test code files together. Its diff against its
parent is split as SWE-bench splits a pull request: the test files' diff is
``test_patch``, the rest is ``patch``. What a test file is:

- any file under a ``tests``, ``test`` or ``testing`` folder, a ``test_*.py``
  or ``*_test.py`` file, and ``conftest.py`` wherever it is: all of these go to
  ``test_patch`` (hidden from the agent, as a fixture or conftest change must be);
- of those, the ``test_*.py`` / ``*_test.py`` modules the commit leaves in place
  are the ones run; a commit touching only a conftest or fixtures is no candidate.

Code files are the non-test files of a source language (``CODE_SUFFIXES``);
a commit changing only documentation or packaging next to its tests is no
candidate. Each candidate is then run (``eval_verify``) and the verified ones
are written as SWE-bench-format instances ``eval run`` reads unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from overnight.config import ProjectConfig
from overnight.errors import ConfigError, GitError, ModelError, UsageError, WorkspaceError
from overnight.eval_verify import SETUP, Trial, Verdict, verify
from overnight.evaluation import check_instance
from overnight.intake import load_config
from overnight.llm import DEFAULT_MODEL, ModelConfig, Sampling, get_model
from overnight.workspace.cache import is_url, local_toplevel
from overnight.workspace.git import git

STATEMENT = Path(__file__).parent / "templates" / "history" / "statement.md"
UNGRADABLE = "not gradable by eval run"  # a rejection kind besides eval_verify's
TEST_DIRS = {"tests", "test", "testing"}
CODE_SUFFIXES = {
    ".py", ".pyx", ".pxd", ".pyi", ".c", ".h", ".cc", ".cpp", ".hpp", ".rs", ".go",
    ".js", ".mjs", ".ts", ".tsx", ".java", ".kt", ".rb", ".php", ".cs", ".swift", ".scala",
}  # fmt: skip


@dataclass
class Settings:
    """What ``from-history`` was asked for, besides the repository."""

    since: str | None = None  # an ISO date
    max: int | None = None  # candidates, newest first
    reruns: int = 2
    install: list[str] | None = None  # setup commands in place of the project's
    test_cmd: str | None = None
    environment: str | None = None  # "venv" | "inherit"; None: the project's
    statement: str = "commit"  # "commit" | "model"
    model: str | None = None  # with statement "model"; None: the project's configured one


@dataclass
class Candidate:
    sha: str
    parent: str
    message: str  # subject and body
    created_at: str  # committer date, ISO 8601
    patch: str  # the code files' diff
    test_patch: str  # the test files' diff
    tests: list[str]  # the test modules it leaves in place: what runs

    @property
    def subject(self) -> str:
        return self.message.strip().splitlines()[0] if self.message.strip() else ""


def is_test_path(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return (
        any(p in TEST_DIRS for p in parts[:-1])
        or parts[-1] == "conftest.py"
        or is_test_module(path)
    )


def is_test_module(path: str) -> bool:
    name = PurePosixPath(path).name
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


def is_code_path(path: str) -> bool:
    return not is_test_path(path) and PurePosixPath(path).suffix in CODE_SUFFIXES


def check_settings(settings: Settings, out: Path) -> None:
    """Options that contradict each other, or an output nowhere to go, stop before any
    commit runs."""
    if settings.install is not None and settings.environment == "inherit":
        raise UsageError("--install runs nothing with --environment inherit: drop one of them")
    if settings.model is not None and settings.statement != "model":
        raise UsageError("--model names the model of --statement model: add it, or drop --model")
    if not out.parent.is_dir():
        raise UsageError(f"{out.parent} does not exist: create it, or write --out elsewhere")


def since_stamp(since: str | None) -> int | None:
    """``--since`` as a Unix time (UTC unless it says otherwise): git's own date parser
    would take any text, and a far year for another."""
    if since is None:
        return None
    try:
        when = datetime.fromisoformat(since)
    except ValueError as exc:
        raise UsageError(f"--since {since!r} is not a date: write it as YYYY-MM-DD") from exc
    return int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp())


@contextmanager
def opened(repo: str) -> Iterator[Path]:
    """The repository as a local path: a local one where it is, a URL cloned into a
    temporary folder for the duration."""
    if not is_url(repo):
        try:
            yield Path(local_toplevel(Path(repo).expanduser().resolve()))
        except WorkspaceError as exc:
            raise UsageError(
                f"{repo} is not a git repository: give a clone's path or a git URL"
            ) from exc
        return
    folder = Path(tempfile.mkdtemp(prefix="overnight-history-"))
    try:
        try:
            git(["clone", "--quiet", "--no-checkout", repo, str(folder / "repo")], user_config=True)
        except GitError as exc:
            raise UsageError(f"cannot clone {repo}: {exc}") from exc
        yield folder / "repo"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def commits(path: Path, since: int | None) -> list[str]:
    """First-parent, non-merge commits of HEAD committed since ``since`` (Unix time),
    newest first."""
    try:
        listing = git(["log", "--first-parent", "--no-merges", "--format=%H %ct", "HEAD"], path)
    except GitError as exc:
        raise UsageError(f"{path} has no commits to read ({exc})") from exc
    pairs = [line.split() for line in listing.splitlines()]
    return [sha for sha, stamp in pairs if since is None or int(stamp) >= since]


def candidates(path: Path, shas: list[str], limit: int | None) -> list[Candidate]:
    """The commits of ``shas`` that change code and tests together (at most ``limit``)."""
    found: list[Candidate] = []
    for sha in shas:
        if limit is not None and len(found) >= limit:
            break
        parents = git(["rev-list", "--parents", "-n", "1", sha], path).split()[1:]
        if len(parents) != 1:  # the root (or a shallow clone's edge) has nothing to diff
            continue
        parent = parents[0]
        changed = git(["diff", "--no-renames", "--name-only", "-z", parent, sha], path)
        paths = [p for p in changed.split("\0") if p]
        tests = [p for p in paths if is_test_path(p)]
        code = [p for p in paths if is_code_path(p)]
        if not tests or not code:
            continue
        kept = set(git(["ls-tree", "-r", "--name-only", "-z", sha, "--", *tests], path).split("\0"))
        run = [p for p in tests if is_test_module(p) and p in kept]
        if not run:
            continue
        others = [p for p in paths if not is_test_path(p)]
        found.append(
            Candidate(
                sha=sha,
                parent=parent,
                message=git(["log", "-1", "--format=%B", sha], path).strip() + "\n",
                created_at=git(["log", "-1", "--format=%cI", sha], path),
                patch=diff(path, parent, sha, others),
                test_patch=diff(path, parent, sha, tests),
                tests=run,
            )
        )
    return found


def diff(path: Path, old: str, new: str, files: list[str]) -> str:
    """``git diff old..new -- files``, as SWE-bench makes its patches (binary files too)."""
    text = git(
        [
            "--literal-pathspecs",
            "diff",
            "--no-renames",
            "--no-color",
            "--no-ext-diff",
            "--binary",
            old,
            new,
            "--",
            *files,
        ],
        path,
    )
    return text + "\n" if text else ""


def repo_field(repo: str, out: Path) -> str:
    """The repository as the instances name it: as given, a relative path made relative
    to the output's folder (``eval run`` reads it from there)."""
    if is_url(repo) or Path(repo).expanduser().is_absolute():
        return repo
    return os.path.relpath(Path(repo).resolve(), out.resolve().parent)


def instance(
    candidate: Candidate, verdict: Verdict, repo: str, name: str, settings: Settings
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "instance_id": f"{name}__{candidate.sha[:10]}",
        "repo": repo,
        "base_commit": candidate.parent,
        "patch": candidate.patch,
        "test_patch": candidate.test_patch,
        "FAIL_TO_PASS": json.dumps(verdict.fail_to_pass),
        "PASS_TO_PASS": json.dumps(verdict.pass_to_pass),
        "problem_statement": candidate.message,
        "created_at": candidate.created_at,
        "statement_source": "commit",
    }
    if settings.install is not None:
        item["install"] = settings.install
    if settings.test_cmd is not None:
        item["test_cmd"] = settings.test_cmd
    return item


def suite_name(repo: str, path: Path) -> str:
    """The ``<name>`` of instance ids: the repository's folder or the URL's last part."""
    last = repo.rstrip("/").rsplit("/", 1)[-1] if is_url(repo) else path.name
    return last.removesuffix(".git") or "repo"


Rewrite = Callable[[str], tuple[str, str]]  # commit message -> (statement, model name)


def statement_model(path: Path, settings: Settings) -> Rewrite:
    """``--statement model``: the commit message rewritten into a task statement by the
    model named (else the one the project configures at HEAD), built before any commit
    runs, so a wrong name or a missing key stops the command at once."""
    config = load_config(path, "HEAD")
    name = settings.model or config.model or DEFAULT_MODEL
    model = get_model(name, ModelConfig(key_env=config.model_key_env, timeout=config.model_timeout))
    system = STATEMENT.read_text()

    def rewrite(message: str) -> tuple[str, str]:
        messages = [{"role": "system", "content": system}, {"role": "user", "content": message}]
        text = model.query(messages, sampling=Sampling(temperature=0)).content.strip()
        if not text:
            raise UsageError(f"model {name} answered an empty statement: try another --model")
        return text + "\n", name

    return rewrite


def from_history(
    repo: str,
    out: Path,
    settings: Settings,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Mine, verify and write the suite; return the report (``progress`` hears which
    commit runs)."""
    check_settings(settings, out)
    stamp = since_stamp(settings.since)
    since = f" since {settings.since}" if settings.since else ""
    with opened(repo) as path:
        shas = commits(path, stamp)
        if not shas:
            raise UsageError(f"{repo} has no commits{since}: give an earlier --since")
        found = candidates(path, shas, settings.max)
        if not found:
            raise UsageError(
                f"no commits change code and tests together{since} in {repo}: nothing to verify"
            )
        name = suite_name(repo, path)
        rewrite = statement_model(path, settings) if settings.statement == "model" else None
        rows, written = [], 0
        out.write_text("")  # each instance is added once verified: a failure keeps them
        for candidate in found:
            if progress:
                progress(f"verifying {candidate.sha[:10]} {candidate.subject[:60]}")
            verdict, item = judge(path, candidate, settings, repo_field(repo, out), name)
            rows.append(row(candidate, verdict))
            if item is not None:
                if rewrite is not None:
                    try:
                        item["problem_statement"], model = rewrite(candidate.message)
                    except ModelError as exc:
                        raise ModelError(
                            f"{exc} (the {written} instance(s) verified before "
                            f"{candidate.sha[:10]} are in {out})"
                        ) from exc
                    item.update(
                        statement_source="model",
                        statement_model=model,
                        commit_message=candidate.message,
                    )
                with out.open("a") as file:
                    file.write(json.dumps(item) + "\n")
                written += 1
    return summary(repo, len(shas), rows, out)


def judge(
    path: Path, candidate: Candidate, settings: Settings, repo: str, name: str
) -> tuple[Verdict, dict[str, Any] | None]:
    """The verdict on one candidate and, when verified, its instance. A configuration
    at the parent that does not parse, or test ids ``eval run`` cannot grade, reject
    the commit instead of stopping the command."""
    try:
        config = configured(path, candidate.parent, settings)
    except ConfigError as exc:
        return Verdict(kind=SETUP, reason=f"the configuration at the parent: {exc}"), None
    trial = Trial(path, candidate.parent, candidate.patch, candidate.test_patch, candidate.tests)
    verdict = verify(trial, config, reruns=settings.reruns)
    if not verdict.verified:
        return verdict, None
    item = instance(candidate, verdict, repo, name, settings)
    try:
        check_instance(item, item["instance_id"])  # what eval run will read
    except UsageError as exc:
        return Verdict(kind=UNGRADABLE, reason=str(exc)), None
    return verdict, item


def configured(path: Path, base: str, settings: Settings) -> ProjectConfig:
    """The project's configuration at the parent, with what the command line sets."""
    config = load_config(path, base)
    if settings.install is not None:
        config.setup = list(settings.install)
    if settings.test_cmd is not None:
        config.test_cmd = settings.test_cmd
    if settings.environment is not None:
        config.environment = settings.environment
    return config


def row(candidate: Candidate, verdict: Verdict) -> dict[str, Any]:
    return {
        "commit": candidate.sha,
        "subject": candidate.subject,
        "verified": verdict.verified,
        "rejected": verdict.kind,
        "reason": verdict.reason,
        "fail_to_pass": len(verdict.fail_to_pass),
        "pass_to_pass": len(verdict.pass_to_pass),
    }


def summary(repo: str, scanned: int, rows: list[dict[str, Any]], out: Path) -> dict[str, Any]:
    rejected: dict[str, int] = {}
    for r in rows:
        if r["rejected"]:
            rejected[r["rejected"]] = rejected.get(r["rejected"], 0) + 1
    return {
        "repo": repo,
        "commits": scanned,
        "candidates": len(rows),
        "verified": sum(r["verified"] for r in rows),
        "rejected": dict(sorted(rejected.items())),
        "out": str(out),
        "results": rows,
    }
