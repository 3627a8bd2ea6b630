"""`eval from-history`: mining, splitting and verifying commits, on a synthetic history,
on a history assembled from six's PyPI releases, and on overnight's own history."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from overnight.cli import main
from overnight.cli.eval import history_lines
from overnight.errors import ModelError, UsageError
from overnight.eval_history import (
    Settings,
    candidates,
    commits,
    from_history,
    is_code_path,
    is_test_module,
    is_test_path,
    repo_field,
)
from overnight.evaluation import load_instances, read_instances, submit_instances
from overnight.store import Store
from overnight.testing import make_repo
from overnight.testing.llm_server import Fail, Say, ScriptedLLMServer
from overnight.testing.repos import commit_all, write_files
from overnight.workspace.git import git

SIX = Path(__file__).parent / "fixtures" / "history"
SIX_RELEASES = ("1.12.0", "1.13.0", "1.14.0")
INHERIT = Settings(environment="inherit", reruns=1)

CALC = "def add(a, b):\n    return a + b\n"
TESTS = "import calc\n\n\ndef test_add():\n    assert calc.add(2, 3) == 5\n"


def good_repo(path: Path) -> tuple[Path, str]:
    """A repository whose one commit after the first adds ``mul`` and its test."""
    repo = make_repo(path, {"calc.py": CALC, "tests/test_calc.py": TESTS})
    write_files(
        repo,
        {
            "calc.py": CALC + "\n\ndef mul(a, b):\n    return a * b\n",
            "tests/test_calc.py": TESTS + "\n\ndef test_mul():\n    assert calc.mul(2, 3) == 6\n",
        },
    )
    return repo, commit_all(repo, "Add mul\n\nMultiplication was missing.")


def synthetic(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A repository whose history holds one good commit, one whose tests pass before
    it, one flaky (a counter file outside the clone flips a test) and one code-only.
    Returns (repo, subject -> sha)."""
    repo, good = good_repo(tmp_path / "calc")
    shas = {"good": good}
    write_files(
        repo,
        {
            "calc.py": (repo / "calc.py").read_text().replace("a + b", "sum((a, b))"),
            "tests/test_calc.py": (repo / "tests/test_calc.py").read_text()
            + "\n\ndef test_add_negative():\n    assert calc.add(-1, -2) == -3\n",
        },
    )
    shas["passes before"] = commit_all(repo, "add: written with sum")
    counter = tmp_path / "counter"
    write_files(
        repo,
        {
            "calc.py": (repo / "calc.py").read_text() + "\n\ndef sub(a, b):\n    return a - b\n",
            "tests/test_sub.py": (
                "import pathlib\n\nimport calc\n\n\ndef test_sub():\n"
                "    assert calc.sub(3, 2) == 1\n\n\ndef test_counter():\n"
                f"    path = pathlib.Path({str(counter)!r})\n"
                "    n = int(path.read_text()) if path.exists() else 0\n"
                "    path.write_text(str(n + 1))\n"
                "    assert n % 2 == 0\n"
            ),
        },
    )
    shas["flaky"] = commit_all(repo, "Add sub")
    write_files(repo, {"calc.py": '"""Arithmetic."""\n' + (repo / "calc.py").read_text()})
    shas["code only"] = commit_all(repo, "calc: a docstring")
    return repo, shas


def test_paths_are_split_into_tests_and_code() -> None:
    assert is_test_path("tests/helpers.py") and not is_test_module("tests/helpers.py")
    assert is_test_path("pkg/conftest.py") and not is_test_module("pkg/conftest.py")
    assert is_test_module("pkg/test_x.py") and is_test_module("x_test.py")
    assert is_code_path("pkg/x.py") and not is_code_path("README.md")
    assert not is_code_path("tests/data.py")


