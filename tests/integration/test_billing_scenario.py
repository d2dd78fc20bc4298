"""Three months of one building's bills under a frozen clock (STYLE.md habit 11).

Over 500 lines on purpose: one story, played once, and the checks that read it; split, each
file would replay the three months or share the story through a fixture module.

The city: one building managed by one company, four flats with smart electricity meters
(Tashkent tiers: 600 UZS a kWh up to 200, 800 up to 500, 1,000 above) and waste removal at
7,500 UZS a registered person. The meters report at local midnight on the 1st and the 16th;
their readings since May are history. From 2 August to 20 November 2026 the story runs day
by day, each job called with `today=` as the scheduler would call it, under a frozen clock
(`housing.clock.now` set to each moment below, so invoices are issued on the day; no
sleeping, no wall clock):

    00:00  the readings stamped today arrive (a buffered batch may arrive later)
    01:30  daily_penalties
    02:00  on the 1st: monthly_billing, and at once again, as a second scheduler copy would
    12:00  payments at the bank, staff corrections

- Aziza pays every bill by the 10th: paid, never a penalty. On 3 October staff correct her
  September bill: a resident moved out on 1 September and was deregistered late, so one
  person's waste removal is credited and the register now says 2 residents.
- Bobur's meter loses its connection on 1 September; on 1 October at 01:00, before the run,
  it sends the readings it buffered (16 September, 1 October): September is metered from them.
  He pays on the due date itself, which is not late.
- Dilnoza's meter breaks after 16 September: 1 October is 15 days past its last reading,
  far beyond the day a boundary may be extended over, so September has no reading at its
  end and, like October, is billed by the meter's average month over May-August
  (`sensors.usage.consumption.average_monthly`: whole months read at both ends, at least 3 of the
  last 12), labelled so: the first and second of at most 3 months in a row.
- Farhod pays August ten days late: 0.1% a day of 6,750,000 tiyin on 16-25 September.

The last test bills October from two `housing bill` processes at once (PostgreSQL only).
"""

import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from billing.jobs import daily_penalties, monthly_billing
from billing.ledger.service import adjust_line, balance
from billing.models import (
    Basis,
    Gateway,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LedgerEntry,
    LedgerKind,
    QuantitySource,
    Service,
)
from billing.payments.service import record_manual_payment
from billing.tariffs.pricing import Tier
from housing.db import session_scope
from housing.incidents.models import Utility
from housing.registry.models import Apartment
from housing.registry.service import update_apartment
from housing.settings import Settings
from sensors.models import MeterKind, Reading, ReadingSource
from tests.conftest import TEST_SECRET, FrozenClock
from tests.factories.billing import make_service, make_tariff
from tests.factories.core import make_apartment, make_building, make_company
from tests.factories.readings import make_meter

TASHKENT = ZoneInfo("Asia/Tashkent")
MAY, AUGUST, SEPTEMBER, OCTOBER = date(2026, 5, 1), date(2026, 8, 1), date(2026, 9, 1), date(2026, 10, 1)
HISTORY = (MAY, date(2026, 6, 1), date(2026, 7, 1))
BILLED = (AUGUST, SEPTEMBER, OCTOBER)
STORY_START, STORY_END = date(2026, 8, 2), date(2026, 11, 20)
FLATS = ("aziza", "bobur", "dilnoza", "farhod")


def at(day: date, hour: int = 0) -> datetime:
    return datetime.combine(day, time(hour), TASHKENT)


@dataclass(frozen=True)
class Flat:
    number: str
    residents: int
    kwh: tuple[int, ...]  # May to October 2026, half by the 16th
    register: int  # the meter's value on 1 May


CITY = {
    "aziza": Flat("1", 3, (300, 300, 300, 650, 300, 180), 10_000),
    "bobur": Flat("2", 2, (250, 250, 250, 250, 500, 220), 20_000),
    "dilnoza": Flat("3", 4, (150, 180, 210, 240, 200, 190), 30_000),
    "farhod": Flat("4", 1, (100, 100, 100, 100, 120, 150), 40_000),
}
BUFFERED = ("bobur", at(SEPTEMBER), at(OCTOBER))  # readings stamped after the first, up to the second
BUFFER_SENT = at(OCTOBER, 1)
BROKEN = ("dilnoza", at(date(2026, 9, 16)))  # nothing read after this

