"""The docs gate: asked-for or API-changing work comes with documentation."""

from __future__ import annotations

from gatekit import config, context

from overnight.gates import ERROR, FAIL, PASS
from overnight.gates.docs import DocsGate, public_api
from overnight.gates.documentation import adds_words, docstrings
from overnight.spec import Spec

CALC = 'def add(a, b):\n    """Return a + b."""\n    return a + b\n'
WITH_MUL = CALC + "\n\ndef mul(a, b):\n    return a * b\n"
ASKS = Spec(title="Add mul", description="Add `mul(a, b)` to calc.py and document it.")


def check(tmp_path, change, spec=None, text=""):
    ctx = context(
        tmp_path, {"calc.py": CALC, "README.md": "# calc\n"}, change, spec=spec, config=config(text)
    )
    return DocsGate().check(ctx)


def test_when_the_spec_asks_for_docs_a_change_without_them_fails_blocking(tmp_path):
    result = check(tmp_path, {"calc.py": WITH_MUL}, ASKS)
    assert (result.verdict, result.blocking) == (FAIL, True)
    assert result.summary == "the spec asks for documentation, and none changed"
    assert "new public mul(a, b) (calc.py:6)" in result.feedback


def test_a_docstring_or_a_docs_file_satisfies_the_spec(tmp_path):
    documented = WITH_MUL.replace("    return a * b", '    """Return a * b."""\n    return a * b')
    assert check(tmp_path / "a", {"calc.py": documented}, ASKS).verdict == PASS
    changed = {"calc.py": WITH_MUL, "README.md": "# calc\n\n`mul(a, b)` multiplies.\n"}
    assert check(tmp_path / "b", changed, ASKS).verdict == PASS


def test_an_api_change_without_docs_is_advisory_unless_configured_blocking(tmp_path):
    result = check(tmp_path / "a", {"calc.py": WITH_MUL})
    assert (result.verdict, result.blocking) == (FAIL, False)
    assert result.summary.startswith("public API changed without documentation: new public mul")
    strict = check(
        tmp_path / "b", {"calc.py": WITH_MUL}, text='[gates.docs]\napi_change = "blocking"\n'
    )
    assert (strict.verdict, strict.blocking) == (FAIL, True)


def test_a_body_only_change_or_a_private_helper_needs_no_docs(tmp_path):
    body = CALC.replace("return a + b", "return b + a") + "\n\ndef _helper():\n    return 1\n"
    result = check(tmp_path, {"calc.py": body})
    assert result.verdict == PASS
    assert result.summary.startswith("no documentation needed")


def test_a_changed_signature_and_a_new_cli_option_are_api_changes(tmp_path):
    cli = 'import click\n\n\n@click.command()\n@click.option("--fast")\ndef main(fast):\n    pass\n'
    result = check(tmp_path, {"calc.py": CALC.replace("(a, b)", "(a, b, c=0)"), "cli.py": cli})
    assert "add now takes (a, b, c=0) (calc.py:1)" in result.feedback
    assert 'command-line option added at cli.py:5: @click.option("--fast")' in result.feedback


def test_public_api_lists_functions_classes_and_public_methods():
    source = (
        "class Shape:\n    def __init__(self, n): ...\n    def area(self) -> float: ...\n"
        "    def _cache(self): ...\n\ndef helper(): ...\n\ndef _private(): ...\n"
    )
    assert sorted(public_api(source)) == ["Shape", "Shape.__init__", "Shape.area", "helper"]
    assert public_api(source)["Shape.area"].signature == "(self) -> float"


# Documentation where real projects put it. Each case is modelled on a kind of change
# maintainers merge: the docs live in a docstring, a stub or a fragment, not in docs/.

