"""The interactive bot, by long polling against the Bot API stand-in, as a resident uses it: linking
with the settings page's code, language, balance and latest invoice, a meter reading that lands
on the meter, a request with a photo and its status; and what it refuses (a used code, a
stranger's meter, a picture that is not one, a reading outside the window)."""

import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pydantic import SecretStr
from sqlmodel import Session, select

from housing import i18n
from housing.accounts.models import Role, User
from housing.bot.handlers import build_bot
from housing.bot.polling import run_polling
from housing.notifications.channels import open_channels
from housing.notifications.linking import new_link_code, user_of_chat
from housing.notifications.models import ContactSettings
from housing.notifications.sender import send_due
from housing.notifications.service import notify
from housing.requests.models import RequestPhoto, RequestStatus, ServiceRequest
from sensors.models import Reading, ReadingSource
from tests.conftest import TEST_SECRET
from tests.factories.core import make_apartment, make_company, make_user
from tests.factories.portal import TOTAL, make_home
from tests.factories.readings import make_meter
from tests.factories.requests import make_category, make_resident, move, png_bytes
from tests.standins.telegram import BotApi, Sent, telegram_standin

CHAT = 4242
IN_WINDOW = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)  # the 20th, 12:00 in Tashkent


@pytest.fixture
def api():
    with telegram_standin() as api:
        yield api


@pytest.fixture
def bot_settings(settings, api, tmp_path):
    settings.notify.telegram_token = SecretStr(api.token)
    settings.notify.telegram_api_url = api.url
    settings.notify.site_url = "https://myhome.example"
    settings.requests.photo_dir = tmp_path / "photos"
    return settings


@pytest.fixture
def polling(db, bot_settings, api):
    """`housing bot`'s loop in a thread, stopped (and seen to stop) at the end of the test."""
    stop = threading.Event()
    thread = threading.Thread(
        target=run_polling,
        args=(build_bot(db, bot_settings),),
        kwargs={"stop": stop, "wait_s": 1},
        daemon=True,
    )
    thread.start()
    yield thread
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive(), "the polling loop did not stop"


@pytest.fixture
def home(session: Session, frozen_clock):
    frozen_clock.set(IN_WINDOW)
    apartment = make_apartment(session)
    resident = make_resident(session, apartment)
    resident.language = "en"
    made = make_home(session, apartment, now=IN_WINDOW)
    category = make_category(session, name="Roof leak")
    session.commit()
    return resident, apartment, made, category


def _link(session: Session, api: BotApi, user: User, chat_id: int = CHAT) -> None:
    code = new_link_code(session, user_id=user.id, now=IN_WINDOW)
    session.commit()
    before = len(api.sent)
    api.user_says(chat_id, f"/start {code.code}")
    api.wait_for(chat_id, "Linked", after=before)


def _press(api: BotApi, chat_id: int, on: Sent, starts: str) -> None:
    (data,) = [d for _, d in on.buttons if d.startswith(starts)]
    api.user_presses(chat_id, data, on=on)


def test_a_code_from_the_settings_page_links_the_chat_once(session, api, polling, home):
    resident, *_ = home
    code = new_link_code(session, user_id=resident.id, now=IN_WINDOW)
    session.commit()
    api.user_says(CHAT, "/balance")
    assert "Link Telegram" in api.wait_for(CHAT, "Link Telegram").text  # not linked yet: told how
    api.user_says(CHAT, f"/start {code.code}")
    linked = api.wait_for(CHAT, "Linked")
    assert resident.username in linked.text and "/reading" in linked.text
    assert user_of_chat(session, CHAT) == resident.id
    before = len(api.sent)
    api.user_says(9999, f"/start {code.code}")  # the same code again, from another chat
    assert "unknown, used or expired" in api.wait_for(9999, after=before).text
    api.user_says(9998, "/start not-a-code\x00" + "x" * 5000)
    assert "unknown, used or expired" in api.wait_for(9998, after=before).text
    assert user_of_chat(session, 9999) is None and user_of_chat(session, 9998) is None
    api.user_says(CHAT, "/stop")
    api.wait_for(CHAT, "unlinked")
    session.expire_all()
    assert user_of_chat(session, CHAT) is None


