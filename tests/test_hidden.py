"""Feedback never carries what a hidden acceptance test says."""

from __future__ import annotations

from overnight.gates.hidden import WITHHELD, Withholder, error_type, hidden_nodes, hidden_text
from overnight.spec import Spec, TestPatch

HIDDEN = """--- /dev/null
+++ b/tests/test_secret.py
@@ -0,0 +1,4 @@
+from calc import mul
+
+def test_mul_of_large_numbers():
+    assert mul(123456, 654321) == 80779853376
"""


def spec() -> Spec:
    return Spec(
        title="t",
        acceptance_tests=[
            "tests/test_secret.py::test_mul_of_large_numbers",
            "tests/test_calc.py::test_add",
        ],
        test_patches=[TestPatch("secret.patch", HIDDEN, hidden=True)],
    )


def test_a_line_quoting_a_hidden_test_is_withheld():
    withhold = Withholder(hidden_text(spec()))
    feedback = (
        "- tests/test_calc.py::test_add: passed on the base, failed now\n"
        "  AssertionError: assert mul(123456, 654321) == 80779853376\n"
        "  E   assert    mul(123456,   654321) == 80779853376   (spaces do not help)\n"
        "  an ordinary line about calc.py"
    )
    out = withhold(feedback).splitlines()
    assert out[0].startswith("- tests/test_calc.py::test_add")
    assert out[1] == out[2] == WITHHELD
    assert out[3] == "  an ordinary line about calc.py"


def test_a_fragment_of_hidden_text_inside_a_longer_line_is_withheld():
    withhold = Withholder(hidden_text(spec()))
    line = "x" * 40 + "def test_mul_of_large_numbers():    assert mul(123456," + "y" * 40
    assert withhold(line) == WITHHELD


def test_short_common_lines_of_a_hidden_test_do_not_withhold_everything():
    withhold = Withholder(
        hidden_text(
            Spec(
                title="t",
                test_patches=[
                    TestPatch("p", "--- /dev/null\n+++ b/t.py\n+import os\n+x = 1\n", hidden=True)
                ],
            )
        )
    )
    assert withhold("import os failed: x = 1") == "import os failed: x = 1"


def test_hidden_nodes_are_those_in_hidden_files():
    assert hidden_nodes(spec()) == {"tests/test_secret.py::test_mul_of_large_numbers"}


def test_only_pythons_own_error_types_are_named():
    assert error_type("AssertionError: assert 1 == 2") == "AssertionError"
    assert error_type("ZeroDivisionError: division by zero") == "ZeroDivisionError"
    assert error_type("SecretIs_assert_mul_80779853376: boom") == "an error"
    assert error_type("") == "an error"
