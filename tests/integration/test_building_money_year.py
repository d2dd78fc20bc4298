"""A year of one building's money under a frozen clock: fees billed and paid, expenses, the
four quarterly reports, and that they add up to the year.

The city: one company managing building A (two flats: 50 m2 with 2 residents, 70 m2 with 1)
and building B (one flat of 40 m2). Management fee 1,823 UZS a m2 (the company's income),
waste removal 7,500 UZS a person (passed on: not the company's). Every month is billed on the
1st at 02:00 by the real billing run; payments are booked through the payment service.

- Flat 1 pays each bill in full on the 10th of the month after it is billed: its management
  part, 9,115,000 tiyin a month, is the company's income in the quarter the money arrives.
- Flat 2 pays nothing in Q1 that Q1's report sees: its payment of 28 March (its January bill,
  13,511,000) is booked on 20 April, after Q1's report is published, so it shows as late
  income in Q2's. In August it pays 1,000,000 of February's bill: 1,000,000 x 12,761,000 /
  13,511,000 = 944,489.67, so 944,490 by the half-up rule; on 1 December 27,022,000 more.
  A penalty accrues on it in March: debt, never income.
- Expenses on A: cleaning 2,000,000 (Q1); a roof repair of 10,000,000 shared with B by area
  (A 120 m2, B 40 m2: 7,500,000 and 2,500,000) and a lift repair of 3,000,000 (Q2); the lift
  repair corrected by -500,000 on 10 July (shown in Q3's report) and staff 4,000,000 (Q3);
  materials 1,000,000 (Q4).
- Q1's report is published on 5 April (on time); Q2's is late (due 30 July, published
  5 August: on_time false); Q3's and Q4's on time.
"""

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from billing.building_accounts.income import collected_to, debt_at
from billing.building_accounts.reports import moment, publish_report, report_draft
from billing.jobs import bill_period, daily_penalties
from billing.models import Basis, Gateway, LedgerEntry, LedgerKind
from billing.payments.service import record_manual_payment
from billing.tariffs.pricing import Tier
from housing.accounts.models import Role
from housing.actors import Actor
from housing.building_money.models import BuildingExpense, BuildingReport, BuildingReportLine
from housing.building_money.rules import Quarter
from housing.building_money.service import (
    ExpenseInput,
    correct_expense,
    record_expense,
    record_shared_expense,
)
from housing.db import session_scope
from housing.errors import Conflict
from housing.notifications.models import Notification
from housing.registry.models import Apartment
from housing.settings import Settings
from tests.conftest import FrozenClock
from tests.factories.billing import make_service, make_tariff
from tests.factories.core import make_apartment, make_building, make_company, make_user
from tests.factories.requests import make_resident

YEAR = 2027
Q1, Q2, Q3, Q4 = (Quarter(YEAR, n) for n in (1, 2, 3, 4))
FLAT1_PART, FLAT1_BILL = 9_115_000, 10_615_000  # 50 m2 x 182,300; + 2 x 750,000
FLAT2_PART, FLAT2_BILL = 12_761_000, 13_511_000  # 70 m2 x 182,300; + 750,000
PARTIAL_SHARE = 944_490  # 1,000,000 x 12,761,000 / 13,511,000 = 944,489.67, half up

EXPECTED = {  # quarter: opening, income, of it late, expenses, closing
    Q1: (0, 18_230_000, 0, 2_000_000, 16_230_000),
    Q2: (16_230_000, 27_345_000 + FLAT2_PART, FLAT2_PART, 10_500_000, 45_836_000),
    Q3: (45_836_000, 27_345_000 + PARTIAL_SHARE, 0, 3_500_000, 70_625_490),
    Q4: (70_625_490, 27_345_000 + 25_522_000, 0, 1_000_000, 122_492_490),
}