PAYMENTS = {  # day: the flats paying their bill of a month
    date(2026, 9, 5): [("dilnoza", AUGUST)],
    date(2026, 9, 10): [("aziza", AUGUST)],
    date(2026, 9, 15): [("bobur", AUGUST)],  # the due date itself
    date(2026, 9, 25): [("farhod", AUGUST)],  # ten days late
    date(2026, 10, 5): [("dilnoza", SEPTEMBER)],
    date(2026, 10, 10): [("aziza", SEPTEMBER)],  # what the corrected bill says
    date(2026, 10, 14): [("farhod", SEPTEMBER)],
    date(2026, 10, 15): [("bobur", SEPTEMBER)],
    date(2026, 11, 10): [("aziza", OCTOBER), ("dilnoza", OCTOBER)],
    date(2026, 11, 12): [("farhod", OCTOBER)],
    date(2026, 11, 15): [("bobur", OCTOBER)],
}
CORRECTION_DAY = date(2026, 10, 3)
CREDIT = -750_000  # one person's waste removal in September: 7,500 UZS

# (flat, month): kWh, how it was obtained, electricity and the invoice's total in tiyin.
# Waste: 750,000 tiyin a person (Aziza 3, then 2 from October; Bobur 2, Dilnoza 4, Farhod 1).
EXPECTED = {
    ("aziza", AUGUST): ("650", QuantitySource.metered, 51_000_000, 53_250_000),  # 200x600+300x800+150x1000
    ("aziza", SEPTEMBER): ("300", QuantitySource.metered, 20_000_000, 22_250_000),  # 200x600+100x800
    ("aziza", OCTOBER): ("180", QuantitySource.metered, 10_800_000, 12_300_000),
    ("bobur", AUGUST): ("250", QuantitySource.metered, 16_000_000, 17_500_000),  # 200x600+50x800
    ("bobur", SEPTEMBER): ("500", QuantitySource.metered, 36_000_000, 37_500_000),  # 200x600+300x800
    ("bobur", OCTOBER): ("220", QuantitySource.metered, 13_600_000, 15_100_000),
    ("dilnoza", AUGUST): ("240", QuantitySource.metered, 15_200_000, 18_200_000),
    ("dilnoza", SEPTEMBER): ("195", QuantitySource.average, 11_700_000, 14_700_000),  # not 15 days extended
    ("dilnoza", OCTOBER): ("195", QuantitySource.average, 11_700_000, 14_700_000),  # (150+180+210+240)/4
    ("farhod", AUGUST): ("100", QuantitySource.metered, 6_000_000, 6_750_000),
    ("farhod", SEPTEMBER): ("120", QuantitySource.metered, 7_200_000, 7_950_000),
    ("farhod", OCTOBER): ("150", QuantitySource.metered, 9_000_000, 9_750_000),
}


def month_total(month: date) -> int:
    return sum(EXPECTED[(flat, month)][3] for flat in FLATS)


