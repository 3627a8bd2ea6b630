"""Keys passed on purpose (`agent_env`) must be masked in every output.

The worker has SOME_API_KEY in its environment and the repository's overnight.toml
passes it to the agent. The agent prints it, writes it into its change (file content,
a file name, a test that fails with it, an exception the code under test raises) and
into commit-message-like places of its own clone. The value may appear nowhere: not
in the database file's bytes, `overnight logs`, `overnight show --transcript` (text
and JSON), or the HTTP API's JSON.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest
from click.testing import CliRunner

from overnight.cli import main
from overnight.store import Store
from overnight.web import WebConfig, create_app
from overnight.web.server import background

from .harness import (
    HONEST_MUL,
    OVERNIGHT_TOML,
    Outcome,
    Task_,
    calc_repo,
    database_files,
    hidden_test,
    run_task,
    token,
    write,
)

# bwrap_only: judged on the host (see conftest.py)
pytestmark = [pytest.mark.redteam, pytest.mark.slow, pytest.mark.bwrap_only]

LEAK = r"""
echo "the key is $SOME_API_KEY"
echo "stderr: $SOME_API_KEY" >&2
printf 'API_KEY = "%s"\n' "$SOME_API_KEY" > settings.txt
mkdir -p "keys/$SOME_API_KEY" && echo x > "keys/$SOME_API_KEY/name.txt"
cat > calc.py <<EOF
def add(a, b):
    return a + b


def mul(a, b):
    raise ValueError("$SOME_API_KEY")
EOF
cat > tests/test_key.py <<EOF
def test_key():
    assert len("$SOME_API_KEY") == 0, "$SOME_API_KEY"
EOF
git config user.name "$SOME_API_KEY"
git -c user.email=a@b add -A && git -c user.email=a@b commit -qm "$SOME_API_KEY" || true
git tag "k-$(echo "$SOME_API_KEY" | tr -c 'A-Za-z0-9' -)" 2>/dev/null || true
echo "encoded: $(printf %s "$SOME_API_KEY" | base64) $(printf %s "$SOME_API_KEY" | rev)"
exit 3
"""


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    value = f"sk-redteam-{token('')}{token('')}"
    monkeypatch.setenv("SOME_API_KEY", value)
    return value


@pytest.fixture
def key_repo(tmp_path):
    return calc_repo(tmp_path / "calc", toml=OVERNIGHT_TOML + 'agent_env = ["SOME_API_KEY"]\n')


def outputs(store: Store, done: Outcome) -> Iterator[tuple[str, str]]:
    """(where, text) of every place a person reads a task."""
    runner = CliRunner()
    for args in (
        ["logs", str(done.id)],
        ["show", str(done.id), "--transcript"],
        ["show", str(done.id), "--transcript", "--json"],
        ["show", str(done.id)],
    ):
        result = runner.invoke(main, args, catch_exceptions=False)
        yield f"overnight {' '.join(args[:1] + args[2:])}", result.output
    app = create_app(store, WebConfig())
    with background(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        for path in (
            f"/api/tasks/{done.id}",
            f"/api/tasks/{done.id}/logs",
            f"/api/tasks/{done.id}/events",
            "/api/tasks",
        ):
            yield f"GET {path}", client.get(path).text


def test_redteam_a_passed_key_is_masked_everywhere(store, home, key_repo, specs, key, verdict):
    done = run_task(store, Task_(key_repo, LEAK, specs, hidden=hidden_test(token())))

    found = [where for where, text in outputs(store, done) if key in text]
    if key.encode() in database_files(home):
        found.append("the database file")
    verdict(done, f"key found in: {found}")
    assert found == [], "the key passed to the agent leaked"
    assert done.failed, done.line()


def test_redteam_a_passed_key_is_masked_in_encoded_forms(
    store, home, key_repo, specs, key, verdict
):
    forms = {"base64": base64.b64encode(key.encode()).decode(), "reversed": key[::-1]}
    done = run_task(store, Task_(key_repo, LEAK, specs, hidden=hidden_test(token())))

    texts = dict(outputs(store, done))
    found = sorted(
        f"{form} in {where}"
        for form, value in forms.items()
        for where, text in texts.items()
        if value in text
    )
    verdict(done, f"encoded key found: {found}")
    assert found == [], "the key leaked in an encoded form the agent chose"


def test_redteam_honest_control_with_a_passed_key_is_ready(store, key_repo, specs, key, verdict):
    done = run_task(
        store, Task_(key_repo, write("calc.py", HONEST_MUL), specs, hidden=hidden_test(token()))
    )

    verdict(done)
    assert done.ready, done.reason