STATS = '''"""Summary statistics of a sample.

Statistics: ``mean``, ``median``.
"""


class Summary:
    def __init__(self, values):
        self.values = sorted(values)

    @property
    def mean(self):
        return _mean(self.values)


def _mean(values):
    """The arithmetic mean; 0.0 for no values."""
    return sum(values) / len(values) if values else 0.0
'''
SPREAD = (
    STATS.replace("``median``.", "``median``, ``spread``.")
    + '''

def _spread(values):
    """The distance between the largest and the smallest value; 0 for no values."""
    return values[-1] - values[0] if values else 0
'''
).replace(
    "        return _mean(self.values)\n",
    "        return _mean(self.values)\n\n    @property\n    def spread(self):\n"
    "        return _spread(self.values)\n",
)
ASKS_SPREAD = Spec(
    title="Add a spread statistic",
    description="Add `Summary.spread` and document it with the other statistics.",
)


def check_files(tmp_path, base, change, spec=ASKS, text=""):
    ctx = context(tmp_path, base, change, spec=spec, config=config(text))
    return DocsGate().check(ctx)


def test_a_module_docstring_and_a_private_helpers_docstring_are_documentation(tmp_path):
    result = check_files(
        tmp_path, {"stats/_core.py": STATS}, {"stats/_core.py": SPREAD}, ASKS_SPREAD
    )
    assert result.verdict == PASS, result.log
    assert "documentation: stats/_core.py: docstring of the module" in result.log
    assert "documentation: stats/_core.py: docstring of _spread" in result.log


def test_documentation_in_the_same_file_documents_a_new_public_property(tmp_path):
    result = check_files(
        tmp_path,
        {"stats.py": STATS},
        {"stats.py": SPREAD},
        Spec(title="Add spread", description="Add `Summary.spread`."),
        text='[gates.docs]\napi_change = "blocking"\n',
    )
    assert result.verdict == PASS, result.log
    assert "API change: new public Summary.spread(self) (stats.py:16)" in result.log


WRITER = '''class Writer:
    """Write rows as delimited text.

    Options:
        delimiter: the field separator (default ",").
        quotechar: the character that quotes a field holding the delimiter.
    """

    def __init__(self, stream, delimiter=",", quotechar='"'):
        self.stream, self.delimiter, self.quotechar = stream, delimiter, quotechar
'''


def test_a_new_entry_in_a_class_docstrings_option_list_is_documentation(tmp_path):
    entry = '        lineterminator: ends each row (default "\\\\r\\\\n").\n'
    change = WRITER.replace(
        "a field holding the delimiter.\n", "a field holding the delimiter.\n" + entry
    ).replace("quotechar='\"')", 'quotechar=\'"\', lineterminator="\\r\\n")')
    spec = Spec(
        title="lineterminator",
        description="Add a `lineterminator` option to Writer; document it with the other options.",
    )
    result = check_files(
        tmp_path,
        {"csvout.py": WRITER},
        {"csvout.py": change},
        spec,
        text='[gates.docs]\napi_change = "blocking"\n',
    )
    assert result.verdict == PASS, result.log
    assert "documentation: csvout.py: docstring of Writer" in result.log
    assert "Writer.__init__ now takes" in result.log


def test_a_property_docstring_is_documentation(tmp_path):
    change = SPREAD.replace(
        "    def spread(self):\n", '    def spread(self):\n        """Largest minus smallest."""\n'
    )
    base = {"stats.py": STATS.replace("``median``.", "``median``, ``spread``.")}
    result = check_files(
        tmp_path,
        base,
        {
            "stats.py": change.replace(
                '    """The distance between the largest and the smallest value; 0 for no values."""\n',
                "",
            )
        },
        ASKS_SPREAD,
    )
    assert result.verdict == PASS, result.log
    assert "documentation: stats.py: docstring of Summary.spread" in result.log


def test_news_fragments_count_where_towncrier_or_convention_keeps_them(tmp_path):
    fix = {"calc.py": WITH_MUL}
    twisted = check(
        tmp_path / "a", {**fix, "src/calc/newsfragments/1234.feature": "mul().\n"}, ASKS
    )
    assert twisted.verdict == PASS
    assert "documentation: src/calc/newsfragments/1234.feature" in twisted.log
    attrs = check(tmp_path / "b", {**fix, "changelog.d/88.change.md": "Added `mul()`.\n"}, ASKS)
    assert attrs.verdict == PASS
    towncrier = '[tool.towncrier]\ndirectory = "release-notes"\nfilename = "RELEASE-NOTES"\n'
    base = {"calc.py": CALC, "pyproject.toml": towncrier}
    configured = check_files(
        tmp_path / "c", base, {**fix, "release-notes/77.feature": "Added mul().\n"}
    )
    assert configured.verdict == PASS
    assert "documentation: release-notes/77.feature" in configured.log
    unconfigured = check(tmp_path / "d", {**fix, "release-notes/77.feature": "mul().\n"}, ASKS)
    assert unconfigured.verdict == FAIL


