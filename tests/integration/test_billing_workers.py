"""`bill_period` (the monthly job and `housing bill`) with batches billed in worker processes.

A city of two companies, 22 flats in four buildings: flats with an electricity meter read
through October, flats whose meter went silent on the 10th (too far from the month's end to bill as metered), flats without a
meter, empty flats and different areas, so that the invoices differ from each other. Batches of 4 flats make 6
transactions; with 2 workers they are billed by two processes at once (PostgreSQL; on
SQLite `bill_period` bills in one).
"""

import os
import subprocess
import sys
import threading
import time as wall
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session, select

from billing.jobs import bill_period
from billing.models import Invoice, InvoiceLine, LedgerEntry
from billing.runs.numbering import LOCK_KEY
from billing.tariffs.seeding import seed_tashkent_tariffs
from housing import clock
from housing.errors import Invalid
from housing.settings import Settings
from sensors.models import MeterKind
from tests.conftest import TEST_SECRET
from tests.factories.core import make_apartment, make_building, make_company
from tests.factories.readings import add_readings, make_meter
from tests.faults import allow_inserts, refuse_inserts

TASHKENT = ZoneInfo("Asia/Tashkent")
OCTOBER = date(2026, 10, 1)
TODAY = date(2026, 11, 1)
BATCH = 4
POSTGRES = "postgresql" in (os.environ.get("HOUSING_TEST_DATABASE_URL") or "")


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), TASHKENT)


@pytest.fixture
def city(db: Engine) -> list[int]:
    """The flats' ids, committed (the workers have sessions of their own)."""
    seed_tashkent_tariffs(db)
    ids = []
    with Session(db) as session:
        for company_name, flats in (("Yunusobod Servis", 5), ("Chilonzor Uy", 6)):
            company = make_company(session, name=company_name)
            for _ in range(2):
                building = make_building(session, company)
                for n in range(flats):
                    flat = make_apartment(
                        session, building, area_m2=Decimal(40 + 3 * len(ids)), registered_residents=n % 4
                    )
                    ids.append(flat.id)
                    if n % 3 == 2:
                        continue  # no meter: no electricity line
                    meter = make_meter(session, apartment=flat, kind=MeterKind.electricity)
                    days = (1, 16, 32) if n % 3 == 0 else (1, 5, 10)  # the second kind goes silent
                    add_readings(
                        session,
                        meter,
                        [
                            (
                                midnight(date(2026, 10, 1) + timedelta(days=day - 1)),
                                str(1000 + k * (40 + 9 * n)),
                            )
                            for k, day in enumerate(days)
                        ],
                    )
        session.commit()
    return sorted(ids)


def invoices(db: Engine) -> list[tuple]:
    """Each invoice as a resident sees it, without its number: flat, total, status, due date, lines."""
    with Session(db) as session:
        rows = session.exec(
            select(Invoice).where(Invoice.period == OCTOBER).order_by(Invoice.apartment_id)
        ).all()
        lines = session.exec(
            select(InvoiceLine).order_by(InvoiceLine.invoice_id, InvoiceLine.service_id)
        ).all()
        charges = dict(session.exec(select(LedgerEntry.invoice_id, LedgerEntry.amount_minor)).all())
    by_invoice: dict[int | None, list[tuple]] = {}
    for line in lines:
        by_invoice.setdefault(line.invoice_id, []).append(
            (
                line.service_id,
                line.quantity,
                str(line.quantity_source),
                line.amount_minor,
                line.deduction_minor,
            )
        )
    return [
        (
            i.apartment_id,
            i.company_id,
            i.total_minor,
            str(i.status),
            i.due_date,
            charges.get(i.id),
            by_invoice[i.id],
        )
        for i in rows
    ]


def numbering(db: Engine) -> dict[int, list[tuple[int, datetime, int]]]:
    """company -> (sequence, issued_at, flat) of its invoices, in number order."""
    with Session(db) as session:
        rows = session.exec(
            select(
                Invoice.company_id, Invoice.sequence, Invoice.number, Invoice.issued_at, Invoice.apartment_id
            )
            .where(Invoice.period == OCTOBER)
            .order_by(Invoice.company_id, Invoice.sequence)
        ).all()
    found: dict[int, list[tuple[int, datetime, int]]] = {}
    for company_id, sequence, number, issued_at, apartment_id in rows:
        assert number == f"2026-{sequence:06d}"
        found.setdefault(company_id, []).append((sequence, issued_at, apartment_id))
    return found


def assert_numbered_in_order_of_issue(db: Engine) -> None:
    """Per company 1..n without a gap; a later number never issued earlier (the issue time is stamped
    under the numbering lock, `billing.runs.numbering`); a batch in flat order."""
    for company_id, rows in numbering(db).items():
        assert [sequence for sequence, _, _ in rows] == list(range(1, len(rows) + 1)), company_id
        issued = [issued_at for _, issued_at, _ in rows]
        assert issued == sorted(issued), company_id
        for at in set(issued):  # one transaction: its flats numbered in their order
            flats = [flat for _, issued_at, flat in rows if issued_at == at]
            assert flats == sorted(flats), company_id


