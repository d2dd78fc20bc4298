"""API models of instalment plans: PlanCreate, PlanRead."""

from datetime import date

from pydantic import BaseModel, Field

from billing.instalments.service import MAX_INSTALMENTS, MAX_NOTE, PlanView
from billing.ledger.plans import PlanState
from billing.models import PlanStatus
from housing.validation import Day, Id, InputModel, PositiveMoney, Text


class InstalmentIn(InputModel):
    due_on: Day = Field(description="The last day to pay it; after today, each after the one before")
    amount_minor: PositiveMoney


class PlanCreate(InputModel):
    invoice_ids: list[Id] | None = Field(
        None,
        max_length=600,
        description="The invoices whose debt the plan covers; left out: every invoice not paid in full",
    )
    schedule: list[InstalmentIn] = Field(
        max_length=MAX_INSTALMENTS, description="Adds up to what the covered invoices still owe"
    )
    note: Text = Field("", max_length=MAX_NOTE)


class InstalmentRead(BaseModel):
    position: int
    due_on: date
    amount_minor: int


class PlanRead(BaseModel):
    id: int
    apartment_id: int
    status: PlanStatus = Field(description="As recorded: active until the daily job records kept or missed")
    standing: PlanState = Field(
        description="Where it stood at the start of today, computed from the payments"
    )
    agreed_on: date
    ended_on: date | None = Field(description="The first day it no longer held")
    covered_minor: int
    paid_minor: int = Field(description="Paid toward the schedule since it was agreed, today included")
    currency: str
    note: str
    invoice_ids: list[int]
    instalments: list[InstalmentRead]

    @classmethod
    def of(cls, view: PlanView) -> "PlanRead":
        plan = view.plan
        return cls(
            id=plan.id,
            apartment_id=plan.apartment_id,
            status=plan.status,
            standing=view.standing.state,
            agreed_on=plan.agreed_on,
            ended_on=plan.ended_on or view.standing.ended_on,
            covered_minor=plan.covered_minor,
            paid_minor=view.paid_minor,
            currency=plan.currency,
            note=plan.note,
            invoice_ids=[invoice.id for invoice in view.invoices],
            instalments=[
                InstalmentRead(position=i.position, due_on=i.due_on, amount_minor=i.amount_minor)
                for i in view.instalments
            ],
        )