def test_balance_shows_what_is_owed_and_the_latest_invoice_with_its_link(session, api, polling, home):
    resident, _, made, _ = home
    _link(session, api, resident)
    api.user_says(CHAT, "/balance")
    answer = api.wait_for(CHAT, "To pay").text
    assert i18n.money(TOTAL, "UZS", "en") in answer
    assert made.invoice.number in answer and f"https://myhome.example/invoices/{made.invoice.id}" in answer


def test_the_language_chosen_in_the_bot_is_the_accounts_language(session, api, polling, home):
    resident, *_ = home
    _link(session, api, resident)
    api.user_says(CHAT, "/language")
    menu = api.wait_for(CHAT, "Choose your language")
    assert [d for _, d in menu.buttons] == ["lang:uz", "lang:ru", "lang:en"]
    before = len(api.sent)
    api.user_presses(CHAT, "lang:ru", on=menu)
    api.wait_for(CHAT, after=before)
    session.expire_all()
    assert session.get(User, resident.id).language == "ru"
    api.user_presses(CHAT, "lang:xx", on=menu)  # not a language we speak: nothing changes
    api.user_says(CHAT, "/help")
    api.wait_for(CHAT, "/balance", after=before + 1)
    session.expire_all()
    assert session.get(User, resident.id).language == "ru"


def test_a_reading_sent_through_the_bot_appears_on_the_meter(session, api, polling, home):
    resident, _, made, _ = home
    _link(session, api, resident)
    api.user_says(CHAT, "/reading")
    menu = api.wait_for(CHAT, "Which meter")
    _press(api, CHAT, menu, f"meter:{made.meter.id}")
    prompt = api.wait_for(CHAT, made.meter.serial)
    assert prompt.params.get("reply_markup") and "force_reply" in prompt.params["reply_markup"]
    value = made.latest_value + Decimal("2.250")
    api.user_says(CHAT, f"{value}".replace(".", ","), reply_to=prompt)
    assert "Saved" in api.wait_for(CHAT, "Saved").text
    stored = session.exec(
        select(Reading).where(Reading.meter_id == made.meter.id, Reading.source == ReadingSource.manual)
    ).all()
    assert [r.value for r in stored] == [value]
    before = len(api.sent)
    api.user_says(CHAT, f"{value + 1}", reply_to=prompt)  # twice the same day: refused
    assert "already submitted today" in api.wait_for(CHAT, after=before).text
    session.expire_all()
    assert len(session.exec(select(Reading).where(Reading.source == ReadingSource.manual)).all()) == 1


def test_a_reading_going_backwards_or_not_a_number_is_refused_and_nothing_is_stored(
    session, api, polling, home
):
    resident, _, made, _ = home
    _link(session, api, resident)
    prompt = Sent(CHAT, f"Meter {made.meter.serial}: reply. [m{made.meter.id}]", 1, {})
    refused = ("12,3,4", "-5", "1e5", "NaN", "123456789012", "1,2345", "١٢٣", "")
    for typed, says in [(t, "Enter the number") for t in refused] + [("1", "lower than")]:
        before = len(api.sent)
        api.user_says(CHAT, typed, reply_to=prompt)
        assert says in api.wait_for(CHAT, after=before).text
    assert session.exec(select(Reading).where(Reading.source == ReadingSource.manual)).all() == []


def test_a_strangers_meter_is_neither_offered_nor_read(session, api, polling, home):
    resident, *_ = home
    stranger = make_meter(session, apartment=make_apartment(session), smart=False)
    session.commit()
    _link(session, api, resident)
    api.user_says(CHAT, "/reading")
    menu = api.wait_for(CHAT, "Which meter")
    assert f"meter:{stranger.id}" not in [d for _, d in menu.buttons]
    before = len(api.sent)
    api.user_says(CHAT, "123", reply_to=Sent(CHAT, f"Meter X: reply. [m{stranger.id}]", 1, {}))
    assert "not one of yours" in api.wait_for(CHAT, after=before).text
    assert session.exec(select(Reading).where(Reading.meter_id == stranger.id)).all() == []


def test_outside_the_window_the_bot_says_when_readings_are_accepted(
    session, api, polling, home, frozen_clock
):
    resident, *_ = home
    _link(session, api, resident)
    frozen_clock.at(date(2026, 11, 26), 12)
    api.user_says(CHAT, "/reading")
    assert "from day 15 to day 25" in api.wait_for(CHAT, "from day").text