def test_candidates_split_like_swebench(tmp_path: Path) -> None:
    repo, shas = synthetic(tmp_path)
    found = candidates(repo, commits(repo, None), None)
    assert [c.sha for c in found] == [shas["flaky"], shas["passes before"], shas["good"]]
    good = found[-1]
    assert good.parent == git(["rev-parse", f"{shas['good']}^"], repo)
    assert good.tests == ["tests/test_calc.py"]
    assert "diff --git a/calc.py b/calc.py" in good.patch and "tests/" not in good.patch
    assert "diff --git a/tests/test_calc.py" in good.test_patch and "calc.py b/calc.py" not in (
        good.test_patch
    )
    assert good.message == "Add mul\n\nMultiplication was missing.\n"
    assert [c.sha for c in candidates(repo, commits(repo, None), 1)] == [shas["flaky"]]


@pytest.mark.slow
def test_from_history_verifies_and_rejects_with_reasons(tmp_path: Path, home: Path) -> None:
    repo, shas = synthetic(tmp_path)
    out = tmp_path / "suite.jsonl"
    report = from_history(str(repo), out, INHERIT)
    assert (report["commits"], report["candidates"], report["verified"]) == (5, 3, 1)
    assert report["rejected"] == {"flaky": 1, "tests pass without the change": 1}
    by_sha = {r["commit"]: r for r in report["results"]}
    assert by_sha[shas["good"]]["verified"]
    assert "tests/test_sub.py::test_counter changed outcome" in by_sha[shas["flaky"]]["reason"]
    assert by_sha[shas["passes before"]]["rejected"] == "tests pass without the change"
    (item,) = load_instances(out)
    assert item["instance_id"] == f"calc__{shas['good'][:10]}"
    assert item["base_commit"] == git(["rev-parse", f"{shas['good']}^"], repo)
    assert item["FAIL_TO_PASS"] == ["tests/test_calc.py::test_mul"]
    assert item["PASS_TO_PASS"] == ["tests/test_calc.py::test_add"]
    assert item["problem_statement"].startswith("Add mul\n")
    assert item["repo"] == str(repo)


def test_a_collection_error_at_the_base_rejects_the_commit(tmp_path: Path, home: Path) -> None:
    repo = make_repo(tmp_path / "calc", {"calc.py": CALC, "tests/test_calc.py": TESTS})
    write_files(
        repo,
        {
            "calc.py": CALC + "\n\ndef mul(a, b):\n    return a * b\n",
            "tests/test_calc.py": "from calc import mul\n\n\ndef test_mul():\n"
            "    assert mul(2, 3) == 6\n",
        },
    )
    commit_all(repo, "Add mul")
    report = from_history(str(repo), tmp_path / "out.jsonl", INHERIT)
    (result,) = report["results"]
    assert result["rejected"] == "tests cannot run at the base"
    assert "tests/test_calc.py cannot be collected" in result["reason"]
    assert "ImportError" in result["reason"]
    assert (tmp_path / "out.jsonl").read_text() == ""


def test_a_configuration_that_does_not_parse_rejects_the_commit(tmp_path: Path, home: Path) -> None:
    repo = make_repo(
        tmp_path / "calc",
        {"calc.py": CALC, "tests/test_calc.py": TESTS, "overnight.toml": "setup = [\n"},
    )
    write_files(repo, {"calc.py": CALC + "# more\n", "tests/test_calc.py": TESTS + "# more\n"})
    commit_all(repo, "both")
    (result,) = from_history(str(repo), tmp_path / "out.jsonl", INHERIT)["results"]
    assert result["rejected"] == "setup fails"
    assert "the configuration at the parent: overnight.toml" in result["reason"]


def test_bad_input_is_one_line(tmp_path: Path, home: Path) -> None:
    with pytest.raises(UsageError, match="is not a git repository"):
        from_history(str(tmp_path), tmp_path / "o.jsonl", INHERIT)
    repo = make_repo(tmp_path / "r", {"calc.py": CALC, "tests/test_calc.py": TESTS})
    write_files(repo, {"calc.py": CALC + "# more\n"})
    commit_all(repo, "code only")
    with pytest.raises(UsageError, match="no commits change code and tests together"):
        from_history(str(repo), tmp_path / "o.jsonl", INHERIT)
    with pytest.raises(UsageError, match="has no commits since 2999-01-01"):
        from_history(str(repo), tmp_path / "o.jsonl", Settings(since="2999-01-01"))
    with pytest.raises(UsageError, match="--install runs nothing with --environment inherit"):
        from_history(
            str(repo), tmp_path / "o.jsonl", Settings(environment="inherit", install=["x"])
        )
    with pytest.raises(UsageError, match="add it, or drop --model"):
        from_history(str(repo), tmp_path / "o.jsonl", Settings(model="local:x"))
    with pytest.raises(UsageError, match="does not exist: create it"):
        from_history(str(repo), tmp_path / "no" / "o.jsonl", INHERIT)
    with pytest.raises(UsageError, match="YYYY-MM-DD"):
        from_history(str(repo), tmp_path / "o.jsonl", Settings(since="last week"))


