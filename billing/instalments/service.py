"""Instalment plans: staff agree a schedule with a debtor, cancel one, and the daily job
records how each plan ended. Verbs flush, never commit.

Who: a manager of the company managing the apartment's building today, or an admin
(`PLANNERS`); anyone else who can see the apartment gets 403, anyone who cannot 404. One plan
per account at a time, made sure of by locking the apartment's row while it is checked. The
rule of whether a plan holds on a day is `billing.ledger.plans`; docs/instalments.md.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlmodel import Session, col, select

from billing.ledger.plan_queries import standings
from billing.ledger.plans import PlanState, Standing, check_schedule
from billing.ledger.queries import of_visible_apartments
from billing.ledger.service import unpaid_by_invoice
from billing.models import (
    DEFAULT_CURRENCY,
    Instalment,
    InstalmentPlan,
    InstalmentPlanInvoice,
    Invoice,
    PlanStatus,
)
from housing import clock
from housing.actors import BOOKKEEPERS, Actor
from housing.errors import Conflict, Forbidden, Invalid, NotFound
from housing.notifications.recipients import users_of_apartments
from housing.notifications.service import notify
from housing.registry import queries as registry_queries
from housing.registry.models import Apartment
from housing.settings import CITY_TIMEZONE

PLANNERS = BOOKKEEPERS  # the people who agree money with a debtor: managers, and admins anywhere
MAX_INSTALMENTS = 60  # five years of monthly instalments
MAX_NOTE = 500


@dataclass(frozen=True)
class PlanView:
    """A plan with its schedule, covered invoices and where it stands today."""

    plan: InstalmentPlan
    instalments: list[Instalment]
    invoices: list[Invoice]
    standing: Standing  # at the start of today, as the penalties see it
    paid_minor: int  # counted toward the schedule so far, today's payments included


def require_planner(actor: Actor) -> None:
    if actor.role not in PLANNERS:
        raise Forbidden("only the managing company's managers (or an admin) agree or cancel instalment plans")


def visible_apartment(session: Session, actor: Actor, apartment_id: int, today: date) -> Apartment:
    """The apartment if the actor sees it today, else 404."""
    apartment = session.exec(
        registry_queries.visible_apartments(actor, today).where(Apartment.id == apartment_id)
    ).first()
    if apartment is None:
        raise NotFound(f"apartment {apartment_id} not found")
    return apartment


def _lock_apartment(session: Session, apartment_id: int) -> None:
    """Serialises plan changes of one account (two agree calls at once: one plan)."""
    session.exec(select(Apartment.id).where(Apartment.id == apartment_id).with_for_update()).one()


def agree_plan(
    session: Session,
    actor: Actor,
    *,
    apartment_id: int,
    invoice_ids: Sequence[int] | None,
    schedule: Sequence[tuple[date, int]],
    note: str = "",
    today: date,
    timezone: str = CITY_TIMEZONE,
) -> InstalmentPlan:
    """Agrees a plan for the debt of `invoice_ids` (None: every invoice of the account not paid in
    full), paid by `schedule` [(due_on, amount_minor)]: amounts above zero, dates ascending and
    after today, adding up to what those invoices still owe. Notifies the resident."""
    visible_apartment(session, actor, apartment_id, today)
    require_planner(actor)
    if len(schedule) > MAX_INSTALMENTS:
        raise Invalid(f"a plan has at most {MAX_INSTALMENTS} instalments", field="schedule")
    if len(note) > MAX_NOTE:
        raise Invalid(f"the note is at most {MAX_NOTE} characters", field="note")
    _lock_apartment(session, apartment_id)
    current = current_plan(session, apartment_id, today, timezone)
    if current is not None:
        raise Conflict(f"the account already has an instalment plan in force (plan {current.plan.id})")
    unpaid = unpaid_by_invoice(session, [apartment_id])
    if invoice_ids is None:
        chosen = sorted(unpaid)
        if not chosen:
            raise Conflict("the account has no unpaid invoice to spread over instalments")
    else:
        chosen = sorted(set(invoice_ids))
        if not chosen:
            raise Invalid(
                "name at least one invoice, or leave the list out to cover every unpaid one",
                field="invoice_ids",
            )
        strangers = [i for i in chosen if i not in unpaid]
        if strangers:
            raise Invalid(
                f"invoices {', '.join(map(str, strangers))} are not unpaid invoices of this account",
                field="invoice_ids",
            )
    covered = sum(unpaid[i] for i in chosen)
    problem = check_schedule(list(schedule), today=today, covered_minor=covered)
    if problem is not None:
        raise Invalid(problem, field="schedule")
    currency = session.exec(select(Invoice.currency).where(Invoice.id == chosen[0])).one() or DEFAULT_CURRENCY
    plan = InstalmentPlan(
        apartment_id=apartment_id,
        agreed_on=today,
        covered_minor=covered,
        currency=currency,
        note=note.strip(),
        agreed_by_id=actor.user_id,
        created_at=clock.now(),
    )
    session.add(plan)
    session.flush()
    session.add_all(InstalmentPlanInvoice(plan_id=plan.id, invoice_id=i) for i in chosen)
    session.add_all(
        Instalment(plan_id=plan.id, position=n, due_on=due_on, amount_minor=amount)
        for n, (due_on, amount) in enumerate(schedule, start=1)
    )
    session.flush()
    first_due, first_amount = schedule[0]
    _tell_resident(
        session,
        plan,
        "instalment_agreed",
        {
            "count": len(schedule),
            "total_minor": covered,
            "amount_minor": first_amount,
            "currency": currency,
            "due": first_due.isoformat(),
        },
        today,
    )
    return plan


def cancel_plan(
    session: Session, actor: Actor, *, plan_id: int, today: date, timezone: str = CITY_TIMEZONE
) -> InstalmentPlan:
    """Ends a plan in force: it still spares today's penalty (booked at the day's start), not
    tomorrow's. A plan already kept, missed or cancelled is a conflict."""
    plan = visible_plan(session, actor, plan_id, today)
    require_planner(actor)
    _lock_apartment(session, plan.apartment_id)
    session.refresh(plan)
    standing = _standing(session, plan, today, timezone)
    if plan.status != PlanStatus.active or standing.state is not PlanState.active:
        raise Conflict(f"plan {plan.id} is no longer in force ({standing.state})")
    plan.status = PlanStatus.cancelled
    plan.ended_on = today + timedelta(days=1)
    session.add(plan)
    session.flush()
    return plan


