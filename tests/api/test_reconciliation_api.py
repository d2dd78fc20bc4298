"""The reconciliation's JSON routes: the statement upload, runs and differences scoped to what each
actor sees, payments per gateway and day for staff and for the city, and hostile uploads and filters."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from billing.models import Gateway, ProviderStatementLine, ReconciliationRun
from billing.payments.reconciliation import statement as statement_module
from billing.payments.reconciliation.service import reconcile_day
from tests.api.conftest import City
from tests.factories.reconciliation import bank_payment, provider_payment

TZ = ZoneInfo("Asia/Tashkent")
DAY = date(2026, 11, 3)
TODAY = date(2026, 11, 5)


def at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), TZ)


@pytest.fixture(autouse=True)
def _today(frozen_clock):
    frozen_clock.at(TODAY, 9)


@pytest.fixture
def paid(session: Session, city: City):
    """A Payme payment in each company's building on DAY, a Click one, and a bank payment the day before."""
    provider_payment(session, Gateway.payme, city.home, "p-home", 10_000_000, at(DAY, 10))
    provider_payment(session, Gateway.payme, city.far_away, "p-far", 20_000_000, at(DAY, 11))
    provider_payment(session, Gateway.click, city.neighbour, "c-next", 3_000_000, at(DAY, 12))
    bank_payment(session, city.far_away, "BANK-7", 4_000_000, at(DAY - timedelta(days=1), 12))
    for gateway in Gateway:
        reconcile_day(session, gateway, DAY, timezone="Asia/Tashkent", now=at(TODAY, 6))
    session.commit()
    return city


def upload(
    client, city: City, text: str, *, who: str = "admin", gateway: str | None = "payme", name="payme.csv"
):
    data = {} if gateway is None else {"gateway": gateway}
    return client.post(
        "/api/v1/imports/provider-statements",
        files={"file": (name, text.encode() if isinstance(text, str) else text, "text/csv")},
        data=data,
        headers=city.headers[who],
    )


def payme_file(city: City, *extra: str) -> str:
    lines = [
        "transaction_id,time,amount,account_number,state",
        f"p-home,2026-11-03T10:00:00+05:00,100000,{city.home.account_number},performed",
        f"p-far,2026-11-03T11:00:00+05:00,200000.01,{city.far_away.account_number},performed",
        "p-stranger,2026-11-03T12:00:00+05:00,5000,NOBODY-1,performed",
        *extra,
    ]
    return "\n".join(lines) + "\n"


def get(client, city: City, url: str, who: str, **params):
    return client.get(url, params=params, headers=city.headers[who])


def test_an_admins_statement_is_imported_reconciled_and_its_differences_listed(client, paid: City):
    answer = upload(client, paid, payme_file(paid))
    assert answer.status_code == 201, answer.text
    assert answer.json() == {
        "gateway": "payme",
        "imported": 3,
        "already_imported": 0,
        "replaced": 0,
        "days": ["2026-11-03"],
        "differences": 2,
    }
    again = upload(client, paid, payme_file(paid))
    assert (again.json()["imported"], again.json()["already_imported"]) == (0, 3)
    found = get(client, paid, "/api/v1/reconciliation-differences", "admin").json()
    assert {(d["kind"], d["external_id"], d["apartment_id"]) for d in found["items"]} == {
        ("amount_differs", "p-far", paid.far_away.id),
        ("missing_in_ours", "p-stranger", None),
    }
    far = next(d for d in found["items"] if d["external_id"] == "p-far")
    assert (far["ours_minor"], far["theirs_minor"], far["gateway"], far["day"]) == (
        20_000_000,
        20_000_001,
        "payme",
        "2026-11-03",
    )


def test_each_company_sees_its_own_differences_and_only_admins_those_of_nobody(client, paid: City):
    upload(client, paid, payme_file(paid).replace("100000,", "100001,"))  # p-home differs too

    def seen(who: str) -> set[str]:
        answer = get(client, paid, "/api/v1/reconciliation-differences", who)
        assert answer.status_code == 200, answer.text
        return {d["external_id"] for d in answer.json()["items"]}

    assert seen("admin") == {"p-home", "p-far", "p-stranger"}
    assert seen("manager") == seen("dispatcher") == seen("technician") == {"p-home"}
    assert seen("manager_b") == {"p-far"}
    for who in ("official", "resident"):
        assert get(client, paid, "/api/v1/reconciliation-differences", who).status_code == 403


