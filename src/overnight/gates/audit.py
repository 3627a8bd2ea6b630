"""Known-vulnerable dependencies a change adds, checked with pip-audit.

Only when a dependency file changed: the pinned requirements (``name==x``) it
adds relative to the base — in requirements files, pyproject.toml, setup.py or
setup.cfg, and the lock files of poetry, uv and pipenv — are audited with
``pip-audit --no-deps`` against the vulnerability service (PyPI by default,
or an OSV-compatible one). When the service cannot be reached, or a package
cannot be audited, the result is a problem to report (an ``error``), never a
pass; so is a changed dependency file whose requirements cannot be read (a
TOML or JSON file that does not parse), and a pin pip-audit's report leaves
out. Unpinned requirements are listed in the log as not audited.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from overnight.config import DEPENDENCY_FILES
from overnight.gates import GateContext
from overnight.gates.evidence import not_run, tail
from overnight.sandbox import Access

PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*===?\s*([0-9][^\s,;\"']*)")
NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
QUOTED = re.compile(r"[\"']([^\"']+)[\"']")
NETWORK_ENV = (
    "REQUESTS_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "PIP_CERT",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
    "https_proxy",
    "http_proxy",
    "no_proxy",
)
UNREACHABLE = re.compile(
    r"ConnectionError|ConnectTimeout|ReadTimeout|Max retries exceeded|Name or service not known|"
    r"Temporary failure in name resolution|Failed to resolve|ProxyError|Connection refused|"
    r"Network is unreachable|SSLError",
)


@dataclass
class Audit:
    command: str = ""
    findings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    log: str = ""
    audited: list[str] = field(default_factory=list)


def is_dependency_file(path: str) -> bool:
    name = PurePosixPath(path).name
    return (
        name in DEPENDENCY_FILES
        or bool(re.match(r"^requirements.*\.(txt|in)$", name))
        or PurePosixPath(path).parent.name == "requirements"
        and name.endswith((".txt", ".in"))
    )


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: str, text: str | None) -> tuple[set[tuple[str, str]], set[str]]:
    """(pinned (name, version) pairs, unpinned names) a dependency file declares."""
    if not text:
        return set(), set()
    name = PurePosixPath(path).name
    specs: list[str] = []
    pinned: set[tuple[str, str]] = set()
    if name in ("poetry.lock", "uv.lock"):
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            return set(), set()
        for pkg in data.get("package", []):
            if "name" in pkg and "version" in pkg:
                pinned.add((canonical(pkg["name"]), str(pkg["version"])))
        return pinned, set()
    if name == "Pipfile.lock":
        try:
            data = json.loads(text)
        except ValueError:
            return set(), set()
        for section in ("default", "develop"):
            for pkg, info in data.get(section, {}).items():
                version = str(info.get("version", "")).lstrip("=")
                if version:
                    pinned.add((canonical(pkg), version))
        return pinned, set()
    if name == "pyproject.toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            return set(), set()
        project = data.get("project", {})
        specs = list(project.get("dependencies", []))
        for extra in project.get("optional-dependencies", {}).values():
            specs += extra
        for group in data.get("dependency-groups", {}).values():
            specs += [s for s in group if isinstance(s, str)]
    elif name.endswith(".py") or name.endswith(".cfg"):
        specs = QUOTED.findall(text) + text.splitlines()
    else:  # a requirements file
        specs = [line.split("#", 1)[0] for line in text.splitlines()]
        specs = [s for s in specs if s.strip() and not s.strip().startswith("-")]
    unpinned: set[str] = set()
    for spec in specs:
        m = PIN.match(spec)
        if m:
            pinned.add((canonical(m.group(1)), m.group(2)))
        elif name not in ("setup.py", "setup.cfg") and NAME.match(spec):
            unpinned.add(canonical(NAME.match(spec).group(1)))  # type: ignore[union-attr]
    return pinned, unpinned


def added_pins(ctx: GateContext) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """(new pins, new unpinned names, dependency files changed)."""
    files = [p for p in ctx.changed if is_dependency_file(p)]
    new: set[tuple[str, str]] = set()
    loose: set[str] = set()
    for path in files:
        before, was_loose = pins(path, ctx.base_source(path))
        after, now_loose = pins(path, ctx.source(path))
        new |= after - before
        loose |= now_loose - was_loose
    return sorted(new), sorted(loose - {n for n, _ in new}), files


def network_environ(environ: dict[str, str]) -> dict[str, str]:
    """The gate's environment plus the worker's proxy and certificate settings (the
    audit, like setup, talks to the package index)."""
    env = dict(environ)
    env.update({k: os.environ[k] for k in NETWORK_ENV if k in os.environ})
    if "PIP_CERT" in env:
        env.setdefault("REQUESTS_CA_BUNDLE", env["PIP_CERT"])
    return env


def unreadable(path: str, text: str | None) -> str | None:
    """Why the requirements of a dependency file cannot be read (None: they can, or it
    has none to read): a TOML or JSON file that does not parse."""
    name = PurePosixPath(path).name
    try:
        if text and name in ("pyproject.toml", "poetry.lock", "uv.lock"):
            tomllib.loads(text)
        elif text and name == "Pipfile.lock":
            json.loads(text)
    except ValueError as exc:  # TOMLDecodeError and JSONDecodeError both are
        return f"{type(exc).__name__}: {exc}"
    return None


def audit(ctx: GateContext, service: str = "pypi", osv_url: str | None = None) -> Audit:
    new, loose, files = added_pins(ctx)
    result = Audit()
    for path in files:
        why = unreadable(path, ctx.source(path))
        if why:
            result.problems.append(
                f"the requirements in {path} cannot be read, so they were not audited: {why}"
            )
    notes = [f"dependency files changed: {', '.join(files) or 'none'}"]
    if loose:
        notes.append(f"unpinned, not audited: {', '.join(loose)}")
    if not new:
        result.log = "\n".join(notes + ["no new pinned requirements to audit"])
        return result
    result.audited = [f"{n}=={v}" for n, v in new]
    with tempfile.TemporaryDirectory(prefix="overnight-audit-") as tmp:
        (Path(tmp) / "requirements.txt").write_text("\n".join(result.audited) + "\n")
        service_args = f" --vulnerability-service {service}"
        if osv_url:
            service_args += f" --osv-url {osv_url}"
        result.command = (
            "pip-audit -r requirements.txt --no-deps --disable-pip --progress-spinner off "
            f"--format json --output report.json{service_args}"
        )
        done = ctx.sandbox.run(
            result.command,
            cwd=Path(tmp),
            env=network_environ(ctx.environ),
            timeout=min(ctx.timeout, 300),
            cancel=ctx.cancel,
            access=Access(network=True),
        )
        report_file = Path(tmp) / "report.json"
        report = report_file.read_text() if report_file.exists() else ""
    result.log = "\n".join(
        notes + [f"$ {result.command}", done.output, report, f"[exit {done.exit_code}]"]
    )
    try:
        data = json.loads(report)
    except ValueError:
        data = None
    if data is None:
        last = tail(done.output, 300)
        problem = not_run(done, "pip-audit")
        if problem:
            result.problems.append(problem)
        elif UNREACHABLE.search(done.output):
            where = osv_url or ("pypi.org" if service == "pypi" else service)
            result.problems.append(
                f"the vulnerability service ({where}) could not be reached, so "
                f"{', '.join(result.audited)} could not be audited: {last}"
            )
        else:
            result.problems.append(f"pip-audit failed (exit {done.exit_code}): {last}")
        return result
    reported = {canonical(str(dep.get("name"))) for dep in data.get("dependencies", [])}
    unreported = [pin for pin in result.audited if canonical(pin.split("==")[0]) not in reported]
    if unreported:
        result.problems.append(
            f"pip-audit's report leaves out {', '.join(unreported)}: they were not audited"
        )
    for dep in data.get("dependencies", []):
        pin = f"{dep.get('name')}=={dep.get('version', '?')}"
        if dep.get("skip_reason"):
            result.problems.append(f"{dep.get('name')} could not be audited: {dep['skip_reason']}")
        for vuln in dep.get("vulns", []):
            aliases = ", ".join(vuln.get("aliases", []))
            fixed = ", ".join(vuln.get("fix_versions", [])) or "no fixed version"
            result.findings.append(
                f"{pin}: {vuln.get('id')}"
                + (f" ({aliases})" if aliases else "")
                + f"; fixed in {fixed}"
            )
    return result
