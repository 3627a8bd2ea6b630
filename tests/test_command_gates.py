"""The command gates: acceptance ``run:`` commands and ``[gates.command.NAME]``.

A command that exits non-zero fails; one that never ran (not found, not
executable, blank, stopped by a limit) is an error, never a pass.
"""

from __future__ import annotations

from gatekit import config, context

from overnight.gates import ERROR, FAIL, PASS
from overnight.gates.commands import AcceptanceCommandsGate
from overnight.gates.custom import CommandConfig, CommandGate

CALC = "def add(a, b):\n    return a + b\n"
MUL = CALC + "\n\ndef mul(a, b):\n    return a * b\n"
CHECK = "python -c 'from calc import mul; assert mul(2, 3) == 6'"


def accept(tmp_path, *commands, timeout=120):
    ctx = context(tmp_path, {"calc.py": CALC}, {"calc.py": MUL})
    ctx.spec.acceptance_commands = list(commands)
    ctx.timeout = timeout
    return ctx, AcceptanceCommandsGate().check(ctx)


def test_acceptance_commands_that_exit_zero_pass_and_others_fail(tmp_path):
    _, result = accept(tmp_path, CHECK)
    assert result.verdict == PASS and result.summary == "1 command(s) exited 0"
    _, result = accept(tmp_path / "b", CHECK, "python -c 'import sys; sys.exit(3)'")
    assert result.verdict == FAIL
    assert result.summary == "1 of 2 command(s) failed: python -c 'import sys; sys.exit(3)'"


def test_an_acceptance_command_that_is_not_found_is_an_error(tmp_path):
    ctx, result = accept(tmp_path, "calc-cli --check")
    assert result.verdict == ERROR
    assert result.summary.startswith(
        "did not run: `calc-cli --check`: 'calc-cli' was not found (exit 127)"
    )
    assert "make sure it exists and is executable" in result.feedback
    ctx.baseline.commands["calc-cli --check"] = 127  # the baseline step saw the same
    assert "(the same on the base: the environment lacks it)" in (
        AcceptanceCommandsGate().check(ctx).summary
    )


def test_an_acceptance_command_killed_at_the_time_limit_is_an_error(tmp_path):
    _, result = accept(tmp_path, "sleep 5", timeout=0.5)
    assert result.verdict == ERROR
    assert (
        result.summary == "did not run: `sleep 5` did not finish: it was killed at the time limit"
    )


def test_a_failing_acceptance_command_fails_even_when_another_did_not_run(tmp_path):
    _, result = accept(tmp_path, "no-such-tool", "false")
    assert result.verdict == FAIL
    assert "Not run: `no-such-tool`: 'no-such-tool' was not found" in result.feedback


def custom(tmp_path, command, base=None, **options):
    ctx = context(tmp_path, base or {"calc.py": CALC}, {"calc.py": MUL}, config=config(""))
    return CommandGate("check", CommandConfig(command=command, **options)).check(ctx)


def test_a_custom_command_exiting_zero_passes_and_non_zero_fails(tmp_path):
    assert custom(tmp_path, CHECK).verdict == PASS
    result = custom(tmp_path / "b", "python -c 'raise SystemExit(\"docs broken\")'")
    assert result.verdict == FAIL and result.summary.endswith("exited 1: docs broken")


def test_a_custom_command_that_is_not_executable_is_an_error(tmp_path):
    result = custom(tmp_path, "./check.sh", base={"calc.py": CALC, "check.sh": "exit 0\n"})
    assert result.verdict == ERROR
    assert result.summary == (
        "`./check.sh`: './check.sh' could not be executed (exit 126): "
        "check that it exists and is executable"
    )


def test_a_blank_or_time_limited_custom_command_is_an_error(tmp_path):
    result = custom(tmp_path, "   ")
    assert result.verdict == ERROR
    assert (
        result.summary
        == "[gates.command.check] has a blank command: it checks nothing; give it one"
    )
    result = custom(tmp_path / "b", "sleep 5", timeout_minutes=0.01)
    assert result.verdict == ERROR
    assert result.summary == "`sleep 5` did not finish: it was killed at the time limit"
