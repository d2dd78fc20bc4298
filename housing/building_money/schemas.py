"""API models of a building's expenses: what clients send (XCreate) and read (XRead).

Money is integer tiyin with its currency; a manual split weight is a decimal with at most 4
places, sent as a JSON string or number.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import Field, field_validator

from housing.building_money.rules import ExpenseCategory, SplitKey
from housing.building_money.service import (
    DESCRIPTION_CHARS,
    MAX_REQUESTS,
    MAX_SHARED_BUILDINGS,
    SUPPLIER_CHARS,
)
from housing.schemas import ReadModel
from housing.validation import Day, Id, InputModel, Money, PositiveMoney

Weight = Annotated[Decimal, Field(gt=0, le=10**9, max_digits=14, decimal_places=4)]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


class ExpenseCreate(InputModel):
    """What the company spent on one building."""

    spent_on: Day = Field(description="The day it was paid; in a quarter whose report is not published")
    category: ExpenseCategory
    amount_minor: PositiveMoney = Field(description="Tiyin, above zero")
    supplier: str = Field("", max_length=SUPPLIER_CHARS)
    description: str = Field("", max_length=DESCRIPTION_CHARS)
    request_ids: list[Id] = Field(
        default_factory=list,
        max_length=MAX_REQUESTS,
        description="Service requests of the building it answered",
    )


class WeightIn(InputModel):
    building_id: Id
    weight: Weight


class SharedExpenseCreate(InputModel):
    """One bill for several buildings of one company, split exactly to the tiyin by `split_key`."""

    building_ids: list[Id] = Field(min_length=2, max_length=MAX_SHARED_BUILDINGS)
    spent_on: Day
    category: ExpenseCategory
    amount_minor: PositiveMoney
    supplier: str = Field("", max_length=SUPPLIER_CHARS)
    description: str = Field("", max_length=DESCRIPTION_CHARS)
    split_key: SplitKey = SplitKey.area
    weights: list[WeightIn] = Field(
        default_factory=list,
        max_length=MAX_SHARED_BUILDINGS,
        description="With split_key manual: one weight per building, and only for them",
    )
    split_note: str = Field(
        "", max_length=500, description="Where manual weights come from (required for manual)"
    )


class CorrectionCreate(InputModel):
    """A new expense, dated today, that adds `amount_minor` (either sign, not zero) to an earlier one."""

    amount_minor: Money
    reason: str = Field(min_length=1, max_length=DESCRIPTION_CHARS)

    _reason = field_validator("reason")(_not_blank)

    @field_validator("amount_minor")
    @classmethod
    def _not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("a correction changes the amount: not 0")
        return value


class DocumentRead(ReadModel):
    id: int
    expense_id: int
    title: str
    content_type: str
    size_bytes: int
    created_at: datetime
    url: str = Field(description="Where the file is downloaded")


class CorrectionRead(ReadModel):
    id: int
    spent_on: date
    amount_minor: int
    description: str


class ExpenseRead(ReadModel):
    id: int
    building_id: int
    company_id: int
    spent_on: date
    category: ExpenseCategory
    amount_minor: int
    currency: str
    supplier: str
    description: str
    shared_expense_id: int | None
    corrects_id: int | None = Field(description="The expense this one corrects")
    bank_reference: str | None
    created_at: datetime
    standing_minor: int = Field(description="The amount with every correction booked on it so far")
    request_ids: list[int]
    documents: list[DocumentRead]
    corrections: list[CorrectionRead] = Field(description="Later expenses that correct this one")


class PartRead(ReadModel):
    expense_id: int
    building_id: int
    amount_minor: int
    weight: str


class SharedExpenseRead(ReadModel):
    id: int
    company_id: int
    spent_on: date
    category: ExpenseCategory
    amount_minor: int
    currency: str
    supplier: str
    description: str
    split_key: SplitKey
    split_note: str
    parts: list[PartRead] = Field(description="Each building's part; they add up to amount_minor")


class ExpenseStatementReport(ReadModel):
    recorded: int
    already_recorded: int = Field(description="Rows whose reference was booked before with the same amount")
    total_minor: int
