"""A provider's statement file imported all or nothing: hostile cells named by line, re-imports,
a refund that replaces its payment's line, a manager's own accounts only, and the days it
covers reconciled at once."""

import io
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, func, select
from typer.testing import CliRunner

from billing.models import (
    Gateway,
    ProviderStatementLine,
    ReconciliationDifference,
    ReconciliationRun,
    StatementState,
)
from billing.payments.reconciliation import statement as statement_module
from billing.payments.reconciliation.rules import Kind
from billing.payments.reconciliation.statement import import_provider_statement
from housing import cli
from housing.accounts.models import Role
from housing.actors import Actor
from housing.csvfile import ImportRejected
from housing.errors import Invalid
from housing.registry.queries import visible_apartments
from tests.factories.core import make_apartment, make_building, make_company, make_user
from tests.factories.reconciliation import provider_payment, statement_csv

NOW = datetime(2026, 11, 5, 9, tzinfo=UTC)
TZ = "Asia/Tashkent"
HEADER = "transaction_id,time,amount,account_number,state"


def lines(session: Session) -> list[tuple]:
    return [
        (line.external_id, line.day, line.occurred_at, line.amount_minor, line.account_number, line.state)
        for line in session.exec(select(ProviderStatementLine).order_by(ProviderStatementLine.external_id))
    ]


def run_import(session: Session, stream, *, gateway=Gateway.payme, apartments=None, user_id=None, now=NOW):
    """Imports and commits, as the route does."""
    result = import_provider_statement(
        session, stream, gateway=gateway, apartments=apartments, user_id=user_id, timezone=TZ, now=now
    )
    session.commit()
    return result


def refused(session: Session, stream, **kw) -> list[tuple]:
    with pytest.raises(ImportRejected) as caught:
        run_import(session, stream, **kw)
    session.rollback()
    return [(e.line, e.field) for e in caught.value.errors]


def raw(text: str) -> io.StringIO:
    return io.StringIO(text, newline="")


def test_the_lines_are_stored_on_the_citys_day_of_their_time(session: Session):
    result = run_import(
        session,
        statement_csv(
            ("a", "2026-11-03T23:30:00+05:00", "150000.00", "100", "performed"),
            ("b", "2026-11-03T19:30:00Z", "1.5", "101", "Refunded"),  # 00:30 on the 4th in Tashkent
            ("c", "2026-11-04 08:00:00+05:00", "7", "102", "cancelled"),
        ),
    )
    assert (result.imported, result.already_imported, result.replaced) == (3, 0, 0)
    assert lines(session) == [
        (
            "a",
            date(2026, 11, 3),
            datetime(2026, 11, 3, 18, 30, tzinfo=UTC),
            15_000_000,
            "100",
            StatementState.performed,
        ),
        (
            "b",
            date(2026, 11, 4),
            datetime(2026, 11, 3, 19, 30, tzinfo=UTC),
            150,
            "101",
            StatementState.refunded,
        ),
        ("c", date(2026, 11, 4), datetime(2026, 11, 4, 3, tzinfo=UTC), 700, "102", StatementState.cancelled),
    ]
    assert result.days == (date(2026, 11, 3), date(2026, 11, 4))
    # Both days reconciled in the same transaction: none of these accounts is ours.
    kinds = session.exec(select(ReconciliationDifference.kind)).all()
    assert sorted(kinds) == [Kind.missing_in_ours] * 3
    assert session.exec(select(func.count()).select_from(ReconciliationRun)).one() == 2