def test_a_type_stub_is_documentation(tmp_path):
    base = {"calc.py": CALC, "calc.pyi": "def add(a: int, b: int) -> int: ...\n"}
    change = {
        "calc.py": WITH_MUL,
        "calc.pyi": base["calc.pyi"] + "def mul(a: int, b: int) -> int: ...\n",
    }
    result = check_files(tmp_path, base, change)
    assert result.verdict == PASS
    assert "documentation: calc.pyi" in result.log


def test_whitespace_re_wrapping_and_deletions_are_not_documentation(tmp_path):
    readme = "# calc\n\nAdds and multiplies\nsmall numbers.\n\n## Old\n\nGone.\n"
    base = {"calc.py": CALC, "README.md": readme}
    rewrapped = "# calc\n\nAdds and multiplies small numbers.   \n\n\n## Old\n\nGone.\n"
    result = check_files(tmp_path / "a", base, {"calc.py": WITH_MUL, "README.md": rewrapped})
    assert result.verdict == FAIL
    assert "not documentation (adds no words): README.md" in result.log
    assert "These changed files add no words: README.md" in result.feedback
    cut = readme.replace("\n## Old\n\nGone.\n", "")
    assert (
        check_files(tmp_path / "b", base, {"calc.py": WITH_MUL, "README.md": cut}).verdict == FAIL
    )


def test_an_unchanged_or_moved_docstring_is_not_documentation(tmp_path):
    reindented = CALC.replace('"""Return a + b."""', '"""Return a + b.   """')
    assert (
        check(
            tmp_path / "a", {"calc.py": reindented + "\n\ndef mul(a, b):\n    return a*b\n"}, ASKS
        ).verdict
        == FAIL
    )
    moved = {"calc.py": "from ops import add\n", "ops.py": CALC}
    result = check(tmp_path / "b", moved, ASKS)
    assert result.verdict == FAIL
    assert "documentation:" not in result.log


def test_test_docstrings_and_plain_comments_are_not_documentation(tmp_path):
    test = 'def test_mul():\n    """mul multiplies."""\n    assert True\n'
    commented = WITH_MUL.replace("    return a * b", "    # multiply them\n    return a * b")
    result = check(tmp_path, {"calc.py": commented, "tests/test_calc.py": test}, ASKS)
    assert result.verdict == FAIL
    assert "the docstrings of what you changed" in result.feedback


def test_attribute_docstrings_and_sphinx_comments_are_documentation(tmp_path):
    base = "class Config:\n    retries = 3\n"
    attr = 'class Config:\n    retries = 3\n    timeout = 10.0\n    """Seconds per try."""\n'
    assert check_files(tmp_path / "a", {"cfg.py": base}, {"cfg.py": attr}).verdict == PASS
    comment = "class Config:\n    retries = 3\n    #: Seconds per try.\n    timeout = 10.0\n"
    result = check_files(tmp_path / "b", {"cfg.py": base}, {"cfg.py": comment})
    assert "documentation: cfg.py: '#:' comments" in result.log


def test_the_gate_reads_the_candidates_commit_not_the_working_tree(tmp_path):
    ctx = context(
        tmp_path,
        {"calc.py": CALC, "README.md": "# calc\n"},
        {"calc.py": WITH_MUL, "README.md": "# calc  \n"},
        spec=ASKS,
    )
    (ctx.path / "README.md").write_text("# calc\n\n`mul(a, b)` multiplies.\n")  # code under test
    assert DocsGate().check(ctx).verdict == FAIL


