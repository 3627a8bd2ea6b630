"""The ``command`` agent: any CLI agent or script, run in the task's sandbox.

It sees the spec in the file named by ``$OVERNIGHT_SPEC``, the previous
attempt's feedback in ``$OVERNIGHT_FEEDBACK`` (and the file
``$OVERNIGHT_FEEDBACK_FILE``), the task id in ``$OVERNIGHT_TASK_ID``, the
attempt number in ``$OVERNIGHT_ATTEMPT`` and, for tasks made by ``eval run``,
the instance id in ``$OVERNIGHT_INSTANCE_ID``, and the repository's coding
standards that exist at the base as workspace-relative paths, one a line, in
``$OVERNIGHT_STANDARDS``. Its exit code is recorded but
proves nothing: only the gates decide. Its command and output go to
``ctx.live`` as they come.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from overnight.agents import Agent, AgentContext, AgentResult, BaseAgent
from overnight.registry import Argument
from overnight.sandbox import Access

if TYPE_CHECKING:
    from overnight.config import ProjectConfig


class CommandAgent(BaseAgent):
    name = "command"
    argument = Argument("shell command", required=True)

    def __init__(self, command: str) -> None:
        self.command = command

    @classmethod
    def build(cls, arg: str, config: ProjectConfig | None) -> Agent:
        return cls(arg.strip())

    def run(self, ctx: AgentContext) -> AgentResult:
        feedback_file = ctx.spec_file.with_name(f"feedback-{ctx.attempt}.md")
        feedback_file.write_text(ctx.feedback)
        env = {
            **ctx.environ,
            "OVERNIGHT_SPEC": str(ctx.spec_file),
            "OVERNIGHT_FEEDBACK": ctx.feedback,
            "OVERNIGHT_FEEDBACK_FILE": str(feedback_file),
            "OVERNIGHT_TASK_ID": str(ctx.task_id),
            "OVERNIGHT_RUN": str(ctx.run_number),
            "OVERNIGHT_ATTEMPT": str(ctx.attempt),
            "OVERNIGHT_WORKSPACE": str(ctx.workspace),
        }
        if ctx.instance_id:
            env["OVERNIGHT_INSTANCE_ID"] = ctx.instance_id
        if ctx.standards is not None:  # read at the base; the paths in the workspace
            env["OVERNIGHT_STANDARDS"] = "\n".join(s.path for s in ctx.standards)
        if ctx.live is not None:
            ctx.live(f"$ {self.command}\n")
        done = ctx.sandbox.run(
            self.command,
            cwd=ctx.workspace,
            env=env,
            timeout=ctx.timeout,
            cancel=ctx.cancel,
            access=Access(readable=(ctx.spec_file.parent,)),  # spec and feedback files
            on_output=ctx.live,
        )
        state = "timed out" if done.timed_out else f"exited {done.exit_code}"
        if ctx.live is not None:
            end = "" if done.output.endswith("\n") or not done.output else "\n"
            ctx.live(f"{end}[{state} after {done.duration:.1f} s]\n")
        return AgentResult(
            done.exit_code,
            f"`{self.command}` {state} after {done.duration:.1f} s",
            f"$ {self.command}\n{done.output}",
        )
