"""The security gate: new bandit findings, added secrets, vulnerable new pins."""

from __future__ import annotations

import base64
import random

import pytest
from gatekit import config, context

from overnight.gates import ERROR, FAIL, PASS
from overnight.gates.audit import pins
from overnight.gates.secretscan import scan_line, scan_passed
from overnight.gates.security import SecurityGate
from overnight.masking import Mask
from overnight.testing.advisories import AdvisoryServer

CALC = "def add(a, b):\n    return a + b\n"
NO_AUDIT = "[gates.security]\naudit = false\n"


def fake_key(prefix: str, length: int, alphabet: str) -> str:
    """A key-shaped random string, made at run time so no secret sits in this file."""
    rng = random.Random(length)
    return prefix + "".join(rng.choice(alphabet) for _ in range(length))


UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def test_a_new_bandit_finding_on_a_changed_line_fails_naming_it(tmp_path):
    risky = (
        CALC
        + "\n\ndef run(cmd):\n    import subprocess\n    return subprocess.call(cmd, shell=True)\n"
    )
    ctx = context(tmp_path, {"calc.py": CALC}, {"calc.py": risky}, config=config(NO_AUDIT))
    result = SecurityGate().check(ctx)
    assert result.verdict == FAIL
    assert "bandit: calc.py:7: B602" in result.summary
    assert "shell=True" in result.feedback


def test_a_bandit_finding_the_base_already_had_does_not_count(tmp_path):
    old = "import subprocess\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n"
    moved = old.replace("\n\n\ndef run", "\nX = 1\n\n\ndef run")
    ctx = context(tmp_path, {"calc.py": old}, {"calc.py": moved}, config=config(NO_AUDIT))
    result = SecurityGate().check(ctx)
    assert result.verdict == PASS, result.summary


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        (f'AWS_KEY = "{fake_key("AKIA", 16, UPPER)}"', "AWS access key id"),
        (f'token = "{fake_key("ghp_", 36, ALNUM)}"', "GitHub token"),
        ("-----BEGIN RSA PRIVATE KEY-----", "private key"),
        ('DB_PASSWORD = "Tr0ub4dor&3-horse"', "hard-coded credential"),
        (
            f'blob = "{base64.b64encode(random.Random(1).randbytes(30)).decode()}"',
            "high-entropy string",
        ),
    ],
)
def test_secret_formats_are_recognised(line, kind):
    found = scan_line(line)
    assert found is not None and found[0] == kind


@pytest.mark.parametrize(
    "line",
    [
        'password = os.environ["DB_PASSWORD"]',
        'api_key = "your-api-key-here"',
        'digest = "d41d8cd98f00b204e9800998ecf8427e"',
        'name = "a_rather_long_identifier_without_digits"',
        f'key = "{fake_key("AKIA", 16, UPPER)}"  # pragma: allowlist secret',
    ],
)
def test_placeholders_hashes_and_allowlisted_lines_are_not_secrets(line):
    assert scan_line(line) is None or "allowlist" in line


def test_a_secret_added_by_the_change_fails_without_showing_it_whole(tmp_path):
    key = fake_key("AKIA", 16, UPPER)
    ctx = context(
        tmp_path,
        {"calc.py": CALC},
        {"calc.py": CALC + f'\nKEY = "{key}"\n'},
        config=config(NO_AUDIT),
    )
    result = SecurityGate().check(ctx)
    assert result.verdict == FAIL
    assert "secrets: calc.py:4: AWS access key id" in result.summary
    assert key not in result.feedback + result.log + result.summary


def test_pins_are_read_from_requirements_pyproject_and_lock_files():
    assert pins("requirements.txt", "requests==2.19.0\nflask>=2  # web\n-e .\n") == (
        {("requests", "2.19.0")},
        {"flask"},
    )
    pyproject = '[project]\ndependencies = ["PyYAML==5.3", "click"]\n'
    assert pins("pyproject.toml", pyproject) == ({("pyyaml", "5.3")}, {"click"})
    lock = '[[package]]\nname = "Jinja2"\nversion = "2.10"\n'
    assert pins("poetry.lock", lock) == ({("jinja2", "2.10")}, set())


def test_a_vulnerable_new_pin_fails_naming_the_advisory(tmp_path):
    with AdvisoryServer({("requests", "2.19.0"): ["GHSA-x84v-xcm2-53pg"]}, fixed="2.20.0") as osv:
        ctx = context(
            tmp_path,
            {"calc.py": CALC, "requirements.txt": "pytest\n"},
            {"requirements.txt": "pytest\nrequests==2.19.0\nidna==3.7\n"},
            config=config(f'[gates.security]\naudit_service = "osv"\nosv_url = "{osv.url}"\n'),
        )
        result = SecurityGate().check(ctx)
    assert sorted(osv.queries) == [("idna", "3.7"), ("requests", "2.19.0")]
    assert result.verdict == FAIL
    assert "pip-audit: requests==2.19.0: GHSA-x84v-xcm2-53pg; fixed in 2.20.0" in result.summary