@pytest.mark.slow
def test_cli_prints_json_and_a_line_per_commit(tmp_path: Path, store: Store) -> None:
    repo, sha = good_repo(tmp_path / "calc")
    out = tmp_path / "suite.jsonl"
    url = f"file://{repo}"  # a URL is cloned into a temporary folder
    args = ["eval", "from-history", url, "--environment", "inherit", "--rerun", "1"]
    result = CliRunner().invoke(main, [*args, "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert (data["commits"], data["candidates"], data["verified"]) == (2, 1, 1)
    # eval run takes it as it is: the repository found, the base pinned, the task queued
    assert load_instances(out)[0]["repo"] == url
    ids = submit_instances(store, out, read_instances(out), agent=None)
    assert list(ids) == [f"calc__{sha[:10]}"]
    rejected = {**data["results"][0], "verified": False, "rejected": "flaky", "reason": "x::t"}
    lines = history_lines(
        {**data, "results": [*data["results"], rejected], "rejected": {"flaky": 1}}
    )
    assert lines[0] == f"{sha[:10]} Add mul: verified: 1 FAIL_TO_PASS, 1 PASS_TO_PASS"
    assert lines[1] == f"{sha[:10]} Add mul: rejected (flaky): x::t"
    assert (
        lines[2]
        == f"1 candidate(s) in 2 commit(s): 1 verified, written to {out}; rejected: flaky 1"
    )
    result = CliRunner().invoke(main, [*args, "--since", "2999-01-01", "--out", str(out)])
    assert result.exit_code != 0
    assert f"{url} has no commits since 2999-01-01: give an earlier --since" in result.output


@pytest.mark.slow
def test_a_model_failing_midway_keeps_the_instances_verified_before(
    tmp_path: Path, home: Path
) -> None:
    repo, _ = good_repo(tmp_path / "calc")
    write_files(
        repo,
        {
            "calc.py": (repo / "calc.py").read_text() + "\n\ndef neg(a):\n    return -a\n",
            "tests/test_neg.py": "import calc\n\n\ndef test_neg():\n    assert calc.neg(2) == -2\n",
        },
    )
    newest = commit_all(repo, "Add neg")
    out = tmp_path / "suite.jsonl"
    # newest first: neg's statement is written, then the model fails on mul's
    with ScriptedLLMServer([Say("Negation is missing."), Fail(401)]) as server:
        settings = Settings(environment="inherit", reruns=1, statement="model")
        settings.model = server.model_name
        with pytest.raises(ModelError) as failed:
            from_history(str(repo), out, settings)
    assert "the 1 instance(s) verified before" in str(failed.value)
    assert str(out) in str(failed.value)
    (item,) = load_instances(out)
    assert item["instance_id"].endswith(newest[:10])
    assert item["problem_statement"].startswith("Negation is missing.")


@pytest.mark.slow
def test_statement_model_rewrites_and_records(tmp_path: Path, home: Path) -> None:
    repo, _ = good_repo(tmp_path / "calc")
    out = tmp_path / "suite.jsonl"
    with ScriptedLLMServer([Say("Multiplication is missing\n\ncalc cannot multiply.")]) as server:
        settings = Settings(environment="inherit", reruns=1, statement="model")
        settings.model = server.model_name
        report = from_history(str(repo), out, settings)
        asked = server.requests[0].body["messages"][-1]["content"]
    assert report["verified"] == 1
    assert asked == "Add mul\n\nMultiplication was missing.\n"
    (item,) = load_instances(out)
    assert item["problem_statement"] == "Multiplication is missing\n\ncalc cannot multiply.\n"
    assert item["statement_source"] == "model"
    assert item["statement_model"] == server.model_name
    assert item["commit_message"] == asked


def test_a_relative_repo_is_written_relative_to_the_suite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "calc").mkdir()
    monkeypatch.chdir(tmp_path)
    written = repo_field("calc", Path("suites/s.jsonl"))
    assert written == "../calc"
    assert (tmp_path / "suites" / written).resolve() == tmp_path / "calc"
    assert repo_field(str(tmp_path / "calc"), Path("s.jsonl")) == str(tmp_path / "calc")
    assert repo_field("https://example.com/a/calc.git", Path("s.jsonl")).startswith("https://")


def six_history(tmp_path: Path) -> Path:
    """A repository with one commit per six release, in order, each the release's tree."""
    repo = tmp_path / "six"
    for n, version in enumerate(SIX_RELEASES):
        with tarfile.open(SIX / f"six-{version}.tar.gz") as archive:
            archive.extractall(tmp_path / "sdists", filter="data")
        tree = tmp_path / "sdists" / f"six-{version}"
        files = {
            str(p.relative_to(tree)): p.read_bytes()
            for p in sorted(tree.rglob("*"))
            if p.is_file() and "egg-info" not in p.parts and p.name != "PKG-INFO"
        }
        if n == 0:
            make_repo(repo, files)
            continue
        for old in git(["ls-files"], repo).splitlines():
            (repo / old).unlink()
        write_files(repo, files)
        commit_all(repo, f"six {version}")
    return repo


@pytest.mark.slow
def test_six_releases_give_a_verified_instance(tmp_path: Path, home: Path) -> None:
    repo = six_history(tmp_path)
    out = tmp_path / "six.jsonl"
    # six's setup.py names pytest only in tests_require, which installs nothing
    install = ["python -m pip install -e .", "python -m pip install pytest"]
    report = from_history(str(repo), out, Settings(reruns=1, install=install))
    assert report["candidates"] == 2, report
    assert report["verified"] >= 1, report
    items = {item["instance_id"]: item for item in load_instances(out)}
    assert all(item["FAIL_TO_PASS"] and item["install"] == install for item in items.values())
    release = {r["subject"]: r["commit"] for r in report["results"]}["six 1.13.0"]
    # 1.13.0 made with_metaclass work with PEP 560 classes (typing's generics)
    assert (
        "test_six.py::test_with_metaclass_pep_560" in items[f"six__{release[:10]}"]["FAIL_TO_PASS"]
    )


# overnight's own: the test-integrity gate learning that a module named like the standard
# library's is a finding; tests/test_integrity.py runs in a few seconds
OWN_COMMIT = "5a039a1bf902dcbc7a69b6a9870464a61f126ff3"
OWN_TEST = "tests/test_integrity.py::test_a_new_module_shadowing_pytest_or_the_standard_library_is_a_finding"


@pytest.mark.slow
def test_overnight_own_history(tmp_path: Path, home: Path) -> None:
    root = Path(git(["rev-parse", "--show-toplevel"], Path(__file__).parent))
    shallow = git(["rev-parse", "--is-shallow-repository"], root) == "true"
    assert not shallow, (
        f"{root} is a shallow clone: run 'git fetch --unshallow' to test on its history"
    )
    known = git(["cat-file", "-t", OWN_COMMIT], root, check=False)
    assert known == "commit", (
        f"{root} lacks commit {OWN_COMMIT[:10]}: fetch overnight's full history"
    )
    clone = tmp_path / "overnight"
    git(["clone", "--quiet", "--no-checkout", str(root), str(clone)])
    git(["update-ref", "HEAD", OWN_COMMIT], clone)  # the known commit is the newest
    out = tmp_path / "own.jsonl"
    report = from_history(str(clone), out, Settings(max=1, reruns=1, environment="inherit"))
    assert report["verified"] == 1, report
    (item,) = load_instances(out)
    assert item["base_commit"] == git(["rev-parse", f"{OWN_COMMIT}^"], root)
    assert OWN_TEST in item["FAIL_TO_PASS"]
    assert len(item["PASS_TO_PASS"]) > 5
    assert item["problem_statement"].startswith("test-integrity: a new module named like")
