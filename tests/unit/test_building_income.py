"""The building's income rule and the report's checks, case by case (docs/building-reports.md)."""

import threading
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from billing.building_accounts.income import collected_by_building, collected_to, company_share, debt_at
from billing.building_accounts.reports import publish_report, publish_reports, report_draft
from billing.models import InvoiceStatus, LedgerKind
from housing.accounts.models import Role
from housing.actors import Actor
from housing.building_money.models import BuildingExpense, BuildingReport, BuildingReportLine
from housing.building_money.rules import Quarter
from housing.building_money.service import ExpenseInput, record_expense
from housing.db import is_postgres, session_scope
from housing.errors import Conflict, Forbidden, NotFound
from housing.registry.models import BuildingManagement
from housing.settings import Settings
from tests.concurrency import wait_until_blocked
from tests.factories.billing import (
    make_invoice,
    make_invoice_line,
    make_ledger_entry,
    make_service,
    make_tariff,
)
from tests.factories.core import make_apartment, make_building, make_company, make_user
from tests.factories.money import bookkeeper_of, spend

T = datetime(2026, 10, 1, tzinfo=UTC)
BEFORE, AFTER = datetime(2026, 9, 10, tzinfo=UTC), datetime(2026, 10, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("covered", "due", "part", "share"),
    [
        (0, 100, 50, 0),
        (100, 100, 50, 50),  # paid in full: the whole part
        (1, 3, 1, 0),  # 1/3 of a tiyin rounds down
        (1, 2, 1, 1),  # exactly half rounds up
        (3, 4, 1, 1),  # 0.75 rounds up
        (50, 100, 0, 0),  # no company line
        (50, 100, -10, 0),  # a part credited below zero brings nothing
        (100, 100, 120, 100),  # a part above the due (a credited utility line) is capped by the money
        (50, 0, 50, 0),  # an invoice credited to zero
        (10**15, 10**15, 10**15 - 1, 10**15 - 1),  # huge amounts stay exact
    ],
)
def test_the_company_share_of_what_covers_an_invoice(covered: int, due: int, part: int, share: int) -> None:
    assert company_share(covered, due, part) == share
    assert 0 <= company_share(covered, due, part) <= max(part, 0)


def _bill(session: Session, apartment, *lines, period=date(2026, 8, 1), issued_at=BEFORE, **kw):
    total = sum(amount for _, amount in lines)
    fields = {"status": InvoiceStatus.issued} | kw
    invoice = make_invoice(
        session, apartment, total_minor=total, period=period, issued_at=issued_at, **fields
    )
    make_ledger_entry(
        session,
        apartment,
        kind=LedgerKind.charge,
        amount_minor=total,
        invoice_id=invoice.id,
        occurred_at=issued_at,
    )
    made = [make_invoice_line(session, invoice, service, amount_minor=amount) for service, amount in lines]
    return invoice, made


def _pay(session: Session, apartment, amount: int, at: datetime = BEFORE, kind=LedgerKind.payment) -> None:
    make_ledger_entry(
        session,
        apartment,
        kind=kind,
        amount_minor=-amount if kind is LedgerKind.payment else amount,
        occurred_at=at,
    )


def test_only_company_lines_count_and_only_money_paid_before_the_moment(session: Session) -> None:
    company = make_company(session)
    building = make_building(session, company)
    flat = make_apartment(session, building)
    management, water = make_service(session, code="management"), make_service(session, code="cold_water")
    cleaning = make_service(session, code="stair_cleaning")  # priced by the company's own tariff
    own = make_tariff(session, cleaning, company_id=company.id)
    _invoice, (fee, _, own_line) = _bill(
        session, flat, (management, 6_000), (water, 3_000), (cleaning, 1_000)
    )
    own_line.tariff_id = own.id
    session.add(own_line)
    _pay(session, flat, 5_000)  # half of 10,000: half of the company's 7,000
    _pay(session, flat, 5_000, at=AFTER)  # after T: not yet
    session.flush()
    assert collected_to(session, building.id, T) == 3_500
    assert collected_to(session, building.id, datetime(2027, 1, 1, tzinfo=UTC)) == 7_000
    assert fee.amount_minor == 6_000


def test_payments_cover_the_oldest_invoice_first_and_penalties_are_no_income(session: Session) -> None:
    building = make_building(session)
    flat = make_apartment(session, building)
    management, water = make_service(session, code="management"), make_service(session, code="cold_water")
    _bill(session, flat, (water, 10_000), period=date(2026, 7, 1))  # the oldest: no company line
    _bill(session, flat, (management, 10_000), period=date(2026, 8, 1))
    make_ledger_entry(session, flat, kind=LedgerKind.penalty, amount_minor=500, occurred_at=BEFORE)
    _pay(session, flat, 10_000)  # covers July's water only
    session.flush()
    assert collected_to(session, building.id, T) == 0
    _pay(session, flat, 4_000)
    session.flush()
    assert collected_to(session, building.id, T) == 4_000
    debt = debt_at(session, building.id, T)
    assert (debt.debt_minor, debt.accounts_in_debt, debt.accounts) == (6_500, 1, 1)