def test_an_unreachable_vulnerability_service_is_an_error_never_a_pass(tmp_path):
    ctx = context(
        tmp_path,
        {"calc.py": CALC},
        {"requirements.txt": "requests==2.19.0\n"},
        config=config(
            '[gates.security]\naudit_service = "osv"\nosv_url = "http://127.0.0.1:9/v1/query"\n'
        ),
    )
    result = SecurityGate().check(ctx)
    assert result.verdict == ERROR
    assert "could not be reached" in result.summary
    assert "requests==2.19.0" in result.summary


def test_no_dependency_change_means_no_audit(tmp_path):
    ctx = context(tmp_path, {"calc.py": CALC}, {"calc.py": CALC + "\nX = 1\n"})
    result = SecurityGate().check(ctx)
    assert result.verdict == PASS
    assert "no new pinned requirements" in result.log


LOWER_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


@pytest.mark.parametrize(
    ("line", "kind"),
    [  # each provider's key shape, the shortest realistic ones included
        (f'OPENAI_API_KEY = "{fake_key("sk-", 17, ALNUM)}"', "OpenAI-style key (sk-)"),
        (f"export OPENAI_API_KEY={fake_key('sk-', 21, ALNUM)}", "OpenAI-style key (sk-)"),
        (f'key = "{fake_key("sk-", 48, ALNUM)}"', "OpenAI-style key (sk-)"),
        (f'key = "{fake_key("sk-proj-", 74, ALNUM + "_-")}"', "OpenAI-style key (sk-)"),
        (f'key = "{fake_key("sk-svcacct-", 60, ALNUM + "_-")}"', "OpenAI-style key (sk-)"),
        (f"DEEPSEEK={fake_key('sk-', 32, '0123456789abcdef')}", "OpenAI-style key (sk-)"),
        (f"or_key: {fake_key('sk-or-v1-', 64, '0123456789abcdef')}", "OpenAI-style key (sk-)"),
        (f'key = "{fake_key("sk-ant-api03-", 95, ALNUM + "_-")}"', "Anthropic key"),
        (f"ANTHROPIC_API_KEY={fake_key('sk-ant-', 20, ALNUM)}", "Anthropic key"),
        (f'groq = "{fake_key("gsk_", 52, ALNUM)}"', "Groq key"),
        (f'xai = "{fake_key("xai-", 80, ALNUM)}"', "xAI key"),
        (f'pplx = "{fake_key("pplx-", 48, ALNUM)}"', "Perplexity key"),
        (f"HF_TOKEN={fake_key('hf_', 34, LETTERS)}", "Hugging Face token"),
        (f"REPLICATE_API_TOKEN={fake_key('r8_', 37, ALNUM)}", "Replicate token"),
        (f"//registry.npmjs.org/:_authToken={fake_key('npm_', 36, ALNUM)}", "npm token"),
    ],
)
def test_model_provider_keys_are_recognised_from_about_twenty_characters(line, kind):
    found = scan_line(line)
    assert found is not None and found[0] == kind, (line, found)
    assert len(found[1]) >= 20


@pytest.mark.parametrize(
    "line",
    [  # sk- and friends in ordinary code: words joined by dashes, no random run
        'pip install "sk-learn"',
        "# the sk-learn-intelex-extensions package patches scikit-learn",
        '<div class="sk-fading-circle sk-circle-bounce-delay"></div>',
        ".sk-folding-cube-animation-delay { animation-delay: 0.3s; }",
        'model = "xai-grok-2-vision-latest"',
        'OPENAI_API_KEY = "sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"',
        "OPENAI_API_KEY=sk-...",
        f'task_id = "task-{fake_key("", 24, LOWER_ALNUM)}"',
        "hf_hub_download(repo_id=repo, filename=name)",
    ],
)
def test_ordinary_code_that_looks_like_a_key_prefix_is_not_a_secret(line):
    assert scan_line(line) is None


def passing_config(extra: str = "") -> str:
    return 'agent_env = ["SERVICE_TOKEN"]\n' + NO_AUDIT + extra


def test_a_passed_key_in_the_change_fails_naming_the_variable_and_line_never_the_value(
    tmp_path, monkeypatch
):
    key = fake_key("", 24, ALNUM)  # no known shape: only the passed-key check finds it
    monkeypatch.setenv("SERVICE_TOKEN", key)
    change = {
        "calc.py": CALC + f'\nTOKEN = "{key}"  # pragma: allowlist secret\n',
        "data.bin": f"\x00\x01binary\n{key}\x00",
    }
    ctx = context(tmp_path, {"calc.py": CALC}, change, config=config(passing_config()))
    result = SecurityGate().check(ctx)
    assert result.verdict == FAIL
    assert "secrets: calc.py:4: the value of $SERVICE_TOKEN, a key passed on purpose" in (
        result.summary
    )
    assert "data.bin:2: the value of $SERVICE_TOKEN" in result.feedback
    assert key not in result.feedback + result.log + result.summary + (result.command or "")


