"""Instalment plans as the ledger sees them: which invoices a plan spares a day's penalty, and
each plan's standing on a day (the rule: `billing.ledger.plans`), read in a few queries for a
whole batch of accounts.

A plan counts the money paid into its account from the moment it was agreed (`created_at`)
until the start of the day asked about (`as_of`), by local day in `timezone`.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import or_
from sqlmodel import Session, col, select

from billing.ledger.plans import PlanState, Standing, standing_on
from billing.models import (
    Instalment,
    InstalmentPlan,
    InstalmentPlanInvoice,
    LedgerEntry,
    LedgerKind,
    PlanStatus,
)
from housing import clock


def plans_that_may_hold(session: Session, apartment_ids: Sequence[int], day: date) -> list[InstalmentPlan]:
    """The plans of these accounts agreed before `day` and not recorded as ended by then.

    A recorded end is the one `standing_on` computes (the plans' job stores it), or a
    cancellation, so leaving those out changes no answer; it keeps old plans out of the batch.
    """
    return list(
        session.exec(
            select(InstalmentPlan)
            .where(
                col(InstalmentPlan.apartment_id).in_(apartment_ids),
                InstalmentPlan.agreed_on < day,
                or_(col(InstalmentPlan.ended_on).is_(None), col(InstalmentPlan.ended_on) > day),
            )
            .order_by(InstalmentPlan.id)
        ).all()
    )


def standings(
    session: Session, plans: Sequence[InstalmentPlan], day: date, as_of: datetime | None, timezone: str
) -> dict[int, Standing]:
    """plan id -> its standing at the start of `day`; payments before `as_of` (all without it)."""
    if not plans:
        return {}
    plan_ids = [plan.id for plan in plans]
    schedules: dict[int, list[tuple[date, int]]] = defaultdict(list)
    for plan_id, due_on, amount in session.exec(
        select(Instalment.plan_id, Instalment.due_on, Instalment.amount_minor)
        .where(col(Instalment.plan_id).in_(plan_ids))
        .order_by(Instalment.plan_id, Instalment.position)
    ).all():
        schedules[plan_id].append((due_on, int(amount)))
    query = select(LedgerEntry.apartment_id, LedgerEntry.occurred_at, LedgerEntry.amount_minor).where(
        col(LedgerEntry.apartment_id).in_({plan.apartment_id for plan in plans}),
        col(LedgerEntry.kind).in_((LedgerKind.payment, LedgerKind.refund)),
        LedgerEntry.occurred_at >= min(plan.created_at for plan in plans),
    )
    if as_of is not None:
        query = query.where(LedgerEntry.occurred_at < as_of)
    paid: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for apartment_id, occurred_at, amount in session.exec(query).all():
        paid[apartment_id].append((occurred_at, -int(amount)))  # payments are negative entries
    found = {}
    for plan in plans:
        since = plan.created_at
        computed = standing_on(
            day,
            agreed_on=plan.agreed_on,
            schedule=schedules[plan.id],
            payments=[
                (clock.local_day(at, timezone), amount)
                for at, amount in paid[plan.apartment_id]
                if at >= since
            ],
            cancelled_from=plan.ended_on if plan.status == PlanStatus.cancelled else None,
        )
        found[plan.id] = _recorded(plan, day, computed) or computed
    return found


def _recorded(plan: InstalmentPlan, day: date, computed: Standing) -> Standing | None:
    """A kept or missed outcome the plans' job recorded is final from its end day: a payment keyed
    in later with an earlier date does not revive a plan the resident was told had ended, and the
    pages say what the penalties do."""
    if (
        plan.status not in (PlanStatus.kept, PlanStatus.missed)
        or plan.ended_on is None
        or day < plan.ended_on
    ):
        return None
    return Standing(PlanState(plan.status), plan.ended_on, computed.paid_minor, computed.missed_position)


def spared_invoices(
    session: Session, apartment_ids: Sequence[int], day: date, as_of: datetime | None, timezone: str
) -> set[int]:
    """The invoices of these accounts that a plan holding on `day` spares that day's penalty."""
    plans = plans_that_may_hold(session, apartment_ids, day)
    known = standings(session, plans, day, as_of, timezone)
    holding = [plan.id for plan in plans if known[plan.id].holds_on(plan.agreed_on, day)]
    if not holding:
        return set()
    return set(
        session.exec(
            select(InstalmentPlanInvoice.invoice_id).where(col(InstalmentPlanInvoice.plan_id).in_(holding))
        ).all()
    )
