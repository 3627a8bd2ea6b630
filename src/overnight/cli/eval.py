"""`overnight eval run`, `compare`, `impossible` and `from-history`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from overnight.cli import store
from overnight.cli.tasks import STATUS_STYLE
from overnight.eval_compare import load_configs, run_compare
from overnight.eval_report import html_report
from overnight.evaluation import run_eval
from overnight.queue import pending

REASON = 70  # characters of a failure reason the table shows; --json has all of it


CONFIGS = click.option(
    "--config",
    "configs",
    multiple=True,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A configuration (TOML: name, agent, model, prompts, [budget]); repeat for more.",
)


@click.group("eval")
def eval_group() -> None:
    """Measure an agent configuration on SWE-bench-format instances."""


@eval_group.command("run")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--agent", help="Agent for every instance (default: the configured one).")
@click.option(
    "--slots",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Instances run at once.",
)
@click.option("--hints", is_flag=True, help="Show the agent each instance's hints_text too.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (full failure reasons).")
def run(file: Path, agent: str | None, slots: int, hints: bool, as_json: bool) -> None:
    """Import FILE (JSONL, or a JSON list) as tasks with hidden acceptance tests, run
    them, report."""
    tasks = store()
    waiting = pending(tasks)
    if waiting:
        click.echo(
            f"warning: {waiting} task(s) already in this store's queue run too; set "
            "OVERNIGHT_HOME to an empty directory to evaluate apart",
            err=True,
        )
    rows = run_eval(tasks, file, agent=agent, slots=slots, hints=hints)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    Console().print(results_table(rows))
    ready = sum(r["status"] == "ready" for r in rows)
    click.echo(f"{ready} of {len(rows)} instance(s) READY")


@eval_group.command("compare")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@CONFIGS
@click.option(
    "--repeat",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Runs of each instance per configuration.",
)
@click.option(
    "--slots", default=1, show_default=True, type=click.IntRange(min=1), help="Runs at once."
)
@click.option("--json", "as_json", is_flag=True, help="Print the whole report as JSON.")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the report as a self-contained HTML page.",
)
def compare(
    file: Path,
    configs: tuple[Path, ...],
    repeat: int,
    slots: int,
    as_json: bool,
    html_path: Path | None,
) -> None:
    """Run every configuration on the instances of FILE and compare them."""
    checked = load_configs(list(configs))  # every one checked before anything runs
    tasks = store()
    if pending(tasks):
        click.echo(
            f"warning: {pending(tasks)} task(s) already in this store's queue run too",
            err=True,
        )
    result = run_compare(tasks, file, checked, repeat=repeat, slots=slots)
    if html_path:
        html_path.write_text(html_report(result))
    if as_json:
        click.echo(json.dumps(result, indent=2, default=str))
        return
    Console().print(compare_table(result))
    for line in pair_lines(result):
        click.echo(line)


def compare_table(result: dict[str, Any]) -> Table:
    table = Table(box=None, pad_edge=False, padding=(0, 1))
    for name in ("configuration", "resolved", "cost", "tokens", "time", "gates failed most"):
        table.add_column(name)
    for c in result["configs"]:
        table.add_row(
            c["name"],
            f"{c['resolved']}/{c['runs']} ({c['rate']:.0%})",
            c["cost"],
            "unknown" if c["tokens"] is None else str(c["tokens"]),
            f"{c['seconds']:.1f}s",
            ", ".join(f"{g} ({n})" for g, n in c["failing_gates"]) or "-",
        )
    return table


def pair_lines(result: dict[str, Any]) -> list[str]:
    """One line per pair, then the instances where they disagree."""
    lines = []
    for p in result["pairs"]:
        low, high = p["interval"]
        lines.append(
            f"{p['b']} - {p['a']}: {p['difference']:+.3f} resolved, {p['level']:.0%} interval "
            f"[{low:+.3f}, {high:+.3f}], McNemar p = {p['mcnemar_p']:.4g}"
        )
        lines += [
            f"  {d['instance_id']}: {p['a']} {d[p['a']]}/{d['of']}, {p['b']} {d[p['b']]}/{d['of']}"
            for d in p["disagree"]
        ]
    return lines


def results_table(rows: list[dict[str, Any]]) -> Table:
    """Borderless, one line a row: the reason is cut to the width the others leave."""
    table = Table(box=None, pad_edge=False, padding=(0, 1))
    for name in ("instance", "task", "status", "attempts", "time"):
        table.add_column(name, no_wrap=True)
    table.add_column("reason")
    for r in rows:
        style = STATUS_STYLE.get(r["status"], "")
        table.add_row(
            r["instance_id"],
            str(r["task_id"]),
            Text(r["status"], style=style),
            str(r["attempts"]),
            f"{r['seconds']:.1f}s",
            Text(reason(r), no_wrap=True, overflow="ellipsis"),
        )
    return table


def reason(row: dict[str, Any]) -> str:
    """Why an instance is not READY, on one line, trimmed ('-' when it is)."""
    if row["status"] == "ready":
        return "-"
    gates = ", ".join(row["failing_gates"])
    text = " ".join(
        (
            row["failure_reason"] or (f"failing gates: {gates}" if gates else "") or row["status"]
        ).split()
    )
    return text if len(text) <= REASON else text[: REASON - 1] + "…"


@eval_group.command("impossible")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@CONFIGS
@click.option(
    "--with-run", is_flag=True, help="Also run the unmodified instances: the resolve rate."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (every variant's outcome).")
def impossible(file: Path, configs: tuple[Path, ...], with_run: bool, as_json: bool) -> None:
    """The cheating rate of each configuration on impossible variants of FILE's
    instances; exits 1 when a cheat got through the gates."""
    from overnight.eval_config import load_configs
    from overnight.eval_impossible import run_impossible

    setups = load_configs(list(configs))  # all checked before anything runs
    result = run_impossible(store(), file, setups, with_run=with_run)
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        Console().print(cheats_table(result["configs"]))
        for s in result["skipped"]:
            click.echo(f"skipped {s['instance_id']}: {s['reason']}")
    cheats = [(c["config"], x) for c in result["configs"] for x in c["cheats"]]
    for config, x in cheats:
        click.echo(
            f"BUG: {config}: task {x['task_id']} ({x['instance_id']}, {x['variant']}) is "
            "READY on an impossible variant: a cheat got through overnight's gates",
            err=True,
        )
    if cheats:
        raise SystemExit(1)


def cheats_table(configs: list[dict[str, Any]]) -> Table:
    table = Table(box=None, pad_edge=False, padding=(0, 1))
    for name in ("config", "variants", "READY", "cheat rate", "caught", "not graded", "resolved"):
        table.add_column(name)
    for c in configs:
        resolved = c["resolve_rate"]
        table.add_row(
            c["config"],
            str(c["variants"]),
            Text(str(c["ready"]), style="bold red" if c["ready"] else ""),
            f"{c['cheat_rate']:.0%}",
            counts(c["caught"]),
            counts(c["not_graded"]),
            "-" if resolved is None else f"{resolved:.0%}",
        )
    return table


def counts(by_kind: dict[str, int]) -> str:
    return ", ".join(f"{kind} {n}" for kind, n in sorted(by_kind.items())) or "-"


@eval_group.command("from-history")
@click.argument("repo")
@click.option("--since", help="Only commits since this date (YYYY-MM-DD).")
@click.option(
    "--max", "limit", type=click.IntRange(min=1), help="At most N candidates, newest first."
)
@click.option(
    "--rerun",
    default=2,
    show_default=True,
    type=click.IntRange(min=1),
    help="Runs after the change beyond the first; a test changing outcome is flaky.",
)
@click.option(
    "--install",
    multiple=True,
    help="A setup command in place of the project's (repeat for more); kept in each instance.",
)
@click.option("--test-cmd", help="The test command ({tests}: the files); kept in each instance.")
@click.option(
    "--environment",
    type=click.Choice(["venv", "inherit"]),
    help="venv: a cached virtualenv of the setup; inherit: this Python's packages, no setup.",
)
@click.option(
    "--statement",
    type=click.Choice(["commit", "model"]),
    default="commit",
    show_default=True,
    help="The commit message as the statement, or rewritten into a spec by the model.",
)
@click.option("--model", help="With --statement model (default: the project's configured one).")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where the verified instances go (JSONL).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def from_history_command(
    repo: str,
    since: str | None,
    limit: int | None,
    rerun: int,
    install: tuple[str, ...],
    test_cmd: str | None,
    environment: str | None,
    statement: str,
    model: str | None,
    out: Path,
    as_json: bool,
) -> None:
    """Mine REPO's history (a path or git URL) for commits that change code and tests
    together, prove each fails before and passes after, write them as instances."""
    from overnight.eval_history import Settings, from_history

    settings = Settings(
        since=since,
        max=limit,
        reruns=rerun,
        install=list(install) or None,
        test_cmd=test_cmd,
        environment=environment,
        statement=statement,
        model=model,
    )
    result = from_history(
        repo, out, settings, progress=None if as_json else lambda line: click.echo(line, err=True)
    )
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    for line in history_lines(result):
        click.echo(line)


def history_lines(result: dict[str, Any]) -> list[str]:
    """One line per candidate, then the counts."""
    lines = []
    for r in result["results"]:
        what = (
            f"verified: {r['fail_to_pass']} FAIL_TO_PASS, {r['pass_to_pass']} PASS_TO_PASS"
            if r["verified"]
            else f"rejected ({r['rejected']}): {r['reason']}"
        )
        lines.append(f"{r['commit'][:10]} {r['subject'][:50]}: {what}")
    rejected = ", ".join(f"{kind} {n}" for kind, n in result["rejected"].items())
    lines.append(
        f"{result['candidates']} candidate(s) in {result['commits']} commit(s): "
        f"{result['verified']} verified, written to {result['out']}"
        + (f"; rejected: {rejected}" if rejected else "")
    )
    return lines


def register(main: click.Group) -> None:
    main.add_command(eval_group)
