"""Spec parsing and `spec lint`: every problem is reported with its line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from overnight.errors import SpecError
from overnight.spec import Problem, Spec, lint_text, load_spec, parse_spec
from overnight.spec.limits import MAX_SPEC_CHARS
from overnight.spec.model import Budget, Dependency, Scope, TestPatch, slugify

TEST_PATCH = """--- /dev/null
+++ b/tests/test_mul.py
@@ -0,0 +1,2 @@
+def test_mul():
+    assert True
"""


def spec_text(front: str, body: str = "Add `mul(a, b)` to calc.py.\n") -> str:
    return f"---\n{front}---\n{body}"


GOOD = spec_text("title: Add mul\nacceptance:\n  - tests: tests/test_mul.py::test_mul\n")


def errors(text: str, base_dir: Path | None = None) -> list[tuple[int, str]]:
    return [(p.line, p.message) for p in lint_text(text, base_dir) if p.severity == "error"]


def warnings(text: str, base_dir: Path | None = None) -> list[tuple[int, str]]:
    return [(p.line, p.message) for p in lint_text(text, base_dir) if p.severity == "warning"]


def only_error(text: str, base_dir: Path | None = None) -> tuple[int, str]:
    found = errors(text, base_dir)
    assert len(found) == 1, found
    return found[0]


# -- a good spec ---------------------------------------------------------------


def test_a_precise_spec_has_no_problems_and_builds_the_model():
    spec, problems = parse_spec(GOOD)
    assert problems == []
    assert spec is not None
    assert spec.title == "Add mul"
    assert spec.description == "Add `mul(a, b)` to calc.py."
    assert spec.acceptance_tests == ["tests/test_mul.py::test_mul"]
    assert spec.regression == "all"
    assert spec.budget == Budget()
    assert spec.priority == 0


def test_every_field_is_read_into_the_model(tmp_path):
    (tmp_path / "t.patch").write_text(TEST_PATCH)
    text = spec_text(
        "title: Add mul\n"
        "repo: ../calc\n"
        "base: v1.0\n"
        "acceptance:\n"
        "  - tests: [tests/test_mul.py::test_mul, 'tests/test_mul.py::test_p[a b]']\n"
        "  - run: python -c 'import calc'\n"
        "  - test_patch: t.patch\n"
        "    hidden: true\n"
        "regression: none\n"
        "scope: {allow: ['calc.py'], deny: 'tests/**'}\n"
        "budget: {attempts: 2, minutes: 5, usd: 1.5, tokens: 1000}\n"
        "priority: 3\n"
        "depends_on: 7\n"
        "agent: 'command:true'\n"
        "setup: pip install -e .\n"
        "test_cmd: python -m pytest -x\n"
    )
    spec, problems = parse_spec(text, tmp_path)
    assert problems == []
    assert spec is not None
    assert (spec.repo, spec.base, spec.agent) == ("../calc", "v1.0", "command:true")
    assert spec.acceptance_tests == [
        "tests/test_mul.py::test_mul",
        "tests/test_mul.py::test_p[a b]",
    ]
    assert spec.acceptance_commands == ["python -c 'import calc'"]
    assert spec.test_patches == [TestPatch(path="t.patch", text=TEST_PATCH, hidden=True)]
    assert spec.regression == "none"
    assert spec.scope == Scope(allow=["calc.py"], deny=["tests/**"])
    assert spec.budget == Budget(attempts=2, minutes=5.0, usd=1.5, tokens=1000)
    assert spec.priority == 3
    assert spec.depends_on == [Dependency(task=7)]
    assert spec.setup == ["pip install -e ."]
    assert spec.test_cmd == "python -m pytest -x"


def test_problem_format_is_file_line_severity_message():
    assert Problem(4, "bad thing").format("a.md") == "a.md:4: error: bad thing"
    assert Problem(2, "meh", "warning").format("a.md") == "a.md:2: warning: meh"


# -- structure and YAML --------------------------------------------------------


def test_text_without_front_matter_is_an_error_on_line_1():
    line, message = only_error("just a description\n")
    assert line == 1
    assert "front matter" in message


def test_yaml_syntax_error_reports_file_line_and_column():
    text = "---\ntitle: Add mul\n  bad: [\nacceptance: []\n---\nbody\n"
    line, message = only_error(text)
    assert line == 3
    assert message.startswith("YAML error at column 6:")
    assert "mapping values are not allowed" in message


def test_unclosed_flow_list_is_a_yaml_error_with_its_line():
    text = "---\ntitle: Add mul\nacceptance:\n  - tests: [a.py::t\n---\nbody\n"
    line, message = only_error(text)
    assert line >= 4
    assert message.startswith("YAML error at column")


def test_front_matter_that_is_never_closed_is_one_error_on_line_1():
    text = "---\ntitle: Add mul\nacceptance:\n  - run: 'true'\n\nAdd mul, to calc.\n"
    assert only_error(text) == (
        1,
        "the front matter opened here is never closed: put a line '---' after "
        "the last field, then the description",
    )


def test_windows_line_endings_are_read_like_any_other():
    spec, problems = parse_spec(GOOD.replace("\n", "\r\n"))
    assert problems == []
    assert spec is not None and spec.acceptance_tests == ["tests/test_mul.py::test_mul"]


def test_front_matter_that_is_not_a_mapping_is_an_error():
    assert only_error("---\n- a\n- b\n---\nbody\n") == (
        2,
        "front matter must be a mapping of fields",
    )


def test_unknown_field_names_its_line_and_suggests_the_close_one():
    text = spec_text(
        "title: Add mul\nacceptance:\n  - tests: tests/test_mul.py::test_mul\npriorty: 2\n"
    )
    assert only_error(text) == (5, "unknown field 'priorty' (did you mean 'priority'?)")


def test_unknown_field_far_from_any_known_one_has_no_suggestion():
    text = spec_text(
        "title: Add mul\nzzz_qqq: 1\nacceptance:\n  - tests: tests/test_mul.py::test_mul\n"
    )
    assert only_error(text) == (3, "unknown field 'zzz_qqq'")


def test_misspelled_acceptance_is_unknown_and_acceptance_is_missing():
    text = spec_text("title: Add mul\nacceptence:\n  - tests: tests/test_mul.py::test_mul\n")
    found = errors(text)
    assert (3, "unknown field 'acceptence' (did you mean 'acceptance'?)") in found
    assert any(line == 2 and "no acceptance criteria" in m for line, m in found)
    assert len(found) == 2


# -- types ---------------------------------------------------------------------


def test_title_that_is_not_a_string_is_one_error_on_its_line():
    text = spec_text("acceptance:\n  - run: 'true'\ntitle: [a, b]\n")
    assert only_error(text) == (4, "'title' must be a string, not a list")


def test_missing_title_is_required():
    line, message = only_error(spec_text("acceptance:\n  - run: 'true'\n"))
    assert line == 2
    assert message.startswith("'title' is required")


def test_priority_must_be_an_integer():
    text = spec_text("title: Add mul\npriority: high\nacceptance:\n  - run: 'true'\n")
    assert only_error(text) == (3, "'priority' must be an integer")


def test_priority_true_is_not_an_integer():
    text = spec_text("title: Add mul\npriority: true\nacceptance:\n  - run: 'true'\n")
    assert only_error(text) == (3, "'priority' must be an integer")


def test_budget_problems_point_at_their_own_lines():
    text = spec_text(
        "title: Add mul\n"
        "acceptance:\n"
        "  - run: 'true'\n"
        "budget:\n"
        "  attempts: 0\n"
        "  minutes: -1\n"
        "  usd: lots\n"
        "  tokens: 1.5\n"
        "  dollars: 3\n"
    )
    assert errors(text) == [
        (6, "'budget.attempts' must be at least 1"),
        (7, "'budget.minutes' must be a positive number"),
        (8, "'budget.usd' must be a positive number"),
        (9, "'budget.tokens' must be an integer"),
        (10, "unknown field 'budget.dollars'"),
    ]


def test_budget_attempts_must_be_an_integer():
    text = spec_text("title: Add mul\nacceptance:\n  - run: 'true'\nbudget:\n  attempts: two\n")
    assert only_error(text) == (6, "'budget.attempts' must be an integer")


def test_budget_that_is_not_a_mapping_is_an_error():
    text = spec_text("title: Add mul\nacceptance:\n  - run: 'true'\nbudget: 3\n")
    line, message = only_error(text)
    assert line == 5
    assert message.startswith("'budget' must be a mapping")


def test_scope_problems_point_at_their_lines():
    text = spec_text(
        "title: Add mul\nacceptance:\n  - run: 'true'\nscope:\n  allow: {a: 1}\n  only: x\n"
    )
    assert errors(text) == [
        (6, "'scope.allow' must be a list of glob patterns"),
        (7, "unknown field 'scope.only' (use 'allow' or 'deny')"),
    ]


def test_setup_must_be_a_command_or_a_list_of_commands():
    text = spec_text("title: Add mul\nacceptance:\n  - run: 'true'\nsetup: {pip: x}\n")
    assert only_error(text) == (5, "'setup' must be a command or a list of commands")


# -- acceptance ----------------------------------------------------------------


def test_no_acceptance_at_all_is_an_error():
    line, message = only_error(spec_text("title: Add mul\n"))
    assert line == 2
    assert message.startswith("no acceptance criteria")


def test_acceptance_that_is_not_a_list_is_an_error():
    line, message = only_error(spec_text("title: Add mul\nacceptance: it works\n"))
    assert line == 3
    assert message.startswith("'acceptance' must be a list")


def test_plain_string_acceptance_item_is_not_executable():
    text = spec_text(
        "title: Add mul\nacceptance:\n  - tests: tests/test_mul.py::test_mul\n  - it works\n"
    )
    line, message = only_error(text)
    assert line == 5
    assert message.startswith("acceptance item 'it works' is not executable")


def test_empty_run_command_is_an_error_on_its_item_line():
    text = spec_text("title: Add mul\nacceptance:\n  - run: 'true'\n  - run: '  '\n")
    assert only_error(text) == (5, "'run' must be a non-empty shell command")


def test_bad_node_id_is_an_error_on_its_item_line():
    text = spec_text("title: Add mul\nacceptance:\n  - run: 'true'\n  - tests: test the mul\n")
    assert only_error(text) == (
        5,
        "'test the mul' is not a pytest node id (path/to/test_file.py::test_name)",
    )


@pytest.mark.parametrize(
    "node",
    [
        "tests/test_mul.py",
        "tests/test_mul.py::test_mul",
        "tests/test_mul.py::TestMul::test_mul",
        "tests/test_mul.py::test_p[1-2]",
        "tests/test_mul.py::test_p[a b]",
    ],
)
def test_node_ids_with_classes_params_and_spaces_are_accepted(node):
    spec, problems = parse_spec(spec_text(f"title: Add mul\nacceptance:\n  - tests: '{node}'\n"))
    assert problems == []
    assert spec is not None and spec.acceptance_tests == [node]


def test_acceptance_item_without_a_known_kind_is_an_error():
    text = spec_text("title: Add mul\nacceptance:\n  - run: 'true'\n  - check: it\n")
    found = errors(text)
    assert found == [(5, "acceptance item needs one of 'tests', 'run', 'test_patch'")]


def test_unknown_key_in_an_acceptance_item_is_an_error():
    text = spec_text("title: Add mul\nacceptance:\n  - run: 'true'\n    timeout: 3\n")
    assert only_error(text) == (4, "unknown acceptance key 'timeout'")


def test_test_patch_that_cannot_be_read_is_an_error_naming_the_path(tmp_path):
    text = spec_text(
        "title: Add mul\nacceptance:\n  - tests: tests/test_mul.py::test_mul\n"
        "  - test_patch: missing.patch\n"
    )
    line, message = only_error(text, tmp_path)
    assert line == 5
    assert message == (f"test_patch 'missing.patch' cannot be read at {tmp_path / 'missing.patch'}")


def test_test_patch_that_is_not_a_diff_is_an_error(tmp_path):
    (tmp_path / "notes.txt").write_text("some notes\n")
    text = spec_text(
        "title: Add mul\nacceptance:\n  - tests: tests/test_mul.py::test_mul\n"
        "  - test_patch: notes.txt\n"
    )
    assert only_error(text, tmp_path) == (5, "test_patch 'notes.txt' is not a unified diff")


def test_test_patch_is_read_relative_to_the_spec_and_kept_inline(tmp_path):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "t.patch").write_text(TEST_PATCH)
    text = spec_text(
        "title: Add mul\nacceptance:\n  - tests: tests/test_mul.py::test_mul\n"
        "  - test_patch: t.patch\n"
    )
    spec = load_spec(text, "mul.md", tmp_path / "specs")
    assert spec.test_patches == [TestPatch("t.patch", TEST_PATCH, hidden=False)]


def test_test_patch_whose_tests_are_not_named_is_a_warning(tmp_path):
    (tmp_path / "t.patch").write_text(TEST_PATCH)
    text = spec_text(
        "title: Add mul\nacceptance:\n  - run: 'true'\n  - test_patch: t.patch\n    hidden: true\n"
    )
    assert errors(text, tmp_path) == []
    [(line, message)] = warnings(text, tmp_path)
    assert line == 5
    assert "no 'tests:' item names them" in message


def test_test_patch_alone_has_nothing_to_execute(tmp_path):
    (tmp_path / "t.patch").write_text(TEST_PATCH)
    text = spec_text("title: Add mul\nacceptance:\n  - test_patch: t.patch\n")
    assert only_error(text, tmp_path) == (3, "acceptance has nothing to execute")


def test_hidden_without_test_patch_is_an_error():
    text = spec_text(
        "title: Add mul\nacceptance:\n  - tests: tests/test_mul.py::test_mul\n    hidden: true\n"
    )
    assert only_error(text) == (4, "'hidden' applies only to a 'test_patch' item")


def test_hidden_must_be_a_boolean(tmp_path):
    (tmp_path / "t.patch").write_text(TEST_PATCH)
    text = spec_text(
        "title: Add mul\nacceptance:\n  - tests: tests/test_mul.py::test_mul\n"
        "  - test_patch: t.patch\n    hidden: maybe\n"
    )
    assert only_error(text, tmp_path) == (5, "'hidden' must be true or false")


# -- wording -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "word"),
    [
        ("Improve the parser.\n", "Improve"),
        ("Please clean up calc.py.\n", "clean up"),
        ("Handle ints, floats etc. too.\n", "etc."),
    ],
)
def test_vague_wording_without_criteria_is_an_error_on_its_line(body, word):
    text = spec_text("title: Add mul\nacceptance:\n  - run: 'true'\n", body="Context.\n" + body)
    line, message = only_error(text)
    assert line == 7
    assert message.startswith(f"vague wording '{word}'")


def test_vague_title_is_an_error_on_the_title_line():
    text = spec_text("acceptance:\n  - run: 'true'\ntitle: Improve calc\n", body="Context.\n")
    assert only_error(text)[0] == 4


def test_vague_wording_with_a_bullet_list_of_criteria_is_only_a_warning():
    body = "Clean up calc.py:\n\n- add() keeps its signature\n- no module-level globals\n"
    text = spec_text("title: Tidy calc\nacceptance:\n  - run: 'true'\n", body=body)
    assert errors(text) == []
    found = warnings(text)
    assert [line for line, _ in found] == [2, 6]
    assert all(m.startswith("vague wording") for _, m in found)


def test_words_that_merely_contain_vague_ones_are_fine():
    text = spec_text(
        "title: Add mul\nacceptance:\n  - run: 'true'\n",
        body="Keep the improvements ledger and the cleanupper module as they are.\n",
    )
    assert lint_text(text) == []


def test_empty_description_is_a_warning_on_the_body_line():
    text = spec_text("title: Add mul\nacceptance:\n  - run: 'true'\n", body="")
    assert lint_text(text) == [
        Problem(6, "no description: the agent will see only the title", "warning")
    ]


# -- depends_on and regression -------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("4", [Dependency(4)]),
        ("[4, 5]", [Dependency(4), Dependency(5)]),
        ("[{task: 4, until: merged}]", [Dependency(4, "merged")]),
        ("{task: 4}", [Dependency(4, "ready")]),
    ],
)
def test_depends_on_takes_ids_and_task_until_mappings(value, expected):
    spec, problems = parse_spec(
        spec_text(f"title: Add mul\nacceptance:\n  - run: 'true'\ndepends_on: {value}\n")
    )
    assert problems == []
    assert spec is not None and spec.depends_on == expected


def test_bad_depends_on_entries_point_at_their_items():
    text = spec_text(
        "title: Add mul\nacceptance:\n  - run: 'true'\n"
        "depends_on:\n  - 4\n  - four\n  - {task: 5, until: never}\n"
    )
    found = errors(text)
    assert [line for line, _ in found] == [7, 8]
    assert all("'depends_on' entry must be a task id" in m for _, m in found)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("all", "all"),
        ("none", "none"),
        (
            "[tests/test_calc.py::test_add, tests/t.py]",
            ["tests/test_calc.py::test_add", "tests/t.py"],
        ),
    ],
)
def test_regression_is_all_none_or_a_list_of_node_ids(value, expected):
    spec, problems = parse_spec(
        spec_text(f"title: Add mul\nacceptance:\n  - run: 'true'\nregression: {value}\n")
    )
    assert problems == []
    assert spec is not None and spec.regression == expected


def test_regression_with_another_word_is_an_error():
    text = spec_text("title: Add mul\nacceptance:\n  - run: 'true'\nregression: some\n")
    assert only_error(text) == (5, "'regression' must be 'all', 'none' or a list of test ids")


def test_regression_bad_node_id_points_at_its_item():
    text = spec_text(
        "title: Add mul\nacceptance:\n  - run: 'true'\n"
        "regression:\n  - tests/test_calc.py::test_add\n  - the add tests\n"
    )
    assert only_error(text)[0] == 7


# -- load_spec -----------------------------------------------------------------


def test_load_spec_raises_spec_error_with_every_problem():
    text = spec_text("title: Add mul\npriority: x\nacceptance:\n  - it works\n")
    with pytest.raises(SpecError) as info:
        load_spec(text, "mul.md")
    assert str(info.value).startswith("mul.md has 2 error(s): mul.md:3: error:")
    assert [p.line for p in info.value.problems] == [3, 5]
    assert info.value.exit_code == 2


def test_load_spec_accepts_a_spec_with_only_warnings():
    text = spec_text("title: Add mul\nacceptance:\n  - run: 'true'\n", body="")
    assert load_spec(text).title == "Add mul"


# -- the model -----------------------------------------------------------------


def test_to_dict_and_from_dict_round_trip(tmp_path):
    (tmp_path / "t.patch").write_text(TEST_PATCH)
    text = spec_text(
        "title: Add mul\n"
        "acceptance:\n  - tests: tests/test_mul.py::test_mul\n"
        "  - run: 'true'\n  - test_patch: t.patch\n    hidden: true\n"
        "scope: {allow: [calc.py]}\nbudget: {attempts: 2, usd: 0.5}\n"
        "depends_on: [{task: 1, until: merged}]\nregression: [tests/test_calc.py]\n"
    )
    spec = load_spec(text, base_dir=tmp_path)
    spec.instance_id = "calc-1"
    data = spec.to_dict()
    assert data["budget"] == {"attempts": 2, "minutes": 30.0, "usd": 0.5, "tokens": None}
    assert data["test_patches"] == [{"path": "t.patch", "text": TEST_PATCH, "hidden": True}]
    assert Spec.from_dict(data) == spec
    assert Spec.from_dict(json.loads(json.dumps(data))) == spec


def test_for_agent_leaves_out_hidden_acceptance_tests(tmp_path):
    (tmp_path / "hidden.patch").write_text(TEST_PATCH)
    (tmp_path / "shown.patch").write_text(TEST_PATCH.replace("test_mul.py", "test_div.py"))
    text = spec_text(
        "title: Add mul and div\n"
        "acceptance:\n"
        "  - tests: [tests/test_mul.py::test_mul, tests/test_div.py::test_mul]\n"
        "  - run: python -c 'import calc'\n"
        "  - test_patch: hidden.patch\n    hidden: true\n"
        "  - test_patch: shown.patch\n"
        "scope: {allow: [calc.py], deny: [setup.py]}\n"
    )
    shown = load_spec(text, base_dir=tmp_path).for_agent()
    assert shown.startswith("# Add mul and div\n\nAdd `mul(a, b)` to calc.py.")
    assert "test_mul.py" not in shown
    assert TEST_PATCH not in shown
    assert "- test must pass: `tests/test_div.py::test_mul`" in shown
    assert "- command must exit 0: `python -c 'import calc'`" in shown
    assert "hidden acceptance tests will grade the change" in shown
    assert "- may change: `calc.py`" in shown and "- must not change: `setup.py`" in shown


def test_for_agent_without_hidden_tests_lists_them_all():
    shown = load_spec(GOOD).for_agent()
    assert "- test must pass: `tests/test_mul.py::test_mul`" in shown
    assert "hidden" not in shown


def test_hidden_and_visible_patches_are_split():
    spec = Spec("t", test_patches=[TestPatch("a", "x", True), TestPatch("b", "y", False)])
    assert [p.path for p in spec.hidden_patches] == ["a"]
    assert [p.path for p in spec.visible_patches] == ["b"]


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Add a --json flag!", "add-a-json-flag"),
        ("  Fix   CSV_export (UTF-8)  ", "fix-csv-export-utf-8"),
        ("Ünïcode only ✓", "n-code-only"),
        ("!!!", "task"),
        ("", "task"),
    ],
)
def test_slugify_makes_branch_safe_slugs(title, slug):
    assert slugify(title) == slug


def test_slugify_cuts_at_the_limit_without_a_trailing_dash():
    slug = slugify("word " * 20, limit=12)
    assert slug == "word-word-wo"
    assert slugify("abcde fgh", limit=6) == "abcde"
    assert Spec("Add mul to calc").slug == "add-mul-to-calc"


# -- text that cannot be a spec ------------------------------------------------


def test_bytes_that_are_not_utf8_are_one_error_naming_the_byte_and_line():
    assert lint_text(b"---\ntitle: Add mul\n\xff\xfe\n") == [
        Problem(3, "not UTF-8 text (byte 0xff on line 3): a spec is Markdown; save it as UTF-8")
    ]


def test_a_utf8_byte_order_mark_is_dropped():
    spec, problems = parse_spec(b"\xef\xbb\xbf" + GOOD.encode())
    assert problems == []
    assert spec is not None and spec.title == "Add mul"


def test_a_spec_over_the_limit_is_one_error_whether_text_or_bytes():
    text = GOOD + "x" * (MAX_SPEC_CHARS - len(GOOD) + 1)
    [problem] = lint_text(text)
    assert problem.line == 1
    assert problem.message.startswith(
        f"the spec is too long ({MAX_SPEC_CHARS + 1:,} characters; at most 100,000 characters)"
    )
    assert lint_text(text.encode()) == [problem]
    assert errors(text[:-1]) == []


def test_a_nul_anywhere_in_the_text_is_an_error_on_its_line():
    assert only_error(GOOD + "more\x00\n") == (7, "line 7 holds a NUL character: remove it")


def test_a_nul_written_as_a_yaml_escape_is_an_error_on_its_field():
    text = spec_text('title: Add mul\nacceptance:\n  - run: "true\\0"\n')
    assert only_error(text) == (3, "'acceptance' holds U+0000 (a NUL): remove it")


def test_an_unpaired_surrogate_is_an_error():
    line, message = only_error(GOOD + "\ud800\n")
    assert (line, message) == (7, "line 7 holds an unpaired surrogate: send the spec as UTF-8")


# -- YAML read strictly ----------------------------------------------------------


def test_a_duplicate_key_is_an_error_on_the_second_with_the_first_line():
    text = spec_text("title: Add mul\nacceptance:\n  - run: 'true'\ntitle: Add div\n")
    assert only_error(text) == (5, "duplicate key 'title' (first on line 2): keep one of them")


def test_a_duplicate_key_inside_a_mapping_is_an_error_too():
    text = spec_text(
        "title: Add mul\nacceptance:\n  - run: 'true'\nbudget:\n  usd: 1\n  usd: 100\n"
    )
    assert only_error(text) == (7, "duplicate key 'usd' (first on line 6): keep one of them")


def test_yaml_aliases_are_refused_before_they_expand():
    text = spec_text("title: Add mul\nacceptance:\n  - tests: &t [tests/t.py::a]\n  - tests: *t\n")
    line, message = only_error(text)
    assert line == 5
    assert message.endswith("aliases (*name) are not allowed in a spec: write the value out")


def test_nesting_deeper_than_any_spec_needs_is_an_error_not_a_crash():
    text = spec_text("title: Add mul\nacceptance: " + "[" * 5000 + "]" * 5000 + "\n")
    line, message = only_error(text)
    assert line == 3
    assert message.endswith("nested more than 20 levels deep")


def test_a_value_yaml_cannot_build_is_an_error_with_a_hint_not_a_crash():
    text = spec_text("title: Add mul\nbase: 2024-13-45\nacceptance:\n  - run: 'true'\n")
    assert only_error(text) == (
        3,
        "YAML error at column 7: cannot read '2024-13-45' (month must be in 1..12): "
        "put it in quotes",
    )


def test_a_number_where_a_string_belongs_keeps_what_was_written():
    spec, problems = parse_spec(
        spec_text("title: 2024\nbase: 1.10\nacceptance:\n  - run: 'true'\n")
    )
    assert problems == []
    assert spec is not None and (spec.title, spec.base) == ("2024", "1.10")


def test_a_date_where_a_string_belongs_says_to_quote_it():
    text = spec_text("title: Add mul\nbase: 2024-01-15\nacceptance:\n  - run: 'true'\n")
    assert only_error(text) == (3, "'base' must be a string, not date: put it in quotes")


def test_control_characters_in_a_field_name_are_escaped_in_the_message():
    text = spec_text('title: Add mul\n"a\\nb": 1\nacceptance:\n  - run: "true"\n')
    assert only_error(text) == (3, "unknown field 'a\\nb'")


# -- titles and names ------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "shown"),
    [
        ('"Add\\nmul"', "U+000A (a line break)"),
        ('"Add\\0mul"', "U+0000 (a NUL)"),
        ('"Add\\e[31mmul"', "U+001B (an escape)"),
        ('"Add\\tmul"', "U+0009 (a tab)"),
        ('"Add\\Lmul"', "U+2028 (a line break)"),
    ],
)
def test_a_title_with_a_control_character_is_one_error(title, shown):
    text = spec_text(f"title: {title}\nacceptance:\n  - run: 'true'\n")
    assert only_error(text) == (
        2,
        f"'title' must be one line without control characters; it holds {shown}: "
        "put details in the description",
    )


def test_a_title_longer_than_the_store_holds_is_an_error():
    text = spec_text(f"title: {'é' * 301}\nacceptance:\n  - run: 'true'\n")
    assert only_error(text) == (
        2,
        "'title' is 301 characters long: at most 300 fit (put details in the description)",
    )
    assert errors(spec_text(f"title: {'é' * 300}\nacceptance:\n  - run: 'true'\n")) == []


def test_a_queue_name_longer_than_the_store_holds_is_an_error():
    text = spec_text(f"title: Add mul\nqueue: {'q' * 101}\nacceptance:\n  - run: 'true'\n")
    assert only_error(text)[1].startswith("'queue' is 101 characters long: at most 100 fit")


def test_a_base_longer_than_the_store_holds_is_an_error():
    text = spec_text(f"title: Add mul\nbase: {'b' * 256}\nacceptance:\n  - run: 'true'\n")
    assert only_error(text)[1].startswith("'base' is 256 characters long: at most 255 fit")


def test_a_base_that_looks_like_an_option_is_an_error():
    text = spec_text("title: Add mul\nbase: --all\nacceptance:\n  - run: 'true'\n")
    assert only_error(text) == (
        3,
        "'base' cannot start with '-' (--all): name a branch, tag or commit",
    )


@pytest.mark.parametrize("value", ["''", "'   '", ""])
@pytest.mark.parametrize("field", ["repo", "base", "queue", "test_cmd"])
def test_an_empty_optional_field_is_an_error_saying_what_to_write(field, value):
    text = spec_text(f"title: Add mul\n{field}: {value}\nacceptance:\n  - run: 'true'\n")
    line, message = only_error(text)
    assert line == 3
    assert message.startswith(f"'{field}' is empty: ")
    assert "remove the line" in message


@pytest.mark.parametrize("value", ["''", "'   '", ""])
def test_an_empty_agent_is_an_error(value):
    text = spec_text(f"title: Add mul\nagent: {value}\nacceptance:\n  - run: 'true'\n")
    assert only_error(text) == (
        3,
        "'agent' is empty: name one ('builtin', 'builtin:<model>' or "
        "'command:<shell command>'), or remove the line to use the configured one",
    )


@pytest.mark.parametrize("agent", ["bogus", "bogus:thing", "command:", "command:   ", "Builtin"])
def test_an_unknown_agent_kind_is_an_error_at_lint(agent):
    text = spec_text(f"title: Add mul\nagent: '{agent}'\nacceptance:\n  - run: 'true'\n")
    line, message = only_error(text)
    assert line == 3
    assert message.startswith(f"unknown agent '{agent.strip()}': use 'builtin'")


@pytest.mark.parametrize("agent", ["builtin", "builtin:openai:gpt-4o", "command:aider --yes"])
def test_known_agent_kinds_pass_lint(agent):
    text = spec_text(f"title: Add mul\nagent: '{agent}'\nacceptance:\n  - run: 'true'\n")
    assert errors(text) == []


@pytest.mark.parametrize(
    ("repo", "says"),
    [
        ("-uhoh", "repository '-uhoh' starts with '-': write a path as ./-uhoh, or give a URL"),
        ("foo://host/x", "repository 'foo://host/x' has an unknown URL scheme 'foo'"),
        ("file://otherhost/x", "repository 'file://otherhost/x' names host 'otherhost'"),
    ],
)
def test_a_repo_written_in_a_form_git_cannot_use_is_an_error_at_lint(repo, says):
    text = spec_text(f"title: Add mul\nrepo: '{repo}'\nacceptance:\n  - run: 'true'\n")
    line, message = only_error(text)
    assert line == 3
    assert message.startswith(says)


def test_an_empty_setup_command_is_an_error():
    text = spec_text("title: Add mul\nsetup: ['pip install -e .', ' ']\nacceptance:\n  - run: x\n")
    assert only_error(text) == (3, "'setup' has an empty command: remove it, or write the command")


def test_an_empty_scope_pattern_is_an_error():
    text = spec_text("title: Add mul\nscope: {allow: ['']}\nacceptance:\n  - run: 'true'\n")
    assert only_error(text)[1].startswith("'scope.allow' has an empty pattern")


def test_node_ids_are_kept_without_surrounding_spaces_and_never_span_lines():
    text = spec_text(
        'title: Add mul\nacceptance:\n  - tests: ["  tests/t.py::a ", "t.py::b\\nc"]\n'
    )
    assert only_error(text) == (
        4,
        "'t.py::b\\nc' is not a pytest node id (path/to/test_file.py::test_name)",
    )
    spec = load_spec(spec_text("title: Add mul\nacceptance:\n  - tests: ' tests/t.py::a '\n"))
    assert spec.acceptance_tests == ["tests/t.py::a"]


# -- numbers within what the store holds and a run can spend -------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (2**31, "'priority' must be at most 2147483647"),
        (-(2**31) - 1, "'priority' must be at least -2147483648"),
        (10**30, "'priority' must be at most 2147483647"),
    ],
)
def test_priority_beyond_the_database_integer_is_an_error(value, message):
    text = spec_text(f"title: Add mul\npriority: {value}\nacceptance:\n  - run: 'true'\n")
    assert only_error(text) == (3, message)


@pytest.mark.parametrize("value", [2**31 - 1, -(2**31)])
def test_priority_at_the_database_limits_is_fine(value):
    spec = load_spec(spec_text(f"title: Add mul\npriority: {value}\nacceptance:\n  - run: x\n"))
    assert spec.priority == value


@pytest.mark.parametrize(
    ("budget", "message"),
    [
        ("attempts: 101", "'budget.attempts' must be at most 100"),
        ("attempts: 99999999999999999999", "'budget.attempts' must be at most 100"),
        ("attempts: -3", "'budget.attempts' must be at least 1"),
        ("tokens: 0", "'budget.tokens' must be at least 1"),
        ("tokens: -5", "'budget.tokens' must be at least 1"),
        ("tokens: 99999999999999999999", "'budget.tokens' must be at most 10000000000"),
        ("minutes: 0", "'budget.minutes' must be a positive number"),
        ("minutes: .nan", "'budget.minutes' must be a positive number"),
        ("minutes: -.inf", "'budget.minutes' must be a positive number"),
        ("minutes: null", "'budget.minutes' must be a positive number"),
        ("minutes: .inf", "'budget.minutes' must be at most 10080 (a week)"),
        ("minutes: 10081", "'budget.minutes' must be at most 10080 (a week)"),
        ("usd: .nan", "'budget.usd' must be a positive number"),
        ("usd: 0", "'budget.usd' must be a positive number"),
        ("usd: .inf", "'budget.usd' must be at most 100000"),
        ("usd: 1.0e+300", "'budget.usd' must be at most 100000"),
    ],
)
def test_budget_numbers_out_of_range_are_errors_on_their_lines(budget, message):
    text = spec_text(f"title: Add mul\nacceptance:\n  - run: 'true'\nbudget:\n  {budget}\n")
    assert only_error(text) == (6, message)


def test_budget_at_its_limits_is_fine_and_usd_null_means_no_limit():
    text = spec_text(
        "title: Add mul\nacceptance:\n  - run: 'true'\n"
        "budget: {attempts: 100, minutes: 10080, usd: null, tokens: 10000000000}\n"
    )
    spec = load_spec(text)
    assert spec.budget == Budget(attempts=100, minutes=10080.0, usd=None, tokens=10**10)


@pytest.mark.parametrize("task", [0, -1, 2**31, 10**30])
def test_depends_on_a_task_id_no_database_holds_is_an_error(task):
    text = spec_text(f"title: Add mul\nacceptance:\n  - run: 'true'\ndepends_on: [{task}]\n")
    assert only_error(text) == (
        5,
        f"'depends_on' names task {task}, but task ids run from 1 to 2147483647: "
        "give the id 'overnight submit' printed",
    )


def test_an_unknown_key_in_a_depends_on_entry_is_an_error():
    text = spec_text(
        "title: Add mul\nacceptance:\n  - run: 'true'\ndepends_on: {task: 1, until: ready, x: 2}\n"
    )
    assert only_error(text) == (
        5,
        "unknown key 'x' in a 'depends_on' entry (use 'task' and 'until')",
    )


# -- test patches: readable text, inside the repository ---------------------------


def patch_spec(name: str = "t.patch") -> str:
    return spec_text(
        f"title: Add mul\nacceptance:\n  - tests: tests/test_mul.py::test_mul\n"
        f"  - test_patch: {name}\n"
    )


def test_a_binary_test_patch_is_an_error_naming_it(tmp_path):
    (tmp_path / "t.patch").write_bytes(b"--- /dev/null\n+++ b/x.png\n\x89PNG\xff\n")
    assert only_error(patch_spec(), tmp_path) == (
        5,
        "test_patch 't.patch' is not UTF-8 text (byte 0x89 on line 3): make it with "
        "'git diff' ('git diff --binary' for binary files)",
    )


def test_a_test_patch_with_a_nul_is_an_error_naming_it(tmp_path):
    (tmp_path / "t.patch").write_text(TEST_PATCH + "+\x00\n")
    line, message = only_error(patch_spec(), tmp_path)
    assert message.startswith("test_patch 't.patch' holds a NUL character on line 6")


def test_a_test_patch_that_is_a_device_or_a_directory_is_never_read(tmp_path):
    line, message = only_error(patch_spec("/dev/zero"), tmp_path)
    assert message == "test_patch '/dev/zero' is not a regular file (/dev/zero): name a diff file"
    (tmp_path / "patches").mkdir()
    line, message = only_error(patch_spec("patches"), tmp_path)
    assert message.startswith("test_patch 'patches' is a directory")


def test_a_test_patch_over_its_limit_is_an_error(tmp_path):
    (tmp_path / "t.patch").write_text(TEST_PATCH + "+#" + "x" * 1_000_000 + "\n")
    line, message = only_error(patch_spec(), tmp_path)
    assert message.startswith("test_patch 't.patch' is too long (at most 1,000,000 characters")


@pytest.mark.parametrize(
    ("path", "what"),
    [
        ("../x.py", "a path out of the repository"),
        ("tests/../../x.py", "a path out of the repository"),
        ("/tmp/x.py", "an absolute path"),
        (".git/hooks/pre-commit", "a path inside .git/"),
        ("sub/.GIT/config", "a path inside .git/"),
    ],
)
def test_a_test_patch_touching_a_path_outside_the_repository_is_refused(tmp_path, path, what):
    (tmp_path / "t.patch").write_text(TEST_PATCH.replace("tests/test_mul.py", path))
    assert only_error(patch_spec(), tmp_path) == (
        5,
        f"test_patch 't.patch' touches '{path}', {what}: a test patch may only change "
        "files inside the repository (relative paths, none under .git/)",
    )


def test_a_test_patch_renaming_a_file_out_of_the_repository_is_refused(tmp_path):
    (tmp_path / "t.patch").write_text(
        "diff --git a/tests/test_mul.py b/../test_mul.py\nrename from tests/test_mul.py\n"
        "rename to ../test_mul.py\n" + TEST_PATCH
    )
    assert "touches '../test_mul.py'" in only_error(patch_spec(), tmp_path)[1]


def test_hunk_lines_that_look_like_headers_are_not_taken_for_paths(tmp_path):
    (tmp_path / "t.patch").write_text(
        "--- a/tests/test_mul.py\n+++ b/tests/test_mul.py\n@@ -1,2 +1,2 @@\n"
        " context\n--- ../removed-sql-comment\n+++ /added\n"
    )
    assert errors(patch_spec(), tmp_path) == []


def test_a_test_patch_next_to_tests_that_are_not_a_list_does_not_crash(tmp_path):
    (tmp_path / "t.patch").write_text(TEST_PATCH)
    text = spec_text("title: Add mul\nacceptance:\n  - test_patch: t.patch\n  - tests: 5\n")
    assert only_error(text, tmp_path) == (5, "'tests' must be a pytest node id or a list of them")
