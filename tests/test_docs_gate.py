"""The docs gate: asked-for or API-changing work comes with documentation."""

from __future__ import annotations

from gatekit import config, context

from overnight.gates import FAIL, PASS
from overnight.gates.docs import DocsGate, public_api
from overnight.spec import Spec

CALC = 'def add(a, b):\n    """Return a + b."""\n    return a + b\n'
WITH_MUL = CALC + "\n\ndef mul(a, b):\n    return a * b\n"
ASKS = Spec(title="Add mul", description="Add `mul(a, b)` to calc.py and document it.")


def check(tmp_path, change, spec=None, text=""):
    ctx = context(tmp_path, {"calc.py": CALC, "README.md": "# calc\n"}, change, spec=spec,
                  config=config(text))  # fmt: skip
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
