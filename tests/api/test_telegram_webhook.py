"""Webhook mode: `POST /telegram/webhook` handles Telegram's updates when the secret is set and the
header carries it; otherwise 404 (mode off) or 403 (wrong secret), and a body that is no update
is a 4xx with nothing done. `housing bot --set-webhook` registers the route with Telegram."""

import json

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from typer.testing import CliRunner

from housing import cli, clock
from housing.accounts.models import Role
from housing.app import create_app
from housing.notifications.linking import new_link_code, user_of_chat
from tests.conftest import TEST_SECRET, make_settings
from tests.factories.core import make_person, make_user
from tests.standins.telegram import telegram_standin

SECRET = "webhook-secret-0123456789"
HEADER = "X-Telegram-Bot-Api-Secret-Token"


@pytest.fixture
def api():
    with telegram_standin() as api:
        yield api


def _app(db, database_url, api, *, secret: str | None):
    settings = make_settings(database_url)
    settings.notify.telegram_token = SecretStr(api.token)
    settings.notify.telegram_api_url = api.url
    settings.notify.telegram_webhook_secret = SecretStr(secret) if secret else None
    return TestClient(create_app(settings, engine=db))


LINKED_RU = "Привязано."  # "Linked." in the chat's language (Russian, from Telegram's language_code)


def _start_update(code: str, chat_id: int = 31337, update_id: int = 1) -> dict:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 10,
            "date": 1_780_000_000,
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "A", "language_code": "ru"},
            "text": f"/start {code}",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


def test_without_a_secret_the_webhook_does_not_exist(db, database_url, api):
    with _app(db, database_url, api, secret=None) as client:
        answer = client.post("/telegram/webhook", json=_start_update("x"), headers={HEADER: "anything"})
    assert answer.status_code == 404 and api.calls == []


def test_an_update_with_the_secret_links_the_chat_and_the_answer_is_sent(db, session, database_url, api):
    user = make_user(session, Role.resident, person_id=make_person(session).id)
    code = new_link_code(session, user_id=user.id, now=clock.now())
    session.commit()
    with _app(db, database_url, api, secret=SECRET) as client:
        answer = client.post("/telegram/webhook", json=_start_update(code.code), headers={HEADER: SECRET})
    assert answer.status_code == 200 and answer.json() == {"ok": True}
    assert user_of_chat(session, 31337) == user.id
    assert api.wait_for(31337, LINKED_RU).text.startswith(LINKED_RU)  # in the language Telegram gave


def test_an_update_delivered_twice_links_once(db, session, database_url, api):
    user = make_user(session, Role.resident, person_id=make_person(session).id)
    code = new_link_code(session, user_id=user.id, now=clock.now())
    session.commit()
    with _app(db, database_url, api, secret=SECRET) as client:
        for chat_id in (31337, 31337, 31338):  # again, and once more as if from another chat
            answer = client.post(
                "/telegram/webhook", json=_start_update(code.code, chat_id), headers={HEADER: SECRET}
            )
            assert answer.status_code == 200
    assert user_of_chat(session, 31337) == user.id and user_of_chat(session, 31338) is None
    assert sum(LINKED_RU in m.text for m in api.sent) == 1


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", "\x00" * 300])
def test_a_wrong_or_missing_secret_is_refused_and_nothing_happens(db, session, database_url, api, secret):
    user = make_user(session, Role.resident, person_id=make_person(session).id)
    code = new_link_code(session, user_id=user.id, now=clock.now())
    session.commit()
    headers = {} if secret is None else {HEADER: secret}
    with _app(db, database_url, api, secret=SECRET) as client:
        answer = client.post("/telegram/webhook", json=_start_update(code.code), headers=headers)
    assert 400 <= answer.status_code < 500 and answer.status_code != 404
    assert user_of_chat(session, 31337) is None and api.sent == []


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"\xff\xfe", b"[]", b"42", b'{"update_id": "1"}', b'{"update_id": true}',
     json.dumps({"update_id": 1, "message": {"text": "no chat"}}).encode(),
     json.dumps({"update_id": 1, "message": "a string"}).encode()],
)  # fmt: skip
def test_a_body_that_is_no_update_is_a_4xx(db, database_url, api, body):
    with _app(db, database_url, api, secret=SECRET) as client:
        answer = client.post(
            "/telegram/webhook", content=body, headers={HEADER: SECRET, "Content-Type": "application/json"}
        )
    assert 400 <= answer.status_code < 500, answer.text
    assert api.sent == []


def test_an_update_we_do_not_handle_is_acknowledged(db, database_url, api):
    with _app(db, database_url, api, secret=SECRET) as client:
        answer = client.post(
            "/telegram/webhook", json={"update_id": 5, "edited_message": None}, headers={HEADER: SECRET}
        )
    assert answer.status_code == 200 and api.sent == []


def _cli(database_url: str, api, *args: str, secret: str | None = SECRET, token: str | None = None, name: str = "myhome_test_bot"):  # fmt: skip
    env = {
        "HOUSING_ENVIRONMENT": "test",
        "HOUSING_AUTH__SECRET_KEY": TEST_SECRET,
        "HOUSING_DB__URL": database_url,
        "HOUSING_NOTIFY__TELEGRAM_TOKEN": token or api.token,
        "HOUSING_NOTIFY__TELEGRAM_BOT_NAME": name,
        "HOUSING_NOTIFY__TELEGRAM_API_URL": api.url,
        "HOUSING_NOTIFY__TELEGRAM_WEBHOOK_SECRET": secret or "",
        "COLUMNS": "250",
    }
    if secret is None:
        del env["HOUSING_NOTIFY__TELEGRAM_WEBHOOK_SECRET"]
    result = CliRunner().invoke(cli.app, ["bot", *args], env=env)
    return result.exit_code, " ".join(result.output.split())


def test_the_cli_sets_and_removes_the_webhook_with_its_secret(db, database_url, api):
    url = "https://myhome.example/telegram/webhook"
    code, output = _cli(database_url, api, "--set-webhook", url)
    assert code == 0, output
    assert api.webhook == {"url": url, "secret_token": SECRET}
    assert set(api.menus) == {"", "uz", "ru", "en"}
    code, output = _cli(database_url, api, "--delete-webhook")
    assert code == 0 and api.webhook == {}, output
    code, output = _cli(database_url, api, "--set-webhook", url, secret=None)
    assert code == 2 and "WEBHOOK_SECRET" in output and api.webhook == {}


def test_the_cli_refuses_a_token_the_bot_api_refuses_and_points_out_a_wrong_bot_name(db, database_url, api):
    code, output = _cli(database_url, api, "--delete-webhook", token="999:not-ours")
    assert code == 2 and "refused the token" in output
    code, output = _cli(database_url, api, "--delete-webhook", name="@someone_else_bot")
    assert code == 0 and "the settings page's links would open the other bot" in output
    code, output = _cli(database_url, api, "--delete-webhook", name="@MyHome_Test_Bot")
    assert code == 0 and "warning" not in output and "bot @myhome_test_bot" in output
