"""A claim on PostgreSQL in one round trip: the function ``overnight_claim_v1``.

A claim through the ORM is some eight statements, each a round trip; this
function makes the same decisions inside the server, so ``queue.claim`` sends
one ``SELECT`` on an autocommit connection (no BEGIN, no COMMIT: the statement
is its own transaction). SQLite keeps the Python path in ``queue.claim``, which
is the reference: both apply the same rules, in the same order.

1. Limits (``running``, ``per_repo``): when either is set, claims that count
   are serialized (advisory lock 7355609, released at commit) and count the
   tasks running under a live lease (``lease_expires >= moment``) per
   repository; at the global limit nothing is claimed.
2. Paused queues: paused by hand (a ``paused_until`` in the past has ended),
   or their spending since 00:00 UTC (turns' cost; unknown counts as 0)
   reached ``usd_per_day``. Their tasks are left out of the candidates, so
   however many there are, they never hide the tasks behind them.
3. Candidates, locked with SKIP LOCKED (another claim is deciding on them):
   queued and due (``not_before`` empty or past), in claim order (priority
   descending, then id), and running tasks whose lease expired (a worker that
   stopped heartbeating, the longest expired first), each up to
   ``CANDIDATES``; merged in claim order, the first ``CANDIDATES`` are looked at.
4. Per candidate, in order: skipped at its repository's limit; a queued task
   with ``depends_on`` waits until each dependency is ready (or merged, with
   ``until: merged``), and fails when the first one not done never will be
   (missing, failed, cancelled, rejected); a run started ``RETRIES.limit``
   times fails as an infrastructure problem. A takeover skips the dependency
   check (it already started).
5. The claim: the latest run counts one more start, the task runs under the
   new lease with its fencing token bumped, ``not_before`` cleared; a
   ``claimed`` event says by whom (and from whom, on a takeover). Every event
   also wakes ``overnight watch`` (``pg_notify``).

The function is versioned by name: a change to it is a new ``_vN`` installed
by a new migration, so a database is never left with a body its code does not
expect.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text

from overnight.store.scheduling import CANDIDATES

LIMITS_LOCK = 7355609  # the advisory lock of claims that count running tasks
_DEAD = "('failed', 'cancelled', 'rejected')"

FUNCTION = f"""
CREATE OR REPLACE FUNCTION overnight_claim_v1(
    p_worker text, p_moment timestamp, p_expires timestamp, p_day timestamp,
    p_running integer, p_per_repo integer, p_candidates integer, p_retries integer)
RETURNS TABLE (claimed_task integer, claimed_run integer, claimed_fence integer,
               claimed_takeover boolean)
LANGUAGE plpgsql
-- the plans must not hang on statistics: a queue churns faster than autovacuum's ANALYZE
-- (right after a bulk submit it believes nothing runs, and scans what does); without
-- sorts the planner walks the claim-order and lease indexes whatever it estimates, and
-- the penalty sort costs carry must not start the JIT compiler (a second per plan)
SET enable_sort = off SET jit = off
AS $fn$
DECLARE
    v_live jsonb := '{{}}';
    v_total bigint := 0;
    v_paused text[];
    c record;
    d record;
    v_spec json;
    v_run integer;
    v_number integer;
    v_starts integer;
    v_held boolean;
    v_dead text;
    v_reason text;
    v_note text;
