"""`housing bill`: an exit code for each way a run ends, and the warnings printed, not only counted.

0 issued, 1 failed, 2 bad usage, 3 nothing to do, 4 locked out. The command takes today
from the wall clock, so October 2026 is over (the suite runs after it).
"""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Engine, text
from sqlmodel import Session
from typer.testing import CliRunner

from billing.jobs import RUN_LOCK_KEY, RunOutcome, outcome_of
from housing import cli
from housing.db import is_postgres
from sensors.models import MeterKind
from tests.conftest import TEST_SECRET
from tests.factories.core import make_apartment, make_building, make_company
from tests.factories.readings import make_meter
from tests.faults import allow_inserts, refuse_inserts
from tests.integration.test_billing_workers import city, invoices  # noqa: F401

OCTOBER = date(2026, 10, 1)


def bill(database_url: str, *args: str):
    env = {
        "HOUSING_ENVIRONMENT": "test",
        "HOUSING_AUTH__SECRET_KEY": TEST_SECRET,
        "HOUSING_DB__URL": database_url,
        "COLUMNS": "250",
    }
    result = CliRunner().invoke(cli.app, ["bill", *args], env=env)
    return result.exit_code, " ".join(result.output.split())


def test_issued_then_nothing_to_do(db: Engine, city: list[int], database_url: str) -> None:  # noqa: F811
    code, output = bill(database_url, "--period", "2026-10", "--workers", "1")

    assert code == 0, output
    assert f"billing 2026-10: issued {len(city)} invoices" in output
    again, output = bill(database_url, "--period", "2026-10", "--workers", "1")
    assert again == 3, output
    assert "billing 2026-10: issued 0 invoices" in output
    assert len(invoices(db)) == len(city)


def test_a_dry_run_exits_as_the_run_would(db: Engine, city: list[int], database_url: str) -> None:  # noqa: F811
    code, output = bill(database_url, "--period", "2026-10", "--dry-run")
    assert code == 0, output
    assert f"would issue {len(city)} invoices" in output
    assert invoices(db) == []  # a dry run writes nothing

    bill(database_url, "--period", "2026-10", "--workers", "1")
    code, output = bill(database_url, "--period", "2026-10", "--dry-run")
    assert code == 3, output
    assert "would issue 0 invoices" in output


def test_each_warning_is_printed(db: Engine, city: list[int], database_url: str) -> None:  # noqa: F811
    """Flats with an electricity meter that never reported, and no norm to bill it by: one warning each."""
    with Session(db) as session:
        building = make_building(session, make_company(session, name="Olmazor Servis"))
        silent = [make_apartment(session, building, area_m2=Decimal(50)) for _ in range(3)]
        for flat in silent:
            make_meter(session, apartment=flat, kind=MeterKind.electricity)
        session.commit()
        silent_ids = [flat.id for flat in silent]

    code, output = bill(database_url, "--period", "2026-10", "--workers", "1")

    assert code == 0, output  # issued: a warning is not a failure
    # The city's own flats whose meter went silent on the 10th warn too (no average, no norm
    # for electricity): every warning counted is printed, the three new flats' among them.
    printed = output.count("warning: apartment ")
    assert f", {printed} warnings)" in output
    assert printed >= len(silent_ids) + 1
    for flat in silent_ids:
        assert f"warning: apartment {flat}: no consumption, average or norm tariff for electricity" in output


def test_a_failed_batch_exits_1_with_the_reason(db: Engine, city: list[int], database_url: str) -> None:  # noqa: F811
    refuse_inserts(db, "invoice", f"NEW.apartment_id = {city[3]}")
    try:
        code, output = bill(database_url, "--period", "2026-10", "--workers", "1")
    finally:
        allow_inserts(db, "invoice")

    assert code == 1, output
    assert "1 of 1 batches failed" in output and "refused" in output
    assert invoices(db) == []
    retried, output = bill(database_url, "--period", "2026-10", "--workers", "1")
    assert retried == 0, output
    assert len(invoices(db)) == len(city)  # the retry bills every flat, the refused one too


def test_locked_out_while_another_run_holds_the_lock(db: Engine, city: list[int], database_url: str) -> None:  # noqa: F811
    if not is_postgres(db):
        pytest.skip("the run lock is a PostgreSQL advisory lock (SQLite has one writer and no lock)")
    with db.connect() as other_run:
        assert other_run.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": RUN_LOCK_KEY}).scalar_one()
        try:
            code, output = bill(database_url, "--period", "2026-10", "--workers", "1")
        finally:
            other_run.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": RUN_LOCK_KEY})

    assert code == 4, output
    assert "billing 2026-10: skipped, another billing run holds the lock" in output
    assert invoices(db) == []
    after, output = bill(database_url, "--period", "2026-10", "--workers", "1")
    assert after == 0, output
    assert len(invoices(db)) == len(city)  # once the lock is free, the run bills every flat


@pytest.mark.parametrize(
    ("period", "says"),
    [
        ("2026-13", "--period must look like 2026-10"),
        ("0000-01", "--period must look like 2026-10"),
        ("0001-01", "--period must look like 2026-10"),  # a real month, outside the accepted years
        ("2026-1", "--period must look like 2026-10"),
        ("2999-01", "2999-01"),  # not over yet
    ],
)
def test_bad_usage_exits_2(db: Engine, city: list[int], database_url: str, period: str, says: str) -> None:  # noqa: F811
    code, output = bill(database_url, "--period", period)

    assert code == 2, output
    assert says in output
    assert invoices(db) == []


def test_the_help_documents_the_exit_codes(database_url: str) -> None:
    code, output = bill(database_url, "--help")

    assert code == 0
    for documented in ("0 invoices issued", "1 failed", "2 bad usage", "3 nothing to do", "4 locked out"):
        assert documented in output


@pytest.mark.parametrize(
    ("issued", "held_back", "failed_batches", "outcome"),
    [
        (5, 0, 0, RunOutcome.issued),
        (0, 0, 0, RunOutcome.nothing),
        (5, 1, 0, RunOutcome.failed),  # an apartment held back stays unbilled
        (0, 1, 0, RunOutcome.failed),
        (5, 0, 1, RunOutcome.failed),
        (0, 0, 1, RunOutcome.failed),
    ],
)
def test_the_outcome_of_a_run(issued: int, held_back: int, failed_batches: int, outcome: RunOutcome) -> None:
    assert outcome_of(issued=issued, held_back=held_back, failed_batches=failed_batches) is outcome
