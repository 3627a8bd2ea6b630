"""The ``security`` gate: what the change adds, not what was already there.

Three checks, each switchable in ``[gates.security]``:
- ``bandit``: bandit's findings on the changed lines of non-test Python files,
  less those the base already had on the same code (a line that only moved);
- ``secrets``: key formats and high-entropy strings in every added line
  (``secretscan.py``); the keys passed to the agent on purpose (``agent_env``,
  the model key) are looked for in every changed file, binary ones too, even
  with ``secrets = false``: a change holding one is never delivered;
- ``audit``: when a dependency file changed, the pinned requirements it adds,
  audited by pip-audit (``audit.py``).
A finding fails the gate; a check that did not run on the change makes it an
``error``, never a pass: bandit missing, killed, crashed, unable to read a
changed file, or leaving one out of its report (its default exclusions,
``.tox/``, ``.eggs/``..., are turned off so it scans every file it is given);
the vulnerability service unreachable, a changed dependency file that cannot
be read, a pin pip-audit did not report. The secret scan runs in-process on
the lines git says the candidate's commit adds; its log counts them.
"""

from __future__ import annotations

import json
import shlex
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from overnight.config import GateConfig
from overnight.gates import ERROR, FAIL, PASS, BaseGate, GateContext, GateOutcome
from overnight.gates.audit import audit
from overnight.gates.changes import added_lines, source_files
from overnight.gates.evidence import not_run, present, tail
from overnight.gates.scope import matches
from overnight.gates.secretscan import scan, scan_passed
from overnight.masking import Mask
from overnight.sandbox import Access

SEVERITIES = ("low", "medium", "high")


@dataclass
class SecurityConfig(GateConfig):
    bandit: bool = True
    severity: str = "medium"  # the least severe bandit finding that counts
    skip: list[str] = field(default_factory=lambda: ["B101"])  # bandit test ids ignored
    secrets: bool = True
    secrets_exclude: list[str] = field(default_factory=list)  # globs not scanned for secrets
    audit: bool = True
    audit_service: str = "pypi"  # pip-audit's vulnerability service: "pypi" or "osv"
    osv_url: str | None = None  # an OSV-compatible query URL (a mirror)
    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {
        "severity": SEVERITIES,
        "audit_service": ("pypi", "osv"),
    }


@dataclass
class Part:
    name: str
    command: str = ""
    findings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    log: str = ""


class SecurityGate(BaseGate):
    name = "security"
    config_type = SecurityConfig

    def check(self, ctx: GateContext) -> GateOutcome:
        cfg = ctx.config.gate(self.name, SecurityConfig)
        start = time.monotonic()
        parts: list[Part] = []
        if cfg.bandit:
            parts.append(bandit_part(ctx, cfg))
        mask = Mask.of(ctx.config)
        if cfg.secrets or mask:
            parts.append(secrets_part(ctx, cfg, mask))
        if cfg.audit:
            found = audit(ctx, cfg.audit_service, cfg.osv_url)
            parts.append(
                Part(
                    "pip-audit",
                    found.command or "pip-audit (no new pins)",
                    found.findings,
                    found.problems,
                    found.log,
                )
            )
        findings = [f"{p.name}: {f}" for p in parts for f in p.findings]
        problems = [f"{p.name}: {f}" for p in parts for f in p.problems]
        command = " ; ".join(p.command for p in parts) or "security: every check disabled"
        log = "\n\n".join(f"== {p.name}\n{p.log}" for p in parts)
        duration = time.monotonic() - start
        if findings:
            more = f" (and {len(problems)} check problem(s))" if problems else ""
            return GateOutcome(
                self.name,
                FAIL,
                f"{len(findings)} finding(s): {findings[0]}{more}",
                command=command,
                duration=duration,
                log=log,
                feedback="Security problems in your change (fix them; never commit secrets, "
                "read them from the environment):\n"
                + "\n".join(f"- {f}" for f in findings[:20] + problems[:5]),
            )
        if problems:
            return GateOutcome(
                self.name,
                ERROR,
                f"could not check: {problems[0]}",
                command=command,
                duration=duration,
                log=log,
                feedback="\n".join(f"- {p}" for p in problems),
            )
        checked = ", ".join(p.name for p in parts)
        return GateOutcome(
            self.name,
            PASS,
            f"nothing new found ({checked})",
            command=command,
            duration=duration,
            log=log,
        )


def secrets_part(ctx: GateContext, cfg: SecurityConfig, mask: Mask) -> Part:
    """The added lines of the files the candidate's commit has (never the working tree,
    which the code under test may have rewritten), and the keys passed on purpose."""
    commands: list[str] = []
    notes: list[str] = []
    found = []
    if mask:  # every changed file, binary ones too; no exclusion or marker applies
        names = ", ".join(f"${name}" for name, _ in mask.keys)
        commands.append(f"the task's keys ({names}) in {len(ctx.changed)} changed file(s)")
        every = added_lines(ctx.workspace, ctx.sha, ctx.changed, binary=True)
        found += scan_passed(ctx.changed, every, mask)
    if cfg.secrets:
        candidate = present(ctx)
        paths = [p for p in candidate if not matches(p, cfg.secrets_exclude)]
        commands.append(f"secret scan of the lines added to {len(paths)} file(s)")
        added = added_lines(ctx.workspace, ctx.sha, paths)
        seen = {(s.path, s.line) for s in found}
        found += [s for s in scan(added) if (s.path, s.line) not in seen]
        excluded = sorted(set(candidate) - set(paths))
        notes.append(
            f"scanned {sum(map(len, added.values()))} added line(s) in {len(added)} "
            f"of {len(paths)} file(s)"
            + (f"; excluded by secrets_exclude: {', '.join(excluded)}" if excluded else "")
        )
    log = "\n".join([*(str(s) for s in found), *notes]) or "no secrets in added lines"
    return Part("secrets", "; ".join(commands), [str(s) for s in found], [], log)


