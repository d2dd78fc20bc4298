"""Login, tokens, revocation and throttling."""

import pytest

from housing.accounts.models import Role
from housing.errors import Conflict, Invalid
from tests.factories.core import PASSWORD, login, make_user
from tests.pages import log_in

API = "/api/v1"


def test_wrong_password_is_refused_without_saying_which_part(client, session):
    make_user(session, Role.admin, username="boss")
    session.commit()
    for username, password in (("boss", "wrong password"), ("nobody", PASSWORD)):
        response = client.post(f"{API}/auth/token", data={"username": username, "password": password})
        assert response.status_code == 401
        assert response.json()["detail"] == "wrong user name or password"
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_password_is_stored_as_argon2_hash(session):
    user = make_user(session, Role.admin, username="boss")
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_login_is_throttled_after_repeated_failures(client, session):
    make_user(session, Role.admin, username="boss")
    session.commit()
    for _ in range(5):
        assert (
            client.post(f"{API}/auth/token", data={"username": "boss", "password": "guess"}).status_code
            == 401
        )
    blocked = client.post(f"{API}/auth/token", data={"username": "boss", "password": PASSWORD})
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    # Another user from the same address is not locked out by someone else's guesses.
    make_user(session, Role.official, username="other")
    session.commit()
    assert (
        client.post(f"{API}/auth/token", data={"username": "other", "password": PASSWORD}).status_code == 200
    )


def test_logout_revokes_the_token(client, session):
    make_user(session, Role.admin, username="boss")
    session.commit()
    headers = login(client, "boss")
    assert client.get(f"{API}/me", headers=headers).status_code == 200
    assert client.post(f"{API}/auth/logout", headers=headers).status_code == 204
    assert client.get(f"{API}/me", headers=headers).status_code == 401


def test_a_token_can_be_revoked_from_another_session(client, session):
    make_user(session, Role.admin, username="boss")
    session.commit()
    laptop, phone = login(client, "boss"), login(client, "boss")
    tokens = client.get(f"{API}/auth/tokens", headers=laptop).json()
    assert len(tokens) == 2
    phone_token = max(t["id"] for t in tokens)
    assert client.delete(f"{API}/auth/tokens/{phone_token}", headers=laptop).status_code == 204
    assert client.get(f"{API}/me", headers=phone).status_code == 401
    assert client.get(f"{API}/me", headers=laptop).status_code == 200


def test_blocking_a_user_or_changing_the_password_ends_their_tokens(client, session):
    admin = make_user(session, Role.admin, username="boss")
    official = make_user(session, Role.official, username="watcher")
    session.commit()
    admin_headers, official_headers = login(client, "boss"), login(client, "watcher")
    blocked = client.patch(f"{API}/users/{official.id}", json={"is_active": False}, headers=admin_headers)
    assert blocked.status_code == 200
    assert client.get(f"{API}/me", headers=official_headers).status_code == 401
    assert (
        client.post(f"{API}/auth/token", data={"username": "watcher", "password": PASSWORD}).status_code
        == 401
    )
    client.patch(f"{API}/users/{admin.id}", json={"password": "a brand new password"}, headers=admin_headers)
    assert client.get(f"{API}/me", headers=admin_headers).status_code == 401
    assert login(client, "boss", "a brand new password")


def test_garbage_token_is_401(client, db):
    response = client.get(f"{API}/buildings", headers={"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401


def test_user_rules(client, session):
    make_user(session, Role.admin, username="boss")
    session.commit()
    headers = login(client, "boss")
    cases = [
        ({"username": "tech1", "password": "long enough pw", "role": "technician"}, 422, "company_id"),
        ({"username": "res1", "password": "long enough pw", "role": "resident"}, 422, "person_id"),
        ({"username": "short", "password": "short", "role": "admin"}, 422, "password"),
        ({"username": "boss", "password": "long enough pw", "role": "admin"}, 409, "username"),
        (
            {"username": "off1", "password": "long enough pw", "role": "official", "company_id": 1},
            422,
            "company_id",
        ),
    ]
    for body, status, field in cases:
        response = client.post(f"{API}/users", json=body, headers=headers)
        assert response.status_code == status, (body, response.text)
        assert response.json()["field"] == field


# One normal form of a user name: login, the throttle and user creation agree


SPELLINGS = [
    "boss",
    " boss",
    "boss ",
    "BOSS",
    "Boss\t",
    "\uff42\uff4f\uff53\uff53",
    "\u3000boss",
    "\uff22OSS",
]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_spelling_of_a_name_logs_in_to_the_one_account(client, session, spelling):
    user = make_user(session, Role.admin, username="boss")
    session.commit()
    response = client.post(f"{API}/auth/token", data={"username": spelling, "password": PASSWORD})
    assert response.status_code == 200, response.text
    me = client.get(f"{API}/me", headers={"Authorization": f"Bearer {response.json()['access_token']}"})
    assert me.json()["id"] == user.id


@pytest.mark.parametrize("path", ["api", "page"])
def test_padding_recasing_or_widening_a_name_gives_no_more_guesses(client, session, path):
    make_user(session, Role.admin, username="boss")
    session.commit()

    def attempt(username: str, password: str) -> int:
        if path == "api":
            return client.post(
                f"{API}/auth/token", data={"username": username, "password": password}
            ).status_code
        return log_in(client, username, password).status_code

    # Five wrong guesses, each under another spelling, use up the name's five attempts ...
    for spelling in SPELLINGS[1:6]:
        assert attempt(spelling, "guess") == 401
    # ... so no spelling gets a sixth, even with the right password.
    for spelling in SPELLINGS:
        assert attempt(spelling, PASSWORD) == 429


@pytest.mark.parametrize("spelling", ["BOSS", " boss ", "\uff42\uff4f\uff53\uff53", "Bo\uff53s"])
def test_a_user_name_differing_only_by_its_normal_form_is_a_duplicate(client, session, spelling):
    make_user(session, Role.admin, username="boss")
    session.commit()
    headers = login(client, "boss")
    body = {"username": spelling, "password": "long enough pw", "role": "official"}
    response = client.post(f"{API}/users", json=body, headers=headers)
    assert response.status_code == 409, response.text
    assert response.json()["field"] == "username"
    # The command line (housing users create) goes through the same service.
    with pytest.raises(Conflict):
        make_user(session, Role.official, username=spelling)


def test_a_new_name_is_stored_in_its_normal_form(client, session):
    make_user(session, Role.admin, username="boss")
    session.commit()
    headers = login(client, "boss")
    body = {"username": " \uff2eew.User ", "password": "long enough pw", "role": "official"}
    response = client.post(f"{API}/users", json=body, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["username"] == "new.user"
    assert make_user(session, Role.official, username="Other.User").username == "other.user"


@pytest.mark.parametrize(
    "name", ["bo ss", "b\u200boss", "\u0431\u043e\u0441\u0441", "ab", "x" * 151, "boss!"]
)
def test_a_name_outside_the_rule_is_refused_by_the_api_and_the_command_line(client, session, name):
    make_user(session, Role.admin, username="boss")
    session.commit()
    body = {"username": name, "password": "long enough pw", "role": "official"}
    response = client.post(f"{API}/users", json=body, headers=login(client, "boss"))
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "username"
    with pytest.raises(Invalid):
        make_user(session, Role.official, username=name)