class Year:
    def __init__(self, engine: Engine, settings: Settings, clock: FrozenClock) -> None:
        self.engine, self.settings, self.clock = engine, settings, clock
        with session_scope(engine) as session:
            management = make_service(session, code="management", unit="m2")
            fee = [Tier(up_to=None, price_minor=Decimal(182_300))]
            make_tariff(session, management, basis=Basis.per_m2, tiers=fee)
            waste = make_service(session, code="waste", unit="person")
            make_tariff(
                session, waste, basis=Basis.per_person, tiers=[Tier(up_to=None, price_minor=Decimal(750_000))]
            )
            company = make_company(session, name="Chilonzor Uy")
            a, b = make_building(session, company), make_building(session, company)
            self.a, self.b = a.id, b.id
            self.flat1 = make_apartment(session, a, area_m2=Decimal(50), registered_residents=2).id
            self.flat2 = make_apartment(session, a, area_m2=Decimal(70), registered_residents=1).id
            make_apartment(session, b, area_m2=Decimal(40), registered_residents=1)
            self.owner = make_resident(session, session.get(Apartment, self.flat1)).id
            self.manager = Actor.of(make_user(session, Role.manager, company_id=company.id))

    def bill(self, month: int) -> None:
        """Bills `month` of the year on the 1st of the next, at 02:00."""
        today = date(YEAR + (month == 12), month % 12 + 1, 1)
        self.clock.at(today, 2)
        bill_period(self.engine, self.settings, date(YEAR, month, 1), today, workers=1)

    def pay(self, flat: int, amount: int, paid_on: date, booked_on: date | None = None) -> None:
        """A bank payment made on `paid_on`, booked on `booked_on` (the same day unless late)."""
        paid_at = self.clock.at(paid_on, 12)
        self.do(
            booked_on or paid_on,
            lambda session: record_manual_payment(
                session,
                apartment_id=flat,
                amount_minor=amount,
                gateway=Gateway.bank,
                reference=f"flat-{flat}-{paid_on}",
                paid_at=paid_at,
                user_id=None,
            ),
        )

    def do(self, day: date, work: Callable[[Session], Any]) -> Any:
        """`work` in one transaction at noon of `day`."""
        self.clock.at(day, 12)
        with session_scope(self.engine) as session:
            return work(session)

    def publish(self, quarter: Quarter, day: date) -> int:
        now = self.clock.at(day, 12)
        return self.do(
            day,
            lambda session: (
                publish_report(
                    session,
                    self.manager,
                    building_id=self.a,
                    quarter=quarter,
                    today=day,
                    now=now,
                    settings=self.settings,
                ).id
            ),
        )

    def spend(self, day: date, category: str, amount: int) -> int:
        expense = ExpenseInput(spent_on=day, category=category, amount_minor=amount, supplier="Usta MChJ")
        return self.do(
            day, lambda s: record_expense(s, self.manager, building_id=self.a, expense=expense, today=day).id
        )

    def reports(self) -> int:
        with Session(self.engine) as session:
            return session.exec(select(func.count()).select_from(BuildingReport)).one()


def play(year: Year) -> dict[str, Any]:
    """The year's calendar, in order; returns what the checks need."""
    seen: dict[str, Any] = {}
    d = lambda month, day: date(YEAR, month, day)  # noqa: E731 - the calendar reads better short
    year.bill(1)
    year.pay(year.flat1, FLAT1_BILL, d(2, 10))
    year.spend(d(2, 15), "cleaning", 2_000_000)
    year.bill(2)
    year.pay(year.flat1, FLAT1_BILL, d(3, 10))
    year.clock.at(d(3, 20), 1, 30)
    daily_penalties(year.engine, year.settings, today=d(3, 20))
    with pytest.raises(Conflict, match="quarter not over"):
        year.publish(Q1, d(3, 31))
    year.bill(3)
    seen["q1"] = year.publish(Q1, d(4, 5))
    with pytest.raises(Conflict, match="already published"):
        year.publish(Q1, d(4, 6))
    seen["reports_after_twice"] = year.reports()
    year.pay(year.flat1, FLAT1_BILL, d(4, 10))
    year.pay(year.flat2, FLAT2_BILL, d(3, 28), booked_on=d(4, 20))  # paid in Q1, booked after its report
    year.bill(4)
    shared = ExpenseInput(
        spent_on=d(5, 10), category="roof_and_repairs", amount_minor=10_000_000, supplier="Tom"
    )
    year.do(
        d(5, 10),
        lambda s: record_shared_expense(
            s, year.manager, building_ids=[year.a, year.b], expense=shared, today=d(5, 10)
        ),
    )
    year.pay(year.flat1, FLAT1_BILL, d(5, 10))
    seen["lift"] = year.spend(d(5, 20), "lifts", 3_000_000)
    year.bill(5)
    year.pay(year.flat1, FLAT1_BILL, d(6, 10))
    year.bill(6)
    seen["correction"] = year.do(
        d(7, 10),
        lambda s: (
            correct_expense(
                s,
                year.manager,
                expense_id=seen["lift"],
                amount_minor=-500_000,
                reason="credit note",
                today=d(7, 10),
            ).id
        ),
    )
    year.pay(year.flat1, FLAT1_BILL, d(7, 10))
    seen["reports_on_q2_due_day"] = year.reports()
    year.bill(7)
    year.spend(d(8, 1), "staff", 4_000_000)
    seen["q2"] = year.publish(Q2, d(8, 5))
    year.pay(year.flat1, FLAT1_BILL, d(8, 10))
    year.pay(year.flat2, 1_000_000, d(8, 15))
    year.bill(8)
    year.pay(year.flat1, FLAT1_BILL, d(9, 10))
    year.bill(9)
    year.pay(year.flat1, FLAT1_BILL, d(10, 10))
    seen["q3"] = year.publish(Q3, d(10, 20))
    year.bill(10)
    year.spend(d(11, 5), "materials", 1_000_000)
    year.pay(year.flat1, FLAT1_BILL, d(11, 10))
    year.bill(11)
    year.pay(year.flat2, 2 * FLAT2_BILL, d(12, 1))
    year.pay(year.flat1, FLAT1_BILL, d(12, 10))
    year.bill(12)
    seen["q4"] = year.publish(Q4, date(YEAR + 1, 1, 15))
    return seen


