"""Task specs: Markdown with YAML front matter, parsed and linted with line numbers."""

from overnight.spec.lint import Problem, lint_text, load_spec, parse_spec
from overnight.spec.model import Budget, Scope, Spec, TestPatch

__all__ = [
    "Budget",
    "Problem",
    "Scope",
    "Spec",
    "TestPatch",
    "lint_text",
    "load_spec",
    "parse_spec",
]