def test_a_spreadsheets_semicolons_and_decimal_commas_are_read(session: Session):
    text = (
        "Transaction_ID;Time;Amount;Account_Number;State\nx;2026-11-03T10:00:00+05:00;1500,50;7;performed\n"
    )
    run_import(session, raw(text), gateway=Gateway.click)
    assert [
        (g, a)
        for g, a in session.exec(select(ProviderStatementLine.gateway, ProviderStatementLine.amount_minor))
    ] == [(Gateway.click, 150_050)]


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-03",  # no time, no offset
        "2026-11-03T10:00:00",  # no offset
        "03.11.2026 10:00",
        "2026-13-01T00:00:00+05:00",
        "2026-11-03T25:00:00+05:00",
        "0001-01-01T00:00:00+05:00",
        "1999-12-31T23:00:00+05:00",
        "9999-12-31T23:59:59+14:00",
        "2026-11-05T09:00:01Z",  # a second after now
        "2026-11-03T10:00:00+24:00",
        "yesterday",
    ],
)
def test_a_time_that_is_not_a_moment_with_its_offset_in_the_past_is_named(session: Session, value):
    bad = statement_csv(
        ("ok", "2026-11-03T10:00:00+05:00", "1", "1", "performed"), ("x", value, "1", "1", "performed")
    )
    assert refused(session, bad) == [(3, "time")]
    assert lines(session) == []


@pytest.mark.parametrize(
    "value",
    [
        "0",
        "-5",
        "0.001",
        "1.005",
        "abc",
        "1e400",
        "NaN",
        "Infinity",
        "-Infinity",
        "10000000000001",
        "1 000",
        "1" * 400,
    ],
)
def test_an_amount_that_is_not_uzs_above_zero_with_two_decimals_is_named(session: Session, value):
    assert refused(session, statement_csv(("x", "2026-11-03T10:00:00+05:00", value, "1", "performed"))) == [
        (2, "amount")
    ]


@pytest.mark.parametrize("value", ["done", "paid", "2", "-2", "performed!", "canceled"])
def test_a_state_that_is_not_performed_cancelled_or_refunded_is_named(session: Session, value):
    assert refused(session, statement_csv(("x", "2026-11-03T10:00:00+05:00", "1", "1", value))) == [
        (2, "state")
    ]


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (("tx\x00", "2026-11-03T10:00:00+05:00", "1", "1", "performed"), "transaction_id"),
        (("tx\x1b[31m", "2026-11-03T10:00:00+05:00", "1", "1", "performed"), "transaction_id"),
        (("tx", "2026-11-03T10:00:00+05:00", "1", "A\x7fB", "performed"), "account_number"),
        (("t" * 201, "2026-11-03T10:00:00+05:00", "1", "1", "performed"), "transaction_id"),
        (("tx", "2026-11-03T10:00:00+05:00", "1", "9" * 41, "performed"), "account_number"),
        (("tx", "2026-11-03T10:00:00+05:00", "", "1", "performed"), "amount"),
        (("", "2026-11-03T10:00:00+05:00", "1", "1", "performed"), "transaction_id"),
    ],
)
def test_control_characters_long_and_empty_cells_are_named(session: Session, row, field):
    assert refused(session, statement_csv(row)) == [(2, field)]


def test_every_bad_line_is_named_and_nothing_is_stored(session: Session):
    errors = refused(
        session,
        statement_csv(
            ("a", "2026-11-03T10:00:00+05:00", "1", "1", "performed"),
            ("b", "2026-11-03T10:00:00", "1", "1", "performed"),
            ("a", "2026-11-03T11:00:00+05:00", "2", "1", "performed"),  # the same transaction again
            ("c", "2026-11-03T10:00:00+05:00", "-1", "1", "nope"),
            ("d", "2026-11-03T10:00:00+05:00", "1", "1", "performed"),
        ),
    )
    assert errors == [(3, "time"), (4, "transaction_id"), (5, "amount"), (5, "state")]
    assert lines(session) == []


