"""The built-in agent: a model and a shell, one command per turn.

    run ──► step ──► query (the model answers)
             │  └──► execute (its command runs in the sandbox; the output is the
             │                next message)
             └── until an AgentStop: Submitted, LimitReached (turns, tokens, cost,
                 time, a stuck loop), Cancelled, or a ModelError (which ends the
                 attempt; on the first turn, when no model answers at all, the run);
                 a stopping worker interrupts it between turns (Interrupted)

Each turn is handed to ``ctx.on_turn`` twice: when the model has answered
(so a killed worker still has the paid-for answer) and when its command has
run, in a ``finally``; then it is ``done`` and holds its part of the
conversation (``messages``). An attempt cut off mid-way resumes from
its recorded turns (``ctx.recorded_turns``): the conversation is rebuilt from
them, a turn answered but not done runs its command again, and no recorded
answer is asked of the model twice. The text protocol (one fenced bash block per answer,
``submit`` ends) is the default because small and local models cannot emit
tool calls; ``protocol = "tools"`` uses native tool calling instead.
Prompts are templates (``agents/prompts.py``); a later attempt gets the
gates' feedback, another prompt and other sampling, so it does not replay
the same answer. Each command and its output also go to ``ctx.live`` as they
come, so the user can watch the attempt (``overnight logs -f``, the task page).
"""

from __future__ import annotations

import hashlib
import logging
import shlex
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from overnight.agents import Agent, AgentContext, AgentResult, BaseAgent, Interrupted, Turn
from overnight.agents.library import PromptLibrary, PromptSet, home_prompts
from overnight.agents.prompts import Prompts, conventions, task_values
from overnight.agents.settings import AgentConfig, agent_config
from overnight.agents.tools import TOOLS, Action, FormatError, parse_text, parse_tools
from overnight.cost import usd
from overnight.errors import ModelError, ModelUnavailable
from overnight.llm import (
    Model,
    Reply,
    Sampling,
    ToolCall,
    get_model,
)
from overnight.llm.redact import redact, redact_data
from overnight.registry import Argument
from overnight.sandbox import Completed
from overnight.text import trim

if TYPE_CHECKING:
    from overnight.config import ProjectConfig

log = logging.getLogger(__name__)


class AgentStop(Exception):
    """Ends an attempt; the message is the attempt's final word."""

    exit_code = 1


class Submitted(AgentStop):
    exit_code = 0


class LimitReached(AgentStop):
    pass


class Cancelled(AgentStop):
    pass


class BuiltinAgent(BaseAgent):
    name = "builtin"
    argument = Argument("model")  # else the project's model, else the embedded default
    config_type = AgentConfig

    def __init__(self, config: AgentConfig, model: Model | None = None) -> None:
        self.config, self.model = config, model

    @classmethod
    def build(cls, arg: str, config: ProjectConfig | None) -> Agent:
        return cls(agent_config(config, arg.strip() or None))

    def prompt_library(
        self, repo_templates: dict[str, str], chosen: PromptSet | None = None
    ) -> PromptLibrary:
        return PromptLibrary(
            chosen.version if chosen else self.config.prompts,
            chosen=chosen.templates if chosen else None,
            repo=repo_templates,
            home_dir=home_prompts(),
        )

    def run(self, ctx: AgentContext) -> AgentResult:
        notes: list[str] = []
        model_config = replace(
            self.config.model_config, notify=notes.append, before_request=ctx.rate_limit
        )
        model = self.model or get_model(self.config.model, model_config)
        return Loop(self.config, model, ctx, notes).run()