def test_an_invoice_issued_after_the_moment_or_not_billed_counts_for_nothing(session: Session) -> None:
    building = make_building(session)
    flat = make_apartment(session, building)
    management = make_service(session, code="management")
    _bill(session, flat, (management, 10_000), issued_at=AFTER)
    _bill(session, flat, (management, 10_000), period=date(2026, 6, 1), status=InvoiceStatus.void)
    _pay(session, flat, 10_000)
    session.flush()
    assert collected_to(session, building.id, T) == 0  # money ahead is credit, not income yet
    assert collected_to(session, building.id, datetime(2026, 11, 1, tzinfo=UTC)) == 10_000


def test_adjustments_and_refunds_before_the_moment_count(session: Session) -> None:
    building = make_building(session)
    flat = make_apartment(session, building)
    management, water = make_service(session, code="management"), make_service(session, code="cold_water")
    invoice, (fee, _) = _bill(session, flat, (management, 8_000), (water, 2_000))
    make_ledger_entry(  # 2,000 of the fee credited before T: the invoice now charges 8,000
        session,
        flat,
        kind=LedgerKind.adjustment,
        amount_minor=-2_000,
        invoice_id=invoice.id,
        invoice_line_id=fee.id,
        occurred_at=BEFORE,
    )
    _pay(session, flat, 8_000)
    make_ledger_entry(session, flat, kind=LedgerKind.refund, amount_minor=4_000, occurred_at=BEFORE)
    session.flush()
    assert collected_to(session, building.id, T) == 3_000  # 4,000 of 8,000 covers half of the 6,000 fee


def test_many_buildings_at_once_match_one_at_a_time(session: Session) -> None:
    management = make_service(session, code="management")
    buildings = [make_building(session) for _ in range(3)]
    for n, building in enumerate(buildings):
        flat = make_apartment(session, building)
        _bill(session, flat, (management, 1_000 * (n + 1)))
        _pay(session, flat, 700 * (n + 1))
    session.flush()
    together = collected_by_building(session, [b.id for b in buildings], T)
    assert together == {b.id: collected_to(session, b.id, T) for b in buildings} != {}
    assert collected_by_building(session, [], T) == {}


def _publish(
    session: Session, actor: Actor, building_id: int, quarter: Quarter, settings: Settings, today=None
):
    today = today or date(2026, 11, 5)
    return publish_report(
        session,
        actor,
        building_id=building_id,
        quarter=quarter,
        today=today,
        now=datetime.combine(today, datetime.min.time(), UTC),
        settings=settings,
    )


def test_quarters_are_published_in_order_once_the_building_has_money(
    session: Session, settings: Settings
) -> None:
    building = make_building(session)
    spend(session, building, 1_000, on=date(2026, 8, 1))
    actor = bookkeeper_of(session, building, date(2026, 12, 31))
    with pytest.raises(Conflict, match=r"2026-Q3 for building \d+ first"):
        _publish(session, actor, building.id, Quarter(2026, 4), settings, today=date(2027, 1, 5))
    assert session.exec(select(func.count()).select_from(BuildingReport)).one() == 0
    _publish(session, actor, building.id, Quarter(2026, 3), settings, today=date(2027, 1, 5))
    _publish(session, actor, building.id, Quarter(2026, 4), settings, today=date(2027, 1, 5))
    fresh = make_building(session)  # nothing before its quarter: its first report needs no earlier one
    _publish(
        session,
        bookkeeper_of(session, fresh, date(2027, 3, 31)),
        fresh.id,
        Quarter(2027, 1),
        settings,
        today=date(2027, 4, 1),
    )


def test_a_quarter_nobody_managed_does_not_hold_back_the_next(session: Session, settings: Settings) -> None:
    building = make_building(session)
    spend(session, building, 1_000, on=date(2026, 8, 1))
    ended = session.exec(
        select(BuildingManagement).where(BuildingManagement.building_id == building.id)
    ).one()
    ended.valid_until = date(2026, 9, 15)  # the contract ended; the next company came on 1 October
    successor = make_company(session)
    session.add(
        BuildingManagement(building_id=building.id, company_id=successor.id, valid_from=date(2026, 10, 1))
    )
    session.flush()
    actor = bookkeeper_of(session, building, date(2026, 12, 31))
    report = _publish(session, actor, building.id, Quarter(2026, 4), settings, today=date(2027, 1, 5))
    assert (report.company_id, report.opening_balance_minor) == (successor.id, -1_000)