@pytest.mark.parametrize(
    ("text", "errors"),
    [
        ("", [(1, None)]),
        (HEADER + "\n", [(1, None)]),
        ("transaction_id,time,amount,account_number\nx,2026-11-03T10:00:00+05:00,1,1\n", [(1, "state")]),
        (HEADER + ",extra\nx,2026-11-03T10:00:00+05:00,1,1,performed,1\n", [(1, "extra")]),
        (HEADER + "\nx,2026-11-03T10:00:00+05:00,1,1,performed,surprise\n", [(2, None)]),
        (HEADER + '\n"x' + "y" * 200_000 + '",2026-11-03T10:00:00+05:00,1,1,performed\n', None),
        (HEADER + "\nx,2026-11-03T10:00:00+05:00,1,1,performed\0\n", None),
    ],
)
def test_a_file_that_is_not_the_table_is_refused(session: Session, text, errors):
    with pytest.raises(ImportRejected) as caught:
        run_import(session, raw(text))
    if errors is not None:
        assert [(e.line, e.field) for e in caught.value.errors] == errors
    assert caught.value.errors
    session.rollback()
    assert lines(session) == []


def test_a_file_longer_than_allowed_is_refused_as_a_whole(session: Session, monkeypatch):
    monkeypatch.setattr(statement_module, "MAX_ROWS", 10)
    rows = [(f"t{n}", "2026-11-03T10:00:00+05:00", "1", "1", "performed") for n in range(11)]
    assert refused(session, statement_csv(*rows)) == [(12, None)]


def test_a_file_covering_more_than_a_month_of_days_is_refused(session: Session):
    rows = [(f"t{n}", f"2026-10-{n:02d}T10:00:00+05:00", "1", "1", "performed") for n in range(1, 32)]
    rows.append(("t32", "2026-11-01T10:00:00+05:00", "1", "1", "performed"))
    assert refused(session, statement_csv(*rows)) == [(33, "time")]
    assert run_import(session, statement_csv(*rows[:31])).imported == 31


def test_a_statement_is_for_payme_or_click(session: Session):
    for gateway in (Gateway.stripe, Gateway.bank, Gateway.office):
        with pytest.raises(Invalid) as caught:
            run_import(
                session,
                statement_csv(("x", "2026-11-03T10:00:00+05:00", "1", "1", "performed")),
                gateway=gateway,
            )
        assert caught.value.field == "gateway"


def test_the_same_file_again_imports_nothing_and_other_content_for_an_id_is_refused(session: Session):
    first = [
        ("a", "2026-11-03T10:00:00+05:00", "1", "1", "performed"),
        ("b", "2026-11-03T11:00:00+05:00", "2", "1", "performed"),
    ]
    run_import(session, statement_csv(*first))
    again = run_import(session, statement_csv(*first))
    assert (again.imported, again.already_imported) == (0, 2)
    stored = lines(session)
    for changed in (
        ("a", "2026-11-03T10:00:00+05:00", "1.01", "1", "performed"),
        ("a", "2026-11-03T10:00:00+05:00", "1", "2", "performed"),
        ("a", "2026-11-03T10:00:01+05:00", "1", "1", "performed"),
        ("a", "2026-11-03T10:00:00+05:00", "1", "1", "cancelled"),
    ):
        assert refused(
            session, statement_csv(("new", "2026-11-03T12:00:00+05:00", "1", "1", "performed"), changed)
        ) == [(3, "transaction_id")]
        assert lines(session) == stored  # "new" was not stored either
    # The same transaction in the other provider's file is another transaction.
    assert run_import(session, statement_csv(first[0]), gateway=Gateway.click).imported == 1


def test_a_refund_on_a_later_day_replaces_the_performed_line_and_the_older_file_changes_nothing(
    session: Session,
):
    performed = ("a", "2026-11-03T10:00:00+05:00", "1", "1", "performed")
    refunded = ("a", "2026-11-04T09:00:00+05:00", "1", "1", "refunded")
    run_import(session, statement_csv(performed))
    result = run_import(session, statement_csv(refunded))
    assert (result.imported, result.replaced, result.days) == (0, 1, (date(2026, 11, 3), date(2026, 11, 4)))
    assert [(day, state) for _, day, _, _, _, state in lines(session)] == [
        (date(2026, 11, 4), StatementState.refunded)
    ]
    older = run_import(session, statement_csv(performed))
    assert (older.imported, older.already_imported, older.replaced) == (0, 1, 0)
    assert [state for *_, state in lines(session)] == [StatementState.refunded]
    # A refund dated before the payment, or a payment after its refund, is refused.
    run_import(session, statement_csv(("c", "2026-11-04T09:00:00+05:00", "1", "1", "performed")))
    assert refused(session, statement_csv(("c", "2026-11-04T08:00:00+05:00", "1", "1", "refunded"))) == [
        (2, "time")
    ]
    assert refused(session, statement_csv(("a", "2026-11-04T10:00:00+05:00", "1", "1", "performed"))) == [
        (2, "time")
    ]


