"""New tests that mock the very unit they test are flagged; mocking collaborators is fine."""

from __future__ import annotations

from overnight.gates.mocking import self_mocks

BASE = "from calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"


def local(dotted: str) -> bool:
    return dotted.split(".")[0] == "calc"


def found(after: str, before: str | None = BASE) -> list[str]:
    return self_mocks("tests/test_calc.py", before, after, local)


def test_patching_the_function_a_new_test_calls_is_flagged():
    after = BASE + (
        "\n\ndef test_mul():\n    from unittest import mock\n"
        "    with mock.patch('calc.mul', return_value=6):\n"
        "        import calc\n        assert calc.mul(2, 3) == 6\n"
    )
    assert found(after) == [
        "tests/test_calc.py::test_mul: mocks calc.mul, the very unit it tests "
        "(a test must run the real code)"
    ]


def test_patch_object_monkeypatch_and_decorators_are_recognised():
    after = BASE + (
        "\n\nimport calc\nfrom unittest.mock import patch\n\n\n"
        "def test_mul(monkeypatch):\n    monkeypatch.setattr(calc, 'mul', lambda a, b: 6)\n"
        "    assert calc.mul(2, 3) == 6\n\n\n"
        "@patch('calc.div')\ndef test_div_by_two(fake):\n    assert fake(4, 2)\n\n\n"
        "class TestSub:\n    def test_sub(self):\n"
        "        with patch.object(calc, 'sub', return_value=1):\n"
        "            assert calc.sub(2, 1) == 1\n"
    )
    assert [f.split(":")[0:3] for f in found(after)] == [
        ["tests/test_calc.py", "", "test_mul"],
        ["tests/test_calc.py", "", "test_div_by_two"],
        ["tests/test_calc.py", "", "TestSub"],
    ]


def test_mocking_a_collaborator_or_changing_an_old_test_is_not_flagged():
    collaborator = BASE + (
        "\n\ndef test_fetch(monkeypatch):\n    import calc\n"
        "    monkeypatch.setattr('requests.get', lambda url: None)\n    calc.fetch('x')\n"
    )
    assert found(collaborator) == []
    old = "import calc\n\n\ndef test_mul(monkeypatch):\n    monkeypatch.setattr(calc, 'mul', max)\n"
    assert found(old, before=old + "\n") == []