def test_the_runs_are_counted_over_what_each_sees(client, paid: City):
    upload(client, paid, payme_file(paid))

    def payme_run(who: str) -> dict:
        answer = get(client, paid, "/api/v1/reconciliations", who, gateway="payme")
        assert answer.status_code == 200, answer.text
        [run] = answer.json()["items"]
        return {k: run[k] for k in ("day", "payments", "paid_minor", "statement_lines", "differences")}

    assert payme_run("admin") == {
        "day": "2026-11-03",
        "payments": 2,
        "paid_minor": 30_000_000,
        "statement_lines": 3,
        "differences": 2,
    }
    assert payme_run("manager") == {
        "day": "2026-11-03",
        "payments": 1,
        "paid_minor": 10_000_000,
        "statement_lines": 1,
        "differences": 0,
    }
    assert payme_run("manager_b")["paid_minor"] == 20_000_000
    every = get(client, paid, "/api/v1/reconciliations", "admin").json()
    assert every["total"] == len(Gateway)
    assert {r["gateway"]: r["statement_lines"] for r in every["items"]}["click"] is None
    assert get(client, paid, "/api/v1/reconciliations", "official").status_code == 403


def test_payments_per_gateway_and_day_for_staff_and_the_city(client, paid: City):
    def rows(who: str, url: str = "/api/v1/payments/daily", **params) -> set[tuple]:
        answer = get(client, paid, url, who, **params)
        assert answer.status_code == 200, answer.text
        keys = ("day", "gateway", "payments", "paid_minor", "refunded_minor")
        return {
            tuple(item[k] for k in keys) + ((item["company_id"],) if "company_id" in item else ())
            for item in answer.json()["items"]
        }

    assert rows("manager") == {
        ("2026-11-03", "payme", 1, 10_000_000, 0),
        ("2026-11-03", "click", 1, 3_000_000, 0),
    }
    assert rows("manager_b") == {
        ("2026-11-03", "payme", 1, 20_000_000, 0),
        ("2026-11-02", "bank", 1, 4_000_000, 0),
    }
    city_rows = {
        ("2026-11-03", "payme", 2, 30_000_000, 0),
        ("2026-11-03", "click", 1, 3_000_000, 0),
        ("2026-11-02", "bank", 1, 4_000_000, 0),
    }
    assert rows("official") == rows("admin") == city_rows
    assert rows("official", "/api/v1/payments/daily", gateway="bank") == {
        ("2026-11-02", "bank", 1, 4_000_000, 0)
    }
    assert rows(
        "official", "/api/v1/payments/daily", **{"from": "2026-11-03", "to": "2026-11-03"}
    ) == city_rows - {("2026-11-02", "bank", 1, 4_000_000, 0)}
    assert rows("official", "/api/v1/city/payments/daily") == {(*r, None) for r in city_rows}
    a, b = paid.company_a.id, paid.company_b.id
    assert rows("official", "/api/v1/city/payments/daily", by_company="true") == {
        ("2026-11-03", "payme", 1, 10_000_000, 0, a),
        ("2026-11-03", "payme", 1, 20_000_000, 0, b),
        ("2026-11-03", "click", 1, 3_000_000, 0, a),
        ("2026-11-02", "bank", 1, 4_000_000, 0, b),
    }
    assert rows("official", "/api/v1/city/payments/daily", company_id=b) == {
        ("2026-11-03", "payme", 1, 20_000_000, 0, None),
        ("2026-11-02", "bank", 1, 4_000_000, 0, None),
    }
    assert get(client, paid, "/api/v1/city/payments/daily", "official", company_id=99999).status_code == 404
    for who in ("manager", "resident"):
        assert get(client, paid, "/api/v1/city/payments/daily", who).status_code == 403
    assert get(client, paid, "/api/v1/payments/daily", "resident").status_code == 403


def test_the_lists_page(client, paid: City):
    page = get(client, paid, "/api/v1/payments/daily", "official", limit=2).json()
    assert (page["total"], len(page["items"])) == (3, 2)
    rest = get(client, paid, "/api/v1/payments/daily", "official", limit=2, offset=2).json()
    assert len(rest["items"]) == 1 and rest["items"][0] not in page["items"]
    assert [i["day"] for i in page["items"] + rest["items"]] == ["2026-11-03", "2026-11-03", "2026-11-02"]


