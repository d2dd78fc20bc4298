"""The building money's verbs: book an expense on a building, share one among buildings,
correct one; and the checks every writer shares (who may book, whether a quarter is still open).

Flush, never commit. An expense is dated in a quarter whose report is not yet published; the
building's row is locked first, so an expense and the publishing of that quarter's report
(`billing.building_accounts`) never pass each other. A shared expense is split with
`rules.split_exactly`, the parts booked in the same flush, so they exist all or none.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from housing.accounts.models import Role
from housing.actors import BOOKKEEPERS, Actor
from housing.building_money.models import BuildingExpense, BuildingReport, ExpenseRequest, SharedExpense
from housing.building_money.rules import ExpenseCategory, Quarter, SplitKey, split_exactly
from housing.errors import Conflict, Forbidden, Invalid, NotFound
from housing.registry.models import Apartment, Building, BuildingManagement
from housing.registry.periods import in_force
from housing.requests.models import ServiceRequest
from housing.validation import MONEY_MAX, check_text

SUPPLIER_CHARS = 200
DESCRIPTION_CHARS = 1000
MAX_SHARED_BUILDINGS = 1000
MAX_REQUESTS = 50


@dataclass(frozen=True)
class ExpenseInput:
    """What a writer says of one expense; checked by `record_expense`."""

    spent_on: date
    category: str
    amount_minor: int
    supplier: str = ""
    description: str = ""


# Shared checks


def company_managing(session: Session, building_id: int, day: date) -> int | None:
    """The company managing the building on `day`, or None."""
    return session.exec(
        select(BuildingManagement.company_id).where(
            BuildingManagement.building_id == building_id, in_force(BuildingManagement, day)
        )
    ).first()


def lock_building(session: Session, building_id: Any) -> Building:
    """The building, its row locked until the transaction ends (a no-op on SQLite, which has one writer)."""
    building = None
    if isinstance(building_id, int) and not isinstance(building_id, bool) and 0 < building_id < 2**31:
        building = session.exec(select(Building).where(Building.id == building_id).with_for_update()).first()
    if building is None:
        raise NotFound(f"building {building_id} not found")
    return building


def require_bookkeeper(session: Session, actor: Actor, building_id: int, day: date) -> int:
    """The company that runs the building's money on `day`, if `actor` may book for it.

    Managers book for the buildings their company manages that day, admins for any managed
    building; other staff and residents are refused (403), a building of another company is
    not found (404, so ids do not leak).
    """
    if actor.role not in BOOKKEEPERS:
        raise Forbidden("only the managing company's managers and admins book a building's money")
    company_id = company_managing(session, building_id, day)
    if actor.role is not Role.admin and (company_id is None or company_id != actor.company_id):
        raise NotFound(f"building {building_id} not found")
    if company_id is None:
        raise Invalid(f"no company managed building {building_id} on {day}", field="spent_on")
    return company_id


def published_quarters(session: Session, building_id: int) -> set[Quarter]:
    rows = session.exec(
        select(BuildingReport.year, BuildingReport.quarter).where(BuildingReport.building_id == building_id)
    ).all()
    return {Quarter(year, number) for year, number in rows}


def require_open_quarter(session: Session, building_id: int, day: date, field: str = "spent_on") -> None:
    """Refuses (409) a day in a quarter whose report on the building is already published."""
    quarter = Quarter.of(day)
    published = session.exec(
        select(BuildingReport.id).where(
            BuildingReport.building_id == building_id,
            BuildingReport.year == quarter.year,
            BuildingReport.quarter == quarter.number,
        )
    ).first()
    if published is not None:
        raise Conflict(
            f"the report on {quarter} for building {building_id} is published and frozen; book a correction"
            " dated in a quarter still open",
            field=field,
        )


def building_areas(session: Session, building_ids: Iterable[int]) -> dict[int, Decimal]:
    """The area of all premises (residential or not) of each building, m2; a building without any: 0."""
    ids = list(building_ids)
    rows = session.exec(
        select(Apartment.building_id, func.sum(Apartment.area_m2))
        .where(col(Apartment.building_id).in_(ids))
        .group_by(Apartment.building_id)
    ).all()
    areas = dict.fromkeys(ids, Decimal(0))
    areas.update({building_id: Decimal(area or 0) for building_id, area in rows})
    return areas


def _premises(session: Session, building_ids: list[int]) -> dict[int, int]:
    rows = session.exec(
        select(Apartment.building_id, func.count())
        .where(col(Apartment.building_id).in_(building_ids))
        .group_by(Apartment.building_id)
    ).all()
    counts = dict.fromkeys(building_ids, 0)
    counts.update(dict(rows))
    return counts


def _category(value: Any) -> ExpenseCategory:
    try:
        return ExpenseCategory(value)
    except ValueError:
        raise Invalid(
            f"no expense category {str(value)[:40]!r}; the categories are {', '.join(c.value for c in ExpenseCategory)}",
            field="category",
        ) from None


def _amount(value: Any, field: str = "amount_minor", *, negative: bool = False) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise Invalid("give the amount in whole tiyin", field=field)
    if value == 0 or (value < 0 and not negative):
        raise Invalid(f"an expense is above zero tiyin, not {value}", field=field)
    if abs(value) > MONEY_MAX:
        raise Invalid(f"{value} tiyin is beyond any expense (at most {MONEY_MAX})", field=field)
    return value


def _text(value: Any, field: str, chars: int, *, required: bool = False) -> str:
    if not isinstance(value, str):
        raise Invalid("give text", field=field)
    try:
        text = check_text(value).strip()
    except ValueError as exc:
        raise Invalid(str(exc), field=field) from None
    if len(text) > chars:
        raise Invalid(f"at most {chars} characters", field=field)
    if required and not text:
        raise Invalid("required", field=field)
    return text


def _day(value: Any, today: date, field: str = "spent_on") -> date:
    if not isinstance(value, date):
        raise Invalid("give a date as YYYY-MM-DD", field=field)
    if value > today:
        raise Invalid(f"{value} is in the future", field=field)
    if value.year < 2000:
        raise Invalid(f"{value} is before any building's account", field=field)
    return value


def _requests(session: Session, building_id: int, request_ids: Iterable[Any]) -> list[int]:
    ids = sorted(set(request_ids))
    if len(ids) > MAX_REQUESTS:
        raise Invalid(f"link at most {MAX_REQUESTS} requests", field="request_ids")
    if any(not isinstance(i, int) or isinstance(i, bool) or not 0 < i < 2**31 for i in ids):
        raise Invalid("request ids are whole numbers", field="request_ids")
    found = set(
        session.exec(
            select(ServiceRequest.id).where(
                col(ServiceRequest.id).in_(ids), ServiceRequest.building_id == building_id
            )
        ).all()
    )
    missing = [i for i in ids if i not in found]
    if missing:
        raise Invalid(f"no request {missing[0]} in building {building_id}", field="request_ids")
    return ids


# The verbs


def record_expense(
    session: Session,
    actor: Actor,
    *,
    building_id: int,
    expense: ExpenseInput,
    today: date,
    request_ids: Iterable[int] = (),
    bank_reference: str | None = None,
) -> BuildingExpense:
    """Books what the building's company spent on it; every check passes before anything is written."""
    spent_on = _day(expense.spent_on, today)
    category = _category(expense.category)
    amount = _amount(expense.amount_minor)
    supplier = _text(expense.supplier, "supplier", SUPPLIER_CHARS)
    description = _text(expense.description, "description", DESCRIPTION_CHARS)
    lock_building(session, building_id)
    company_id = require_bookkeeper(session, actor, building_id, spent_on)
    require_open_quarter(session, building_id, spent_on)
    linked = _requests(session, building_id, request_ids)
    row = BuildingExpense(
        building_id=building_id,
        company_id=company_id,
        spent_on=spent_on,
        category=category,
        amount_minor=amount,
        supplier=supplier,
        description=description,
        bank_reference=bank_reference,
        created_by_id=actor.user_id,
    )
    session.add(row)
    session.flush()
    session.add_all(ExpenseRequest(expense_id=row.id, request_id=i) for i in linked)
    session.flush()
    return row