def test_only_the_company_managing_at_the_quarter_end_publishes(session: Session, settings: Settings) -> None:
    building = make_building(session)
    other = Actor.of(make_user(session, Role.manager, company_id=make_company(session).id))
    dispatcher = bookkeeper_of(session, building, date(2026, 9, 30), role=Role.dispatcher)
    with pytest.raises(NotFound):
        _publish(session, other, building.id, Quarter(2026, 3), settings)
    with pytest.raises(Forbidden):
        _publish(session, dispatcher, building.id, Quarter(2026, 3), settings)
    admin = Actor.of(make_user(session, Role.admin))
    report = _publish(session, admin, building.id, Quarter(2026, 3), settings)
    assert report.on_time is False and report.due_on == date(2026, 10, 30)  # 5 November is late
    assert session.exec(select(func.count()).select_from(BuildingReportLine)).one() == 0  # no expenses


def test_a_draft_of_a_building_without_premises_or_money_is_all_zero(
    session: Session, settings: Settings
) -> None:
    building = make_building(session)
    data = report_draft(session, building.id, Quarter(2026, 3), timezone=settings.timezone)
    assert (data.opening_balance_minor, data.income_minor, data.expenses_minor, data.accounts) == (0, 0, 0, 0)


def test_two_publishers_at_once_make_one_report(db: Engine, settings: Settings) -> None:
    if not is_postgres(db):
        pytest.skip("SQLite has one writer; the row lock is PostgreSQL's")
    with session_scope(db) as session:
        building = make_building(session)
        make_apartment(session, building)
        building_id = building.id
        actors = [bookkeeper_of(session, building, date(2026, 9, 30)) for _ in range(2)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def publish(actor: Actor) -> None:
        barrier.wait()
        try:
            with session_scope(db) as session:
                _publish(session, actor, building_id, Quarter(2026, 3), settings)
            outcomes.append("published")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=publish, args=(actor,)) for actor in actors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["conflict", "published"]
    with Session(db) as session:
        assert session.exec(select(func.count()).select_from(BuildingReport)).one() == 1


def test_a_company_quarter_is_published_all_or_none(session: Session, settings: Settings) -> None:
    company = make_company(session)
    ready, behind = make_building(session, company), make_building(session, company)
    spend(session, behind, 1_000, on=date(2026, 8, 1))  # its 2026-Q3 is not published
    make_apartment(session, ready)
    manager = bookkeeper_of(session, ready, date(2026, 12, 31))
    stranger = make_building(session)

    def publish(ids: list[int]) -> None:
        publish_reports(
            session,
            manager,
            building_ids=ids,
            quarter=Quarter(2026, 4),
            today=date(2027, 1, 10),
            now=datetime(2027, 1, 10, tzinfo=UTC),
            settings=settings,
        )

    with pytest.raises(Conflict, match="order"):
        publish([ready.id, behind.id])
    with pytest.raises(NotFound):
        publish([ready.id, stranger.id])
    with pytest.raises(NotFound):
        publish([ready.id, 2**31])
    assert session.exec(select(func.count()).select_from(BuildingReport)).one() == 0
    publish([ready.id])
    assert [r.building_id for r in session.exec(select(BuildingReport))] == [ready.id]


def test_an_expense_booked_while_the_quarter_is_being_published_waits_then_is_refused(
    db: Engine, settings: Settings
) -> None:
    if not is_postgres(db):
        pytest.skip("SQLite has one writer; the row lock is PostgreSQL's")
    with session_scope(db) as session:
        building = make_building(session)
        make_apartment(session, building)
        building_id = building.id
        manager = bookkeeper_of(session, building, date(2026, 9, 30))
    published = threading.Event()
    outcome: list[object] = []

    def book() -> None:
        published.wait(DEADLINE)
        try:
            with session_scope(db) as session:
                expense = ExpenseInput(spent_on=date(2026, 9, 30), category="lifts", amount_minor=1_000)
                record_expense(
                    session, manager, building_id=building_id, expense=expense, today=date(2026, 11, 5)
                )
            outcome.append("booked")
        except Conflict as refused:
            outcome.append(refused)

    booker = threading.Thread(target=book)
    booker.start()
    with session_scope(db) as session:
        _publish(session, manager, building_id, Quarter(2026, 3), settings)
        published.set()
        wait_until_blocked(
            db, "the expense never waited on the building's lock", DEADLINE
        )  # the expense waits on the building's row, locked by the publisher
    booker.join(DEADLINE)
    assert len(outcome) == 1 and isinstance(outcome[0], Conflict), outcome
    with Session(db) as session:
        assert session.exec(select(func.count()).select_from(BuildingExpense)).one() == 0
        report = session.exec(select(BuildingReport)).one()
        assert report.expenses_minor == 0


DEADLINE = 30
