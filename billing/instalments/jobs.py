"""The daily `instalment-plans` job: records how each plan still marked active has ended.

Whether a plan holds is computed from its schedule and the payments (`billing.ledger.plans`),
so penalties never wait for this job; it only stores the outcome (status, ended_on) and tells
the resident once, kept or missed. A missed day needs no catch-up: the next run finds every
plan that ended meanwhile, with the day it ended. One transaction per plan; a plan that fails
is logged and left for the next run.
"""

import logging
from datetime import date

from sqlalchemy import Engine

from billing.instalments.service import plans_to_judge, record_outcome
from billing.ledger.plans import PlanState
from housing.catchup import service as catchup
from housing.clock import local_today
from housing.db import session_scope
from housing.settings import Settings

log = logging.getLogger(__name__)

INSTALMENT_PLANS = "instalment-plans"


def instalment_plans(engine: Engine, settings: Settings, today: date | None = None) -> str:
    """Records the plans that ended by the start of `today`; a summary line."""
    today = today or local_today(settings.timezone)
    with session_scope(engine) as session:
        ids = plans_to_judge(session)
    kept = missed = failed = 0
    for plan_id in ids:
        try:
            with session_scope(engine) as session:
                state = record_outcome(session, plan_id, today, settings.timezone)
        except Exception:  # that plan rolled back; the others go on
            log.exception("instalment plans %s: plan %d failed", today.isoformat(), plan_id)
            failed += 1
            continue
        kept += state is PlanState.kept
        missed += state is PlanState.missed
    if not failed:
        with session_scope(engine) as session:
            catchup.mark_done(session, INSTALMENT_PLANS, today)
    line = f"instalment plans {today.isoformat()}: {len(ids)} active, {kept} kept, {missed} missed"
    return line + (f", {failed} failed (left for the next run)" if failed else "")
