"""JSON routes of instalment plans.

Whoever sees the apartment reads its plans (the resident, the company's staff, officials,
admins); a manager of the managing company, or an admin, agrees and cancels (403 for the
others who see it, 404 for those who do not).
"""

from fastapi import APIRouter, status

from billing.instalments import service
from billing.instalments.schemas import PlanCreate, PlanRead
from housing.auth import CurrentActor
from housing.db import SessionDep
from housing.deps import SettingsDep, Today
from housing.schemas import API_PROBLEMS
from housing.validation import Id

router = APIRouter(tags=["billing"], responses=API_PROBLEMS)


@router.get("/apartments/{apartment_id}/instalment-plans", response_model=list[PlanRead])
def list_plans(
    apartment_id: Id, session: SessionDep, actor: CurrentActor, today: Today, settings: SettingsDep
):
    """The account's plans, newest first (an account has a handful at most)."""
    plans = service.plans_of(session, actor, apartment_id, today)
    return [PlanRead.of(service.plan_view(session, plan, today, settings.timezone)) for plan in plans]


@router.post(
    "/apartments/{apartment_id}/instalment-plans",
    response_model=PlanRead,
    status_code=status.HTTP_201_CREATED,
)
def agree_plan(
    apartment_id: Id,
    body: PlanCreate,
    session: SessionDep,
    actor: CurrentActor,
    today: Today,
    settings: SettingsDep,
):
    """Agrees a schedule with the debtor: amounts above zero, dates ascending and after today,
    adding up to the covered debt; one plan in force per account."""
    plan = service.agree_plan(
        session,
        actor,
        apartment_id=apartment_id,
        invoice_ids=body.invoice_ids,
        schedule=[(item.due_on, item.amount_minor) for item in body.schedule],
        note=body.note,
        today=today,
        timezone=settings.timezone,
    )
    return PlanRead.of(service.plan_view(session, plan, today, settings.timezone))


@router.get("/instalment-plans/{plan_id}", response_model=PlanRead)
def read_plan(plan_id: Id, session: SessionDep, actor: CurrentActor, today: Today, settings: SettingsDep):
    plan = service.visible_plan(session, actor, plan_id, today)
    return PlanRead.of(service.plan_view(session, plan, today, settings.timezone))


@router.post("/instalment-plans/{plan_id}/cancel", response_model=PlanRead)
def cancel_plan(plan_id: Id, session: SessionDep, actor: CurrentActor, today: Today, settings: SettingsDep):
    """Ends a plan in force from tomorrow: today's penalty was spared at the day's start."""
    plan = service.cancel_plan(session, actor, plan_id=plan_id, today=today, timezone=settings.timezone)
    return PlanRead.of(service.plan_view(session, plan, today, settings.timezone))
