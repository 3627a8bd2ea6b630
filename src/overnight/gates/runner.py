"""Running the gates: independent ones in parallel threads, cheap ones first.

The gates are listed cheap first (``registry.py``); a gate starts as soon as a
thread is free and the gates it ``needs`` have finished (the coverage gate reads the tests
gate's run, the review waits for every executable gate). Results come back in
the listed order, whatever order they finished in. A gate that raises is an
``error`` carrying the traceback, so one broken gate cannot pass or hang a run.
"""

from __future__ import annotations

import time
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from overnight.gates import ERROR, SKIPPED, Gate, GateContext, GateOutcome
from overnight.gates.registry import gate_list

DEFAULT_PARALLEL = 4


def run_all(
    ctx: GateContext, parallel: int | None = None, gates: list[Gate] | None = None
) -> list[GateOutcome]:
    """Every enabled gate (default: ``gate_list``) on the candidate; ``parallel=1``
    runs them one by one."""
    gates = gate_list(ctx.config) if gates is None else gates
    results: dict[str, GateOutcome] = {}
    pending: list[Gate] = []
    for gate in gates:
        if ctx.config.gate(gate.name, gate.config_type).enabled:
            pending.append(gate)
        else:
            results[gate.name] = GateOutcome(
                gate.name, SKIPPED, "disabled in the configuration", blocking=False
            )
    active = {g.name for g in pending}
    width = max(1, parallel or DEFAULT_PARALLEL)
    with ThreadPoolExecutor(max_workers=width, thread_name_prefix="gate") as pool:
        running: dict[Future[GateOutcome], Gate] = {}
        while pending or running:
            for gate in list(pending):
                if len(running) >= width:
                    break
                needs = set(gate.needs)
                needs = (active - {gate.name}) if "*" in needs else needs & active
                if needs <= set(results):
                    pending.remove(gate)
                    running[pool.submit(check, gate, ctx)] = gate
            if not running:  # a cycle in ``needs``: cannot happen with the built-in gates
                raise RuntimeError(f"gates wait on each other: {[g.name for g in pending]}")
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                gate = running.pop(future)
                results[gate.name] = future.result()
                ctx.evidence.setdefault("outcomes", {})[gate.name] = results[gate.name]
    return [results[g.name] for g in gates]


def check(gate: Gate, ctx: GateContext) -> GateOutcome:
    """One gate, timed, its configured blocking applied; a crash is an ``error``."""
    start = time.monotonic()
    try:
        outcome = gate.check(ctx)
    except Exception as exc:  # the gate's own crash boundary: recorded, never a pass
        outcome = GateOutcome(
            gate.name,
            ERROR,
            f"the gate crashed: {type(exc).__name__}: {exc}",
            log=traceback.format_exc(),
        )
    outcome.name = gate.name
    if not outcome.duration:
        outcome.duration = time.monotonic() - start
    setting = ctx.config.gate(gate.name, gate.config_type)
    outcome.blocking = setting.blocking and outcome.blocking and outcome.verdict != SKIPPED
    return outcome


def measure_gates(ctx: GateContext) -> tuple[dict[str, object], str]:
    """The base-commit measurements of gates that compare with the base (types,
    downstream): what ``Baseline.gates`` holds, and the combined log."""
    data: dict[str, object] = {}
    logs: list[str] = []
    for gate in gate_list(ctx.config):
        if not ctx.config.gate(gate.name, gate.config_type).enabled:
            continue
        found, log = gate.measure(ctx)
        if found is not None:
            data[gate.name] = found
        if log:
            logs.append(log)
    return data, "\n\n".join(logs)