def test_a_passed_key_is_looked_for_even_with_the_secret_scan_off(tmp_path, monkeypatch):
    key = fake_key("", 24, ALNUM)
    monkeypatch.setenv("SERVICE_TOKEN", key)
    ctx = context(
        tmp_path,
        {"calc.py": CALC},
        {"notes.txt": f"token {key}\n"},
        config=config(passing_config("secrets = false\n")),
    )
    result = SecurityGate().check(ctx)
    assert result.verdict == FAIL
    assert "notes.txt:1: the value of $SERVICE_TOKEN" in result.summary


def test_a_change_without_the_passed_key_passes(tmp_path, monkeypatch):
    monkeypatch.setenv("SERVICE_TOKEN", fake_key("", 24, ALNUM))
    ctx = context(
        tmp_path,
        {"calc.py": CALC},
        {"calc.py": CALC + "\nX = 1\n"},
        config=config(passing_config()),
    )
    result = SecurityGate().check(ctx)
    assert result.verdict == PASS, result.summary
    assert "$SERVICE_TOKEN" in (result.command or "")


def test_a_short_key_of_random_letters_alone_is_recognised():
    assert scan_line(f"OPENAI_API_KEY={fake_key('sk-', 17, LETTERS)}") is not None
    assert scan_line('loader = "sk-rotatingPlaneAnimation"') is None


def test_the_mask_of_a_passed_key_counts_as_the_key():
    """A change restored from the store after an interruption holds the mask."""
    mask = Mask.of({"agent_env": ["SERVICE_TOKEN"]}, {"SERVICE_TOKEN": fake_key("", 24, ALNUM)})
    found = scan_passed(["notes.txt"], {"notes.txt": {3: "token: [redacted $SERVICE_TOKEN]"}}, mask)
    assert [str(s) for s in found] == [
        "notes.txt:3: the value of $SERVICE_TOKEN, a key passed on purpose (agent_env or the "
        "model key)"
    ]
    assert scan_passed(["notes.txt"], {"notes.txt": {3: "token: [redacted]"}}, mask) == []


def test_bandit_missing_where_the_gates_run_is_an_error_never_a_pass(tmp_path):
    ctx = context(
        tmp_path, {"calc.py": CALC}, {"calc.py": CALC + "\nX = 1\n"}, config=config(NO_AUDIT)
    )
    ctx.environ["PATH"] = "/usr/bin:/bin"  # overnight's own environment, with bandit, hidden
    result = SecurityGate().check(ctx)
    assert result.verdict == ERROR
    assert "could not check: bandit: bandit: 'bandit' was not found (exit 127)" in result.summary


def test_bandit_scans_changed_files_in_folders_it_excludes_by_default(tmp_path):
    # bandit silently skips .tox/, .eggs/... even when named: the gate once passed unscanned
    risky = "import subprocess\n\n\ndef run(cmd):\n    return subprocess.call(cmd, shell=True)\n"
    ctx = context(tmp_path, {"calc.py": CALC}, {".tox/helper.py": risky}, config=config(NO_AUDIT))
    result = SecurityGate().check(ctx)
    assert result.verdict == FAIL
    assert "bandit: .tox/helper.py:5: B602" in result.summary


def test_the_secret_scan_reads_the_commit_not_the_working_tree(tmp_path):
    key = fake_key("AKIA", 16, UPPER)
    ctx = context(
        tmp_path, {"calc.py": CALC}, {"keys.txt": f"KEY={key}\n"}, config=config(NO_AUDIT)
    )
    (ctx.path / "keys.txt").unlink()  # as code run by the tests could
    result = SecurityGate().check(ctx)
    assert result.verdict == FAIL
    assert "secrets: keys.txt:1: AWS access key id" in result.summary
    assert "scanned 1 added line(s) in 1 of 1 file(s)" in result.log


def test_a_changed_lock_file_that_cannot_be_read_is_an_error(tmp_path):
    lock = '[[package]]\nname = "jinja2"\nversion = "2.10"\n'
    ctx = context(
        tmp_path,
        {"calc.py": CALC, "uv.lock": lock},
        {"uv.lock": lock + '[[package]\nname = "requests"\n'},
    )
    result = SecurityGate().check(ctx)
    assert result.verdict == ERROR
    assert "the requirements in uv.lock cannot be read, so they were not audited" in result.summary
