"""`eval compare`: configurations checked before anything runs, run on the same
instances, compared with known statistics, stored, and reported as HTML."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from inflection import FIXTURE, inflection_repo

from overnight.agents.library import PromptSet
from overnight.cli import main
from overnight.cli.eval import compare_table, pair_lines
from overnight.errors import UsageError
from overnight.eval_compare import (
    compare_report,
    load_configs,
    mcnemar_exact,
    paired_bootstrap,
    run_compare,
)
from overnight.eval_config import EvalConfig, load_config
from overnight.eval_report import html_report
from overnight.spec import Budget
from overnight.store import Store, Task
from overnight.store.evaluations import comparisons, save_comparison

SOLVES = f"git apply {FIXTURE / 'gold.patch'}"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# --- statistics, with known answers -------------------------------------------------


def test_mcnemar_exact_matches_the_binomial_tail_of_known_tables():
    # 1 vs 9 discordant pairs: 2 * (C(10,0) + C(10,1)) / 2**10
    assert mcnemar_exact(1, 9) == pytest.approx(22 / 1024)
    assert mcnemar_exact(9, 1) == mcnemar_exact(1, 9)
    assert mcnemar_exact(2, 8) == pytest.approx(2 * (1 + 10 + 45) / 1024)  # 0.109375
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 32)
    assert mcnemar_exact(3, 3) == 1.0  # capped
    assert mcnemar_exact(0, 0) == 1.0  # no discordant pair: no evidence


def test_paired_bootstrap_interval_contains_the_true_difference_and_is_reproducible():
    rng = random.Random(7)
    a = [float(rng.random() < 0.4) for _ in range(300)]
    b = [float(rng.random() < 0.7) for _ in range(300)]
    diff, low, high = paired_bootstrap(a, b)
    assert low < 0.3 < high  # the true difference of the generating rates
    assert low < diff < high and low > 0  # clearly better
    assert high - low < 0.2
    assert paired_bootstrap(a, b) == (diff, low, high)  # fixed seed


def test_paired_bootstrap_of_a_constant_difference_is_that_difference():
    assert paired_bootstrap([0.0] * 5, [1.0] * 5) == (1.0, 1.0, 1.0)
    assert paired_bootstrap([], []) == (0.0, 0.0, 0.0)


def row(instance: str, repeat: int, ready: bool, usd: float | None, gates=()) -> dict:
    return {
        "instance_id": instance,
        "repeat": repeat,
        "status": "ready" if ready else "failed",
        "failing_gates": list(gates),
        "usd": usd,
        "tokens": None if usd is None else 100,
        "seconds": 2.0,
    }


def test_the_report_sums_known_costs_keeps_unknown_ones_and_lists_disagreements():
    a = EvalConfig("a", "builtin:openai:x", Budget())
    b = EvalConfig("b", "command:true", Budget())
    rows = {
        "a": [row("i1", 1, True, 0.5), row("i2", 1, False, 0.25, ["tests", "lint"])],
        "b": [row("i1", 1, True, None), row("i2", 1, True, None)],
    }
    result = compare_report("suite.jsonl", [a, b], rows)
    first, second = result["configs"]
    assert (first["usd"], first["cost"], first["tokens"]) == (0.75, "$0.7500", 200)
    assert (second["usd"], second["cost"], second["tokens"]) == (
        None,
        "2 task(s) of unknown cost",
        None,
    )
    assert first["failing_gates"] == [["tests", 1], ["lint", 1]]
    (pair,) = result["pairs"]
    assert (pair["difference"], pair["only_a"], pair["only_b"], pair["mcnemar_p"]) == (
        0.5,
        0,
        1,
        1.0,
    )
    assert pair["disagree"] == [{"instance_id": "i2", "a": 0, "b": 1, "of": 1}]
    lines = pair_lines(result)
    assert lines[0].startswith("b - a: +0.500 resolved, 95% interval [")
    assert lines[1] == "  i2: a 0/1, b 1/1"
    assert [c.header for c in compare_table(result).columns][:3] == [
        "configuration",
        "resolved",
        "cost",
    ]
    page = html_report(result)
    assert "$0.7500" in page and "tests (1), lint (1)" in page


# --- configurations, checked before anything runs ------------------------------------


def test_a_configuration_file_names_agent_model_prompts_and_budget(tmp_path: Path):
    path = write(
        tmp_path / "gpt.toml",
        'model = "openai:gpt-4o"\nprompts = "v1"\n[budget]\nattempts = 2\nminutes = 5\n',
    )
    config = load_config(path)
    assert config.name == "gpt"
    assert config.agent == "builtin:openai:gpt-4o"
    assert config.prompts == PromptSet("v1")
    assert config.budget == Budget(attempts=2, minutes=5)
    named = load_config(write(tmp_path / "c.toml", 'name = "noop"\nagent = "command:true"\n'))
    assert (named.name, named.agent, named.budget) == ("noop", "command:true", Budget())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('modle = "openai:x"', "unknown key(s) modle: known are name, agent, model"),
        ('agent = "claude"', "unknown agent 'claude'"),
        ('model = "gemini:pro"', "unknown model 'gemini:pro'"),
        ('agent = "command:true"\nmodel = "openai:x"', "'model' is for agent = \"builtin\""),
        ('prompts = "v9"', "unknown prompt set 'v9': known: v1, or a directory"),
        ("[budget]\nattempts = 0", "budget.attempts must be a positive number"),
        ("[budget]\ndollars = 1", "unknown budget key(s) dollars"),
        ("agent = ", "Invalid value"),
    ],
)
def test_a_bad_configuration_is_one_line_naming_its_file(tmp_path: Path, text, message):
    path = write(tmp_path / "bad.toml", text + "\n")
    with pytest.raises(UsageError) as raised:
        load_config(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_compare_needs_two_configurations_with_names_of_their_own(tmp_path: Path):
    a = write(tmp_path / "a.toml", 'agent = "command:true"\n')
    with pytest.raises(UsageError, match="two or more"):
        load_configs([a])
    b = write(tmp_path / "b.toml", 'name = "a"\nagent = "command:false"\n')
    with pytest.raises(UsageError, match="name\\(s\\) used twice: a"):
        load_configs([a, b])


def test_a_bad_configuration_queues_nothing(store: Store, tmp_path: Path):
    suite = write(tmp_path / "suite.jsonl", "")  # never read: the configs fail first
    good = write(tmp_path / "good.toml", 'agent = "command:true"\n')
    bad = write(tmp_path / "bad.toml", 'agent = "command:true"\ncolour = "red"\n')
    result = CliRunner().invoke(
        main, ["eval", "compare", str(suite), "--config", str(good), "--config", str(bad)]
    )
    assert result.exit_code != 0
    assert "bad.toml: unknown key(s) colour" in result.output
    with store.session() as session:
        assert session.query(Task).count() == 0


def test_stored_comparisons_are_read_latest_first_and_by_suite(store: Store):
    with store.session() as session:
        first = save_comparison(session, "/s/a.jsonl", ["x", "y"], {"pairs": []})
        save_comparison(session, "/s/b.jsonl", ["x", "z"], {"pairs": []})
        last = save_comparison(session, "/s/a.jsonl", ["y", "z"], {"pairs": [{"mcnemar_p": 1}]})
    with store.reading() as session:
        assert [c["id"] for c in comparisons(session, suite="/s/a.jsonl")] == [last, first]
        latest = comparisons(session, limit=1)[0]
    assert (latest["configs"], latest["report"]) == (["y", "z"], {"pairs": [{"mcnemar_p": 1}]})


# --- end to end: one agent that solves, one that does not ----------------------------


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    """The inflection fixture's instance twice (two ids), in a repository of its base."""
    repo, base = inflection_repo(tmp_path / "inflection")
    item = json.loads((FIXTURE / "instance.json").read_text())
    item.update(repo=str(repo), base_commit=base)
    lines = [json.dumps({**item, "instance_id": f"inflection-{n}"}) for n in (1, 2)]
    return write(tmp_path / "suite.jsonl", "\n".join(lines) + "\n")


