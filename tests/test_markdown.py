"""Text inside the pull request body renders as written: file names keep their
underscores, a reviewer's words do not become headings, a pipe does not split a cell."""

from __future__ import annotations

from overnight.forges import pr_body
from overnight.gates import PASS, GateOutcome
from overnight.gates.review import Review
from overnight.markdown import code, text
from overnight.web.render import markdown_html


def rendered(markdown: str) -> str:
    return str(markdown_html(markdown))


def body(summary: str, command: str = "ruff check", feedback: str | None = None) -> str:
    gate = GateOutcome("lint", PASS, summary, command=command)
    return pr_body(
        description="Add `mul`.",
        diffstat=" src/pkg/__init__.py | 2 ++",
        gates=[gate],
        attempts=1,
        run_number=1,
        base_sha="a" * 40,
        head_sha="b" * 40,
        task_id=7,
        review_feedback=feedback,
    )


def test_a_file_name_in_a_gate_summary_keeps_its_underscores():
    html = rendered(body("no new findings in src/pkg/__init__.py"))

    assert "src/pkg/__init__.py" in html
    assert "<strong>" not in html and "<em>" not in html


def test_a_pipe_or_backtick_in_a_command_stays_in_its_cell():
    html = rendered(body("1 | 2 *ok*", command="ruff check | grep `x`"))

    assert "<code>ruff check | grep `x`</code>" in html
    assert "<td>1 | 2 *ok*</td>" in html


def test_review_feedback_shows_as_written_not_as_markdown():
    html = rendered(body("ok", feedback="# not a heading\n- not a list\nrename __init__.py"))

    assert "<h1>" not in html.split("Review feedback addressed")[1]
    assert "<li>" not in html.split("Review feedback addressed")[1]
    assert "# not a heading" in html and "rename __init__.py" in html


def test_the_spec_description_stays_markdown():
    assert "<code>mul</code>" in rendered(body("ok"))


def test_text_escapes_inline_and_line_start_syntax_only():
    assert text("src/pkg/__init__.py") == "src/pkg/\\_\\_init\\_\\_.py"
    assert text("12. item\n  - sub\nplain 3. x") == "12\\. item\n  \\- sub\nplain 3. x"
    assert rendered(text("**b** [l](u) <i> &amp; ~~s~~")) == (
        "<p>**b** [l](u) &lt;i&gt; &amp;amp; ~~s~~</p>\n"
    )


def test_code_holds_any_backticks():
    assert code("a`b") == "``a`b``"
    assert rendered(code("`x`")) == "<p><code>`x`</code></p>\n"


def test_the_reviewer_report_escapes_its_words_and_its_feedback_keeps_them_plain():
    review = Review("pass", True, "touches __init__.py", [], ["*args* in calc.py"])

    assert "touches __init__.py" in rendered(review.markdown("openai:gpt-x"))
    assert "<em>" not in rendered(review.markdown("openai:gpt-x"))
    assert review.markdown("m", escape=str).endswith("- *args* in calc.py")
