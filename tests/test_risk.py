"""The review queue's risk score: it ranks changes by what a reviewer should
fear (sensitive paths, code without tests, risky calls, warnings), not by
size alone, and says what each point is for."""

from __future__ import annotations

import pytest

from overnight.risk import assess


def diff(path: str, removed: list[str], added: list[str]) -> str:
    return (
        f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n"
        f"@@ -10,{len(removed)} +10,{len(added)} @@\n"
        + "".join(f"-{line}\n" for line in removed)
        + "".join(f"+{line}\n" for line in added)
    )


README_TYPO = diff("README.md", ["Teh tool runs overnight."], ["The tool runs overnight."])
DOCSTRING_TYPO = diff("calc.py", ['    """Retrun the sum."""'], ['    """Return the sum."""'])
AUTH = diff(
    "app/auth.py",
    ["    if user.password == given:"],
    [
        "    if hmac.compare_digest(user.password, given):",
        "        audit(user)",
        "        return True",
    ],
)
MUL = diff("calc.py", [], ["", "", "def mul(a, b):", "    return a * b"])


def test_a_typo_fix_in_a_readme_or_docstring_ranks_below_a_change_to_authentication():
    readme, docstring, auth = (assess(d, [], 1, 0) for d in (README_TYPO, DOCSTRING_TYPO, AUTH))

    assert readme.score < docstring.score < auth.score
    assert readme.level == docstring.level == "low"
    assert auth.level in ("medium", "high")
    assert [p.name for p in auth.parts][0] == "sensitive"
    assert "sensitive path(s): app/auth.py" in auth.reasons


def test_a_four_line_change_is_not_high_by_itself():
    plain = assess(MUL, [], 1, 0)
    tested = assess(
        MUL + diff("tests/test_calc.py", [], ["def test_mul():", "    assert mul(2, 3) == 6"]),
        [],
        1,
        0,
    )

    assert plain.level == "low" and plain.stats.lines == 4
    assert [p.name for p in plain.parts] == ["size", "untested"]
    assert tested.score < plain.score and "untested" not in [p.name for p in tested.parts]


def test_several_signals_together_make_a_change_high_and_each_is_explained():
    risky = diff(
        "app/session.py", [], ["import pickle", "def load(b):", "    return pickle.loads(b)"]
    )

    risk = assess(risky, ["docs", "coverage"], attempts=3, change_requests=1, coverage=40.0)

    assert risk.level == "high"
    points = {p.name: p.points for p in risk.parts}
    assert points["risky calls"] == 2.0 and points["warnings"] == 2.0
    assert points["attempts"] == 1.0 and points["reviews"] == 1.0 and points["coverage"] == 1.2
    assert risk.score == round(sum(points.values()), 1)
    assert "adds app/session.py: pickle.loads" in risk.reasons
    assert "advisory warning(s): docs, coverage" in risk.reasons


def test_size_grows_slowly_and_is_capped():
    small, big, huge = (
        assess(diff("app.py", [], ["x = 1"] * n), [], 1, 0) for n in (4, 300, 30_000)
    )

    size = [next(p.points for p in r.parts if p.name == "size") for r in (small, big, huge)]

    assert size[0] < 1 < size[1] <= size[2] == 3.0
    assert huge.level == "medium"  # size alone never makes a change high


def test_a_removed_line_that_looks_like_a_header_is_counted_as_a_removed_line():
    tricky = diff("notes.txt", ["-- a", "diff --git a/x b/x"], ["ok"])

    stats = assess(tricky, [], 1, 0).stats

    assert stats.files == ["notes.txt"] and (stats.added, stats.removed) == (1, 2)


@pytest.mark.parametrize(
    ("path", "sensitive"),
    [
        ("app/auth.py", True),
        ("src/UserAuth.java", True),
        ("lib/crypto/aes.py", True),
        ("db/migrations/0002_users.py", True),
        (".github/workflows/ci.yml", True),
        ("requirements-dev.txt", True),
        ("sso/views.py", True),
        ("blog/author.py", False),
        ("nlp/tokenizer.py", False),
        ("db/oracle.py", False),
        ("core/processor.py", False),
        ("calc.py", False),
    ],
)
def test_sensitive_paths_are_named_and_look_alikes_are_not(path, sensitive):
    risk = assess(diff(path, ["a = 1"], ["a = 2"]), [], 1, 0)

    assert ("sensitive" in [p.name for p in risk.parts]) is sensitive