def _ask_for_the_request_form(api: BotApi, apartment_id: int, category_id: int) -> Sent:
    api.user_says(CHAT, "/request")
    where = api.wait_for(CHAT, "Where")
    _press(api, CHAT, where, f"place:a{apartment_id}")
    what = api.wait_for(CHAT, "What is it about")
    _press(api, CHAT, what, f"cat:a{apartment_id}.{category_id}")
    return api.wait_for(CHAT, "Describe the problem")


def test_a_request_with_a_photo_is_filed_and_its_status_followed(session, api, polling, home, bot_settings):
    resident, apartment, _, category = home
    _link(session, api, resident)
    prompt = _ask_for_the_request_form(api, apartment.id, category.id)
    picture = png_bytes((64, 48))
    api.user_sends_photo(CHAT, picture, caption="Water drips from the kitchen ceiling", reply_to=prompt)
    filed_words = api.wait_for(CHAT, "is filed").text
    (filed,) = session.exec(select(ServiceRequest)).all()
    assert f"No. {filed.id}" in filed_words and f"https://myhome.example/requests/{filed.id}" in filed_words
    assert filed.apartment_id == apartment.id and filed.filed_by_id == resident.id
    assert filed.description == "Water drips from the kitchen ceiling"
    (photo,) = session.exec(select(RequestPhoto)).all()
    assert (bot_settings.requests.photo_dir / photo.file_name).read_bytes() == picture
    before = len(api.sent)
    api.user_says(CHAT, "/requests")
    listed = api.wait_for(CHAT, f"No. {filed.id}", after=before).text
    assert "Roof leak" in listed and "new" in listed
    move(session, filed, RequestStatus.accepted, RequestStatus.in_progress)
    session.commit()
    before = len(api.sent)
    api.user_says(CHAT, "/requests")
    assert "in progress" in api.wait_for(CHAT, f"No. {filed.id}", after=before).text


def test_a_picture_sent_as_a_file_is_attached_too(session, api, polling, home, bot_settings):
    resident, apartment, _, category = home
    _link(session, api, resident)
    prompt = _ask_for_the_request_form(api, apartment.id, category.id)
    picture = png_bytes((32, 32))
    api.user_sends_file(
        CHAT, picture, name="leak.png", caption="The entrance door is broken", reply_to=prompt
    )
    api.wait_for(CHAT, "is filed")
    (photo,) = session.exec(select(RequestPhoto)).all()
    assert (bot_settings.requests.photo_dir / photo.file_name).read_bytes() == picture


def test_a_photo_that_is_no_picture_files_nothing(session, api, polling, home, bot_settings):
    resident, apartment, _, category = home
    _link(session, api, resident)
    prompt = _ask_for_the_request_form(api, apartment.id, category.id)
    before = len(api.sent)
    api.user_sends_photo(CHAT, b"%PDF-1.4 not a picture", caption="Water drips from the ceiling", reply_to=prompt)  # fmt: skip
    assert "JPEG, PNG or WebP" in api.wait_for(CHAT, after=before).text
    before = len(api.sent)
    too_big = png_bytes() + b"\0" * bot_settings.requests.max_photo_bytes
    api.user_sends_file(
        CHAT, too_big, name="big.png", caption="Water drips from the ceiling", reply_to=prompt
    )
    assert "JPEG, PNG or WebP" in api.wait_for(CHAT, after=before).text
    before = len(api.sent)
    api.user_says(CHAT, "hi", reply_to=prompt)  # too short a description
    assert "5 to 2000 characters" in api.wait_for(CHAT, after=before).text
    before = len(api.sent)
    api.user_says(CHAT, "Water\x00 drips \x1b[31m", reply_to=prompt)
    assert "control characters" in api.wait_for(CHAT, after=before).text
    assert session.exec(select(ServiceRequest)).all() == []
    assert session.exec(select(RequestPhoto)).all() == []


def test_while_the_bot_api_is_unreachable_the_bot_waits_and_then_answers(session, api, polling, home):
    resident, *_ = home
    code = new_link_code(session, user_id=resident.id, now=IN_WINDOW)
    session.commit()
    api.wait_until(lambda: "getUpdates" in api.calls, what="polling to start")
    api.down = True
    tried = api.calls.count("getUpdates")  # the poll in flight may still end normally
    api.wait_until(lambda: api.calls.count("getUpdates") >= tried + 1, what="a refused poll")
    api.user_says(CHAT, f"/start {code.code}")
    api.wait_until(lambda: api.calls.count("getUpdates") >= tried + 2, what="another refused poll")
    assert api.sent == [] and user_of_chat(session, CHAT) is None
    api.down = False
    api.wait_for(CHAT, "Linked", timeout=15)  # within the pause that grew meanwhile
    assert user_of_chat(session, CHAT) == resident.id