def test_a_year_of_reports_adds_up(db: Engine, settings: Settings, frozen_clock: FrozenClock) -> None:
    year = Year(db, settings, frozen_clock)
    seen = play(year)
    with Session(db) as session:
        reports = {
            Quarter(r.year, r.quarter): r
            for r in session.exec(select(BuildingReport).where(BuildingReport.building_id == year.a))
        }
        assert set(reports) == {Q1, Q2, Q3, Q4}
        for quarter, (opening, income, late, expenses, closing) in EXPECTED.items():
            report = reports[quarter]
            got = (
                report.opening_balance_minor,
                report.income_minor,
                report.income_late_minor,
                report.expenses_minor,
                report.closing_balance_minor,
            )
            assert got == (opening, income, late, expenses, closing), quarter
        # The year: incomes sum to what was collected over it, and the balances chain.
        incomes = sum(r.income_minor for r in reports.values())
        start, end = moment(Q1.first_day, settings.timezone), moment(Q4.end, settings.timezone)
        assert incomes == collected_to(session, year.a, end) - collected_to(session, year.a, start)
        assert incomes == 11 * FLAT1_PART + 3 * FLAT2_PART + PARTIAL_SHARE
        spent = session.exec(
            select(func.sum(BuildingExpense.amount_minor)).where(BuildingExpense.building_id == year.a)
        ).one()
        assert sum(r.expenses_minor for r in reports.values()) == spent == 17_000_000
        assert reports[Q1].opening_balance_minor + incomes - spent == reports[Q4].closing_balance_minor
        for quarter in (Q2, Q3, Q4):
            assert reports[quarter].opening_balance_minor == reports[quarter.previous()].closing_balance_minor

        # Deadlines: Q2 was still unpublished on its last on-time day, and is flagged late.
        assert seen["reports_on_q2_due_day"] == 1 and seen["reports_after_twice"] == 1
        assert reports[Q2].due_on == date(YEAR, 7, 30) and reports[Q2].on_time is False
        assert all(reports[q].on_time for q in (Q1, Q3, Q4))

        # The correction of a Q2 expense is in Q3's report, saying what it corrects.
        (correction,) = reports[Q3].body["corrections"]
        assert correction["id"] == seen["correction"] and correction["amount_minor"] == -500_000
        assert correction["corrects"] == {
            "id": seen["lift"],
            "spent_on": f"{YEAR}-05-20",
            "quarter": str(Q2),
            "category": "lifts",
            "amount_minor": 3_000_000,
            "supplier": "Usta MChJ",
        }
        assert reports[Q2].body["by_category"] == {"lifts": 3_000_000, "roof_and_repairs": 7_500_000}
        shared = [w for w in reports[Q2].body["works"] if w["shared"]]
        assert [w["amount_minor"] for w in shared] == [7_500_000]
        lines = session.exec(
            select(BuildingReportLine.category, BuildingReportLine.amount_minor).where(
                BuildingReportLine.report_id == reports[Q3].id
            )
        ).all()
        assert sorted(lines) == [("lifts", -500_000), ("staff", 4_000_000)]

        # Debt at Q1's end, as frozen: flat 2's two bills and its penalty; never the penalty as income.
        penalties = session.exec(
            select(func.sum(LedgerEntry.amount_minor)).where(
                LedgerEntry.kind == LedgerKind.penalty, LedgerEntry.apartment_id == year.flat2
            )
        ).one()
        assert penalties and penalties > 0
        assert (reports[Q1].debt_minor, reports[Q1].accounts_in_debt, reports[Q1].accounts) == (
            2 * FLAT2_BILL + penalties,
            1,
            2,
        )
        # As the ledger says now, the late booking lowered that debt; the frozen report did not move.
        assert (
            debt_at(session, year.a, moment(Q1.end, settings.timezone)).debt_minor == FLAT2_BILL + penalties
        )

        # Building B's own part of the shared repair is in its draft, the rest is A's.
        assert report_draft(session, year.b, Q2, timezone=settings.timezone).by_category == {
            "roof_and_repairs": 2_500_000
        }

        # The owner was told once per report.
        told = session.exec(
            select(Notification.dedupe_key).where(
                Notification.user_id == year.owner, Notification.kind == "building_report"
            )
        ).all()
        assert sorted(told) == sorted(f"report:{year.a}:{q}:{year.owner}" for q in (Q1, Q2, Q3, Q4))
        assert (
            session.exec(
                select(func.count())
                .select_from(BuildingReport)
                .where(col(BuildingReport.building_id) == year.a)
            ).one()
            == 4
        )