def test_compare_runs_both_configurations_on_the_same_instances_and_stores_the_report(
    store: Store, suite: Path, tmp_path: Path
):
    solver = write(
        tmp_path / "solver.toml", f'agent = "command:{SOLVES}"\n[budget]\nattempts = 1\n'
    )
    idle = write(tmp_path / "idle.toml", 'agent = "command:true"\n[budget]\nattempts = 1\n')
    result = run_compare(store, suite, load_configs([idle, solver]))

    by_name = {c["name"]: c for c in result["configs"]}
    why = [(r["status"], r["failure_reason"]) for rows in result["rows"].values() for r in rows]
    assert (by_name["solver"]["resolved"], by_name["solver"]["runs"]) == (2, 2), why
    assert (by_name["idle"]["resolved"], by_name["idle"]["rate"]) == (0, 0.0)
    assert by_name["idle"]["failing_gates"] == [["tests", 2]]
    for c in by_name.values():  # command agents: their model calls are not recorded
        assert c["usd"] is None and c["cost"] == "2 task(s) of unknown cost"
        assert c["tokens"] is None and c["seconds"] > 0
        assert c["budget"]["attempts"] == 1
    (pair,) = result["pairs"]
    assert (pair["a"], pair["b"], pair["difference"]) == ("idle", "solver", 1.0)
    assert (pair["only_a"], pair["only_b"]) == (0, 2)
    assert pair["mcnemar_p"] == pytest.approx(0.5)
    assert [d["instance_id"] for d in pair["disagree"]] == ["inflection-1", "inflection-2"]

    with store.session() as session:
        tasks = session.query(Task).all()
        (stored,) = comparisons(session, suite=str(suite.resolve()))
    assert [(t.instance_id, t.agent) for t in sorted(tasks, key=lambda t: t.id)] == [
        ("inflection-1", "command:true"),
        ("inflection-1", f"command:{SOLVES}"),
        ("inflection-2", "command:true"),
        ("inflection-2", f"command:{SOLVES}"),
    ]  # the configurations take turns on each instance
    assert stored["id"] == result["id"] and stored["configs"] == ["idle", "solver"]
    assert stored["report"]["pairs"][0]["only_b"] == 2

    page = html_report(result)
    assert (
        page.count("<svg") == 3
        and "<script" not in page
        and "http" not in page.replace("http://www.w3.org/2000/svg", "")
    )
    assert "solver − idle" in page and "inflection-2" in page and "unknown cost" in page


