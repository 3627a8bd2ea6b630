"""``overnight eval compare``: configurations run on the same instances, compared.

A configuration is a small TOML file (``eval_config.py``). Every configuration is checked before anything is queued. Each configuration
runs every instance ``repeat`` times as tasks of its own (in one store, told
apart by their ids), a worker in this process drains them, and the report
gives per configuration the resolved (READY) rate, cost (unknown stays unknown,
``overnight.cost``), tokens, wall time and the gates that failed most; per
pair of configurations the difference of resolve rates with a paired bootstrap
interval over instances, McNemar's exact test on the (instance, repeat) pairs,
and the instances where they disagree. The report is stored
(``store/evaluations.py``) and can be written as a self-contained HTML page.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from itertools import combinations
from pathlib import Path
from typing import Any

from overnight import cost, eval_config, queue
from overnight.errors import UsageError
from overnight.eval_config import EvalConfig
from overnight.evaluation import read_instances, report, submit_instances
from overnight.store import Store
from overnight.store.evaluations import save_comparison
from overnight.task_list import costs
from overnight.worker import Worker

SEED = 16  # the bootstrap's: the same results give the same interval
RESAMPLES = 4000
LEVEL = 0.95
TOP_GATES = 3


def load_configs(paths: list[Path]) -> list[EvalConfig]:
    """Two or more configurations (``eval_config.py``), each checked."""
    if len(paths) < 2:
        raise UsageError(
            "compare needs two or more configurations (--config A.toml --config B.toml)"
        )
    return eval_config.load_configs(paths)


def run_compare(
    store: Store, suite: Path, configs: list[EvalConfig], *, repeat: int = 1, slots: int = 1
) -> dict[str, Any]:
    """Queue every instance ``repeat`` times per configuration (all or none), run
    them in this process, store and return the report (``compare_report``). The
    configurations take turns on each instance, so none runs all its tasks on a
    cold or a warm machine."""
    instances = read_instances(suite)
    groups = {(c.name, n): (c, n, dict[str, int]()) for n in range(1, repeat + 1) for c in configs}
    try:
        for n in range(1, repeat + 1):
            for instance in instances:
                for config in configs:
                    ids = submit_instances(
                        store,
                        suite,
                        [instance],
                        agent=config.agent,
                        budget=config.budget,
                        prompts=config.prompts,
                    )
                    groups[config.name, n][2].update(ids)
    except UsageError:
        for _, _, ids in groups.values():
            for task_id in ids.values():
                queue.cancel(store, task_id)
        raise
    Worker(store, slots=slots).run(drain=True)
    rows: dict[str, list[dict[str, Any]]] = {c.name: [] for c in configs}
    for config, n, ids in groups.values():
        rows[config.name] += outcomes(store, config, n, ids)
    where = str(suite.resolve())
    result = compare_report(where, configs, rows)
    with store.session() as session:
        result["id"] = save_comparison(session, where, [c.name for c in configs], result)
    return result


def outcomes(
    store: Store, config: EvalConfig, repeat: int, ids: dict[str, int]
) -> list[dict[str, Any]]:
    """``evaluation.report``'s rows with the repeat, USD (None: unknown) and tokens."""
    rows = report(store, ids)
    with store.reading() as session:
        spend = costs(session, list(ids.values()))
    recorded = cost.recorded(config.agent)
    for row in rows:
        paid = spend.get(row["task_id"], {"usd": None, "tokens": 0})
        row.update(repeat=repeat, usd=paid["usd"], tokens=paid["tokens"] if recorded else None)
    return rows


def compare_report(
    suite: str, configs: list[EvalConfig], rows: dict[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    """The whole report as plain data (what ``--json`` prints and the store keeps)."""
    return {
        "suite": suite,
        "seed": SEED,
        "configs": [
            {"name": c.name, **c.describe(), **config_summary(rows[c.name])} for c in configs
        ],
        "pairs": [
            pair_summary(a.name, b.name, rows[a.name], rows[b.name])
            for a, b in combinations(configs, 2)
        ],
        "rows": rows,
    }


def config_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    resolved = sum(r["status"] == "ready" for r in rows)
    spent = [r["usd"] for r in rows]
    tokens = [r["tokens"] for r in rows]
    gates = Counter(g for r in rows for g in r["failing_gates"])
    return {
        "runs": len(rows),
        "resolved": resolved,
        "rate": resolved / len(rows) if rows else 0.0,
        "usd": None if None in spent else round(sum(s for s in spent if s is not None), 6),
        "cost": cost.total(spent),
        "tokens": None if None in tokens else sum(t for t in tokens if t is not None),
        "seconds": round(sum(r["seconds"] for r in rows), 3),
        "failing_gates": [[gate, n] for gate, n in gates.most_common(TOP_GATES)],
    }


def resolved_by_instance(rows: list[dict[str, Any]]) -> dict[str, list[bool]]:
    """Instance id -> resolved or not, one entry per repeat, in repeat order."""
    out: dict[str, list[bool]] = {}
    for row in sorted(rows, key=lambda r: r["repeat"]):
        out.setdefault(row["instance_id"], []).append(row["status"] == "ready")
    return out


def pair_summary(
    a: str, b: str, rows_a: list[dict[str, Any]], rows_b: list[dict[str, Any]]
) -> dict[str, Any]:
    """B against A on the same instances: difference of resolve rates (B - A) with its
    bootstrap interval, McNemar's exact p, and the instances where they disagree."""
    by_a, by_b = resolved_by_instance(rows_a), resolved_by_instance(rows_b)
    names = list(by_a)
    rate_a = [mean(by_a[n]) for n in names]
    rate_b = [mean(by_b[n]) for n in names]
    only_a = sum(x and not y for n in names for x, y in zip(by_a[n], by_b[n], strict=True))
    only_b = sum(y and not x for n in names for x, y in zip(by_a[n], by_b[n], strict=True))
    diff, low, high = paired_bootstrap(rate_a, rate_b)
    return {
        "a": a,
        "b": b,
        "difference": diff,
        "interval": [low, high],
        "level": LEVEL,
        "only_a": only_a,
        "only_b": only_b,
        "mcnemar_p": mcnemar_exact(only_a, only_b),
        "disagree": [
            {"instance_id": n, a: sum(by_a[n]), b: sum(by_b[n]), "of": len(by_a[n])}
            for n in names
            if sum(by_a[n]) != sum(by_b[n])
        ],
    }


def mean(values: list[bool] | list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p: the discordant pairs (``b`` only the first resolved,
    ``c`` only the second) against a fair coin."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2**n
    return min(1.0, 2 * tail)


def paired_bootstrap(
    a: list[float],
    b: list[float],
    *,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    seed: int = SEED,
) -> tuple[float, float, float]:
    """(mean of b - a, low, high): the percentile interval of the mean paired
    difference, resampling instances with replacement from a fixed seed."""
    diffs = [y - x for x, y in zip(a, b, strict=True)]
    if not diffs:
        return 0.0, 0.0, 0.0
    rng = random.Random(seed)
    n = len(diffs)
    means = sorted(sum(rng.choices(diffs, k=n)) / n for _ in range(resamples))
    tail = (1 - level) / 2
    return mean(diffs), quantile(means, tail), quantile(means, 1 - tail)


def quantile(ordered: list[float], q: float) -> float:
    """The ``q`` quantile of sorted values, interpolated linearly."""
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