def test_a_managers_statement_names_their_own_accounts_only(client, paid: City, session: Session):
    answer = upload(client, paid, payme_file(paid), who="manager")
    assert answer.status_code == 422, answer.text
    assert [(e["line"], e["field"]) for e in answer.json()["errors"]] == [
        (3, "account_number"),
        (4, "account_number"),
    ]
    assert session.exec(select(ProviderStatementLine)).all() == []
    own = "transaction_id,time,amount,account_number,state\n" + payme_file(paid).splitlines()[1] + "\n"
    answer = upload(client, paid, own, who="manager")
    assert answer.status_code == 201, answer.text
    assert answer.json()["differences"] == 0  # p-far is not "missing" from company A's own file
    for who in ("dispatcher", "technician", "official", "resident"):
        assert upload(client, paid, own, who=who).status_code == 403


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"gateway": "stripe"}, "gateway"),
        ({"gateway": "bank"}, "gateway"),
        ({"gateway": None}, "gateway"),
        ({"gateway": "pay\x00me"}, "gateway"),
    ],
)
def test_an_upload_for_another_gateway_is_refused_naming_it(client, paid: City, kw, field):
    answer = upload(client, paid, payme_file(paid), **kw)
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body.get("field") == field or any(e.get("field") == field for e in body.get("errors", []))


def test_hostile_files_are_refused_whole(client, paid: City, session: Session, monkeypatch):
    monkeypatch.setattr(statement_module, "MAX_STATEMENT_BYTES", 1024)
    from billing.payments.reconciliation import endpoints

    monkeypatch.setattr(endpoints, "MAX_STATEMENT_BYTES", 1024)
    huge = upload(client, paid, payme_file(paid) + ("x," * 600))
    assert huge.status_code == 422 and huge.json()["field"] == "file"
    latin = upload(client, paid, payme_file(paid).encode("utf-8") + b"\xff\xfe")
    assert latin.status_code == 422 and "not UTF-8" in latin.json()["detail"]
    nul = upload(client, paid, payme_file(paid).replace("p-home", "p\x00home"))
    assert nul.status_code == 422
    empty = upload(client, paid, "")
    assert empty.status_code == 422 and empty.json()["errors"][0]["line"] == 1
    no_file = client.post(
        "/api/v1/imports/provider-statements", data={"gateway": "payme"}, headers=paid.headers["admin"]
    )
    assert no_file.status_code == 422
    assert session.exec(select(ProviderStatementLine)).all() == []


@pytest.mark.parametrize(
    ("url", "params", "field"),
    [
        ("/api/v1/payments/daily", {"from": "2026-11-05", "to": "2026-11-01"}, "to"),
        ("/api/v1/payments/daily", {"from": "2026-01-01", "to": "2026-11-01"}, "from"),
        ("/api/v1/city/payments/daily", {"from": "0001-01-01"}, "from"),
        ("/api/v1/city/payments/daily", {"to": "9999-12-31"}, "to"),
        ("/api/v1/reconciliation-differences", {"kind": "nonsense"}, "kind"),
        ("/api/v1/reconciliation-differences", {"day": "2026-02-30"}, "day"),
        ("/api/v1/reconciliations", {"gateway": "paypal"}, "gateway"),
        ("/api/v1/city/payments/daily", {"by_company": "maybe"}, "by_company"),
    ],
)
def test_bad_filters_are_422_naming_them(client, paid: City, url, params, field):
    answer = get(client, paid, url, "admin", **params)
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body.get("field") == field or any(e.get("field") == field for e in body.get("errors", [])), body


def test_a_refund_later_replaces_the_line_and_both_days_are_reconciled(
    client, paid: City, session: Session, frozen_clock
):
    upload(client, paid, payme_file(paid))
    with Session(session.bind) as other:
        from billing.payments import merchant

        attempt = merchant.find_transaction(other, Gateway.payme, "p-home")
        merchant.cancel_transaction(other, attempt, reason=5, now=at(TODAY, 8))
        other.commit()
    refund = f"transaction_id,time,amount,account_number,state\np-home,2026-11-05T08:00:00+05:00,100000,{paid.home.account_number},refunded\n"
    answer = upload(client, paid, refund)
    assert answer.status_code == 201, answer.text
    assert (answer.json()["replaced"], answer.json()["days"]) == (1, ["2026-11-03", "2026-11-05"])
    runs = {
        (r.day, r.refunded_minor, r.differences)
        for r in session.exec(select(ReconciliationRun).where(ReconciliationRun.gateway == Gateway.payme))
    }
    assert runs == {(DAY, 0, 2), (TODAY, 10_000_000, 0)}