def test_cli_repeats_each_instance_and_writes_json_and_a_self_contained_page(
    store: Store, suite: Path, tmp_path: Path
):
    one = write(tmp_path / "one.jsonl", suite.read_text().splitlines()[0] + "\n")
    solver = write(
        tmp_path / "solver.toml", f'agent = "command:{SOLVES}"\n[budget]\nattempts = 1\n'
    )
    idle = write(tmp_path / "idle.toml", 'agent = "command:true"\n[budget]\nattempts = 1\n')
    page = tmp_path / "report.html"
    args = ["eval", "compare", str(one), "--config", str(solver), "--config", str(idle)]
    done = CliRunner().invoke(main, [*args, "--repeat", "2", "--json", "--html", str(page)])
    assert done.exit_code == 0, done.output
    result = json.loads(done.output)
    why = [(r["status"], r["failure_reason"]) for rows in result["rows"].values() for r in rows]
    assert [(c["name"], c["resolved"], c["runs"]) for c in result["configs"]] == [
        ("solver", 2, 2),
        ("idle", 0, 2),
    ], why
    assert sorted(r["repeat"] for r in result["rows"]["idle"]) == [1, 2]
    (pair,) = result["pairs"]
    assert (pair["difference"], pair["only_a"], pair["only_b"]) == (-1.0, 2, 0)
    assert pair["disagree"] == [{"instance_id": "inflection-1", "solver": 2, "idle": 0, "of": 2}]
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html and "<script" not in html
    with store.session() as session:
        assert session.query(Task).count() == 4
        assert [c["id"] for c in comparisons(session)] == [result["id"]]


def test_a_run_that_cannot_be_queued_cancels_every_configuration_s_tasks(
    store: Store, suite: Path, tmp_path: Path
):
    good = json.loads(suite.read_text().splitlines()[0])
    missing = {**good, "instance_id": "missing-base", "base_commit": "f" * 40}
    path = write(tmp_path / "mixed.jsonl", f"{json.dumps(good)}\n{json.dumps(missing)}\n")
    configs = [EvalConfig(n, "command:true", Budget()) for n in ("a", "b")]
    with pytest.raises(UsageError, match=r"mixed\.jsonl:2 \(missing-base\): "):
        run_compare(store, path, configs)
    with store.session() as session:  # a's and b's runs of the first instance
        assert [t.status for t in session.query(Task).all()] == ["cancelled", "cancelled"]
        assert comparisons(session) == []
