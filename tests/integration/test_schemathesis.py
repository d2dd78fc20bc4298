"""Schemathesis against our OpenAPI document: no input makes any operation answer 5xx or
break its documented responses.

One test per operation of /api/v1 and /open311/v2, as an admin (who may reach every
operation), against the app on a small seeded city: 40 apartments with meters, two months
of readings, last month's invoices, tariffs, requests, announcements, scores, and the demo's
owners' meetings (one closed, one voting), so that meeting routes meet real meetings. Schemathesis sends its
coverage cases (boundaries and just-outside values of every parameter, both positive and
negative) and then MAX_EXAMPLES generated ones per operation, derandomized so that a run is
repeatable. It fails on:
- any 5xx, but a 503 the operation documents (card payments on a server without Stripe);
- an operation a payment provider calls (Click's Prepare and Complete) answering anything but
  200 in its documented answer: the provider reads nothing else, so negative data is answered
  with the provider's error code, not refused with a 4xx;
- a status code, a content type or a body that the document does not describe;
- input that breaks the document's own schema yet is accepted (negative data accepted).

The budget: HOUSING_SCHEMATHESIS_EXAMPLES generated cases per operation (default 25),
on top of the coverage phase's: about 7,000 requests, 1.5 minutes on an idle machine.
HOUSING_SCHEMATHESIS_RANDOM=1 draws new cases at each run instead of the same ones. It runs on PostgreSQL only, where the integer ranges and
NUL bytes are refused by the database (SQLite stores them): the suite runs on both in CI,
and this one costs minutes, so it runs once. HOUSING_SCHEMATHESIS=1 runs it on SQLite too.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from schemathesis import checks
from sqlalchemy import Engine, event, update
from sqlmodel import select

from billing.payments.reconciliation.seeding import seed_demo_gateway_payments
from billing.runs.service import run_billing
from billing.tariffs.seeding import seed_tashkent_tariffs
from housing.accounts.models import ApiToken, Role, TokenKind, User
from housing.accounts.service import issue_token
from housing.announcements.seeding import seed_demo_announcements
from housing.app import create_app
from housing.building_money.seeding import seed_demo_expenses
from housing.clock import add_months, local_today, month_of
from housing.db import make_engine, session_scope
from housing.meetings.seeding import seed_demo_meetings
from housing.registry.seeding import reset_demo_users, seed_city
from housing.requests.seeding import seed_demo_requests
from housing.schemas import PROVIDER_ANSWERS
from housing.scores.jobs import nightly_scores
from sensors.seeding import seed_meters, seed_reading_history
from tests.conftest import TEST_DATABASE_URL, _wipe, collect_garbage_now, make_settings
from tests.factories.core import make_user
from tests.standins.click_calls import click_group
from tests.standins.payme_calls import basic, payme_group

pytestmark = pytest.mark.skipif(
    not TEST_DATABASE_URL and os.environ.get("HOUSING_SCHEMATHESIS") != "1",
    reason="runs on PostgreSQL (HOUSING_TEST_DATABASE_URL); HOUSING_SCHEMATHESIS=1 runs it on SQLite",
)

MAX_EXAMPLES = int(os.environ.get("HOUSING_SCHEMATHESIS_EXAMPLES", "25"))
# Repeatable by default (CI); HOUSING_SCHEMATHESIS_RANDOM=1 explores new inputs each run.
DERANDOMIZE = os.environ.get("HOUSING_SCHEMATHESIS_RANDOM") != "1"
ADMIN = "fuzz-admin"
CHECKS = [
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
]
PROVIDER_CHECKS = [c for c in CHECKS if c is not checks.negative_data_rejection]
# Operations that may take the admin's own access away (log out, revoke a token, deactivate
# or demote a user): each case gets a token of its own, and the admin is restored after it.
DISRUPTIVE = {
    ("POST", "/api/v1/auth/logout"),
    ("DELETE", "/api/v1/auth/tokens/{token_id}"),
    ("PATCH", "/api/v1/users/{user_id}"),
}
# A payment provider's merchant API: the provider signs in with its own key, and every answer is
# 200 with the error in its body (its protocol), so input that breaks the schema is answered 200
# too; the answer must still be the documented JSON-RPC, never a 5xx.
MERCHANT = {("POST", "/api/v1/merchant/payme"): basic()}
MERCHANT_CHECKS = [check for check in CHECKS if check is not checks.negative_data_rejection]

SPEC = create_app(make_settings("sqlite://")).openapi()
schema = schemathesis.openapi.from_dict(SPEC)


@dataclass
class Fuzzed:
    app: FastAPI
    engine: Engine
    token: str


def _admin_token(engine: Engine) -> str:
    with session_scope(engine) as session:
        admin = session.exec(select(User).where(User.username == ADMIN)).one()
        token, _ = issue_token(session, admin, kind=TokenKind.api, lifetime=timedelta(hours=2))
    return token


def _restore_admin(engine: Engine) -> None:
    """The admin active, still an admin, and its tokens not revoked."""
    with session_scope(engine) as session:
        admin = session.exec(select(User).where(User.username == ADMIN)).one()
        admin.is_active, admin.role, admin.company_id, admin.person_id = True, Role.admin, None, None
        session.add(admin)
        session.execute(update(ApiToken).where(ApiToken.user_id == admin.id).values(revoked_at=None))


def _seed(engine: Engine, settings) -> None:
    today = local_today(settings.timezone)
    seed_city(engine, apartments=40, companies=2)
    seed_meters(engine, today=today)
    seed_reading_history(engine, months=2, today=today)
    seed_tashkent_tariffs(engine)
    reset_demo_users(engine, settings, lambda role: f"demo-{role}-password")
    seed_demo_requests(engine, settings)
    seed_demo_announcements(engine, settings)
    seed_demo_meetings(engine, settings)
    seed_demo_expenses(engine, settings)
    seed_demo_gateway_payments(engine, settings)  # runs, differences and statement lines to read
    with session_scope(engine) as session:
        run_billing(
            session,
            period=add_months(month_of(today), -1),
            today=today,
            dry_run=False,
            timezone=settings.timezone,
        )
        make_user(session, Role.admin, username=ADMIN)
    nightly_scores(engine, settings)


@pytest.fixture(scope="module")
def fuzzed(engine: Engine, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    files = tmp_path_factory.mktemp("fuzzed-files")
    settings = make_settings(
        database_url,
        meetings={"document_dir": files / "meetings"},
        announcements={"attachment_dir": files / "announcements"},
        requests={"photo_dir": files / "photos"},
        money={"document_dir": files / "expenses"},
        payme=payme_group(),
        click=click_group(),  # set up, so that Click's calls are read and not refused for want of it
    )
    _seed(engine, settings)
    # The app's own engine: PostgreSQL does not wait for the disk at each commit (this test
    # commits thousands of times; durability is no concern here).
    fast = make_engine(settings)
    if fast.dialect.name == "postgresql":
        event.listen(fast, "connect", _no_commit_wait)
    collect_garbage_now()  # not inside a fuzzed request, which has a deadline
    try:
        yield Fuzzed(create_app(settings, engine=fast), fast, _admin_token(fast))
    finally:
        fast.dispose()
        _wipe(engine)


def _no_commit_wait(dbapi_connection, _record) -> None:
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")


@schema.parametrize()
@hypothesis_settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=DERANDOMIZE,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)
def test_api(case, fuzzed: Fuzzed):
    operation = (case.operation.method.upper(), case.operation.path)
    disruptive = operation in DISRUPTIVE
    token = _admin_token(fuzzed.engine) if disruptive else fuzzed.token
    headers = MERCHANT.get(operation, {"Authorization": f"Bearer {token}"})
    try:
        response = case.call(app=fuzzed.app, headers=headers)
    finally:
        if disruptive:
            _restore_admin(fuzzed.engine)
    described = SPEC["paths"][case.operation.path][case.operation.method.lower()]
    documented = described["responses"]
    if described.get(PROVIDER_ANSWERS) and case.method.upper() == "POST":
        # A provider's call: 200 with its answer, whatever it is sent (another method is 405).
        assert response.status_code == 200, f"{response.status_code} for {case.as_curl_command()}"
        case.validate_response(response, checks=PROVIDER_CHECKS)
        return
    assert response.status_code < 500 or (response.status_code == 503 and "503" in documented), (
        f"{response.status_code} for {case.as_curl_command()}\n{response.text[:2000]}"
    )
    if operation in MERCHANT:
        assert response.status_code == 200, f"{response.status_code} for {case.as_curl_command()}"
    case.validate_response(response, checks=MERCHANT_CHECKS if operation in MERCHANT else CHECKS)
