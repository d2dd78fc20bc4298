"""The resident's notifications API, the notification settings API, and the staff's deliveries:
own inbox only, read marks, required kinds kept, every wrong input a 422 with nothing changed,
deliveries scoped to the company's residents (404 for anyone else)."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlmodel import Session, select

from housing.accounts.models import Role
from housing.db import utcnow
from housing.notifications.channels import open_channels, sms
from housing.notifications.models import (
    ChannelChoice,
    ContactSettings,
    Delivery,
    DeliveryStatus,
    Notification,
)
from housing.notifications.sender import send_due
from housing.notifications.service import notify
from housing.registry.models import Ownership
from housing.settings import NotifySettings
from tests.factories.core import make_user
from tests.servers import listening_socket, serving_in_thread
from tests.standins.sms import EMAIL, PASSWORD, SmsGatewayState, sms_gateway_app

API = "/api/v1"
NOON = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)  # 12:00 in Tashkent, outside quiet hours


def _notice(session: Session, user_id: int, kind: str = "payment_received", **kw) -> int:
    notify(
        session,
        user_ids=[user_id],
        kind=kind,
        params=kw.pop("params", {"amount_minor": 12_345_600, "currency": "UZS"}),
        link="/payments",
        now=kw.pop("now", utcnow()),
        **kw,
    )
    session.commit()
    return max(session.exec(select(Notification.id).where(Notification.user_id == user_id)).all())


def test_a_resident_reads_their_own_inbox_newest_first_in_their_language(client, session, city):
    me, other = city.users["resident"], city.users["manager"]
    first = _notice(session, me, now=utcnow() - timedelta(hours=1))
    second = _notice(session, me, "incident", params={"service": "Hot water", "building": "Amir Temur 1", "starts": "2026-12-04T05:00:00+00:00"})  # fmt: skip
    _notice(session, other)
    headers = city.headers["resident"]
    client.patch(f"{API}/notification-settings", json={"language": "en"}, headers=headers)
    body = client.get(f"{API}/notifications", headers=headers).json()
    assert body["total"] == 2 and [n["id"] for n in body["items"]] == [second, first]
    newest = body["items"][0]
    assert newest["subject"] == "Hot water interrupted" and "Amir Temur 1" in newest["text"]
    assert newest["urgent"] and newest["read_at"] is None
    assert body["items"][1]["url"].endswith("/payments") and "123" in body["items"][1]["text"]


def test_marking_read_one_then_all_and_another_users_notice_is_404(client, session, city):
    me = city.users["resident"]
    one, two = _notice(session, me), _notice(session, me)
    theirs = _notice(session, city.users["manager"])
    headers = city.headers["resident"]
    read = client.post(f"{API}/notifications/{one}/read", headers=headers)
    assert read.status_code == 200 and read.json()["read_at"] is not None
    again = client.post(f"{API}/notifications/{one}/read", headers=headers)
    assert again.json()["read_at"] == read.json()["read_at"]  # twice: the first reading stays
    assert client.post(f"{API}/notifications/{theirs}/read", headers=headers).status_code == 404
    assert client.post(f"{API}/notifications/{2**31}/read", headers=headers).status_code == 422
    unread = client.get(f"{API}/notifications", params={"unread": True}, headers=headers).json()
    assert [n["id"] for n in unread["items"]] == [two]
    assert client.post(f"{API}/notifications/read-all", headers=headers).json() == {"marked": 1}
    assert client.post(f"{API}/notifications/read-all", headers=headers).json() == {"marked": 0}
    theirs_unread = client.get(
        f"{API}/notifications", params={"unread": True}, headers=city.headers["manager"]
    )
    assert theirs_unread.json()["total"] == 1
    assert client.get(f"{API}/notifications").status_code == 401


def test_settings_show_the_residents_kinds_with_their_defaults(client, city):
    body = client.get(f"{API}/notification-settings", headers=city.headers["resident"]).json()
    kinds = {k["kind"]: k for k in body["kinds"]}
    assert "staff_emergency" not in kinds and kinds["meeting_notice"]["required"]
    assert (
        kinds["invoice_issued"]["channels"] == ["email", "telegram"] and not kinds["invoice_issued"]["chosen"]
    )
    assert body["quiet_hours"] == {"start": "22:00", "end": "08:00"} and body["quiet_hours_default"]
    assert body["disabled"] == {} and body["telegram_linked"] is False
    staff = client.get(f"{API}/notification-settings", headers=city.headers["dispatcher"]).json()
    assert {k["kind"] for k in staff["kinds"]} == {"staff_emergency", "staff_escalation"}


def test_changing_channels_contact_and_quiet_hours(client, session, city):
    headers = city.headers["resident"]
    body = {
        "kinds": [
            {"kind": "invoice_issued", "channels": ["sms"]},
            {"kind": "meeting_notice", "channels": ["email"]},
        ],
        "email": "aziza@example.uz",
        "phone": "+998 (90) 123-45-67",
        "quiet_hours": {"start": "23:00", "end": "07:30"},
        "language": "ru",
    }
    changed = client.patch(f"{API}/notification-settings", json=body, headers=headers)
    assert changed.status_code == 200, changed.text
    result = changed.json()
    kinds = {k["kind"]: k for k in result["kinds"]}
    assert kinds["invoice_issued"]["channels"] == ["sms"] and kinds["invoice_issued"]["chosen"]
    assert result["email"] == "aziza@example.uz" and result["phone"] == "+998901234567"
    assert result["quiet_hours"] == {"start": "23:00", "end": "07:30"} and result["language"] == "ru"
    again = client.patch(f"{API}/notification-settings", json=body, headers=headers)
    assert again.json() == result  # twice: the same
    default = client.patch(
        f"{API}/notification-settings", json={"quiet_hours": None, "email": ""}, headers=headers
    )
    assert default.json()["quiet_hours_default"] and default.json()["email"] is None
    assert default.json()["phone"] == "+998901234567"  # left out: kept
    assert len(session.exec(select(ChannelChoice)).all()) == 2


@pytest.mark.parametrize(
    "body",
    [
        {"kinds": [{"kind": "meeting_notice", "channels": []}]},
        {"kinds": [{"kind": "staff_emergency", "channels": ["sms"]}]},
        {"kinds": [{"kind": "no_such_kind", "channels": ["sms"]}]},
        {"kinds": [{"kind": "invoice_issued", "channels": ["fax"]}]},
        {"kinds": [{"kind": "invoice_issued", "channels": ["sms"] * 4}]},
        {"kinds": [{"kind": "invoice_issued", "channels": ["sms"]}] * 51},
        {"email": "not an address"},
        {"email": "a@b.uz\x00"},
        {"email": "x" * 201},
        {"phone": "call me"},
        {"phone": "+998 90 123 45 67 89 01 23"},
        {"quiet_hours": {"start": "24:00", "end": "08:00"}},
        {"quiet_hours": {"start": "22:00"}},
        {"quiet_hours": {"start": 22, "end": 8}},
        {"language": "de"},
        {"reenable": ["pigeon"]},
        {"kinds": True},
    ],
)
def test_a_wrong_setting_is_422_and_nothing_changes(client, session, city, body):
    headers = city.headers["resident"]
    before = client.get(f"{API}/notification-settings", headers=headers).json()
    # a valid change in the same body must not be saved either
    answer = client.patch(
        f"{API}/notification-settings",
        json={"kinds": [{"kind": "invoice_issued", "channels": []}]}
        | body
        | {"phone": body.get("phone", "+998901112233")},
        headers=headers,
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert client.get(f"{API}/notification-settings", headers=headers).json() == before


def test_a_new_phone_or_reenabling_turns_a_refused_channel_back_on(client, session, city):
    me = city.users["resident"]
    session.add(ContactSettings(user_id=me, phone="+998900000000", sms_disabled="2026-12-01: refused", email_disabled="2026-12-01: 550"))  # fmt: skip
    session.commit()
    headers = city.headers["resident"]
    assert set(client.get(f"{API}/notification-settings", headers=headers).json()["disabled"]) == {
        "email",
        "sms",
    }
    body = client.patch(
        f"{API}/notification-settings", json={"phone": "+998901234567"}, headers=headers
    ).json()
    assert set(body["disabled"]) == {"email"}
    body = client.patch(f"{API}/notification-settings", json={"reenable": ["email"]}, headers=headers).json()
    assert body["disabled"] == {}


@pytest.fixture
def delivered(session: Session, city) -> int:
    notice = _notice(session, city.users["resident"])
    session.add(
        Delivery(
            notification_id=notice,
            channel="sms",
            address="+998901234567",
            status=DeliveryStatus.failed,
            attempts=3,
            next_attempt_at=utcnow(),
            last_error="gave up after 3 tries: SMS gateway answered 503",
        )
    )
    session.commit()
    return notice


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("admin", 200),
        ("manager", 200),
        ("technician", 200),
        ("manager_b", 404),  # staff, but not of the resident's company: the notice does not exist for them
        ("official", 403),  # not a staff role at all, as on every console route
        ("resident", 403),
    ],
)
def test_deliveries_are_seen_by_the_residents_company_and_admins_only(client, city, delivered, who, status):
    answer = client.get(f"{API}/notifications/{delivered}/deliveries", headers=city.headers[who])
    assert answer.status_code == status, answer.text
    if status == 200:
        (delivery,) = answer.json()["deliveries"]
        assert (
            delivery["status"] == "failed" and delivery["attempts"] == 3 and "503" in delivery["last_error"]
        )


def test_a_far_away_residents_deliveries_are_not_the_companys(client, session, city):
    owner = session.exec(select(Ownership).where(Ownership.apartment_id == city.far_away.id)).one()
    far = make_user(session, Role.resident, person_id=owner.person_id)
    session.commit()
    notice = _notice(session, far.id)
    assert (
        client.get(f"{API}/notifications/{notice}/deliveries", headers=city.headers["manager"]).status_code
        == 404
    )
    assert (
        client.get(f"{API}/notifications/{notice}/deliveries", headers=city.headers["manager_b"]).status_code
        == 200
    )


def test_the_console_lists_deliveries_in_scope(client, city, delivered):
    def page(who: str, query: str = ""):
        return client.get(f"/console/notifications{query}", headers=city.headers[who])

    shown = page("manager")
    assert shown.status_code == 200 and f'id="notification-{delivered}"' in shown.text and "503" in shown.text
    assert f'id="notification-{delivered}"' in page("manager", "?status=failed").text
    assert f'id="notification-{delivered}"' not in page("manager", "?status=sent").text
    assert page("manager", "?status=bogus").status_code == 422
    assert f'id="notification-{delivered}"' not in page("manager_b").text
    assert page("official").status_code == 403 and page("resident").status_code == 403


def test_concurrent_changes_end_in_one_of_them_and_never_a_server_error(app, session, city):
    headers = city.headers["resident"]
    choices = [["email"], ["sms"], ["telegram"], ["email", "sms"]] * 2
    barrier = threading.Barrier(len(choices))

    def change(url: str, channels: list[str]) -> int:
        barrier.wait(timeout=10)
        body = {
            "kinds": [{"kind": "invoice_issued", "channels": channels}],
            "phone": f"+99890{len(channels)}000000",
        }
        return requests.patch(
            f"{url}{API}/notification-settings", json=body, headers=headers, timeout=30
        ).status_code

    with serving_in_thread(app, listening_socket()) as url, ThreadPoolExecutor(len(choices)) as pool:
        statuses = list(pool.map(lambda channels: change(url, channels), choices))
        final = requests.get(f"{url}{API}/notification-settings", headers=headers, timeout=30).json()
    assert set(statuses) <= {200, 409} and 200 in statuses
    kinds = {k["kind"]: k["channels"] for k in final["kinds"]}
    assert kinds["invoice_issued"] in [sorted(c) for c in choices]
    assert len(session.exec(select(ChannelChoice).where(ChannelChoice.kind == "invoice_issued")).all()) == 1


def test_a_phone_and_channel_chosen_over_the_api_carry_the_next_notice_by_sms(
    client, db, session, settings, city
):
    state = SmsGatewayState()
    sms._TOKENS.clear()  # a new stand-in knows no earlier token
    with serving_in_thread(sms_gateway_app(state), listening_socket()) as gateway:
        settings.notify = NotifySettings(
            sms_provider="eskiz", sms_api_url=gateway, sms_login=EMAIL, sms_password=PASSWORD
        )
        body = {"phone": "90 765 43 21", "kinds": [{"kind": "payment_received", "channels": ["sms"]}]}
        assert (
            client.patch(
                f"{API}/notification-settings", json=body, headers=city.headers["resident"]
            ).status_code
            == 200
        )
        notice = _notice(session, city.users["resident"])
        channels = open_channels(settings)
        try:
            send_due(db, settings, channels, clock=lambda: NOON)
        finally:
            for channel in channels:
                channel.close()
        (message,) = state.wait_for(1)
    assert message["mobile_phone"] == "998907654321" and message["message"].endswith("/payments")
    shown = client.get(f"{API}/notifications/{notice}/deliveries", headers=city.headers["manager"]).json()
    assert [(d["channel"], d["status"], d["address"]) for d in shown["deliveries"]] == [
        ("sms", "sent", "+998907654321")
    ]