BEGIN
    IF p_running IS NOT NULL OR p_per_repo IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock({LIMITS_LOCK});
        SELECT coalesce(jsonb_object_agg(live.repo, live.n), '{{}}'), coalesce(sum(live.n), 0)
          INTO v_live, v_total
          FROM (SELECT t.repo, count(*) AS n FROM tasks t
                 WHERE t.status = 'running' AND t.lease_expires >= p_moment
                 GROUP BY t.repo) live;
        IF p_running IS NOT NULL AND v_total >= p_running THEN
            RETURN;
        END IF;
    END IF;

    SELECT coalesce(array_agg(q.name), '{{}}') INTO v_paused FROM queues q
     WHERE (coalesce(q.paused, false)
            AND NOT (q.paused_until IS NOT NULL AND q.paused_until <= p_moment))
        OR (q.usd_per_day IS NOT NULL AND q.usd_per_day <= (
            SELECT coalesce(sum(tu.cost), 0.0) FROM turns tu
              JOIN runs r ON r.id = tu.run_id JOIN tasks t ON t.id = r.task_id
             WHERE t.queue = q.name AND tu.created_at >= p_day));

    FOR c IN
        WITH due AS (
            SELECT t.id, t.queue, t.repo, t.status, t.lease_owner, t.fence, t.priority
              FROM tasks t
             WHERE t.status = 'queued' AND (t.not_before IS NULL OR t.not_before <= p_moment)
               AND t.queue <> ALL (v_paused)
             ORDER BY t.priority DESC, t.id LIMIT p_candidates
               FOR UPDATE SKIP LOCKED),
        expired AS (
            SELECT t.id, t.queue, t.repo, t.status, t.lease_owner, t.fence, t.priority
              FROM tasks t
             WHERE t.status = 'running' AND t.lease_expires < p_moment
               AND t.queue <> ALL (v_paused)
             ORDER BY t.lease_expires LIMIT p_candidates
               FOR UPDATE SKIP LOCKED)
        SELECT * FROM (SELECT * FROM due UNION ALL SELECT * FROM expired) merged
         ORDER BY merged.priority DESC, merged.id LIMIT p_candidates
    LOOP
        IF p_per_repo IS NOT NULL AND coalesce((v_live ->> c.repo)::int, 0) >= p_per_repo THEN
            CONTINUE;
        END IF;
        SELECT t.spec, r.id, r.number, r.claims INTO v_spec, v_run, v_number, v_starts
          FROM runs r JOIN tasks t ON t.id = r.task_id
         WHERE r.task_id = c.id ORDER BY r.number DESC LIMIT 1;

        IF c.status = 'queued' AND json_typeof(v_spec -> 'depends_on') = 'array' THEN
            v_held := false;
            v_dead := NULL;
            FOR d IN
                SELECT e.dep ->> 'task' AS name, e.dep ->> 'until' = 'merged' AS merged,
                       t.status
                  FROM json_array_elements(v_spec -> 'depends_on') WITH ORDINALITY e(dep, n)
                  LEFT JOIN tasks t ON t.id = (e.dep ->> 'task')::int
                 ORDER BY e.n
            LOOP
                CONTINUE WHEN d.status = 'merged'
                    OR (d.status = 'ready' AND NOT coalesce(d.merged, false));
                v_held := true;
                IF d.status IS NULL OR d.status IN {_DEAD} THEN
                    v_dead := format('dependency: task %s is %s', d.name,
                                     coalesce(d.status, 'missing'));
                END IF;
                EXIT;
            END LOOP;
            IF v_dead IS NOT NULL THEN  -- it never will run: it fails, its run is left be
                UPDATE tasks SET status = 'failed', failure_reason = v_dead,
                       lease_owner = NULL, lease_expires = NULL, updated_at = p_moment
                 WHERE id = c.id;
                INSERT INTO events (task_id, run_id, kind, message, created_at)
                VALUES (c.id, NULL, 'failed', v_dead, p_moment);
                PERFORM pg_notify('overnight_events', c.id::text);
                CONTINUE;
            END IF;
            CONTINUE WHEN v_held;
        END IF;

        IF v_starts >= p_retries THEN
            v_reason := format('infrastructure: run %s was started %s times without '
                               'finishing (workers crashing or the environment failing); '
                               'see the events', v_number, p_retries);
            UPDATE tasks SET status = 'failed', failure_reason = v_reason,
                   lease_owner = NULL, lease_expires = NULL, updated_at = p_moment
             WHERE id = c.id;
            UPDATE runs SET status = 'failed', failure_reason = v_reason, finished_at = p_moment
             WHERE id = v_run;
            INSERT INTO events (task_id, run_id, kind, message, created_at)
            VALUES (c.id, v_run, 'failed', v_reason, p_moment);
            PERFORM pg_notify('overnight_events', c.id::text);
            CONTINUE;
        END IF;

        UPDATE runs SET claims = v_starts + 1 WHERE id = v_run;
        UPDATE tasks SET status = 'running', not_before = NULL, lease_owner = p_worker,
               lease_expires = p_expires, fence = c.fence + 1, updated_at = p_moment
         WHERE id = c.id;
        v_note := CASE WHEN c.status = 'running' THEN format(
            ' (taken over from %s: its lease expired)', coalesce(c.lease_owner, 'None'))
            ELSE '' END;
        INSERT INTO events (task_id, run_id, kind, message, created_at)
        VALUES (c.id, v_run, 'claimed', format('claimed by %s%s', p_worker, v_note), p_moment);
        PERFORM pg_notify('overnight_events', c.id::text);
        RETURN QUERY SELECT c.id, v_run, c.fence + 1, c.status = 'running';
        RETURN;
    END LOOP;
END
$fn$
"""


@dataclass(frozen=True)
class Claimed:
    task_id: int
    run_id: int
    fence: int
    takeover: bool


def install(conn: Connection) -> None:
    """Create (or replace) the claim function; on PostgreSQL only."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(FUNCTION))


_CALL = text(
    "SELECT claimed_task, claimed_run, claimed_fence, claimed_takeover FROM overnight_claim_v1("
    "CAST(:worker AS text), CAST(:moment AS timestamp), CAST(:expires AS timestamp), "
    "CAST(:day AS timestamp), CAST(:running AS integer), CAST(:per_repo AS integer), "
    "CAST(:candidates AS integer), CAST(:retries AS integer))"
)


def claim(
    conn: Connection,
    worker_id: str,
    *,
    moment: datetime,
    expires: datetime,
    day: datetime,
    running: int | None,
    per_repo: int | None,
    retries: int,
) -> Claimed | None:
    """Run one claim on ``conn`` (an autocommit connection: the call is its own
    transaction); None when nothing is claimable."""
    row = conn.execute(
        _CALL,
        {
            "worker": worker_id,
            "moment": moment,
            "expires": expires,
            "day": day,
            "running": running,
            "per_repo": per_repo,
            "candidates": CANDIDATES,
            "retries": retries,
        },
    ).first()
    return None if row is None else Claimed(*row)
