"""The notification settings page: channels per kind saved (a required kind keeps one), the
address and quiet hours, a refused channel shown with its reason and turned back on, and the
Telegram deep link made, shown and unlinked."""

from sqlmodel import Session, select

from housing.notifications.models import ChannelChoice, ContactSettings, TelegramLinkCode
from tests.pages import csrf_token

PAGE = "/settings/notifications"


def _post(client, headers, action: str, data: dict):
    token = csrf_token(client.get(PAGE, headers=headers).text)
    return client.post(action, data={"csrftoken": token, **data}, headers=headers, follow_redirects=False)


def test_channels_are_saved_per_kind_and_a_required_kind_keeps_one(client, session: Session, city):
    headers = city.headers["resident"]
    page = client.get(PAGE, headers=headers)
    assert page.status_code == 200 and 'value="invoice_issued:email"' in page.text
    ticked = ["invoice_issued:sms", "meeting_notice:telegram", "bogus:sms", "invoice_issued:fax", "x" * 200]
    saved = _post(client, headers, f"{PAGE}/channels", {"choice": ticked})
    assert saved.status_code == 303
    choices = {c.kind: c for c in session.exec(select(ChannelChoice)).all()}
    assert (choices["invoice_issued"].email, choices["invoice_issued"].sms) == (False, True)
    assert not any([choices["payment_received"].email, choices["payment_received"].telegram])  # unticked: off
    refused = _post(client, headers, f"{PAGE}/channels", {"choice": ["invoice_issued:email"]})
    assert refused.status_code == 422 and 'id="error-meeting_notice"' in refused.text
    session.expire_all()
    assert (
        session.exec(select(ChannelChoice).where(ChannelChoice.kind == "invoice_issued")).one().sms
    )  # unchanged


def test_contact_and_quiet_hours_with_the_reason_next_to_a_wrong_field(client, session: Session, city):
    headers = city.headers["resident"]
    wrong = _post(client, headers, f"{PAGE}/contact", {"email": "nope", "phone": "", "quiet_start": "22:00", "quiet_end": "08:00"})  # fmt: skip
    assert wrong.status_code == 422 and 'id="email-error"' in wrong.text and 'value="nope"' in wrong.text
    assert session.get(ContactSettings, city.users["resident"]) is None
    saved = _post(client, headers, f"{PAGE}/contact", {"email": "a@example.uz", "phone": "90 123 45 67", "quiet_start": "21:30", "quiet_end": "07:00"})  # fmt: skip
    assert saved.status_code == 303
    session.expire_all()
    contact = session.get(ContactSettings, city.users["resident"])
    assert contact.email == "a@example.uz" and contact.phone == "+998901234567"
    assert contact.quiet_start.strftime("%H:%M") == "21:30"
    _post(client, headers, f"{PAGE}/contact", {"quiet_default": "1", "quiet_start": "", "quiet_end": ""})
    session.expire_all()
    assert session.get(ContactSettings, city.users["resident"]).quiet_start is None


def test_a_refused_channel_shows_its_reason_escaped_and_turns_back_on(client, session: Session, city):
    session.add(ContactSettings(user_id=city.users["resident"], sms_disabled="2026-12-01: <b>refused</b>"))
    session.commit()
    headers = city.headers["resident"]
    page = client.get(PAGE, headers=headers).text
    assert "&lt;b&gt;refused&lt;/b&gt;" in page and "<b>refused" not in page
    assert _post(client, headers, f"{PAGE}/reenable", {"channel": "sms"}).status_code == 303
    session.expire_all()
    assert session.get(ContactSettings, city.users["resident"]).sms_disabled == ""
    assert 'class="disabled-reason"' not in client.get(PAGE, headers=headers).text


def test_linking_telegram_shows_a_one_time_deep_link_and_unlinking_forgets_the_chat(
    client, session, settings, city
):
    headers = city.headers["resident"]
    assert "not available" in client.get(PAGE, headers=headers | {"Accept-Language": "en"}).text
    settings.notify.telegram_bot_name = "@uyjoy_bot"
    assert _post(client, headers, f"{PAGE}/telegram", {}).status_code == 303
    first = session.exec(select(TelegramLinkCode)).one()
    assert f"https://t.me/uyjoy_bot?start={first.code}" in client.get(PAGE, headers=headers).text
    _post(client, headers, f"{PAGE}/telegram", {})
    session.expire_all()
    codes = session.exec(select(TelegramLinkCode).order_by(TelegramLinkCode.created_at)).all()
    fresh = next(c for c in codes if c.used_at is None)
    page = client.get(PAGE, headers=headers).text
    assert fresh.code in page and first.code not in page  # the old link stopped working
    session.add(ContactSettings(user_id=city.users["resident"], telegram_chat_id=4242))
    session.commit()
    assert 'id="unlink-telegram"' in client.get(PAGE, headers=headers).text
    _post(client, headers, f"{PAGE}/telegram/unlink", {})
    session.expire_all()
    assert session.get(ContactSettings, city.users["resident"]).telegram_chat_id is None