def test_a_restarted_bot_goes_on_from_where_it_stopped(db, session, api, bot_settings, home):
    """Updates queued while the bot was down are each handled once after it starts again."""
    resident, *_ = home
    code = new_link_code(session, user_id=resident.id, now=IN_WINDOW)
    session.commit()
    for attempt in range(2):
        stop = threading.Event()
        thread = threading.Thread(target=run_polling, args=(build_bot(db, bot_settings),), kwargs={"stop": stop, "wait_s": 1})  # fmt: skip
        thread.start()
        if attempt == 0:
            api.user_says(CHAT, f"/start {code.code}")
            api.wait_for(CHAT, "Linked")
        else:
            api.wait_until(lambda: api.pending() == 0 and api.calls.count("getUpdates") > 2, what="updates confirmed")  # fmt: skip
            api.user_says(CHAT, "/balance")
            api.wait_for(CHAT, "To pay")
        stop.set()
        thread.join(timeout=10)
        assert not thread.is_alive()
    assert sum("Linked" in m.text for m in api.sent) == 1
    assert not any("unknown, used or expired" in m.text for m in api.sent)


def test_housing_bot_runs_as_its_own_process_and_stops_on_sigterm(db, session, database_url, api):
    user = make_resident(session)
    code = new_link_code(session, user_id=user.id, now=datetime.now(UTC))
    session.commit()
    env = os.environ | {
        "HOUSING_ENVIRONMENT": "test",
        "HOUSING_AUTH__SECRET_KEY": TEST_SECRET,
        "HOUSING_DB__URL": database_url,
        "HOUSING_NOTIFY__TELEGRAM_TOKEN": api.token,
        "HOUSING_NOTIFY__TELEGRAM_API_URL": api.url,
    }
    api.webhook = {"url": "https://old.example/telegram/webhook"}  # polling removes a webhook first
    process = subprocess.Popen(
        [sys.executable, "-m", "housing.cli", "bot", "--wait", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        api.user_says(CHAT, f"/start {code.code}")
        api.wait_for(CHAT, "Linked", timeout=60)
        assert user_of_chat(session, CHAT) == user.id and api.webhook == {}
        assert set(api.menus) == {"", "uz", "ru", "en"}  # the command menu in each language
        assert [name for name, _ in api.menus["ru"]] == ["balance", "reading", "request", "requests", "language", "stop"]  # fmt: skip
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_linked_chat_gets_notices_until_it_blocks_the_bot_and_again_once_linked_anew(
    db, session, api, polling, home, bot_settings
):
    resident, *_ = home
    _link(session, api, resident)

    def notice(number: int) -> None:
        notify(
            session,
            user_ids=[resident.id],
            kind="request_status",
            params={"number": number, "status": "in progress"},
            link=f"/requests/{number}",
            now=IN_WINDOW,
        )
        session.commit()
        send_due(db, bot_settings, open_channels(bot_settings), clock=lambda: IN_WINDOW)

    notice(7)
    arrived = api.wait_for(CHAT, "Request 7")
    assert "https://myhome.example/requests/7" in arrived.text
    api.blocked.add(CHAT)
    notice(8)
    session.expire_all()
    assert "blocked" in session.get(ContactSettings, resident.id).telegram_disabled
    api.blocked.discard(CHAT)
    _link(session, api, resident)  # the resident unblocks the bot and links again from the settings page
    session.expire_all()
    assert session.get(ContactSettings, resident.id).telegram_disabled == ""
    notice(9)
    api.wait_for(CHAT, "Request 9")
    assert not any("Request 8" in m.text for m in api.sent)


def test_staff_link_for_their_alerts_and_the_residents_commands_are_not_theirs(session, api, polling, home):
    dispatcher = make_user(session, Role.dispatcher, company_id=make_company(session).id)
    _link(session, api, dispatcher)
    welcome = api.wait_for(CHAT, "Linked").text
    assert "/stop" in welcome and "/balance" not in welcome
    for command in ("/balance", "/reading", "/request", "/requests"):
        before = len(api.sent)
        api.user_says(CHAT, command)
        assert "for residents" in api.wait_for(CHAT, after=before).text