def meter_readings(flat: Flat) -> list[tuple[datetime, Decimal]]:
    """The register on the 1st and the 16th of each month from May, and on 1 November."""
    value, rows = flat.register, []
    for month, kwh in zip((*HISTORY, *BILLED), flat.kwh, strict=True):
        rows += [(at(month), Decimal(value)), (at(month.replace(day=16)), Decimal(value + kwh // 2))]
        value += kwh
    return [*rows, (at(date(2026, 11, 1)), Decimal(value))]


def arrival(name: str, taken_at: datetime) -> datetime | None:
    """When a reading reaches the platform; None: never taken."""
    if name == BROKEN[0] and taken_at > BROKEN[1]:
        return None
    if name == BUFFERED[0] and BUFFERED[1] < taken_at <= BUFFERED[2]:
        return BUFFER_SENT
    return taken_at


class Story:
    """The city, and a calendar played day by day up to a given day."""

    def __init__(self, engine: Engine, settings: Settings, clock: FrozenClock) -> None:
        self.engine, self.settings, self.clock = engine, settings, clock
        self.today = STORY_START - timedelta(days=1)
        self.billing_runs: dict[date, list[str]] = {}
        self.flats: dict[str, int] = {}
        self.meters: dict[str, int] = {}
        with session_scope(engine) as session:
            electricity = make_service(
                session,
                code="electricity",
                unit="kWh",
                meter_kind=MeterKind.electricity,
                utility=Utility.electricity,
            )
            make_tariff(
                session,
                electricity,
                tiers=[
                    Tier(up_to=Decimal(200), price_minor=Decimal(60_000)),
                    Tier(up_to=Decimal(500), price_minor=Decimal(80_000)),
                    Tier(up_to=None, price_minor=Decimal(100_000)),
                ],
            )
            waste = make_service(session, code="waste", unit="person")
            make_tariff(
                session, waste, basis=Basis.per_person, tiers=[Tier(up_to=None, price_minor=Decimal(750_000))]
            )
            building = make_building(session, make_company(session, name="Yunusobod Servis"))
            for name, flat in CITY.items():
                apartment = make_apartment(
                    session, building, number=flat.number, registered_residents=flat.residents
                )
                meter = make_meter(
                    session, apartment=apartment, kind=MeterKind.electricity, installed_on=date(2024, 1, 1)
                )
                self.flats[name], self.meters[name] = apartment.id, meter.id
        self.arrivals = sorted(
            (arrives, self.meters[name], taken_at, value)
            for name, flat in CITY.items()
            for taken_at, value in meter_readings(flat)
            if (arrives := arrival(name, taken_at)) is not None
        )
        self.readings_until(at(STORY_START))  # the history

    def play(self, until: date) -> "Story":
        """Runs each day after the last one played, through `until`."""
        while self.today < until:
            self.today += timedelta(days=1)
            self._day(self.today)
        return self

    def _day(self, today: date) -> None:
        self.readings_until(at(today + timedelta(days=1)))
        self.clock.at(today, 1, 30)
        daily_penalties(self.engine, self.settings, today=today)
        if today.day == 1:
            self.clock.at(today, 2)
            self.billing_runs[today] = [
                monthly_billing(self.engine, self.settings, today=today),
                monthly_billing(self.engine, self.settings, today=today),
            ]
        self.clock.at(today, 12)
        if today == CORRECTION_DAY:
            self._correct_aziza()
        for name, month in PAYMENTS.get(today, []):
            self._pay(name, month, today)

    def readings_until(self, end: datetime) -> None:
        """Delivers the readings that arrive before `end`."""
        arrived = [row for row in self.arrivals if row[0] < end]
        self.arrivals = self.arrivals[len(arrived) :]
        with session_scope(self.engine) as session:
            session.add_all(
                Reading(
                    meter_id=meter_id,
                    taken_at=taken_at,
                    value=value,
                    source=ReadingSource.mqtt,
                    received_at=arrives,
                )
                for arrives, meter_id, taken_at, value in arrived
            )

    def _pay(self, name: str, month: date, today: date) -> None:
        """The flat pays what its bill of `month` says now (its total and any correction)."""
        with session_scope(self.engine) as session:
            invoice = self.invoice(session, name, month)
            record_manual_payment(
                session,
                apartment_id=invoice.apartment_id,
                amount_minor=invoice.total_minor + adjustments(session, invoice.id),
                gateway=Gateway.bank,
                reference=f"{name}-{month:%Y-%m}",
                paid_at=at(today, 12),
                user_id=None,
            )

    def _correct_aziza(self) -> None:
        with session_scope(self.engine) as session:
            line = self.line(session, "aziza", SEPTEMBER, "waste")
            adjust_line(
                session,
                line_id=line.id,
                amount_minor=CREDIT,
                reason="a resident moved out on 1 September and was deregistered late",
                user_id=None,
            )
            apartment = session.get(Apartment, self.flats["aziza"])
            update_apartment(session, apartment, {"registered_residents": 2})

    def invoice(self, session: Session, name: str, month: date) -> Invoice:
        return session.exec(
            select(Invoice)
            .where(Invoice.apartment_id == self.flats[name], Invoice.period == month)
            .execution_options(populate_existing=True)  # as the story left it, not as first seen
        ).one()

    def line(self, session: Session, name: str, month: date, code: str) -> InvoiceLine:
        return session.exec(
            select(InvoiceLine)
            .join(Service, Service.id == InvoiceLine.service_id)
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(Invoice.apartment_id == self.flats[name], Invoice.period == month, Service.code == code)
            .execution_options(populate_existing=True)
        ).one()

    def penalty_days(self, session: Session, name: str) -> list[tuple[date, int]]:
        """(day, tiyin) of the flat's penalties, in order."""
        rows = session.exec(
            select(LedgerEntry.dedupe_key, LedgerEntry.amount_minor)
            .where(LedgerEntry.apartment_id == self.flats[name], LedgerEntry.kind == LedgerKind.penalty)
            .order_by(LedgerEntry.occurred_at)
        ).all()
        return [(date.fromisoformat(key.rsplit(":", 1)[1]), amount) for key, amount in rows]


def adjustments(session: Session, invoice_id: int | None) -> int:
    return int(
        session.exec(
            select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(
                LedgerEntry.invoice_id == invoice_id, LedgerEntry.kind == LedgerKind.adjustment
            )
        ).one()
    )


@pytest.fixture
def story(db: Engine, settings: Settings, frozen_clock: FrozenClock) -> Story:
    return Story(db, settings, frozen_clock)


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def test_each_month_is_billed_once_though_the_job_runs_twice(story: Story, session: Session) -> None:
    story.play(until=STORY_END)

    assert list(story.billing_runs) == [date(2026, 9, 1), date(2026, 10, 1), date(2026, 11, 1)]
    for (day, (first, second)), month in zip(story.billing_runs.items(), BILLED, strict=True):
        assert f"billing {month:%Y-%m}: issued 4 invoices totalling {month_total(month)} tiyin" in first, day
        assert f"billing {month:%Y-%m}: issued 0 invoices" in second, day
    invoices = session.exec(select(Invoice).order_by(Invoice.period, Invoice.apartment_id)).all()
    by_id = {apartment_id: name for name, apartment_id in story.flats.items()}
    assert [(by_id[i.apartment_id], i.period, i.number, i.total_minor) for i in invoices] == [
        (name, month, f"2026-{n:06d}", EXPECTED[(name, month)][3])
        for n, (month, name) in enumerate(((m, f) for m in BILLED for f in FLATS), start=1)
    ]
    assert {i.due_date for i in invoices if i.period == AUGUST} == {date(2026, 9, 15)}
    charges = session.exec(
        select(LedgerEntry.invoice_id, LedgerEntry.amount_minor, LedgerEntry.dedupe_key).where(
            LedgerEntry.kind == LedgerKind.charge
        )
    ).all()
    assert sorted(charges) == sorted((i.id, i.total_minor, f"charge:{i.id}") for i in invoices)


def test_every_line_in_tiyin(story: Story, session: Session) -> None:
    story.play(until=STORY_END)

    for (name, month), (kwh, how, electricity_minor, total_minor) in EXPECTED.items():
        line = story.line(session, name, month, "electricity")
        assert (line.quantity, line.quantity_source, line.amount_minor) == (
            Decimal(kwh),
            how,
            electricity_minor,
        ), (name, month)
        waste = story.line(session, name, month, "waste")
        assert waste.amount_minor == total_minor - electricity_minor == waste.quantity * 750_000, (
            name,
            month,
        )


def test_readings_that_arrive_late_but_before_the_run_are_billed(story: Story, session: Session) -> None:
    story.play(until=date(2026, 9, 30))
    assert balance(session, story.flats["bobur"]) == 0  # August paid; September not yet billed
    buffered = session.exec(
        select(Reading).where(Reading.meter_id == story.meters["bobur"], Reading.taken_at > at(SEPTEMBER))
    ).all()
    assert buffered == []  # the meter is silent through September

    story.play(until=OCTOBER)

    received = session.exec(
        select(Reading.taken_at, Reading.received_at).where(
            Reading.meter_id == story.meters["bobur"], Reading.taken_at == at(date(2026, 9, 16))
        )
    ).one()
    assert received == (at(date(2026, 9, 16)), BUFFER_SENT)  # stamped in September, received after it
    line = story.line(session, "bobur", SEPTEMBER, "electricity")
    # Extrapolating August's second half (125 kWh in 16 days) would have made 234.375 kWh.
    assert (line.quantity, line.quantity_source, line.amount_minor) == (
        Decimal(500),
        QuantitySource.metered,
        36_000_000,
    )
    assert line.explanation["extrapolated"] is False
    end = line.explanation["end"]
    assert (datetime.fromisoformat(end["at"]), Decimal(end["value"]), end["how"]) == (
        at(OCTOBER),
        Decimal(21_500),  # 20,000 on 1 May, 4 x 250 to 1 September, 500 in September
        "read",
    )


def test_a_month_without_a_reading_is_billed_by_the_meter_average(story: Story, session: Session) -> None:
    story.play(until=date(2026, 11, 1))

    september = story.line(session, "dilnoza", SEPTEMBER, "electricity")
    # Once billed as "metered" by extending 16 September's line for 15 days: an estimate.
    assert (september.quantity, september.quantity_source) == (Decimal(195), QuantitySource.average)
    assert "no reading within 24 hours of 2026-10-01" in september.explanation["why"]
    assert september.explanation["average_period"] == 1
    october = story.line(session, "dilnoza", OCTOBER, "electricity")
    assert (october.quantity, october.quantity_source, october.explanation["label"]) == (
        Decimal(195),  # May-August: (150 + 180 + 210 + 240) / 4
        QuantitySource.average,
        "average",
    )
    assert october.amount_minor == 11_700_000  # 195 kWh x 600 UZS
    assert october.explanation["why"]  # the reason no reading would do is kept for staff
    assert october.explanation["average_period"] == 2


def test_paying_by_the_due_date_pays_the_bill_and_no_penalty_accrues(story: Story, session: Session) -> None:
    story.play(until=date(2026, 9, 9))
    assert story.invoice(session, "aziza", AUGUST).status == InvoiceStatus.issued

    story.play(until=date(2026, 9, 10))
    assert story.invoice(session, "aziza", AUGUST).status == InvoiceStatus.paid
    assert balance(session, story.flats["aziza"]) == 0

    story.play(until=STORY_END)
    for name in ("aziza", "bobur", "dilnoza"):  # Bobur paid on the due dates themselves
        assert story.penalty_days(session, name) == [], name
        assert story.invoice(session, name, SEPTEMBER).status == InvoiceStatus.paid, name
        assert story.invoice(session, name, OCTOBER).status == InvoiceStatus.paid, name
        assert balance(session, story.flats[name]) == 0, name


def test_a_late_payment_costs_0_1_percent_a_day_until_it_is_paid(story: Story, session: Session) -> None:
    august_bill = 6_750_000
    daily = 6_750  # 0.1% of what is overdue; the cap, 50% of the bill (3,375,000), is far off
    story.play(until=date(2026, 9, 15))
    assert story.penalty_days(session, "farhod") == []  # due today, not late yet

    story.play(until=date(2026, 9, 24))
    assert story.penalty_days(session, "farhod") == [
        (day, daily) for day in days(date(2026, 9, 16), date(2026, 9, 24))
    ]
    assert balance(session, story.flats["farhod"]) == august_bill + 9 * daily
    assert story.invoice(session, "farhod", AUGUST).status == InvoiceStatus.issued

    story.play(until=date(2026, 9, 25))  # the penalty job at 01:30, the payment at noon
    assert story.invoice(session, "farhod", AUGUST).status == InvoiceStatus.paid
    assert balance(session, story.flats["farhod"]) == 10 * daily == 67_500  # the penalties are still owed

    story.play(until=STORY_END)
    assert story.penalty_days(session, "farhod") == [
        (day, daily) for day in days(date(2026, 9, 16), date(2026, 9, 25))
    ]
    assert story.invoice(session, "farhod", SEPTEMBER).status == InvoiceStatus.paid
    assert story.invoice(session, "farhod", OCTOBER).status == InvoiceStatus.paid
    assert balance(session, story.flats["farhod"]) == 67_500


def test_a_correction_credits_a_line_the_bill_stays_and_the_balance_moves(
    story: Story, session: Session
) -> None:
    story.play(until=date(2026, 10, 2))
    september = story.invoice(session, "aziza", SEPTEMBER)
    assert balance(session, story.flats["aziza"]) == september.total_minor == 22_250_000

    story.play(until=CORRECTION_DAY)
    waste = story.line(session, "aziza", SEPTEMBER, "waste")
    credit = session.exec(select(LedgerEntry).where(LedgerEntry.kind == LedgerKind.adjustment)).one()
    assert (credit.invoice_id, credit.invoice_line_id, credit.amount_minor) == (
        september.id,
        waste.id,
        -750_000,
    )
    september = story.invoice(session, "aziza", SEPTEMBER)
    assert (september.total_minor, september.status) == (22_250_000, InvoiceStatus.issued)
    assert (waste.amount_minor, waste.deduction_minor) == (2_250_000, 0)  # the line as issued
    assert balance(session, story.flats["aziza"]) == 21_500_000

    story.play(until=STORY_END)  # she pays 21,500,000 on 10 October, October's bill on 10 November
    assert story.invoice(session, "aziza", SEPTEMBER).status == InvoiceStatus.paid
    assert story.line(session, "aziza", OCTOBER, "waste").amount_minor == 1_500_000  # 2 residents now
    assert story.penalty_days(session, "aziza") == []  # the credited 750,000 is not overdue
    assert balance(session, story.flats["aziza"]) == 0


@pytest.mark.skipif(
    "postgresql" not in (os.environ.get("HOUSING_TEST_DATABASE_URL") or ""),
    reason="the advisory lock exists on PostgreSQL only",
)
def test_two_processes_billing_october_at_once_issue_one_invoice_per_flat(
    story: Story, session: Session, database_url: str
) -> None:
    """`housing bill` takes today from the wall clock: October 2026 must be over (it is from November)."""
    story.play(until=date(2026, 10, 31))
    story.readings_until(at(date(2026, 11, 1), 2))  # 1 November, 02:00: October is read to its end
    env = os.environ | {
        "HOUSING_ENVIRONMENT": "test",
        "HOUSING_AUTH__SECRET_KEY": TEST_SECRET,
        "HOUSING_DB__URL": database_url,
        "COLUMNS": "250",
    }
    command = [sys.executable, "-m", "housing.cli", "bill", "--period", "2026-10"]
    processes = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    outputs = [" ".join(p.communicate(timeout=120)[0].split()) for p in processes]

    issued = [
        0 if "another billing run holds the lock" in out else int(out.split(" issued ")[1].split()[0])
        for out in outputs
    ]
    assert sorted(issued) == [0, 4], outputs  # one billed all four; the other was locked out or found none
    for process, out, count in zip(processes, outputs, issued, strict=True):
        # `housing bill` exits 0 issued, 3 nothing to do, 4 locked out
        expected = 0 if count else 4 if "another billing run holds the lock" in out else 3
        assert process.returncode == expected, outputs
    october = session.exec(select(Invoice).where(Invoice.period == OCTOBER).order_by(Invoice.number)).all()
    by_id = {apartment_id: name for name, apartment_id in story.flats.items()}
    assert sorted((by_id[i.apartment_id], i.total_minor) for i in october) == [
        (name, EXPECTED[(name, OCTOBER)][3]) for name in FLATS
    ]
    assert [i.number for i in october] == [f"2026-{n:06d}" for n in range(9, 13)]
    numbers = session.exec(select(Invoice.number)).all()
    assert len(numbers) == len(set(numbers)) == 12
    charged = session.exec(
        select(LedgerEntry.invoice_id).where(
            LedgerEntry.kind == LedgerKind.charge, col(LedgerEntry.invoice_id).in_([i.id for i in october])
        )
    ).all()
    assert sorted(charged) == sorted(i.id for i in october)