def record_outcome(session: Session, plan_id: int, today: date, timezone: str = CITY_TIMEZONE) -> PlanState:
    """The daily job's verb: a plan that has ended by the start of `today` gets its status and
    end day stored and the resident told once (kept or missed); an active one is left."""
    plan = session.exec(select(InstalmentPlan).where(InstalmentPlan.id == plan_id).with_for_update()).one()
    if plan.status != PlanStatus.active:
        return PlanState(plan.status)
    standing = _standing(session, plan, today, timezone)
    if standing.state not in (PlanState.kept, PlanState.missed):
        return standing.state
    plan.status = PlanStatus(standing.state)
    plan.ended_on = standing.ended_on
    session.add(plan)
    session.flush()
    if standing.state is PlanState.missed:
        missed = session.exec(
            select(Instalment).where(
                Instalment.plan_id == plan.id, Instalment.position == standing.missed_position
            )
        ).one()
        params = {
            "amount_minor": missed.amount_minor,
            "currency": plan.currency,
            "due": missed.due_on.isoformat(),
        }
        _tell_resident(session, plan, "instalment_missed", params, today)
    else:
        _tell_resident(
            session,
            plan,
            "instalment_kept",
            {"total_minor": plan.covered_minor, "currency": plan.currency},
            today,
        )
    return standing.state


def plans_to_judge(session: Session) -> list[int]:
    """The plans the daily job looks at: those still recorded as active."""
    return list(
        session.exec(
            select(InstalmentPlan.id)
            .where(InstalmentPlan.status == PlanStatus.active)
            .order_by(InstalmentPlan.id)
        ).all()
    )


def _standing(session: Session, plan: InstalmentPlan, day: date, timezone: str) -> Standing:
    return standings(session, [plan], day, clock.local_midnight(day, timezone), timezone)[plan.id]


def current_plan(
    session: Session, apartment_id: int, today: date, timezone: str = CITY_TIMEZONE
) -> PlanView | None:
    """The account's plan in force today (agreed and not ended at the start of today), if any."""
    plan = session.exec(
        select(InstalmentPlan)
        .where(InstalmentPlan.apartment_id == apartment_id, InstalmentPlan.status == PlanStatus.active)
        .order_by(col(InstalmentPlan.id).desc())
    ).first()
    if plan is None:
        return None
    view = plan_view(session, plan, today, timezone)
    return view if view.standing.state is PlanState.active else None


def plan_view(session: Session, plan: InstalmentPlan, today: date, timezone: str = CITY_TIMEZONE) -> PlanView:
    """The plan as its pages show it: where it stood at the start of today, and what has been
    paid toward it so far."""
    standing = _standing(session, plan, today, timezone)
    paid = standings(session, [plan], today + timedelta(days=1), None, timezone)[plan.id].paid_minor
    if plan.status == PlanStatus.cancelled and standing.state is PlanState.active:
        standing = Standing(PlanState.cancelled, plan.ended_on, standing.paid_minor)
    instalments = list(
        session.exec(
            select(Instalment).where(Instalment.plan_id == plan.id).order_by(Instalment.position)
        ).all()
    )
    invoices = list(
        session.exec(
            select(Invoice)
            .join(InstalmentPlanInvoice, col(InstalmentPlanInvoice.invoice_id) == Invoice.id)
            .where(InstalmentPlanInvoice.plan_id == plan.id)
            .order_by(Invoice.period, Invoice.id)
        ).all()
    )
    return PlanView(plan, instalments, invoices, standing, paid)


def visible_plan(session: Session, actor: Actor, plan_id: int, today: date) -> InstalmentPlan:
    """The plan if the actor sees its apartment today, else 404."""
    plan = session.exec(
        of_visible_apartments(InstalmentPlan, actor, today).where(InstalmentPlan.id == plan_id)
    ).first()
    if plan is None:
        raise NotFound(f"instalment plan {plan_id} not found")
    return plan


def plans_of(session: Session, actor: Actor, apartment_id: int, today: date) -> list[InstalmentPlan]:
    """The account's plans, newest first (404 for an apartment the actor does not see)."""
    visible_apartment(session, actor, apartment_id, today)
    return list(
        session.exec(
            select(InstalmentPlan)
            .where(InstalmentPlan.apartment_id == apartment_id)
            .order_by(col(InstalmentPlan.id).desc())
        ).all()
    )


def _tell_resident(session: Session, plan: InstalmentPlan, kind: str, params: dict, today: date) -> int:
    """Tells the apartment's residents on the city's `today` (who lives there that day)."""
    now = clock.now()
    return notify(
        session,
        user_ids=users_of_apartments([plan.apartment_id], today),
        kind=kind,
        params=params,
        link=f"/apartments/{plan.apartment_id}/instalment-plan",
        dedupe=f"instalment-plan:{plan.id}:{kind}",
        now=now,
    )