def test_a_web_address_in_the_spec_is_not_a_request_for_docs(tmp_path):
    spec = Spec(
        title="Fix add",
        description="add() returns a - b; see "
        "https://docs.example.org/calc.html#add for what it should do.",
    )
    result = check(tmp_path, {"calc.py": CALC.replace("return a + b", "return a + b  # ok")}, spec)
    assert result.verdict == PASS
    assert "spec asks for docs: no" in result.log


def test_a_new_cli_option_with_help_text_is_documented(tmp_path):
    cli = (
        'import click\n\n\n@click.command()\n@click.option("--fast", is_flag=True,\n'
        '              help="Skip the slow checks.")\ndef main(fast):\n    pass\n'
    )
    bare = cli.replace(',\n              help="Skip the slow checks.")', ")")
    base = {"cli.py": "import click\n\n\n@click.command()\ndef main():\n    pass\n"}
    strict = '[gates.docs]\napi_change = "blocking"\n'
    assert (
        check_files(
            tmp_path / "a", base, {"cli.py": cli}, spec=Spec(title="t"), text=strict
        ).verdict
        == PASS
    )
    assert (
        check_files(
            tmp_path / "b", base, {"cli.py": bare}, spec=Spec(title="t"), text=strict
        ).verdict
        == FAIL
    )


def test_adds_words_ignores_whitespace_rewrapping_and_deletions():
    old = "Options:\n    a: first.\n    b: second.\n"
    assert not adds_words(old, "Options:\n  a:   first.\n\n    b: second.\n")
    assert not adds_words(old, "Options:\n    a: first.\n")
    assert not adds_words("one two\nthree four\n", "one two three\nfour\n")
    assert adds_words(old, old + "    c: third.\n")
    assert adds_words(old, old.replace("second", "the second"))
    assert adds_words("", "A new module.")


def test_docstrings_are_keyed_by_qualified_name_with_repeats_numbered():
    source = (
        '"""Mod."""\nclass A:\n    """A."""\n    @property\n    def p(self):\n        """Get."""\n'
        '    @p.setter\n    def p(self, v):\n        """Set."""\n    x = 1\n    """X."""\n'
        'def _f():\n    def inner():\n        """In."""\n    y = 2\n    """not an attribute"""\n'
    )
    assert docstrings(source) == {
        "<module>": "Mod.",
        "A": "A.",
        "A.p": "Get.",
        "A.p#2": "Set.",
        "A.x": "X.",
        "_f.inner": "In.",
    }


def test_a_bug_report_that_mentions_the_docs_does_not_ask_for_docs(tmp_path):
    """Issue texts say "as documented" or "the documentation says": a description of the
    bug, not a request (4 of 35 real upstream fixes failed on this)."""
    spec = Spec(
        title="chunked(strict=True) is wrong",
        description="chunked() does not behave "
        "as documented: the documentation says the documented way raises ValueError.",
    )
    result = check(tmp_path, {"calc.py": CALC.replace("return a + b", "return a + b  # ok")}, spec)
    assert result.verdict == PASS
    assert "spec asks for docs: no" in result.log


def test_a_changed_file_whose_api_cannot_be_read_is_an_error(tmp_path):
    broken = WITH_MUL.replace("def mul(a, b):", "def mul(a, b)")
    result = check(tmp_path, {"calc.py": broken, "new.py": "def div(a, b:\n"})
    assert result.verdict == ERROR and not result.blocking  # the API check is advisory here
    assert result.summary.startswith("could not read calc.py (line 6: ")
    assert "and 1 more: it does not parse, so its public API and docstrings are unknown" in (
        result.summary
    )
    assert "removed" not in result.log  # an API not read is not an API removed
    result = check(tmp_path / "asked", {"calc.py": broken}, ASKS)
    assert (result.verdict, result.blocking) == (ERROR, True)  # its docstrings were not read
    documented = check(
        tmp_path / "docs", {"calc.py": broken, "README.md": "# calc\n\nmul!\n"}, ASKS
    )
    assert documented.verdict == PASS  # a docs file documents any change, read or not