class Loop:
    """One attempt: the conversation, the counters, and the turn being recorded."""

    def __init__(self, config: AgentConfig, model: Model, ctx: AgentContext, notes: list[str]):
        self.config, self.model, self.ctx, self.notes = config, model, ctx, notes
        self.prompts = Prompts(config.prompts, library=ctx.prompts)
        self.messages: list[dict[str, Any]] = []
        self.mark = 0  # where the current turn's part of the conversation begins
        self.turns: list[Turn] = []
        self.tokens, self.cost, self.cost_known = 0, 0.0, True
        self.started = time.monotonic()
        self.repeats: list[str] = []
        self.warned_stuck = False
        self.nudged = False  # a submit with nothing changed was sent back
        attempt = ctx.attempt
        self.sampling = Sampling(
            temperature=min(config.temperature + 0.3 * (attempt - 1), 1.0),
            seed=attempt if attempt > 1 else None,
            max_tokens=config.max_reply_tokens,
        )

    def run(self) -> AgentResult:
        answered = None  # a recorded answer whose command has not run yet
        if self.ctx.recorded_turns:
            answered = self.resume(self.ctx.recorded_turns)
            ended = self.turns[-1]
            if ended.end is not None:  # the attempt had ended: nothing left to do
                code = 1 if ended.end_exit_code is None else ended.end_exit_code
                return self.result(AgentStop(ended.end), code)
        else:
            self.begin()
        while True:
            try:
                reply, answered = answered or self.ask(), None
                self.execute(reply)
            except FormatError as exc:
                self.turns[-1].format_error = True
                self.add(
                    "user",
                    self.prompts.render(
                        "format_error",
                        protocol=self.config.protocol,
                        count=exc.count,
                        submit_mixed=exc.submit_mixed,
                    ),
                )
            except AgentStop as exc:
                return self.result(exc)
            except ModelUnavailable:
                raise  # not the task's fault: the worker gives the task back for later
            except ModelError as exc:
                if self.out_of_time():
                    return self.result(self.time_limit())
                if not self.turns:  # no model at all (no engine, a bad key): the run fails
                    raise
                return self.result(AgentStop(f"the model failed: {exc}"))
            finally:
                self.end_turn()

    def begin(self) -> None:
        self.add("system", self.prompts.render("system", protocol=self.config.protocol))
        self.add("user", self.task_prompt())

    def resume(self, recorded: list[Turn]) -> Reply | None:
        """Pick up an attempt from its recorded turns (the workspace is already as the
        last done one left it); return the answer of a turn whose command never
        finished, to run it again."""
        self.turns = list(recorded)
        for turn in self.turns:
            self.mark = len(self.messages)
            self.messages += turn.messages or []
            self.tokens += turn.input_tokens + turn.output_tokens
            if turn.cost is None:
                self.cost_known = False
            else:
                self.cost += turn.cost
            self.nudged = self.nudged or turn.unchanged
            self.warned_stuck = self.warned_stuck or turn.stuck is not None
        self.start_state = self.turns[0].start or ""
        last = self.turns[-1]
        if last.done:
            self.mark = len(self.messages)
            return None
        last.rerun += 1  # its command runs again
        answer = self.messages[-1]
        calls = [ToolCall(c["id"], c["name"], c["arguments"]) for c in answer.get("tool_calls", [])]
        return Reply(answer["content"], tool_calls=calls, model=last.model)

    def ask(self) -> Reply:
        self.check_limits()
        return self.query()

    def query(self) -> Reply:
        tools = TOOLS if self.config.protocol == "tools" else None
        deadline = self.started + self.ctx.timeout
        reply = self.model.query(
            self.messages, tools=tools, sampling=self.sampling, deadline=deadline
        )
        self.messages.append(reply.message())
        self.tokens += reply.usage.total
        if reply.cost is None:
            self.cost_known = False
        else:
            self.cost += reply.cost
        first = not self.turns
        waits, self.notes[:] = list(self.notes), []
        self.turns.append(
            Turn(
                attempt=self.ctx.attempt,
                number=len(self.turns) + 1,
                model=reply.model,
                content=self.redact(reply.content),
                input_tokens=reply.usage.input_tokens,
                output_tokens=reply.usage.output_tokens,
                cost=reply.cost,
                latency=reply.latency,
                request=reply.request,
                response=reply.response,
                prompts=self.prompts.label,
                protocol=self.config.protocol,
                sampling=dict(vars(self.sampling)),
                feedback=self.ctx.feedback if first else None,
                start=self.start_state if first else None,
                waits=waits,
                messages=self.conversation(),
            )
        )
        self.save()  # the answer is paid for: keep it even if the command never ends
        self.show(
            f"\n# turn {len(self.turns)}: {reply.usage.output_tokens} tokens from the "
            f"model in {reply.latency:.1f} s\n"
        )
        return reply

    def execute(self, reply: Reply) -> None:
        turn = self.turns[-1]
        try:
            if self.config.protocol == "tools":
                actions = parse_tools(reply)
            else:
                actions = [parse_text(reply.content)]
        except FormatError:
            self.check_stuck("format: " + reply.content.strip())
            raise
        outputs = []
        for action in actions:
            if action.submit:
                turn.command = "submit"
                if self.unchanged_once():
                    self.reply(action, self.prompts.render("no_change"))
                    return
                raise Submitted(f"submitted after {len(self.turns)} turn(s)")
            done, timeout = self.run_command(action)
            outputs.append(done.output)
            turn.command = "\n".join(filter(None, [turn.command, self.redact(action.label)]))
            turn.exit_code, turn.output = done.exit_code, "\n".join(outputs)
            text = self.prompts.render(
                "observation",
                exit_code=done.exit_code,
                output=done.output,
                timed_out=done.timed_out,
                timeout=round(timeout),
            )
            self.reply(action, text)
        self.check_stuck("\n".join(a.label for a in actions), "\n".join(outputs))

    def reply(self, action: Action, text: str) -> None:
        """The next message: a tool result for a tool call, else a user message."""
        if action.call_id is None:
            self.add("user", text)
        else:
            self.messages.append({"role": "tool", "tool_call_id": action.call_id, "content": text})

    def unchanged_once(self) -> bool:
        """A first submit with nothing changed since the attempt began is sent back once."""
        if self.nudged or not self.config.nudge_unchanged:
            return False
        self.nudged = self.workspace_state() == self.start_state
        if self.nudged:
            self.turns[-1].unchanged = True
        return self.nudged

    def workspace_state(self) -> str:
        """A digest of the workspace's changes (kept with the first turn, for a resume)."""
        done = self.ctx.sandbox.run(
            "git status --porcelain --untracked-files=all && git diff",
            cwd=self.ctx.workspace,
            env=self.ctx.environ,
            timeout=30,
        )
        state = done.output if done.ok else f"unknown {time.monotonic()}"
        return hashlib.sha256(state.encode()).hexdigest()

    def run_command(self, action: Action) -> tuple[Completed, float]:
        """Run it in the sandbox; the output comes back trimmed and redacted."""
        assert action.command is not None
        remaining = self.ctx.timeout - (time.monotonic() - self.started)
        timeout = max(min(self.config.command_timeout, remaining), 1.0)
        self.show(f"$ {self.redact(action.label)}\n")
        done = self.ctx.sandbox.run(
            action.command,
            cwd=self.ctx.workspace,
            env=self.ctx.environ,
            timeout=timeout,
            cancel=self.ctx.cancel,
            on_output=self.ctx.live,
        )
        end = "" if done.output.endswith("\n") or not done.output else "\n"
        self.show(f"{end}[exit {done.exit_code}]\n")
        done.output = trim(self.redact(done.output), self.config.output_chars)
        return done, timeout

    def show(self, text: str) -> None:
        """To the live output, which the user may watch while the attempt runs."""
        if self.ctx.live is not None:
            self.ctx.live(text)

    # -- limits ----------------------------------------------------------------

    def check_limits(self) -> None:
        ctx, config = self.ctx, self.config
        if ctx.pause is not None and ctx.pause.is_set():  # first: a stop past its grace
            raise Interrupted()  # also kills (cancel), and the attempt must resume, not end
        if ctx.cancel is not None and ctx.cancel.is_set():
            raise Cancelled("cancelled")
        if len(self.turns) >= config.max_turns:
            raise LimitReached(f"stopped at the turn limit ({config.max_turns} turns)")
        if ctx.tokens_left is not None and self.tokens >= ctx.tokens_left:
            raise LimitReached(f"stopped at the token budget ({self.tokens} tokens used)")
        if ctx.usd_left is not None and self.cost_known and self.cost >= ctx.usd_left:
            raise LimitReached(f"stopped at the cost budget (${self.cost:.4f} spent)")
        if self.out_of_time():
            raise self.time_limit()

    def out_of_time(self) -> bool:
        return time.monotonic() - self.started >= self.ctx.timeout

    def time_limit(self) -> LimitReached:
        return LimitReached(f"stopped at the time limit ({self.ctx.timeout / 60:.1f} min)")

    def check_stuck(self, action: str, output: str = "") -> None:
        """The same action with the same result ``repeat_limit`` times in a row: say so
        to the model; if it goes on regardless, stop."""
        key = action + "\0" + output
        self.repeats = (self.repeats if self.repeats[-1:] == [key] else []) + [key]
        count = len(self.repeats)
        if count > self.config.repeat_limit and self.warned_stuck:
            raise LimitReached(f"stopped in a loop: the same action {count} times in a row")
        if count >= self.config.repeat_limit and not self.warned_stuck:
            self.warned_stuck = True
            self.turns[-1].stuck = count
            command = action.splitlines()[0][:200] if action else ""
            self.add("user", self.prompts.render("stuck", count=count, command=command))

    # -- helpers ---------------------------------------------------------------

    def task_prompt(self) -> str:
        ctx = self.ctx
        self.start_state = self.workspace_state()
        listing = ctx.sandbox.run(
            "git ls-files --cached --others --exclude-standard | head -n 200",
            cwd=ctx.workspace,
            env=ctx.environ,
            timeout=30,
            cancel=ctx.cancel,
        )
        files = listing.output.split() if listing.ok else []
        values = task_values(
            spec=ctx.spec_file.read_text().strip(),
            attempt=ctx.attempt,
            feedback=ctx.feedback,
            standards=conventions(ctx.workspace) if ctx.standards is None else ctx.standards,
            files=files,
            read=self.read_file,
            named_files=self.config.named_files,
        )
        return self.prompts.render("task", **values)

    def read_file(self, path: str) -> str | None:
        """A file the spec names, as the workspace has it (keys redacted): it saves the
        first turns (and small models often skip reading them)."""
        shown = self.ctx.sandbox.run(
            f"cat -- {shlex.quote(path)}",
            cwd=self.ctx.workspace,
            env=self.ctx.environ,
            timeout=30,
        )
        return self.redact(shown.output) if shown.ok else None

    def add(self, role: str, content: str) -> None:
        self.messages.append({"role": role, "content": content})

    def redact(self, text: str) -> str:
        return redact(text, self.model.secrets)

    def save(self) -> None:
        if self.turns and self.ctx.on_turn is not None:
            self.ctx.on_turn(self.turns[-1])

    def conversation(self) -> list[dict[str, Any]]:
        """The current turn's part of the conversation, as recorded (keys redacted)."""
        return redact_data(self.messages[self.mark :], self.model.secrets)

    def end_turn(self) -> None:
        """The turn's part of the conversation is final: it is done, and saved. Not when
        its command was killed (a stop past its grace): a resumed attempt reruns it."""
        killed = self.ctx.cancel is not None and self.ctx.cancel.is_set()
        if self.turns and not self.turns[-1].done and not killed:
            self.turns[-1].messages, self.turns[-1].done = self.conversation(), True
            self.mark = len(self.messages)
        self.save()

    def result(self, stop: AgentStop, exit_code: int | None = None) -> AgentResult:
        message = str(stop)
        exit_code = stop.exit_code if exit_code is None else exit_code
        if self.turns:
            self.turns[-1].end, self.turns[-1].end_exit_code = message, exit_code
        cost = f"cost {usd(self.cost if self.cost_known else None)}"
        summary = f"{message} · {self.tokens} tokens · {cost} · {self.config.model}"
        log.info("agent: %s", summary)
        return AgentResult(exit_code, summary, self.transcript(message))

    def transcript(self, end: str) -> str:
        lines = [
            f"model {self.config.model} · prompts {self.prompts.label} · "
            f"protocol {self.config.protocol} · attempt {self.ctx.attempt}"
        ]
        for turn in self.turns:
            lines += [
                f"\n--- turn {turn.number} ({turn.input_tokens}+{turn.output_tokens} "
                f"tokens, {turn.latency:.1f} s)",
                turn.content.strip(),
            ]
            for wait in turn.waits:
                lines.append(f"[{wait}]")
            if turn.command and turn.command != "submit":
                lines += [f"$ {turn.command}", f"[exit {turn.exit_code}]", turn.output or ""]
        lines.append(f"\n=== {end}")
        return self.redact("\n".join(lines))