def test_a_managers_file_names_their_accounts_only_and_speaks_for_their_company(session: Session):
    mine_company, other_company = make_company(session), make_company(session)
    session.commit()
    mine = make_apartment(session, make_building(session, mine_company))
    theirs = make_apartment(session, make_building(session, other_company))
    manager = make_user(session, Role.manager, company_id=mine_company.id)
    at = datetime(2026, 11, 3, 5, tzinfo=UTC)
    provider_payment(session, Gateway.payme, mine, "m-1", 1_000_000, at)
    provider_payment(session, Gateway.payme, theirs, "t-1", 2_000_000, at)
    session.commit()
    scope = visible_apartments(Actor.of(manager), date(2026, 11, 5))
    assert refused(
        session,
        statement_csv(
            ("m-1", "2026-11-03T10:00:00+05:00", "10000", mine.account_number, "performed"),
            ("t-1", "2026-11-03T10:00:00+05:00", "20000", theirs.account_number, "performed"),
            ("u-1", "2026-11-03T10:00:00+05:00", "1", "NOBODY", "performed"),
        ),
        apartments=scope,
        user_id=manager.id,
    ) == [(3, "account_number"), (4, "account_number")]
    run_import(
        session,
        statement_csv(("m-1", "2026-11-03T10:00:00+05:00", "10000", mine.account_number, "performed")),
        apartments=scope,
        user_id=manager.id,
    )
    # The other company's payment is not "missing" from a file that only spoke for this company.
    assert session.exec(select(ReconciliationDifference)).all() == []
    # Once an admin's file for the day is in, the city's payments are all compared.
    run_import(session, statement_csv(("z-1", "2026-11-03T11:00:00+05:00", "1", "NOBODY", "performed")))
    found = {(d.kind, d.external_id) for d in session.exec(select(ReconciliationDifference))}
    assert found == {(Kind.missing_in_statement, "t-1"), (Kind.missing_in_ours, "z-1")}


def test_the_documented_example_imports_from_the_command_line(database_url, db, tmp_path):
    env = {"HOUSING_DB__URL": database_url, "HOUSING_ENVIRONMENT": "development", "COLUMNS": "200"}
    example = Path(__file__).resolve().parents[2] / "docs" / "examples" / "payme-statement.csv"
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "\nx,2026-11-03T10:00:00,1,1,performed\n")

    wrong = CliRunner().invoke(
        cli.app, ["import", "provider-statement", str(example), "--gateway", "stripe"], env=env
    )
    refused = CliRunner().invoke(
        cli.app, ["import", "provider-statement", str(bad), "--gateway", "payme"], env=env
    )
    imported = CliRunner().invoke(
        cli.app, ["import", "provider-statement", str(example), "--gateway", "payme"], env=env
    )
    again = CliRunner().invoke(
        cli.app, ["import", "provider-statement", str(example), "--gateway", "payme"], env=env
    )

    assert wrong.exit_code == 2 and "payme, click" in wrong.output
    assert refused.exit_code == 1 and "time" in refused.output
    assert imported.exit_code == 0, imported.output
    assert (
        "Imported 4 lines (0 imported before, 0 now refunded); reconciled payme on 2026-11-03"
        in imported.output
    )
    assert "Imported 0 lines (4 imported before" in again.output
    with Session(db) as session:
        assert len(lines(session)) == 4
        differences = session.exec(select(ReconciliationDifference.kind)).all()
        assert sorted(differences) == [Kind.missing_in_ours] * 4  # none of these accounts is in this database