def split_weights(
    session: Session, building_ids: list[int], key: SplitKey, manual: Mapping[int, Any] | None = None
) -> dict[int, Decimal]:
    """Each building's weight under `key`; a building that weighs nothing is refused."""
    if key is SplitKey.area:
        weights = building_areas(session, building_ids)
    elif key is SplitKey.premises:
        weights = {i: Decimal(n) for i, n in _premises(session, building_ids).items()}
    elif key is SplitKey.equal:
        weights = dict.fromkeys(building_ids, Decimal(1))
    else:
        weights = _manual_weights(building_ids, manual or {})
    empty = [i for i in building_ids if weights[i] <= 0]
    if empty:
        raise Invalid(
            f"building {empty[0]} weighs nothing by {key.value}; choose another key", field="split_key"
        )
    return weights


def _manual_weights(building_ids: list[int], manual: Mapping[int, Any]) -> dict[int, Decimal]:
    if set(manual) != set(building_ids):
        raise Invalid("give a weight for each building of the split, and only for them", field="weights")
    weights = {}
    for building_id, value in manual.items():
        try:
            weight = Decimal(str(value))
        except (InvalidOperation, ValueError):
            raise Invalid(f"building {building_id}'s weight is not a number", field="weights") from None
        if (
            not weight.is_finite()
            or weight <= 0
            or weight > 10**9
            or weight != weight.quantize(Decimal("0.0001"))
        ):
            raise Invalid(
                f"building {building_id}'s weight must be above 0, at most 1e9, with at most 4 decimals",
                field="weights",
            )
        weights[building_id] = weight
    return weights


