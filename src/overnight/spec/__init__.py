"""Task specs: Markdown with YAML front matter, parsed and linted with line numbers."""

from overnight.spec.lint import lint_text, load_spec, parse_spec
from overnight.spec.model import Budget, Scope, Spec, TestPatch
from overnight.spec.problem import Problem
from overnight.spec.text import read_spec

__all__ = [
    "Budget",
    "Problem",
    "Scope",
    "Spec",
    "TestPatch",
    "lint_text",
    "load_spec",
    "parse_spec",
    "read_spec",
]