def bandit_part(ctx: GateContext, cfg: SecurityConfig) -> Part:
    files = source_files(ctx.changed, ctx.workspace, ctx.sha)
    part = Part("bandit")
    if not files:
        part.command, part.log = "bandit (no changed non-test Python files)", "nothing to scan"
        return part
    skip = f" --skip {','.join(cfg.skip)}" if cfg.skip else ""
    # --exclude '': bandit's default exclusions (.tox, .eggs, ...) would skip changed files
    part.command = (
        f"bandit --quiet --format json --exclude '' --severity-level {cfg.severity}{skip}"
    )
    with tempfile.TemporaryDirectory(prefix="overnight-bandit-") as tmp:  # from the commit
        for path in files:
            (Path(tmp) / path).parent.mkdir(parents=True, exist_ok=True)
            (Path(tmp) / path).write_text(ctx.source(path) or "")
        found, problem, log = run_bandit(ctx, Path(tmp), files, part.command)
    part.log = log
    if problem:
        part.problems.append(problem)
        return part
    changed = added_lines(ctx.workspace, ctx.sha, files)
    on_changed = [f for f in found if f["line_number"] in changed.get(f["path"], {})]
    if not on_changed:
        return part
    with tempfile.TemporaryDirectory(prefix="overnight-bandit-") as tmp:
        base_files = []
        for path in sorted({f["path"] for f in on_changed}):
            text = ctx.workspace.file_at_base(path)
            if text is not None:
                (Path(tmp) / path).parent.mkdir(parents=True, exist_ok=True)
                (Path(tmp) / path).write_text(text)
                base_files.append(path)
        before, problem, base_log = (
            run_bandit(ctx, Path(tmp), base_files, part.command) if base_files else ([], None, "")
        )
    part.log += f"\n-- on the base:\n{base_log}"
    if problem:
        part.problems.append(f"on the base: {problem}")
        return part
    new = Counter(_key(f) for f in on_changed) - Counter(_key(f) for f in before)
    on_changed.sort(key=lambda f: -SEVERITIES.index(f["issue_severity"].lower()))  # worst first
    for f in on_changed:
        if new[_key(f)] > 0:
            new[_key(f)] -= 1
            part.findings.append(
                f"{f['path']}:{f['line_number']}: {f['test_id']} {f['issue_text']} "
                f"(severity {f['issue_severity'].lower()}, confidence "
                f"{f['issue_confidence'].lower()})"
            )
    return part


def run_bandit(
    ctx: GateContext, root: Path, files: list[str], command: str
) -> tuple[list[dict[str, Any]], str | None, str]:
    """Bandit's results on ``files`` under ``root``: (findings, problem, log)."""
    with tempfile.TemporaryDirectory(prefix="overnight-bandit-out-") as tmp:
        out = Path(tmp) / "bandit.json"
        full = f"{command} --output {out} " + " ".join(shlex.quote(f) for f in files)
        done = ctx.sandbox.run(
            full,
            cwd=root,
            env=ctx.environ,
            timeout=ctx.timeout,
            cancel=ctx.cancel,
            access=Access(writable=(Path(tmp),)),
        )
        text = out.read_text() if out.exists() else ""
    log = f"$ {full}\n{done.output}\n{text}\n[exit {done.exit_code}]"
    problem = not_run(done, "bandit")
    if problem:
        return [], problem, log
    try:
        data = json.loads(text)
    except ValueError:
        return [], f"bandit failed (exit {done.exit_code}): {tail(done.output)}", log
    if data.get("errors"):
        first = data["errors"][0]
        return [], f"bandit could not read {first.get('filename')}: {first.get('reason')}", log
    scanned = {k.removeprefix("./") for k in data.get("metrics", {})}
    skipped = [f for f in files if f not in scanned]
    if skipped:
        return [], f"bandit did not scan {', '.join(skipped[:5])}: check its exclusions", log
    results = []
    for item in data.get("results", []):
        path = item["filename"]
        path = str(Path(path).relative_to(root)) if Path(path).is_absolute() else path
        source = (root / path).read_text(errors="replace").splitlines()
        line = source[item["line_number"] - 1] if 0 < item["line_number"] <= len(source) else ""
        results.append({**item, "path": path.removeprefix("./"), "code_line": line.strip()})
    return results, None, log


def _key(finding: dict[str, Any]) -> tuple[str, str, str]:
    return finding["path"], finding["test_id"], finding["code_line"]