def record_shared_expense(
    session: Session,
    actor: Actor,
    *,
    building_ids: Iterable[int],
    expense: ExpenseInput,
    today: date,
    split_key: str = SplitKey.area,
    weights: Mapping[int, Any] | None = None,
    split_note: str = "",
) -> SharedExpense:
    """Books one bill for several buildings, split by `split_key` exactly to the tiyin; all parts or none."""
    ids = sorted(set(building_ids))
    if not 2 <= len(ids) <= MAX_SHARED_BUILDINGS:
        raise Invalid(
            f"a shared expense is split among 2 to {MAX_SHARED_BUILDINGS} buildings", field="building_ids"
        )
    try:
        key = SplitKey(split_key)
    except ValueError:
        raise Invalid(
            f"no split key {str(split_key)[:40]!r}; the keys are {', '.join(k.value for k in SplitKey)}",
            field="split_key",
        ) from None
    if weights and key is not SplitKey.manual:
        raise Invalid(
            f"weights are given with the manual split key only, not with {key.value}", field="weights"
        )
    note = _text(split_note, "split_note", 500, required=key is SplitKey.manual)
    spent_on = _day(expense.spent_on, today)
    category = _category(expense.category)
    amount = _amount(expense.amount_minor)
    supplier = _text(expense.supplier, "supplier", SUPPLIER_CHARS)
    description = _text(expense.description, "description", DESCRIPTION_CHARS)
    companies = set()
    for building_id in ids:  # in id order, so two writers lock in the same order
        lock_building(session, building_id)
        companies.add(require_bookkeeper(session, actor, building_id, spent_on))
        require_open_quarter(session, building_id, spent_on)
    if len(companies) != 1:
        raise Invalid("the buildings of a shared expense are managed by one company", field="building_ids")
    by_weight = split_weights(session, ids, key, weights)
    parts = split_exactly(amount, by_weight)
    shared = SharedExpense(
        company_id=companies.pop(),
        spent_on=spent_on,
        category=category,
        amount_minor=amount,
        supplier=supplier,
        description=description,
        split_key=key,
        split_note=note,
        weights={str(i): str(w) for i, w in by_weight.items()},
        created_by_id=actor.user_id,
    )
    session.add(shared)
    session.flush()
    session.add_all(
        BuildingExpense(
            building_id=building_id,
            company_id=shared.company_id,
            spent_on=spent_on,
            category=category,
            amount_minor=parts[building_id],
            supplier=supplier,
            description=description,
            shared_expense_id=shared.id,
            created_by_id=actor.user_id,
        )
        for building_id in ids
    )
    session.flush()
    return shared


def correct_expense(
    session: Session, actor: Actor, *, expense_id: int, amount_minor: int, reason: str, today: date
) -> BuildingExpense:
    """A new expense dated `today` that adds `amount_minor` (either sign) to an earlier one.

    The earlier expense stays as it was; with its corrections it never goes below zero.
    """
    original = session.get(BuildingExpense, expense_id) if isinstance(expense_id, int) else None
    if original is None:
        raise NotFound(f"expense {expense_id} not found")
    if original.corrects_id is not None:
        original = session.get(BuildingExpense, original.corrects_id)
        assert original is not None
    amount = _amount(amount_minor, negative=True)
    why = _text(reason, "reason", DESCRIPTION_CHARS, required=True)
    lock_building(session, original.building_id)
    company_id = require_bookkeeper(session, actor, original.building_id, today)
    require_open_quarter(session, original.building_id, today, field="amount_minor")
    so_far = session.exec(
        select(func.coalesce(func.sum(BuildingExpense.amount_minor), 0)).where(
            (BuildingExpense.id == original.id) | (BuildingExpense.corrects_id == original.id)
        )
    ).one()
    if int(so_far) + amount < 0:
        raise Invalid(
            f"expense {original.id} now stands at {int(so_far)} tiyin; a correction of {amount} would take it below zero",
            field="amount_minor",
        )
    row = BuildingExpense(
        building_id=original.building_id,
        company_id=company_id,
        spent_on=today,
        category=original.category,
        amount_minor=amount,
        supplier=original.supplier,
        description=why,
        corrects_id=original.id,
        created_by_id=actor.user_id,
    )
    session.add(row)
    session.flush()
    return row
