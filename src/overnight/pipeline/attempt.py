"""The agent step of one attempt: the agent edits its clone in the sandbox.

Each turn it takes is recorded as it happens, and once it is done, with the
change it made to the workspace (a diff from the base, made from the change
packed in the sandbox and imported into the grading clone: data, never the
agent's files). An attempt cut off mid-way picks up from those records: the
workspace is rebuilt from the last diff and the agent from its turns. The
attempt's change is recorded when it ends (``Recorder.agent_change``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from overnight import ratelimit
from overnight.agents import AgentContext, Interrupted, Turn
from overnight.agents.library import repo_templates
from overnight.agents.registry import get_agent
from overnight.agents.standards import standards_at
from overnight.live import LiveLog
from overnight.masking import Mask
from overnight.pipeline.agent_clone import AgentClone
from overnight.pipeline.clock import Clock
from overnight.pipeline.facts import RunFacts
from overnight.pipeline.grading import GradingClone
from overnight.pipeline.recorder import Cancelled, Paused, Recorder, RunFailed
from overnight.pipeline.setting import last_line
from overnight.sandbox import Completed
from overnight.workspace.change import Change


@dataclass
class Stops:
    """The two ways a run is stopped from outside: a cancel (kills what runs) and a
    pause (a worker stopping: the run stops at a checkpoint and resumes later)."""

    cancel: threading.Event
    pause: threading.Event

    def at_checkpoint(self) -> None:
        """At every checkpoint: pause for a stopping worker, stop for a cancel."""
        if self.pause.is_set():
            raise Paused()
        self.after_commands()

    def after_commands(self) -> None:
        """After a step's commands: were they killed (cancel, or a stop past its grace)?"""
        if self.cancel.is_set():
            raise Paused() if self.pause.is_set() else Cancelled()


class AgentAttempts:
    """Runs the agent's attempts of one run in its clone, recording each turn."""

    def __init__(
        self,
        record: Recorder,
        clone: AgentClone,
        grading: GradingClone,
        stops: Stops,
        command_timeout: Callable[[], float],
        facts: RunFacts,
        meta: Path,  # beside the agent's clone: the spec as the agent may see it
    ) -> None:
        self.record, self.clone, self.grading, self.stops = record, clone, grading, stops
        self.command_timeout, self.facts, self.meta = command_timeout, facts, meta
        self.turn_tree: str | None = None  # the tree the last recorded change left

    def run(
        self,
        attempt: int,
        feedback: str,
        clock: Clock,
        timeout: Callable[[], float],
    ) -> None:
        """Run the agent for one attempt, resuming from its recorded turns; ``timeout``:
        what is left for it, asked once its step has begun."""
        recorded, change = self.record.turns(attempt)  # cut off mid-way by a kill
        if change is not None:
            self.restore(change)
        self.turn_tree = self.tree()
        live = LiveLog(partial(self.record.output, attempt), Mask.of(self.facts.config))
        with (
            self.record.step("agent", attempt) as rec,
            clock.part("agent"),
            live,  # output readable as it comes
        ):
            facts, config, budget = self.facts, self.facts.config, self.facts.spec.budget
            self.meta.mkdir(parents=True, exist_ok=True)
            spec_file = self.meta / "spec.md"
            spec_file.write_text(facts.spec.for_agent())
            passthrough = {k: os.environ[k] for k in config.agent_env if k in os.environ}
            tokens, usd = self.record.spent(before=attempt)
            agent = get_agent(facts.agent, config)
            # what the agent is given is read at the base, never from its clone
            base = self.grading.workspace.repo_dir, self.grading.workspace.base_sha
            prompts = agent.prompt_library(repo_templates(*base), facts.spec.prompts)
            if prompts is not None:
                prompts.check()  # the home's too: a broken one fails the run, naming it
            standards = standards_at(*base, config.standard_files())
            self.record.agent_inputs(
                prompts.manifest() if prompts else None, [s.path for s in standards]
            )
            context = AgentContext(
                task_id=facts.task_id,
                run_number=facts.number,
                attempt=attempt,
                workspace=self.clone.path,
                spec_file=spec_file,
                feedback=feedback,
                sandbox=self.clone.sandbox,
                environ=self.clone.environ(passthrough),
                timeout=timeout(),
                instance_id=facts.spec.instance_id,
                cancel=self.stops.cancel,
                pause=self.stops.pause,
                on_turn=self.save_turn,
                recorded_turns=recorded,
                live=live,
                tokens_left=None if budget.tokens is None else budget.tokens - tokens,
                usd_left=None if budget.usd is None or usd is None else budget.usd - usd,
                rate_limit=ratelimit.Limiter(self.record.store),  # shared with every other worker
                prompts=prompts,
                standards=standards,
            )
            try:
                result = agent.run(context)
            except Interrupted:
                raise Paused() from None  # at a turn: it resumes from the recorded turns
            rec.summary, rec.log = result.summary, result.log
            if recorded:
                rec.summary += f" (resumed after turn {recorded[-1].number})"
            self.stops.after_commands()  # an interrupted agent's change is not a checkpoint
            tree = self.tree()
            self.record.agent_change(attempt, self.grading.from_base(tree) if tree else "")
        self.record.attempts(attempt)

    def save_turn(self, turn: Turn) -> None:
        """Record a turn; once it is done, with the workspace's change if it made one."""
        change = None
        if turn.done:
            tree = self.tree()
            if tree and tree != self.turn_tree:
                change, self.turn_tree = self.grading.from_base(tree), tree
        self.record.turn(turn, change)

    def take(self) -> Change:
        """The agent's change, packed inside the sandbox and checked: data, never files
        the worker reads from the agent's clone."""
        return self.clone.take(self.command_timeout(), self.stops.cancel)

    def tree(self) -> str | None:
        """The tree of the agent's clone as it is now (None: its change is unusable)."""
        change = self.take()
        return None if change.problems else self.grading.import_change(change)

    def restore(self, change: str) -> None:
        """The agent's clone as a recorded diff from the base left it."""
        check_installed(self.clone.restore(change, self.command_timeout(), self.stops.cancel))


def check_installed(done: Completed | None) -> None:
    """An install that failed in a clone of the base is the environment's failure."""
    if done is not None and not done.ok:
        raise RunFailed(
            f"environment: the project does not install from a clone of "
            f"the base: {last_line(done.output)}"
        )