def delete_october(db: Engine) -> None:
    of_october = "SELECT id FROM invoice WHERE period = :period"
    with db.begin() as connection:
        connection.execute(
            text(f"DELETE FROM ledger_entry WHERE invoice_id IN ({of_october})"), {"period": OCTOBER}
        )
        connection.execute(
            text(f"DELETE FROM invoice_line WHERE invoice_id IN ({of_october})"), {"period": OCTOBER}
        )
        connection.execute(text("DELETE FROM invoice WHERE period = :period"), {"period": OCTOBER})


def test_two_workers_issue_the_same_invoices_as_one(db: Engine, settings: Settings, city: list[int]) -> None:
    one = bill_period(db, settings, OCTOBER, TODAY, workers=1, batch_size=BATCH)
    by_one = invoices(db)
    assert [flat for flat, *_ in by_one] == city  # every flat has an area to bill
    assert len({total for _, _, total, *_ in by_one}) == len(city)  # no two flats alike
    assert_numbered_in_order_of_issue(db)
    with Session(db) as session:  # six batches, six transactions
        assert len(set(session.exec(select(Invoice.issued_at)).all())) == 6
    delete_october(db)

    two = bill_period(db, settings, OCTOBER, TODAY, workers=2, batch_size=BATCH)

    assert two == one
    assert invoices(db) == by_one
    assert_numbered_in_order_of_issue(db)
    assert bill_period(db, settings, OCTOBER, TODAY, workers=2, batch_size=BATCH).startswith(
        "billing 2026-10: issued 0 invoices totalling 0 tiyin"
    )


def test_a_failed_batch_is_reported_and_left_for_the_next_run(
    db: Engine, settings: Settings, city: list[int]
) -> None:
    doomed = city[5]  # in the second batch of four
    refuse_inserts(db, "invoice", f"NEW.apartment_id = {doomed}")
    try:
        first = bill_period(db, settings, OCTOBER, TODAY, workers=2, batch_size=BATCH)
    finally:
        allow_inserts(db, "invoice")

    assert "1 of 6 batches failed, their 4 apartments stay unbilled for the next run" in first
    billed = [flat for flat, *_ in invoices(db)]
    assert billed == city[:4] + city[8:]  # the other batches were written
    assert first.startswith("billing 2026-10: issued 18 invoices")
    assert_numbered_in_order_of_issue(db)

    second = bill_period(db, settings, OCTOBER, TODAY, workers=2, batch_size=BATCH)

    assert second.startswith("billing 2026-10: issued 4 invoices") and "failed" not in second
    assert [flat for flat, *_ in invoices(db)] == city
    assert_numbered_in_order_of_issue(db)  # the late batch continued each company's numbers


def test_a_month_not_yet_over_is_refused_before_any_batch(
    db: Engine, settings: Settings, city: list[int]
) -> None:
    with pytest.raises(Invalid):
        bill_period(db, settings, OCTOBER, date(2026, 10, 31), workers=2, batch_size=BATCH)
    assert invoices(db) == []


@pytest.mark.skipif(not POSTGRES, reason="worker processes bill on PostgreSQL only")
def test_housing_bill_with_two_workers(db: Engine, city: list[int], database_url: str) -> None:
    """The option reaches `bill_period` (the 22 flats are one batch of `runs.BATCH` here; the tests
    above share smaller batches among worker processes). `housing bill` takes today from the
    wall clock: October 2026 must be over (it is from November)."""
    env = os.environ | {
        "HOUSING_ENVIRONMENT": "test",
        "HOUSING_AUTH__SECRET_KEY": TEST_SECRET,
        "HOUSING_DB__URL": database_url,
        "COLUMNS": "250",
    }
    command = [sys.executable, "-m", "housing.cli", "bill", "--period", "2026-10", "--workers", "2"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)

    assert done.returncode == 0, done.stdout + done.stderr
    output = " ".join(done.stdout.split())
    total = sum(row[2] for row in invoices(db))
    assert f"billing 2026-10: issued 22 invoices totalling {total} tiyin" in output
    assert_numbered_in_order_of_issue(db)
    refused = subprocess.run(
        [*command[:-1], "0"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert refused.returncode == 2 and "--workers" in refused.stdout + refused.stderr


@pytest.mark.skipif(not POSTGRES, reason="the numbering lock exists on PostgreSQL only")
def test_a_batch_waiting_for_the_numbering_lock_is_stamped_after_it_gets_it(
    db: Engine, settings: Settings, city: list[int]
) -> None:
    """The promise behind `assert_numbered_in_order_of_issue`: the issue time is taken under the
    lock, so a batch that waited for another's numbers is never stamped before that one committed."""
    with Session(db) as holder:  # another batch, numbering its invoices
        holder.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
        results: list[str] = []
        billing = threading.Thread(
            target=lambda: results.append(bill_period(db, settings, OCTOBER, TODAY, workers=1))
        )
        billing.start()
        deadline = wall.monotonic() + 60
        while (
            wall.monotonic() < deadline
            and not holder.execute(
                text("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted)")
            ).scalar_one()
        ):
            wall.sleep(0.05)
        assert billing.is_alive(), results  # it drafted its batch and waits for the lock
        holder.commit()
        released = clock.now()
    billing.join(timeout=120)

    assert results and results[0].startswith("billing 2026-10: issued 22 invoices"), results
    with Session(db) as session:
        stamped = session.exec(select(Invoice.issued_at)).all()
    assert min(stamped) >= released
