"""`overnight demo`: the whole journey on a bundled sample repository, live."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import time
from pathlib import Path

import click
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from overnight import demo as lib
from overnight.cli.demo_plan import PLAN_HONESTY, plan_demo
from overnight.cli.tasks import STATUS_STYLE
from overnight.errors import ModelError, UsageError
from overnight.llm import DEFAULT_MODEL
from overnight.store import Store, TaskStatus, Turn, open_store
from overnight.views import short_command, task_detail

HONESTY = (
    "The agent in this demo is a scripted stand-in (shell scripts applying prepared "
    "patches): it stands in for an LLM until one is configured. Everything else is real: "
    "git, the cached environment, the gates, the feedback loop, the branch and the PR."
)
MODEL_HONESTY = (
    "The agent is overnight's built-in agent on {model}; nothing is scripted. Expect little "
    "from a small local model: a task ends READY only if every gate passes on the delivered "
    "commit, and FAILED with the reason and the evidence otherwise."
)


@click.command("demo")
@click.option(
    "--dir",
    "directory",
    default=".overnight-demo",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the sample repository, specs and (unless $OVERNIGHT_HOME is set) state go.",
)
@click.option(
    "--slots", type=int, help="Tasks the worker runs at once [default: 1 with a model, 2 scripted]."
)
@click.option(
    "--model",
    default=DEFAULT_MODEL,
    show_default=True,
    help="The model of the built-in agent (any model name overnight knows).",
)
@click.option(
    "--scripted",
    is_flag=True,
    help="Scripted stand-in agents instead of a model (fast; fixed outcomes).",
)
@click.option(
    "--plan",
    "planned",
    is_flag=True,
    help="Instead: the model plans a small feature; queued only if every spec is proven.",
)
def demo_cmd(directory: Path, slots: int | None, model: str, scripted: bool, planned: bool) -> None:
    """Run three tasks on a bundled sample repository, live; exit 1 if any ends unexpectedly.

    \b
    Makes a fresh git repository from a template (wiping DIR from a previous
    demo), queues three specs of graded difficulty, runs a worker in this
    process, then shows the review queue, each task's gates and what to do
    next. By default the built-in agent does the work on the embedded model
    (build it first: scripts/install-local-model.sh, or `make demo`); each
    task must end READY with every gate passing or FAILED with evidence.
    With --scripted, stand-in agents do: easy: READY in 1 attempt; medium:
    wrong first, fixed from the gates' feedback: READY in 2; gaming the
    gates: FAILED. With --plan, the model plans a small feature of the sample
    repository instead (docs/plan.md): the graph and each spec's proof are
    shown, and the plan is queued only when every spec is proven.
    """
    if planned and scripted:
        raise UsageError("--plan asks a model for the plan: give --model, not --scripted")
    chosen = None if scripted else model
    slots = slots or (2 if scripted else 1)
    honesty = HONESTY if scripted else MODEL_HONESTY.format(model=model)
    if planned:
        honesty = PLAN_HONESTY.format(model=model)
    console = Console(highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 120  # a log: wrap less than a narrow terminal would
    directory = directory.resolve()
    console.print(f"[bold]overnight demo[/] in {directory}")
    console.print(honesty, style="dim")
    if chosen:
        _prepare_model(console, chosen)
    if lib.wipe(directory):
        console.print(f"removed the previous demo in {directory} to start fresh")
    if not os.environ.get("OVERNIGHT_HOME"):
        os.environ["OVERNIGHT_HOME"] = str(lib.default_home(directory))
        os.environ.pop("OVERNIGHT_DATABASE_URL", None)  # the demo keeps to its own state
    home = os.environ["OVERNIGHT_HOME"]
    demo = lib.create(directory)
    console.print(f"sample repository: {demo.repo} (textstats: words, word_count, top_words)")
    store = open_store()
    console.print(f"state: OVERNIGHT_HOME={home}")
    if planned:
        plan_demo(console, store, demo, model, _overnight())
        return
    started = time.monotonic()
    for task in lib.submit(store, demo, chosen):
        console.print(f"queued task {task.id}: {task.title}  (expect {task.expected.describe()})")
    console.print(
        f"worker: {slots} slot(s); the first task also builds the cached environment "
        "(pip install pytest), later ones reuse it"
    )
    _watch(console, store, demo, slots)
    outcomes = lib.check(store, demo.tasks)
    _report(console, store, demo, outcomes, home, time.monotonic() - started, honesty)
    if not all(o.ok for o in outcomes):
        sys.exit(1)


def _watch(console: Console, store: Store, demo: lib.Demo, slots: int) -> None:
    """Run the worker until the queue is empty, showing progress as it goes: a live
    table on a terminal; in a log, each event as a line and the table at the end."""
    worker = lib.start_worker(store, slots)
    try:
        if console.is_terminal:
            with Live(_progress_table(store, demo), console=console, refresh_per_second=4) as live:
                while worker.is_alive():
                    worker.join(0.25)
                    live.update(_progress_table(store, demo))
        else:
            last, shown = 0, set()
            while worker.is_alive():
                worker.join(0.25)
                for event in lib.events_after(store, demo.tasks, last):
                    last = event.id
                    console.print(
                        f"  task {event.task_id}: {event.message}", markup=False, soft_wrap=True
                    )
                for task_id, turn in lib.turns_after(store, demo.tasks, 0):
                    if turn.id not in shown and turn.command is not None:
                        shown.add(turn.id)
                        console.print(
                            f"  task {task_id}: {_turn_line(turn)}", markup=False, soft_wrap=True
                        )
            console.print(_progress_table(store, demo))
    except KeyboardInterrupt:
        console.print("stopping: interrupting the running tasks", style="yellow")
        worker.stop()
        worker.stop()
        worker.join()
        sys.exit(130)
    if worker.error is not None:
        raise worker.error


def _turn_line(turn: Turn) -> str:
    command = short_command(turn.command or "")
    exit_code = "" if turn.exit_code is None else f" → exit {turn.exit_code}"
    return (
        f"attempt {turn.attempt} turn {turn.number} ({turn.output_tokens} tokens, "
        f"{turn.latency:.0f} s): $ {command}{exit_code}"
    )


def _progress_table(store: Store, demo: lib.Demo) -> Table:
    table = Table("task", "title", "status", "attempt", "step", "time", title="overnight worker")
    latest = {task_id: turn for task_id, turn in lib.turns_after(store, demo.tasks, 0)}
    for row in lib.snapshot(store, demo.tasks):
        step = row.step
        if row.id in latest and row.status == TaskStatus.RUNNING and "agent" in step:
            step += f"\n{_turn_line(latest[row.id])}"
        style = STATUS_STYLE.get(row.status, "")
        table.add_row(
            str(row.id),
            row.title,
            Text(row.status, style=style),
            str(row.attempt or "-"),
            Text(step),
            f"{row.seconds:.0f}s",
        )
    return table


def _report(
    console: Console,
    store: Store,
    demo: lib.Demo,
    outcomes: list[lib.Outcome],
    home: str,
    seconds: float,
    honesty: str = HONESTY,
) -> None:
    console.rule("review queue (overnight review)")
    queue = Table("id", "title", "attempts", "branch")
    for task in lib.review_queue(store, demo.tasks):
        queue.add_row(str(task["id"]), task["title"], str(task["attempts"]), task["branch"])
    console.print(queue)
    for outcome in outcomes:
        _task_report(console, store, outcome)
    console.rule("result")
    for outcome in outcomes:
        mark = "[green]ok[/]  " if outcome.ok else "[red]BAD[/] "
        console.print(
            f"{mark} task {outcome.task.id}: {outcome.describe()}"
            + ("" if outcome.ok else f" (expected {outcome.task.expected.describe()})")
        )
    good = sum(o.ok for o in outcomes)
    console.print(f"{good} of {len(outcomes)} tasks ended as expected in {seconds:.0f} s")
    _next_steps(console, demo, outcomes, home, honesty)


def _task_report(console: Console, store: Store, outcome: lib.Outcome) -> None:
    with store.session() as session:
        data = task_detail(session, store.task(session, outcome.task.id), diff=False)
    run = data["runs"][-1]
    style = STATUS_STYLE.get(data["status"], "")
    console.rule(
        f"task {data['id']}: {data['title']} · [{style}]{data['status'].upper()}[/] "
        f"after {run['attempts']} attempt(s)"
    )
    for attempt in range(1, run["attempts"]):
        failed = [
            g
            for g in run["all_gates"]
            if g["attempt"] == attempt and g["blocking"] and g["verdict"] in ("fail", "error")
        ]
        for g in failed:
            console.print(
                f"attempt {attempt}: {g['name']} {g['verdict']}: {g['summary']}",
                markup=False,
            )
    table = Table("gate", "verdict", "command", "summary")
    for g in run["gates"]:
        verdict_style = {"pass": "green", "fail": "red", "error": "red"}.get(g["verdict"], "dim")
        table.add_row(
            g["name"],
            Text(g["verdict"], style=verdict_style),
            Text(g["command"] or ""),
            Text(g["summary"]),
        )
    parts: list[Text | Table] = [table]
    if data["status"] == TaskStatus.READY:
        parts.append(Text(f"branch {data['branch']} at {data['head_sha'][:10]}; PR recorded"))
    if data["failure_reason"]:
        parts.append(Text(f"reason: {data['failure_reason']}", style="red"))
        for gate, found in lib.evidence(store, outcome.task.id):
            lines = found.splitlines()
            shown = "\n".join(f"  {line}" for line in lines[:10])
            more = f"\n  [... {len(lines) - 10} more lines]" if len(lines) > 10 else ""
            parts.append(Text(f"evidence from {gate}:\n{shown}{more}"))
    console.print(Group(*parts))


def _next_steps(
    console: Console, demo: lib.Demo, outcomes: list[lib.Outcome], home: str, honesty: str
) -> None:
    ready = [o.task.id for o in outcomes if o.status == TaskStatus.READY]
    failed = [o.task.id for o in outcomes if o.status == TaskStatus.FAILED]
    first = ready[0] if ready else outcomes[0].task.id
    second = ready[1] if len(ready) > 1 else first
    bad = failed[0] if failed else first
    exe = _overnight()
    console.rule("what next")
    console.print(f"  export OVERNIGHT_HOME={shlex.quote(home)}", markup=False, soft_wrap=True)
    steps = [
        (f"{exe} status", "every task"),
        (f"{exe} show {first}", "spec, runs, gate table, PR body, diff"),
        (f"{exe} logs {second}", "every step's and gate's full log"),
    ]
    if honesty != HONESTY:  # a model did the work
        steps += [
            (f"{exe} show {bad} --transcript", "the agent's turns: answers, commands, outputs"),
            (f"{exe} replay {bad}", "its recorded answers again, e.g. after a prompt change"),
        ]
        if ready:
            steps.append((f"{exe} approve {first}", "merge it into the sample repository"))
        steps.append(
            (
                f"{exe} request-changes {bad} -m 'Read the failing test first'",
                "a new run with that feedback",
            )
        )
        steps.append((f"{exe} worker --drain", "run it"))
    else:
        steps += _scripted_steps(exe, first, second, bad)
    width = max(len(command) for command, _ in steps)
    for command, comment in steps:
        console.print(f"  {command:<{width}}  # {comment}", markup=False, soft_wrap=True)
    console.print(
        f"The sample repository is {demo.repo}: see its branches with "
        f"'git -C {shlex.quote(str(demo.repo))} branch'. Run the demo again to start over."
    )
    console.print(honesty, style="dim")


def _scripted_steps(exe: str, first: int, second: int, bad: int) -> list[tuple[str, str]]:
    return [
        (f"{exe} logs {bad} --gate scope", "the evidence against the gamed task"),
        (f"{exe} approve {first}", "merge it into the sample repository's main"),
        (f"{exe} request-changes {second} -m 'Document the tie rule'", "a new run with that"),
        (f"{exe} worker --drain", "run it"),
        (f"{exe} reject {bad} -m 'Hard-coded the example, skipped the test'", "close it"),
    ]


def _prepare_model(console: Console, model: str) -> None:
    """For the embedded model: check the engine and the weights, and start the server now
    (the worker runs in this process and reuses it), so the wait is visible."""
    if not model.startswith("local:"):
        return
    from overnight.llm import local

    name = model.partition(":")[2]
    if local.engine_version() is None:
        raise ModelError(
            f"the embedded model needs the llama.cpp engine: {local.INSTALL_HINT}; "
            "or run the demo without a model: overnight demo --scripted"
        )
    started = time.monotonic()
    console.print(f"starting the embedded model {model} (llama.cpp server on loopback) ...")
    server = local.server(name)
    console.print(
        f"model ready at {server.url} in {time.monotonic() - started:.0f} s "
        f"(log: {server.log_path})"
    )


def _overnight() -> str:
    """How to call overnight from here: 'overnight' if on PATH, else its path."""
    found = shutil.which("overnight")
    script = Path(sys.argv[0])
    if found or script.name != "overnight":
        return "overnight"
    try:
        return str(script.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(script.resolve())


def register(main: click.Group) -> None:
    main.add_command(demo_cmd)
